#!/bin/bash
# plot.sh LENSIM SOURCE_ROOT (issue 12 item 7): `lensim plot` draws figures that follow the
# experiment, for a rate sweep, a non-rate sweep (max_batch), a sweep with too many series for
# one panel (panels), a trace replay (a runs list, no numeric key) and a trace replay swept over
# rate_scale, in every format:
#  - each figure that applies exists, is non-trivial (PNG/SVG/PDF signature, > 4 kB) and is
#    listed on stdout; one that does not apply is not drawn (no sweep figure for a replay
#    without a numeric sweep, no bar chart for a sweep), and a stale one is removed;
#  - gnuplot printed nothing (no warning) and lensim plot exits 0;
#  - the x axis is the swept key, SLO attainment and goodput appear only with SLOs set;
#  - a CDF of a large run is drawn from 1001 quantiles, and its median is the median that
#    sort(1) and awk compute from requests.csv (an independent check of the quantiles).
# Skipped (77) without gnuplot.
set -u
. "$(dirname "$0")/lib.sh"
L=$(lensim_abs "$1")
command -v gnuplot > /dev/null ||
    skip "gnuplot is not installed (sudo apt-get install gnuplot-nox); lensim plot is untested"
scratch
cd "$TMP" || exit 1

# figures DIR WANT NOT: lensim plot DIR in three formats; WANT drawn, NOT absent.
figures() {
    local d=$1 want=$2 not=$3
    "$L" plot "$d" --format png,svg,pdf > plot.out 2> plot.err
    local status=$?
    [ $status -eq 0 ] && ok "$d: exit status 0" || fail "$d: exit status $status"
    [ -s plot.err ] && fail "$d: lensim plot wrote to stderr: $(head -3 plot.err)" ||
        ok "$d: no gnuplot warning"
    for fig in $want; do
        local png=$d/figures/$fig.png svg=$d/figures/$fig.svg pdf=$d/figures/$fig.pdf
        if [ "$(head -c 8 "$png" 2> /dev/null | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ] &&
            [ "$(stat -c %s "$png")" -gt 4000 ]; then
            ok "$png"
        else
            fail "$png missing, small or not a PNG"
        fi
        grep -q '<svg' "$svg" 2> /dev/null && [ "$(stat -c %s "$svg")" -gt 4000 ] && ok "$svg" ||
            fail "$svg missing, small or not SVG"
        [ "$(head -c 4 "$pdf" 2> /dev/null)" = %PDF ] && [ "$(stat -c %s "$pdf")" -gt 4000 ] &&
            ok "$pdf" || fail "$pdf missing, small or not PDF"
        grep -qxF "$png" plot.out && grep -qxF "$svg" plot.out && grep -qxF "$pdf" plot.out ||
            fail "$d: lensim plot did not list $fig's files"
    done
    for fig in $not; do
        ls "$d/figures/$fig".* > /dev/null 2>&1 && fail "$d: $fig drawn, but does not apply" ||
            ok "$d: no $fig figure"
    done
}

# 1. Rate sweep with SLOs: x = workload.rate, memory policies as series.
cat > rate.yaml <<'Y'
name: rate
model: llama-2-7b
hardware: {gpu: a100-80gb}
workload: {requests: 150, max_prompt_tokens: 2048}
engine: {max_seq_len: 4096}
slo: {ttft_ms: 500, tpot_ms: 50}
sweep:
  workload.rate: [1, 4, 16]
  engine.memory: [max, paged]
Y
"$L" run rate.yaml -o rate -q || fail "lensim run rate.yaml: exit status $?"
figures rate "sweep latency_cdf timeline" "runs"
grep -q '>workload.rate<' rate/figures/sweep.svg && ok "rate: x axis is workload.rate" ||
    fail "rate: sweep.svg has no x label workload.rate"
grep -q 'SLO attainment' rate/figures/sweep.svg && ok "rate: SLO attainment drawn" ||
    fail "rate: SLOs are set but sweep.svg has no SLO attainment panel"
grep -q 'and goodput' rate/figures/sweep.svg && ok "rate: goodput drawn" ||
    fail "rate: SLOs are set but sweep.svg has no goodput"
for s in memory-max memory-paged; do
    grep -q ">$s<" rate/figures/sweep.svg && ok "rate: series $s" || fail "rate: no series $s"
done

# One colour per series in every figure: the legends of the kept scripts agree, and the two
# series differ.
LENSIM_PLOT_KEEP=1 "$L" plot rate > keep.out 2> keep.err || fail "rate: LENSIM_PLOT_KEEP plot failed"
scripts=$(sed -n 's/^lensim plot: .* script kept in //p' keep.err)
[ "$(echo $scripts | wc -w)" -eq 3 ] || fail "rate: want 3 kept scripts: $(cat keep.err)"
for sr in memory-max memory-paged; do
    cols=$(for f in $scripts; do grep -o "lc rgb '#[0-9a-f]*'[^,]* title '$sr'" "$f"; done |
        grep -o "#[0-9a-f]*" | sort -u)
    [ "$(echo "$cols" | wc -l)" -eq 1 ] && [ -n "$cols" ] && ok "rate: $sr is $cols in every figure" ||
        fail "rate: $sr has colours '$cols' across figures"
    eval "col_${sr//-/_}=\$cols"
done
[ "$col_memory_max" != "$col_memory_paged" ] && ok "rate: the two series have two colours" ||
    fail "rate: both series are $col_memory_max"
rm -f $scripts

# 1b. A sweep point with no run folder (one that could not run: its row, no manifest): the x
# axis is still the rate; and a results.csv without runs draws nothing and says so.
cp -r rate rate-hole && rm -rf rate-hole/rate-16_memory-max rate-hole/figures
figures rate-hole "sweep latency_cdf timeline" "runs"
grep -q '>workload.rate<' rate-hole/figures/sweep.svg && ok "rate-hole: x axis is workload.rate" ||
    fail "rate-hole: a run without a manifest lost the x axis"
mkdir -p none && head -1 rate/results.csv > none/results.csv
"$L" plot none > none.out 2> none.err && grep -q 'nothing to draw' none.err &&
    [ -z "$(ls none/figures)" ] && ok "none: nothing to draw, said so" ||
    fail "none: $(cat none.err)"

# 2. A sweep over max_batch, no SLOs: x = engine.max_batch; no SLO panel.
cat > mb.yaml <<'Y'
name: mb
workload: {requests: 120, rate: 8, max_prompt_tokens: 2048}
engine: {max_seq_len: 4096}
sweep:
  engine.max_batch: [2, 8, 32]
  policy: [fcfs, sjf]
Y
"$L" run mb.yaml -o mb -q || fail "lensim run mb.yaml: exit status $?"
figures mb "sweep latency_cdf timeline" "runs"
grep -q '>engine.max_batch<' mb/figures/sweep.svg && ok "mb: x axis is engine.max_batch" ||
    fail "mb: sweep.svg has no x label engine.max_batch"
grep -q 'SLO attainment\|goodput' mb/figures/sweep.svg &&
    fail "mb: no SLO is set, but sweep.svg draws SLO attainment or goodput" ||
    ok "mb: no SLO panel without SLOs"
# 2, 8, 32 is geometric: a log2 axis, ticks 2, 4, ..., 32 on each of the four panels (a linear
# one: 0, 5, ..., 35). The y axes' ticks can be anything, so count: ticks 4 and 16, which an
# axis stepping by 5 never has, once per panel at least.
[ "$(grep -c '<text> *16</text>' mb/figures/sweep.svg)" -ge 4 ] &&
    [ "$(grep -c '<text> *4</text>' mb/figures/sweep.svg)" -ge 4 ] &&
    ok "mb: log2 x axis for 2, 8, 32" || fail "mb: max_batch 2, 8, 32 not on a log2 axis"

# 2b. Nine series (memory x policy) against rate: the first key with the fewest values (memory,
# 3) becomes panels, policy the series.
cat > pan.yaml <<'Y'
name: pan
workload: {requests: 60, max_prompt_tokens: 1024}
sweep:
  workload.rate: [2, 8]
  engine.memory: [max, paged, oracle]
  policy: [fcfs, sjf, ssjf]
Y
"$L" run pan.yaml -o pan -q || fail "lensim run pan.yaml: exit status $?"
figures pan "sweep latency_cdf timeline" "runs"
for v in max paged oracle; do
    grep -q ">memory=$v<" pan/figures/sweep.svg && ok "pan: panel memory=$v" || fail "pan: no panel memory=$v"
done
for v in fcfs sjf ssjf; do
    [ "$(grep -c ">policy-$v<" pan/figures/sweep.svg)" -eq 1 ] && ok "pan: series policy-$v" ||
        fail "pan: series policy-$v not once in the legend"
done

# 3. A trace replay, two runs, no numeric key: bars, no sweep figure; stale figures removed.
awk 'BEGIN { print "arrival_s,prompt_tokens,output_tokens";
             for (i = 0; i < 80; i++) printf "%.3f,%d,%d\n", i * 0.15, 50 + (i * 37) % 400, 5 + (i * 13) % 60 }' \
    > trace.csv
cat > replay.yaml <<'Y'
name: replay
workload: {source: csv, path: trace.csv}
runs:
  - {name: fcfs, policy: fcfs}
  - {name: sjf, policy: sjf}
Y
"$L" run replay.yaml -o replay -q || fail "lensim run replay.yaml: exit status $?"
mkdir -p replay/figures
for f in rate_sweep.png sweep.svg ssjf.png; do printf 'stale' > "replay/figures/$f"; done
figures replay "runs latency_cdf timeline" "sweep rate_sweep ssjf"
grep -q 'goodput\|SLO attainment' replay/figures/runs.svg &&
    fail "replay: no SLO is set, but runs.svg mentions goodput or SLO attainment" ||
    ok "replay: no goodput without SLOs"

# 4. The same replay swept over rate_scale: x = workload.rate_scale, one series.
cat > scale.yaml <<'Y'
name: scale
workload: {source: csv, path: trace.csv}
sweep:
  workload.rate_scale: [0.5, 1, 2]
Y
"$L" run scale.yaml -o scale -q || fail "lensim run scale.yaml: exit status $?"
figures scale "sweep latency_cdf timeline" "runs"
grep -q '>workload.rate_scale<' scale/figures/sweep.svg && ok "scale: x axis is rate_scale" ||
    fail "scale: sweep.svg has no x label workload.rate_scale"

# 5. A large run: the CDF is drawn from 1001 quantiles; its median matches requests.csv's.
printf 'name: big\nworkload: {requests: 6000, rate: 2, max_prompt_tokens: 1024}\n' > big.yaml
"$L" run big.yaml -o big -q || fail "lensim run big.yaml: exit status $?"
LENSIM_PLOT_KEEP=1 "$L" plot big > plot.out 2> plot.err || fail "big: lensim plot failed"
script=$(sed -n 's/^lensim plot: latency_cdf script kept in //p' plot.err)
if [ -z "$script" ] || [ ! -f "$script" ]; then
    fail "big: LENSIM_PLOT_KEEP did not keep the latency_cdf script"
else
    rows=$(awk '/^\$c0_0 << EOD/ {on = 1; next} on && /^EOD/ {exit} on {n++} END {print n + 0}' "$script")
    [ "$rows" -eq 1001 ] && ok "big: TTFT CDF has 1001 points" || fail "big: TTFT CDF has $rows points, want 1001"
    got=$(awk '/^\$c0_0 << EOD/ {on = 1; next} on && $2 == 0.5 {print $1; exit}' "$script")
    col=$(head -1 big/run/requests.csv | tr , '\n' | grep -nx ttft_s | cut -d: -f1)
    [ -n "$col" ] || col=$(sed -n 2p big/run/requests.csv | tr , '\n' | grep -nx ttft_s | cut -d: -f1)
    want=$(grep -v '^#' big/run/requests.csv | tail -n +2 | cut -d, -f"$col" | grep -v '^$' | sort -g |
        awk '{v[NR] = $1} END {m = (NR - 1) / 2; b = int(m); printf "%.9g\n", v[b + 1] + (m - b) * (v[b + 2] - v[b + 1])}')
    awk -v a="$got" -v b="$want" 'BEGIN {d = a - b; exit !(d < 1e-9 && d > -1e-9 && a != "")}' &&
        ok "big: CDF median $got = requests.csv median $want" ||
        fail "big: CDF median '$got' differs from requests.csv median '$want'"
    rm -f "$script"
fi
finish
