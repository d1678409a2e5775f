#!/bin/bash
# interrupt.sh LENSIM: SIGINT during `lensim run`. The experiment has a quick first run and a long
# second one (2 million requests on 4 replicas, minutes of work). Once the first run's files exist,
# SIGINT: the exit status must be 130; the finished run keeps all four files, complete; the
# interrupted run leaves no summary.json, no other finished-looking file and no *.tmp; there is no
# results.csv (nor its .tmp).
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
"$L" run intr.yaml -o out -q > run.out 2> run.err &
pid=$!
# Wait (up to 60 s, for slow sanitizer builds) for the first run to finish.
for _ in $(seq 600); do
    [ -e out/quick/manifest.yaml ] && break
    kill -0 $pid 2> /dev/null || break
    sleep 0.1
done
sleep 0.5
kill -INT $pid
# It must stop promptly: give it 30 s, then kill it for good.
for _ in $(seq 300); do
    kill -0 $pid 2> /dev/null || break
    sleep 0.1
done
if kill -0 $pid 2> /dev/null; then
    kill -KILL $pid
    fail "still running 30 s after SIGINT"
fi
wait $pid
status=$?
[ $status -eq 130 ] && ok "exit status 130" || fail "exit status $status, want 130 ($(cat run.err))"
grep -qF "lensim run: interrupted; finished runs are kept, the current one is not" run.err &&
    ok "says it was interrupted" || fail "stderr: $(cat run.err)"

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
finish
