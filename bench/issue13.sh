#!/bin/bash
# issue13.sh OLD_LENSIM NEW_LENSIM [--big]: issue 13's goals, two builds side by side on one core
# (taskset -c 0), medians of 11 runs each, interleaved (old, new, old, new, ...) so that a busy
# machine slows both alike. Wall and CPU (user + sys) seconds and peak RSS (see one()).
#   - Vidur's conv_n50000_qps2.0_seed42 (CodeLlama-34B shape, TP2, A100, one replica, max_batch
#     128, 4096 tokens, paged), outputs off and on; ratio to Vidur's 81.9 s;
#   - the same with Vidur's own scheduler and tables (experiments/vidur-conv.yaml's `table` run:
#     engine.scheduler vllm_v0, calib/profiles/codellama-34b-tp2-a100.table, 27,904 blocks);
#   - `lensim schema` (start-up: CUDA libraries mapped or not);
#   - a 16-run sweep (60,000 requests a run) with -j 1 and -j 2, medians of 5 (NEW only; two
#     cores: taskset -c 0,1);
#   - --big: 10^7 synthetic requests on 100 replicas, outputs off, once per build.
# Run from the source root; needs ../shared/data/vidur.
set -u
OLD=$1 NEW=$2 BIG=${3:-}
T=$(mktemp -d /tmp/lensim-issue13-XXXXXX)
trap 'rm -rf "$T"' EXIT
sed '1s/.*/arrival_s,prompt_tokens,output_tokens/' \
    ../shared/data/vidur/workloads/conv_n50000_qps2.0_seed42.csv > "$T/conv.csv"
vidur() { # NAME OUTPUTS(true|false) ROWS
    cat <<Y
name: $1
seed: 42
model: {name: custom, layers: 48, hidden: 8192, heads: 64, kv_heads: 8, head_dim: 128, ffn: 22016, vocab: 32000, dtype_bytes: 2, max_ctx: 16384, params: 33.7e9}
hardware: {gpu: a100-80gb, tp: 2}
cluster: {replicas: 1}
workload: {source: csv, path: $T/conv.csv}
engine: {memory: paged, max_batch: 128, max_batched_tokens: 4096, max_seq_len: 4096}
outputs: {requests_csv: $2, timeline_rows: $3}
Y
}
vidur off false 0 > "$T/off.yaml"
vidur on true 2000 > "$T/on.yaml"
# vidur_table NAME OUTPUTS ROWS: the vllm_v0 scheduler on Vidur's prediction tables.
vidur_table() {
    vidur "$@" | sed -e 's/^model: .*/model: codellama-34b/' \
        -e 's/^engine: {/engine: {scheduler: vllm_v0, block_size: 16, watermark: 0.01, kv_blocks: 27904, /'
    echo "perf: {profile: $PWD/calib/profiles/codellama-34b-tp2-a100.table}"
}
vidur_table toff false 0 > "$T/toff.yaml"
vidur_table ton true 2000 > "$T/ton.yaml"
cat > "$T/sweep.yaml" <<'Y'
name: sweep16
seed: 1
workload: {requests: 60000, max_prompt_tokens: 3072}
engine: {max_seq_len: 4096, memory: paged}
sweep:
  workload.rate: [1, 2, 3, 4, 5, 6, 7, 8]
  policy: [fcfs, sjf]
Y
cat > "$T/big.yaml" <<'Y'
name: big
seed: 1
cluster: {replicas: 100}
workload: {requests: 10000000, rate: 500, max_prompt_tokens: 3072}
engine: {memory: paged, max_seq_len: 4096}
outputs: {requests_csv: false, timeline_rows: 0}
Y

# one CPUS CMD...: "wall cpu rss_mb" of one run: wall from a monotonic clock, CPU (user + sys)
# and peak RSS from wait4's rusage, all to the microsecond (GNU time's %e and %U round to 10 ms,
# an eighth of a conv_n50000 run).
one() {
    local cpus=$1
    shift
    rm -rf "$T/o"
    python3 - "$T/err" taskset -c "$cpus" "$@" <<'PY' || echo "issue13.sh: $* failed: $(tail -2 "$T/err")" >&2
import os, sys, time
err = open(sys.argv[1], "w")
t0 = time.perf_counter()
pid = os.fork()
if pid == 0:
    os.dup2(os.open(os.devnull, os.O_WRONLY), 1)
    os.dup2(err.fileno(), 2)
    os.execvp(sys.argv[2], sys.argv[2:])
_, status, ru = os.wait4(pid, 0)
wall = time.perf_counter() - t0
print(f"{wall:.4f} {ru.ru_utime + ru.ru_stime:.4f} {ru.ru_maxrss / 1024:.1f}")
sys.exit(0 if os.waitstatus_to_exitcode(status) == 0 else 1)
PY
}
# median FILE: medians of the three columns.
median() {
    for c in 1 2 3; do
        awk -v c=$c '{print $c}' "$1" | sort -g | awk '{a[NR]=$1} END{printf "%s ", a[int((NR+1)/2)]}'
    done
}
# row LABEL CPUS ARGS...: old and new, 11 interleaved runs each.
row() {
    local label=$1 cpus=$2
    shift 2
    : > "$T/old" && : > "$T/new"
    for _ in $(seq 11); do
        one "$cpus" "$OLD" "$@" >> "$T/old"
        one "$cpus" "$NEW" "$@" >> "$T/new"
    done
    read -r ow oc om <<< "$(median "$T/old")"
    read -r nw nc nm <<< "$(median "$T/new")"
    printf '%-30s %8s %8s %8s | %8s %8s %8s | %6s\n' "$label" "$ow" "$oc" "$om" "$nw" "$nc" "$nm" \
        "$(awk -v a="$oc" -v b="$nc" 'BEGIN{printf "%.2fx", a / b}')"
}
printf '%-30s %26s | %26s |\n' "" "before (OLD)" "after (NEW)"
printf '%-30s %8s %8s %8s | %8s %8s %8s | %6s\n' "median of 11, one core" wall_s cpu_s rss_MB \
    wall_s cpu_s rss_MB "cpu x"
row "conv_n50000, outputs off" 0 run -q "$T/off.yaml" -o "$T/o"
printf '%-30s Vidur 81.9 s / NEW cpu = %.0fx\n' "" "$(awk -v n="$nc" 'BEGIN{print 81.9 / n}')"
row "conv_n50000, outputs on" 0 run -q "$T/on.yaml" -o "$T/o"
row "conv_n50000 vllm_v0+table, off" 0 run -q "$T/toff.yaml" -o "$T/o"
printf '%-30s Vidur 81.9 s / NEW cpu = %.0fx\n' "" "$(awk -v n="$nc" 'BEGIN{print 81.9 / n}')"
row "conv_n50000 vllm_v0+table, on" 0 run -q "$T/ton.yaml" -o "$T/o"
row "lensim schema" 0 schema
: > "$T/j1" && : > "$T/j2"
for _ in 1 2 3 4 5; do
    one 0,1 "$NEW" run -q "$T/sweep.yaml" -o "$T/o" -j 1 >> "$T/j1"
    one 0,1 "$NEW" run -q "$T/sweep.yaml" -o "$T/o" -j 2 >> "$T/j2"
done
read -r w1 _ _ <<< "$(median "$T/j1")"
read -r w2 _ _ <<< "$(median "$T/j2")"
printf '16-run sweep (NEW, 2 cores): -j 1 %s s, -j 2 %s s: %.2fx\n' "$w1" "$w2" \
    "$(awk -v a="$w1" -v b="$w2" 'BEGIN{print a / b}')"
"$NEW" search experiments/demo.yaml --set engine.memory=paged --target 'p99_ttft_ms<2000' \
    --over workload.rate --lo 1 --hi 8 -o "$T/s" -q | tail -1
if [ "$BIG" = --big ]; then
    for b in "$OLD" "$NEW"; do
        printf '10^7 requests, 100 replicas, %s: wall cpu rss_MB = %s\n' "$b" \
            "$(one 0 "$b" run -q "$T/big.yaml" -o "$T/o")"
    done
fi
