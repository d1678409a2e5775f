#!/bin/bash
# limits.sh LENSIM: settings at the edges of what the simulator can hold end with a clear message
# and exit status 0 or 2, never an abort (issue 15, defects 2, 3, 4 and 11):
# - predicted reservations on a KV pool smaller than max_seq_len complete;
# - simulated time past its limit (2^62 ns, about 146 years), from a late arrival, the predictor
#   queue, swapping over a near-zero link, or a profile's huge or infinite latency, is an error;
# - a profile whose latency goes negative (decode_ctx -2e-6) is refused at load;
# - a timeline of replicas x timeline_rows larger than the machine's memory is refused.
set -u
. "$(dirname "$0")/lib.sh"
L=$(lensim_abs "$1")
scratch
cd "$TMP" || exit 1

# run NAME STATUS PATTERN < YAML: `lensim run` exits STATUS, its stderr holds PATTERN (for
# status 0, summary.json's "completed" line must).
run() {
    local name=$1 want=$2 pattern=$3
    cat > "$name.yaml"
    "$L" run "$name.yaml" -o "out-$name" -q > "$name.out" 2> "$name.err"
    local status=$?
    local file=$name.err
    [ "$want" -eq 0 ] && file=out-$name/run/summary.json
    if [ "$status" -ne "$want" ]; then
        fail "$name: exit status $status, want $want ($(head -3 "$name.err"))"
    elif ! grep -qF -- "$pattern" "$file"; then
        fail "$name: $file lacks '$pattern': $(head -3 "$file")"
    else
        ok "$name"
    fi
}

profile() { # profile FILE CONST [EXTRA-LINE]
    cat > "$1" <<P
format: lensim-profile/1
model: llama-2-7b
backend: cpu
device: a100-80gb
tp: 1
latency:
  pieces:
    - max_tokens: .inf
      const: $2
      decode_seqs: 1e-5
      prefill_tok: 1e-4
${3:-}
memory:
  kv_bytes_per_token: 524288
  kv_capacity_bytes: 1e12
P
}

printf 'arrival_s,prompt_tokens,output_tokens\n0,1900,50\n' > one.csv
run predicted_small_pool 0 '"completed": 1,' <<'Y'
name: x
hardware: {gpu: a100-40gb, mem_util: 0.34}
engine: {memory: predicted, max_seq_len: 4096}
workload: {source: csv, path: one.csv}
Y

printf 'arrival_s,prompt_tokens,output_tokens\n0,100,10\n4611686018.4,100,10\n' > late.csv
run late_arrival 2 "time limit" <<'Y'
name: x
workload: {source: csv, path: late.csv}
Y

printf 'arrival_s,prompt_tokens,output_tokens\n0,100,10\n4611685000,100,10\n4611685000,100,10\n' > edge.csv
run predictor_queue 2 "predictor.cost_s" <<'Y'
name: x
workload: {source: csv, path: edge.csv}
predictor: {cost_s: 1000}
Y

run swap_link 2 "host_bw_gbps" <<'Y'
name: x
hardware: {gpu: a100-40gb, mem_util: 0.34, host_bw_gbps: 1e-300}
engine: {memory: paged, preemption: swap, max_seq_len: 2048}
workload: {requests: 200, rate: 50}
Y

for c in 1e9 1e10; do
    profile "p$c.yaml" "$c"
    run "profile_const_$c" 2 "time limit" <<Y
name: x
perf: {profile: p$c.yaml}
workload: {requests: 20, rate: 1}
Y
done

profile pinf.yaml .inf
run profile_const_inf 2 "not finite" <<'Y'
name: x
perf: {profile: pinf.yaml}
workload: {requests: 20, rate: 1}
Y

profile pneg.yaml 1e-3 "      decode_ctx: -2e-6"
run profile_negative_ctx 2 "decode_ctx" <<'Y'
name: x
perf: {profile: pneg.yaml}
workload: {requests: 200, rate: 5}
Y

run timeline_too_big 2 "lower outputs.timeline_rows" <<'Y'
name: x
cluster: {replicas: 100000}
outputs: {timeline_rows: 10000000}
workload: {requests: 10, rate: 1}
Y

finish
