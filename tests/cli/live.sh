#!/bin/bash
# live.sh LENSIM (issue 11): live execution mode from the command line. cuda without a GPU exits
# 77 (meson's SKIP status, as kcheck); live.clock realtime with 2 replicas or with live.timer
# cpu, and live.timer cpu with 2 BLAS threads, are refused at load with file:line:col; a
# realtime run of one replica runs;
# a model above live.max_bytes is refused (2) before allocating, naming the key; a short live run
# and its simulated twin feed `lensim fidelity`, which reports per-iteration errors by kind and
# latency percentiles; fidelity on a directory that is no live run is bad usage (2); with
# predictor.cost_s the report gives the predictor kernel's predictions and times.
set -u
. "$(dirname "$0")/lib.sh"
L=$(lensim_abs "$1")
scratch
cd "$TMP" || exit 1

cat > live.yaml <<'YAML'
name: live
model: tiny
workload: {requests: 12, rate: 50, prompt_mu: 3, prompt_sigma: 0.3, output_mu: 2.5, output_sigma: 0.3}
engine: {mode: live, memory: paged, max_batch: 8, max_seq_len: 256, max_batched_tokens: 256}
live:
  backend: cpu
YAML
printf 'name: rt\nmodel: tiny\nworkload: {requests: 2}\nengine: {mode: live}\ncluster: {replicas: 2}\nlive:\n  clock: realtime\n' \
    > rt.yaml

if "$L" kcheck > /dev/null 2>&1 || [ $? -ne 77 ]; then
    ok "cuda without a GPU: a GPU is here, nothing to check"
else
    expect "cuda without a GPU" 77 stderr "cuda" -- "$L" run live.yaml -q -o c --set live.backend=cuda
fi
expect "realtime with 2 replicas refused at load" 2 stderr "rt.yaml:5:21: cluster.replicas" -- \
    "$L" run rt.yaml -q -o r
printf 'name: rc\nmodel: tiny\nworkload: {requests: 2}\nengine: {mode: live}\nlive:\n  clock: realtime\n  timer: cpu\n' \
    > rc.yaml
expect "realtime with the cpu timer refused at load" 2 stderr "rc.yaml:7:10: live.timer" -- \
    "$L" run rc.yaml -q -o rc
"$L" run live.yaml -q -o rt --set live.clock=realtime > /dev/null 2>&1 && ok "realtime run" ||
    fail "realtime run"
grep -q "realtime_wait_s" rt/run/manifest.yaml || fail "realtime run: no realtime_wait_s in its manifest"
printf 'name: ct\nmodel: tiny\nworkload: {requests: 2}\nengine: {mode: live}\nlive:\n  timer: cpu\n  threads: 2\n' \
    > ct.yaml
expect "cpu timer with 2 threads refused at load" 2 stderr "ct.yaml:6:10: live.timer" -- \
    "$L" run ct.yaml -q -o t
expect "too big for live.max_bytes" 2 stderr "live.max_bytes" -- \
    "$L" run live.yaml -q -o big --set live.max_bytes=1000000
[ -e big/run ] && fail "a refused live run left a run directory"
"$L" run live.yaml -q -o l > /dev/null 2>&1 && ok "live run" || fail "live run"
"$L" run live.yaml -q -o s --set engine.mode=sim > /dev/null 2>&1 && ok "simulated twin" ||
    fail "simulated twin"
[ -f l/run/iterations.csv ] || fail "no iterations.csv in the live run"
[ -e s/run/iterations.csv ] && fail "a simulated run wrote iterations.csv"
expect "fidelity report" 0 stdout "per-iteration prediction error" -- "$L" fidelity l s
grep -qE '^  E2E   mean ' out.txt || fail "fidelity: no E2E row: $(head -40 out.txt)"
grep -qE '^  decode +[0-9]+ ' out.txt || fail "fidelity: no decode row"
if command -v gnuplot > /dev/null; then
    [ -s l/figures/fidelity_run.png ] && ok "fidelity figure" || fail "no l/figures/fidelity_run.png"
fi
[ -e l/run/figures ] && fail "fidelity wrote into the run's directory (a rerun could not replace it)"
expect "fidelity of a simulated run" 2 stderr "iterations.csv" -- "$L" fidelity s
# issue 11: with a prediction cost the predictor kernel runs per request; fidelity reports it
"$L" run live.yaml -q -o p --set predictor.cost_s=0.001 > /dev/null 2>&1 && ok "live run with a predictor" ||
    fail "live run with a predictor"
expect "fidelity reports the predictor" 0 stdout "length predictor on the kernel: 12 predictions" -- \
    "$L" fidelity p
# issue 11: the level line, on iterations made by hand. h1: predicted 1, 1 and 1 s, measured 1, 1
# and 4 s: MAPE (0 + 0 + 75) / 3 = 25 %; ratios 1, 1, 4: median 1 (the totals' ratio, 2, would
# give (100 + 100 + 50) / 3 = 83.33 %), so 25 % is left. h2: predicted 0.8 and 1.6 s, measured 1
# and 2 s: level 1.25 (ratios 1.25 and 1.25), nothing left (0 %).
hdr=iter,device,kind,seqs,decode_seqs,decode_ctx,prefill_seqs,prefill_tok,rows,predicted_s,measured_s,kernel_s,copy_s,cpu_s,start_s,charged_s
mkdir -p h1/run h2/run
printf '%s\n0,0,decode,1,1,9,0,0,1,1,1,0.5,0,1,0,1\n1,0,decode,1,1,10,0,0,1,1,1,0.5,0,1,1,1\n2,0,decode,1,1,11,0,0,1,1,4,0.5,0,4,2,4\n' "$hdr" \
    > h1/run/iterations.csv
printf '%s\n0,0,decode,1,1,9,0,0,1,0.8,1,0.5,0,1,0,1\n1,0,mixed,2,1,10,1,5,6,1.6,2,0.5,0,2,1,2\n' "$hdr" \
    > h2/run/iterations.csv
expect "fidelity: level and MAPE after it" 0 stdout \
    "level: measured / predicted, median over the iterations, 1.000; with every prediction scaled by it, MAPE 25.00 %" \
    -- "$L" fidelity h1
grep -qE '^  all +3 +25\.00 ' out.txt || fail "fidelity h1: MAPE not 25.00: $(cat out.txt)"
expect "fidelity: a uniform level leaves nothing" 0 stdout "median over the iterations, 1.250; with every prediction scaled by it, MAPE 0.00 %" \
    -- "$L" fidelity h2
finish
