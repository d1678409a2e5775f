#!/bin/bash
# s3.sh LENSIM SOURCE_ROOT: issue 14 (S3 reproduction), deliverables 3 and 4.
# - perf.iter_overhead_ms adds exactly its value to every iteration: one request of 50 output
#   tokens run alone (1 prefill iteration that yields the first token + 49 decode iterations =
#   50 iterations) ends 50 x 5 ms = 250 ms later than without it, whatever the profile says;
# - the key is refused, with its file:line:col, where no perf profile times the iterations
#   (compat ssjf, live with a measured clock) and for a table profile (no constant term);
# - workload.column is refused at its file:line:col for a csv source, for log-normal generated
#   lengths and under compat ssjf, and by the trace for an auto-detected csv file;
# - tools/s3_sensitivity.py on a made-up results directory: its ratios are the hand-computed
#   throughput ratios (64.9 / 10 = 6.49x, 70 / 10 = 7.00x, 6 / 4 = 1.50x, 8 / 4 = 2.00x), the
#   share beyond the first bucket is 1 - Phi((ln 204.5 - 3.8395) / 1.1945) = 1 - Phi(1.2399)
#   = 10.75 % (edge 2048 // 10 = 204), a point at 6.49x is listed as reaching the paper's
#   figure, a missing run is an error (exit 1), and the figure is a PNG (when gnuplot exists).
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
# The value's column (where lensim points) depends on the length of the source path before it.
ov_line="perf: {profile: $SRC/calib/profiles/codellama-34b-tp2-a100.table, iter_overhead_ms: 2}"
ov_pre=${ov_line%%iter_overhead_ms*}
refused ov_table "ov_table.yaml:4:$((${#ov_pre} + 19)): perf.iter_overhead_ms: $SRC/calib/profiles/codellama-34b-tp2-a100.table is a table profile" <<Y
name: ov_table
model: codellama-34b
hardware: {tp: 2}
$ov_line
workload: {requests: 2}
Y

# ---- workload.column: placed where it is written, refused where no alpaca_eval file is read ----
refused col_csv "col_csv.yaml:3:48: workload.column: names a model of an alpaca_eval file, and csv reads none" <<'Y'
name: col_csv
model: gpt-j-6b
workload: {source: csv, path: one.csv, column: text_davinci_003}
Y
refused col_lognormal "col_lognormal.yaml:3:33: workload.column: names a model of an alpaca_eval file, and the generator with log-normal lengths reads none" <<'Y'
name: col_lognormal
model: gpt-j-6b
workload: {requests: 3, column: text_davinci_003}
Y
refused col_ssjf "col_ssjf.yaml:3:20: workload.column: compat ssjf draws its jobs from ssjf.predictions" <<'Y'
name: col_ssjf
compat: ssjf
workload: {column: text_davinci_003}
Y
refused col_auto_csv "column 'text_davinci_003' names a model of an alpaca_eval file; this file is csv" <<'Y'
name: col_auto_csv
model: gpt-j-6b
workload: {path: one.csv, column: text_davinci_003}
Y

# ---- tools/s3_sensitivity.py ----
mkdir -p sens
{
    echo "run,failed,request_throughput,mean_batch_size,mean_itl_ms,model.name,workload.prompt_mu,workload.output_sigma,perf.iter_overhead_ms"
    echo "orca_model-opt-30b_x,0,10,6,40,opt-30b,3.2765,1.1945,0"
    echo "s3_model-opt-30b_x,0,64.9,40,50,opt-30b,3.2765,1.1945,0"
    echo "s3-oracle_model-opt-30b_x,0,70,50,55,opt-30b,3.2765,1.1945,0"
    echo "orca_model-gpt-j-6b_x,0,4,60,15,gpt-j-6b,3.2765,1.1945,0"
    echo "s3_model-gpt-j-6b_x,0,6,200,50,gpt-j-6b,3.2765,1.1945,0"
    echo "s3-oracle_model-gpt-j-6b_x,0,8,230,52,gpt-j-6b,3.2765,1.1945,0"
} > sens/results.csv
for r in $(cut -d, -f1 sens/results.csv | tail -n +2); do
    mkdir -p "sens/$r"
    printf 'max_seq_len: 2048\n  workload:\n    lengths: "lognormal"\n    output_mu: 3.8395\n  engine:\n    max_seq_len: 2048\n  predictor:\n    buckets: 10\n    edges: ""\n' \
        > "sens/$r/manifest.yaml"
done
PY=$(command -v python3)
if [ -z "$PY" ]; then
    fail "python3 not found"
elif "$PY" "$SRC/tools/s3_sensitivity.py" sens > sens.out 2> sens.err; then
    want_lines=("10.8 % of outputs beyond the first bucket"
        "opt-30b 6.49x 7.00x"
        "gpt-j-6b 1.50x 2.00x"
        "points where S3 reaches 6.49x (1 of 2)"
        "opt-30b prompt 26 beyond 10.8 % +0 ms S3 6.49x oracle 7.00x")
    miss=
    for w in "${want_lines[@]}"; do
        tr -s ' ' < sens.out | grep -qF -- "$w" || miss="$miss [$w]"
    done
    if [ -z "$miss" ]; then ok "s3_sensitivity.py ratios and share"; else
        fail "s3_sensitivity.py output lacks$miss: $(cat sens.out)"; fi
    if command -v gnuplot > /dev/null; then
        if "$PY" "$SRC/tools/s3_sensitivity.py" sens sens.png > /dev/null 2> sens.err &&
            [ "$(head -c 4 sens.png | od -An -c | tr -d ' ')" = "211PNG" ]; then
            ok "s3_sensitivity.py draws a PNG"
        else
            fail "s3_sensitivity.py figure: $(cat sens.err)"
        fi
    fi
    grep -v '^s3-oracle_model-gpt-j-6b' sens/results.csv > sens/r2 && mv sens/r2 sens/results.csv
    "$PY" "$SRC/tools/s3_sensitivity.py" sens > /dev/null 2> sens.err
    st=$?
    if [ $st -eq 1 ] && grep -qF "no s3-oracle run at ('gpt-j-6b'" sens.err; then
        ok "s3_sensitivity.py: a missing run is an error"
    else
        fail "s3_sensitivity.py with a missing run: status $st, $(cat sens.err)"
    fi
else
    fail "s3_sensitivity.py failed: $(cat sens.err)"
fi

finish
