#!/bin/bash
# s3.sh LENSIM SOURCE_ROOT: issue 14 (S3 reproduction), deliverables 3 and 4.
# - perf.iter_overhead_ms adds exactly its value to every iteration: one request of 50 output
#   tokens run alone (1 prefill iteration that yields the first token + 49 decode iterations =
#   50 iterations) ends 50 x 5 ms = 250 ms later than without it, whatever the profile says;
# - the key is refused, with its file:line:col, where no perf profile times the iterations
#   (compat ssjf, live with a measured clock) and for a table profile (no constant term).
set -u
. "$(dirname "$0")/lib.sh"
L=$(lensim_abs "$1")
SRC=$(cd "$2" && pwd)
scratch
cd "$TMP" || exit 1

# ---- perf.iter_overhead_ms: 50 iterations x 5 ms ----
printf 'arrival_s,prompt_tokens,output_tokens\n0,10,50\n' > one.csv
cat > ov.yaml <<'Y'
name: ov
model: gpt-j-6b
workload: {path: one.csv}
runs:
  - {name: base}
  - {name: plus, perf.iter_overhead_ms: 5}
Y
if "$L" run ov.yaml -o ov -q 2> ov.err; then
    # e2el in seconds (requests.csv, 9 decimals); the difference must be 0.250 s to the ns
    # rounding of 50 iterations.
    d=$(awk -F, 'FNR == 2 { e[FILENAME] = $10 } END { printf "%.9f", e["ov/plus/requests.csv"] - e["ov/base/requests.csv"] }' \
        ov/base/requests.csv ov/plus/requests.csv)
    if awk -v d="$d" 'BEGIN { exit !(d > 0.25 - 1e-7 && d < 0.25 + 1e-7) }'; then
        ok "iter_overhead_ms 5 over 50 iterations adds 250 ms ($d s)"
    else
        fail "iter_overhead_ms 5 over 50 iterations added $d s, want 0.250"
    fi
else
    fail "ov.yaml did not run: $(head -3 ov.err)"
fi

# refused NAME PATTERN < YAML: exit status 2 and PATTERN on stderr.
refused() {
    cat > "$1.yaml"
    "$L" run "$1.yaml" -o "out-$1" -q > /dev/null 2> "$1.err"
    local st=$?
    if [ $st -ne 2 ]; then
        fail "$1: exit status $st, want 2 ($(head -2 "$1.err"))"
    elif ! grep -qF -- "$2" "$1.err"; then
        fail "$1: stderr lacks '$2': $(head -2 "$1.err")"
    else
        ok "$1 refused: $(head -1 "$1.err")"
    fi
}
refused ov_ssjf "ov_ssjf.yaml:4:21: perf.iter_overhead_ms: adds to the perf profile's iteration times, which compat ssjf" <<'Y'
name: ov_ssjf
compat: ssjf
perf:
  iter_overhead_ms: 2
Y
refused ov_live "ov_live.yaml:4:26: perf.iter_overhead_ms: adds to the perf profile's iteration times, which a live run with live.clock measured" <<'Y'
name: ov_live
model: tiny
engine: {mode: live}
perf: {iter_overhead_ms: 2}
workload: {requests: 2}
Y
refused ov_table "ov_table.yaml:4:92: perf.iter_overhead_ms: $SRC/calib/profiles/codellama-34b-tp2-a100.table is a table profile" <<Y
name: ov_table
model: codellama-34b
hardware: {tp: 2}
perf: {profile: $SRC/calib/profiles/codellama-34b-tp2-a100.table, iter_overhead_ms: 2}
workload: {requests: 2}
Y

finish
