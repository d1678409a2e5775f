#!/bin/bash
# results.sh LENSIM: results a user can publish (issue 12, items 1-5). Each check failed on the
# program before the issue was fixed; counts are checked against the per-request rows with awk
# and Python, not against a snapshot of lensim's own output.
#  1. Nothing dropped or cut silently: failed and cut requests are counted by reason in
#     summary.json, results.csv, the table and requests.csv (a status column), a warning on
#     stderr names the setting that would admit them, and SLO attainment counts a failed request
#     as a miss.
#  2. No setting ignored or misattributed: --set on a swept key, --set KEY=[a,b], a rate on a
#     trace replay, a trace path without a source, a predictor the policy does not read, tp that
#     does not divide the heads, results.csv's setting columns.
#  3. Errors found after loading (unknown preset, weights that do not fit) are placed at
#     file:line:col, exit 2, and nothing is written.
#  4. A sweep survives an infeasible point; an existing results folder is refused without
#     --force and cleared with it; files honour the umask.
#  5. Plain CSVs, results.json with the same rows, a manifest independent of the output path.
set -u
. "$(dirname "$0")/lib.sh"
L=$(lensim_abs "$1")
scratch
cd "$TMP" || exit 1
umask 022

json() { # json FILE KEY: a summary.json value
    python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$1" "$2"
}
col() { # col FILE NAME ROW: a results.csv field by column name (row 1 = first run)
    python3 -c 'import csv,sys; r=list(csv.DictReader(open(sys.argv[1]))); print(r[int(sys.argv[3])-1][sys.argv[2]])' "$1" "$2" "$3"
}

# ---- 1. failed and cut requests ----
cat > cut.yaml <<'Y'
name: cut
workload: {requests: 3000, max_prompt_tokens: 3000}
engine: {max_seq_len: 1024}
slo: {ttft_ms: 2000}
Y
"$L" run cut.yaml -o cut > out.txt 2> err.txt
[ $? -eq 0 ] && ok "cut: runs" || fail "cut: exit status $? ($(head -3 err.txt))"
S=cut/run/summary.json R=cut/run/requests.csv
f=$(json $S failed) fp=$(json $S failed_prompt_too_long) tr=$(json $S truncated)
# Independent counts: the rows of requests.csv by status.
rf=$(awk -F, 'NR > 1 && $14 ~ /^failed_prompt_too_long$/' $R | wc -l)
rt=$(awk -F, 'NR > 1 && $14 == "truncated"' $R | wc -l)
rall=$(awk 'NR > 1' $R | wc -l)
# ... and from the lengths the generator asked for: prompts of max_seq_len or more fail.
[ "$f" -gt 0 ] && [ "$f" = "$fp" ] && [ "$rf" = "$f" ] && ok "cut: $f failed, as many rows say so" ||
    fail "cut: failed $f, prompt $fp, rows $rf"
[ "$tr" -gt 0 ] && [ "$rt" = "$tr" ] && ok "cut: $tr truncated, as many rows say so" ||
    fail "cut: truncated $tr, rows $rt"
[ "$rall" = 3000 ] && ok "cut: requests.csv lists all 3000 requests" || fail "cut: $rall rows"
awk -F, 'NR > 1 && $14 ~ /^failed/ && $4 < 1024 {bad = 1} END {exit bad}' $R &&
    ok "cut: every prompt-failed row has a prompt of 1024 tokens or more" ||
    fail "cut: a failed row with a short prompt"
grep -q "warning: run run, of 3000 requests: $f failed (prompt >= engine.max_seq_len 1024)" err.txt &&
    grep -q "engine.max_seq_len: [0-9]* would admit them" err.txt &&
    ok "cut: the warning counts them and names the setting" || fail "cut: warning: $(cat err.txt)"
[ "$(col cut/results.csv failed 1)" = "$f" ] && [ "$(col cut/results.csv truncated 1)" = "$tr" ] &&
    ok "cut: results.csv has failed and truncated" || fail "cut: results.csv lacks the counts"
grep -q " trunc " out.txt && ok "cut: the table shows truncated" || fail "cut: table: $(cat out.txt)"
# SLO attainment of all requests: the rows meeting TTFT <= 2 s over all 3000 (failed = misses).
want=$(awk -F, 'NR > 1 {n++; if ($14 !~ /^failed/ && $8 <= 2.0) g++} END {printf "%.6f", g / n}' $R)
got=$(python3 -c 'import json,sys; print("%.6f" % json.load(open(sys.argv[1]))["slo_attainment"])' $S)
[ "$got" = "$want" ] && ok "cut: slo_attainment $got counts failed requests as misses" ||
    fail "cut: slo_attainment $got, want $want"

# The synthetic default: its log-normal prompt tail is clamped to the model's context - 1, and
# counted; nothing fails for its length.
printf 'name: tail\nworkload: {requests: 3000}\n' > tail.yaml
"$L" run tail.yaml -o tail -q 2> err.txt
cp=$(json tail/run/summary.json clamped_prompts)
mx=$(awk -F, 'NR > 1 {if ($4 > m) m = $4} END {print m}' tail/run/requests.csv)
[ "$cp" -gt 0 ] && [ "$mx" = 4095 ] && [ "$(json tail/run/summary.json failed)" = 0 ] &&
    grep -q "prompts clamped to 4095 tokens" err.txt &&
    ok "tail: $cp prompts clamped to 4095, reported, none failed" ||
    fail "tail: clamped $cp, longest prompt $mx: $(cat err.txt)"

# The KV clamp of a predicted reservation reaches summary.json and the manifest: one request of
# 1900 + 50 tokens on a pool of about 2,149 tokens, whose predicted bucket edge (410 output
# tokens) overshoots the pool (tests/test_kv.c, predicted_reservation_beyond_capacity).
printf 'arrival_s,prompt_tokens,output_tokens\n0,1900,50\n' > one.csv
cat > clamp.yaml <<'Y'
name: clamp
hardware: {gpu: a100-40gb, mem_util: 0.34}
engine: {memory: predicted, max_seq_len: 4096}
workload: {source: csv, path: one.csv}
Y
"$L" run clamp.yaml -o clamp -q 2> err.txt
[ "$(json clamp/run/summary.json kv_reservations_clamped)" = 1 ] &&
    grep -q '^  kv_reservations_clamped: 1$' clamp/run/manifest.yaml &&
    ok "a clamped KV reservation is in summary.json and the manifest" ||
    fail "KV clamp: $(cat err.txt) $(grep clamped clamp/run/manifest.yaml)"

# ---- 2. settings ignored or misattributed ----
cat > sw.yaml <<'Y'
name: sw
workload: {requests: 100}
sweep:
  workload.rate: [1, 2]
Y
"$L" run sw.yaml -o sw1 -q --set workload.rate=3 2> err.txt
[ -d sw1/rate-3 ] && [ ! -d sw1/rate-1 ] && grep -q '^    rate: 3$' sw1/rate-3/manifest.yaml &&
    ok "--set on a swept key: the run is named for the value it ran" ||
    fail "--set on a swept key: $(ls sw1) $(cat err.txt)"
"$L" run sw.yaml -o sw2 -q --set 'engine.max_batch=[8,16]' 2> err.txt
[ "$(ls -d sw2/*/ | wc -l)" = 4 ] && [ -d sw2/rate-2_max_batch-16 ] &&
    [ "$(col sw2/results.csv engine.max_batch 4)" = 16 ] &&
    [ "$(col sw2/results.csv workload.rate 4)" = 2 ] &&
    ok "--set KEY=[a,b] sweeps, and results.csv has a column per swept key" ||
    fail "--set KEY=[a,b]: $(ls sw2) $(cat err.txt)"
[ "$(col sw2/results.csv gpus 1)" = 1 ] && [ "$(col sw2/results.csv seed 1)" = 1 ] &&
    [ "$(col sw2/results.csv model 1)" = llama-2-7b ] &&
    [ "$(col sw2/results.csv gpu 1)" = a100-80gb ] &&
    [ -n "$(col sw2/results.csv arrival_rate 1)" ] &&
    ok "results.csv: gpus, seed, model, gpu, arrival_rate" || fail "results.csv: $(head -1 sw2/results.csv)"

printf 'arrival_s,prompt_tokens,output_tokens\n0,10,5\n0.5,20,5\n1.0,30,5\n' > tiny.csv
cat > rate.yaml <<'Y'
name: rate
workload:
  source: csv
  path: tiny.csv
  rate: 4
Y
expect "rate on a trace replay: refused at its place" 2 stderr \
    "rate.yaml:5:9: workload.rate: a csv trace replays its own arrival times" -- \
    "$L" run rate.yaml -o rate
[ -e rate ] && fail "rate on a trace replay: rate/ was written"
printf 'name: auto\nworkload: {path: tiny.csv}\n' > auto.yaml
"$L" run auto.yaml -o auto -q 2> err.txt
[ "$(json auto/run/summary.json completed)" = 3 ] &&
    ok "a path without a source reads the file (3 requests)" ||
    fail "a path without a source: $(cat err.txt) $(json auto/run/summary.json completed)"
printf 'name: pred\nworkload: {requests: 10}\npredictor: {name: noisy}\n' > pred.yaml
expect "a predictor fcfs does not read: a warning naming ssjf" 0 stderr \
    "pred.yaml:3:19: predictor.name: noisy is not used: policy fcfs does not read predictions (ssjf and s3" -- \
    "$L" run pred.yaml -o pred -q
printf 'name: tp\nmodel: llama-2-13b\nworkload: {requests: 10}\nhardware: {tp: 3}\n' > tp.yaml
expect "tp that does not divide the heads: refused at its place" 2 stderr \
    "tp.yaml:4:16: hardware.tp: 3 does not divide llama-2-13b's 40 attention heads" -- \
    "$L" run tp.yaml -o tp
[ -e tp ] && fail "tp: tp/ was written"

# ---- 3. errors found after loading: placed, exit 2, nothing written ----
printf 'name: g\nworkload: {requests: 10}\nhardware:\n  gpu: h1000\n' > gpu.yaml
expect "unknown GPU: placed" 2 stderr "gpu.yaml:4:8: hardware.gpu: unknown GPU 'h1000'" -- \
    "$L" run gpu.yaml -o gpu
[ -s out.txt ] && fail "unknown GPU: stdout not empty: $(cat out.txt)"
[ -e gpu ] && fail "unknown GPU: gpu/ was written"
printf 'name: w\nmodel: llama-2-70b\nworkload: {requests: 10}\n' > w.yaml
expect "weights that do not fit: placed (default GPU)" 2 stderr \
    "w.yaml: hardware.gpu: llama-2-70b weights (138.0 GB) do not fit in 1 x a100-80gb" -- \
    "$L" run w.yaml -o w
[ -e w ] && fail "weights: w/ was written"

printf 'name: kvm\nmodel: llama-2-13b\nhardware: {gpu: a100-40gb}\nworkload: {requests: 10}\nengine: {max_seq_len: 100000}\n' > kvm.yaml
expect "a KV pool without room for one max-length sequence: placed" 2 stderr \
    "kvm.yaml:5:23: engine.max_seq_len: the KV pool (15408 tokens) holds no max-length sequence" -- \
    "$L" run kvm.yaml -o kvm
[ -e kvm ] && fail "KV pool: kvm/ was written"

# ---- 4. sweeps survive; existing results; umask ----
cat > inf.yaml <<'Y'
name: inf
model: llama-2-13b
workload: {requests: 50}
sweep:
  hardware.tp: [1, 3, 2]
Y
"$L" run inf.yaml -o inf -q > out.txt 2> err.txt
st=$?
[ $st -eq 1 ] && ok "infeasible point: exit status 1" || fail "infeasible point: exit $st"
[ "$(col inf/results.csv status 2)" = infeasible ] &&
    col inf/results.csv reason 2 | grep -q "inf.yaml:5:20: hardware.tp: 3 does not divide" &&
    [ "$(col inf/results.csv status 3)" = ok ] && [ -d inf/tp-2 ] && [ ! -e inf/tp-3 ] &&
    ok "infeasible point: recorded with its reason, the sweep went on" ||
    fail "infeasible point: $(cat inf/results.csv | cut -c1-200)"
grep -q "1 of 3 runs failed" err.txt && ok "infeasible point: said on stderr" ||
    fail "infeasible point: $(cat err.txt)"
"$L" run sw.yaml -o inf -q > out.txt 2> err.txt
st=$?
[ $st -eq 2 ] && grep -q "inf: holds the results of an earlier run; --force" err.txt &&
    [ -d inf/tp-1 ] && ok "an existing results folder: refused without --force" ||
    fail "existing folder: exit $st: $(cat err.txt)"
"$L" run sw.yaml -o inf -q --force 2> err.txt
[ -d inf/rate-1 ] && [ ! -e inf/tp-1 ] && [ ! -e inf/tp-2 ] &&
    ok "--force: the earlier runs are gone, the new ones are there" || fail "--force: $(ls inf)"
m=$(stat -c %a inf/results.csv inf/rate-1 inf/rate-1/requests.csv | sort -u | tr '\n' ' ')
[ "$m" = "644 755 " ] && ok "umask 022: files 644, directories 755" || fail "modes: $m"

# ---- 5. machine-readable ----
head -1 sw1/rate-3/requests.csv | grep -q '^id,' && head -1 sw1/rate-3/timeline.csv | grep -q '^replica,' &&
    ok "requests.csv and timeline.csv start with their header" ||
    fail "CSV first lines: $(head -1 sw1/rate-3/requests.csv)"
python3 - sw2 <<'P' && ok "results.json: the rows of results.csv, typed" || fail "results.json"
import csv, json, sys
d = sys.argv[1]
rows = list(csv.DictReader(open(d + "/results.csv")))
js = json.load(open(d + "/results.json"))
assert len(rows) == len(js) == 4, (len(rows), len(js))
for r, j in zip(rows, js):
    assert r["run"] == j["run"] and j["status"] == "ok" and j["reason"] is None
    assert isinstance(j["completed"], int) and int(r["completed"]) == j["completed"]
    assert abs(float(r["mean_ttft_ms"]) - j["mean_ttft_ms"]) < 1e-6
    assert j["settings"]["engine.max_batch"] == int(r["engine.max_batch"])
P
mkdir -p a/much/longer/path/than/the/other
"$L" run sw.yaml -o short -q 2> /dev/null
"$L" run sw.yaml -o a/much/longer/path/than/the/other/out -q 2> /dev/null
cmp -s short/rate-1/manifest.yaml a/much/longer/path/than/the/other/out/rate-1/manifest.yaml &&
    ok "manifest.yaml does not depend on the output path" ||
    fail "manifest: $(diff short/rate-1/manifest.yaml a/much/longer/path/than/the/other/out/rate-1/manifest.yaml)"
finish
