#!/bin/bash
# interrupt.sh LENSIM: stopping `lensim run` by a signal. The experiment has a quick first run and
# a long second one (2 million requests on 4 replicas, minutes of work). Once the first run's
# files exist, SIGINT, SIGTERM or SIGHUP: the exit status must be 128 + the signal (130, 143,
# 129); the finished run keeps all four files, complete; the interrupted run leaves no
# summary.json, no other finished-looking file and no *.tmp; there is no results.csv (nor its
# .tmp), and no lock file. Then the loops that once never polled stop promptly too: the SSJF
# paper's simulator (compat: ssjf) drawing Poisson slots at a tiny rate, or sorting a queue of
# 10^5 jobs (hours of work each), and a million requests arriving at one instant
# (workload.arrival: batch) on 4000 replicas routed to the least loaded (seconds spent in the
# arrival loop alone).
set -u
. "$(dirname "$0")/lib.sh"
L=$(lensim_abs "$1")
scratch
cd "$TMP" || exit 1

cat > intr.yaml <<'Y'
name: intr
workload: {requests: 200, rate: 4, max_prompt_tokens: 3072}
engine: {max_seq_len: 4096, memory: paged}
runs:
  - {name: quick}
  - {name: long, workload.requests: 2000000, cluster.replicas: 4, workload.rate: 20}
Y

# stop SIGNAL STATUS: run intr.yaml into out, signal it once the quick run is done, check.
stop() {
    local sig=$1 want=$2
    rm -rf out
    "$L" run intr.yaml -o out -q > run.out 2> run.err &
    pid=$!
    # Wait (up to 60 s, for slow sanitizer builds) for the first run to finish.
    for _ in $(seq 600); do
        [ -e out/quick/manifest.yaml ] && break
        kill -0 $pid 2> /dev/null || break
        sleep 0.1
    done
    sleep 0.5
    kill -$sig $pid
    # It must stop promptly: give it 30 s, then kill it for good.
    for _ in $(seq 300); do
        kill -0 $pid 2> /dev/null || break
        sleep 0.1
    done
    if kill -0 $pid 2> /dev/null; then
        kill -KILL $pid
        fail "still running 30 s after SIG$sig"
    fi
    wait $pid
    status=$?
    [ $status -eq $want ] && ok "SIG$sig: exit status $want" ||
        fail "SIG$sig: exit status $status, want $want ($(cat run.err))"
    grep -qF "lensim run: interrupted; finished runs are kept, the current one is not" run.err &&
        ok "SIG$sig: says it was interrupted" || fail "SIG$sig: stderr: $(cat run.err)"

    for f in requests.csv timeline.csv summary.json manifest.yaml; do
        [ -s "out/quick/$f" ] && ok "finished run kept $f" || fail "finished run lost $f"
    done
    tail -n 1 out/quick/summary.json | grep -qx '}' && ok "finished run's summary.json is complete" ||
        fail "finished run's summary.json is truncated"
    grep -q '^  finished: 200$' out/quick/manifest.yaml && ok "finished run's manifest counts 200" ||
        fail "finished run's manifest: $(grep finished out/quick/manifest.yaml)"

    left=$(cd out && find . -name long -prune -o -type f -print | grep -v '^./quick/')
    [ -z "$left" ] && ok "no results.csv or stray file" || fail "left behind: $left"
    if [ -d out/long ]; then
        long=$(ls -A out/long)
        [ -z "$long" ] && ok "interrupted run left nothing" || fail "interrupted run left: $long"
    else
        ok "interrupted run left nothing"
    fi
    tmp=$(find out -name '*.tmp*')
    [ -z "$tmp" ] && ok "no *.tmp file" || fail "left *.tmp: $tmp"
}
stop INT 130
stop TERM 143
stop HUP 129

# quick_stop NAME YAML SIGNAL STATUS: start it, signal it after 2 s, it must be gone within 5 s
# (before the fix: hours, and 9 s), with that status and nothing left in its directory.
quick_stop() {
    local name=$1 yaml=$2 sig=$3 want=$4
    "$L" run "$yaml" -o "out-$name" -q > /dev/null 2> "$name.err" &
    local pid=$! took=0
    sleep 2
    kill -0 $pid 2> /dev/null || fail "$name: finished within 2 s: the case no longer tests a long loop"
    kill -$sig $pid
    while kill -0 $pid 2> /dev/null && [ $took -lt 50 ]; do
        sleep 0.1
        took=$((took + 1))
    done
    if kill -0 $pid 2> /dev/null; then
        kill -KILL $pid
        fail "$name: still running 5 s after SIG$sig"
    fi
    wait $pid
    local status=$?
    [ $status -eq "$want" ] && ok "$name: SIG$sig stops it (exit status $want)" ||
        fail "$name: exit status $status, want $want ($(cat "$name.err"))"
    local left
    left=$(find "out-$name" -mindepth 1 2> /dev/null)
    [ -z "$left" ] && ok "$name: nothing left" || fail "$name: left $left"
}

{
    printf ',output_token_length,predicted_length,latency,model\n'
    for i in $(seq 200); do printf '%d,%d,%d,0.1,m\n' "$i" $((i * 7 % 500 + 1)) $((i % 5)); done
} > preds.csv
cat > ssjf.yaml <<'Y'
name: ssjfint
compat: ssjf
ssjf: {jobs: 100, repeats: 2, predictions: preds.csv}
workload: {arrival: poisson, rate: 1e-8}
Y
quick_stop compat-ssjf ssjf.yaml INT 130
# SJF over 10^5 jobs arriving at 1000/s: the queue grows to ~10^5 and every 1-second slice of
# the original's clock scans it (aging), ~5 x 10^5 slices: over 20 s here. (With the jobs arriving
# at once the stable merge sort now finishes the whole run in about a second.)
awk 'BEGIN { print ",output_token_length,predicted_length,latency,model"
             for (i = 1; i <= 100000; i++) printf "%d,%d,%d,0.1,m\n", i, i * 7 % 500 + 1, i % 5 }' \
    > preds-big.csv
cat > sort.yaml <<'Y'
name: sortint
compat: ssjf
policy: sjf
ssjf: {jobs: 100000, repeats: 1, predictions: preds-big.csv}
workload: {arrival: poisson, rate: 1000}
Y
quick_stop compat-ssjf-sort sort.yaml INT 130

cat > batch.yaml <<'Y'
name: batchint
workload: {arrival: batch, requests: 1000000, max_prompt_tokens: 3072}
engine: {max_seq_len: 4096}
cluster: {replicas: 4000, router: least_outstanding}
outputs: {timeline_rows: 10, requests_csv: false}
Y
quick_stop batch-arrivals batch.yaml INT 130
finish
