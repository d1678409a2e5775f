#!/bin/bash
# jobs.sh LENSIM (issue 13, item 6): `lensim run -j N`, `--resume`, `--only GLOB`.
# -j 3 must write the very files -j 1 writes (every file byte for byte; in manifest.yaml only the
# allocator's counters under `memory:` may differ: they are process-wide, so in one process they
# accumulate over the runs before). --only runs the matching runs and lists just them in
# results.csv. --resume keeps run directories whose manifest has this run's experiment hash
# (a marker file left inside them survives) and reruns the missing ones and every run whose
# settings changed; results.csv comes out the same. SIGTERM to lensim alone with -j 2 stops
# its workers too: status 143, finished runs kept, no results.csv, no worker left behind. A
# worker killed outright is reported once, by its run's name, and leaves no temporary directory.
set -u
. "$(dirname "$0")/lib.sh"
L=$(lensim_abs "$1")
scratch
cd "$TMP" || exit 1

cat > sweep.yaml <<'Y'
name: sweep
seed: 3
workload: {requests: 300, max_prompt_tokens: 2048}
engine: {max_seq_len: 4096}
sweep:
  workload.rate: [1, 2, 4]
  engine.memory: [max, paged]
Y

# same_tree A B: every file the same, manifests compared without their memory block.
same_tree() {
    local a=$1 b=$2 f rel bad=0
    [ "$(cd "$a" && find . -type f | sort)" = "$(cd "$b" && find . -type f | sort)" ] || return 1
    while IFS= read -r f; do
        rel=${f#"$a"/}
        case $rel in
        */manifest.yaml)
            cmp -s <(sed '/^memory:/,/^  allocations:/d' "$f") \
                <(sed '/^memory:/,/^  allocations:/d' "$b/$rel") || bad=1
            ;;
        *) cmp -s "$f" "$b/$rel" || bad=1 ;;
        esac
    done < <(find "$a" -type f)
    return $bad
}

"$L" run -q sweep.yaml -o j1 || fail "-j 1 failed"
"$L" run -q sweep.yaml -o j3 -j 3 || fail "-j 3 failed"
if same_tree j1 j3; then ok "-j 3 writes the files -j 1 writes"; else fail "-j 3 differs from -j 1"; fi
# The check can fail: a changed seed changes the files.
"$L" run -q sweep.yaml -o s2 -j 3 --seed 4 || fail "seed 4 failed"
if same_tree j1 s2; then fail "the tree comparison sees no change of seed"; else ok "the comparison sees a change"; fi

"$L" run -q sweep.yaml -o only -j 2 --only '*paged' || fail "--only failed"
runs=$(cd only && find . -mindepth 1 -maxdepth 1 -type d | sort | tr '\n' ' ')
if [ "$runs" = "./rate-1_memory-paged ./rate-2_memory-paged ./rate-4_memory-paged " ] &&
    [ "$(wc -l < only/results.csv)" = 4 ] && grep -q '^rate-2_memory-paged,' only/results.csv &&
    ! grep -q memory-max only/results.csv; then
    ok "--only '*paged': three runs, three rows"
else
    fail "--only '*paged': runs [$runs], results: $(cut -d, -f1 only/results.csv | tr '\n' ' ')"
fi
"$L" run -q sweep.yaml -o none --only 'nothing*' 2> none.err
st=$?
if [ $st -eq 2 ] && grep -q "no run of sweep.yaml has a matching name" none.err; then
    ok "--only matching nothing: status 2 and a message"
else
    fail "--only matching nothing: status $st, $(cat none.err)"
fi

cp -r j1 res
touch res/rate-1_memory-max/keep res/rate-4_memory-paged/keep
rm -rf res/rate-2_memory-max res/results.csv
"$L" run -q sweep.yaml -o res -j 2 --resume || fail "--resume failed"
if [ -e res/rate-1_memory-max/keep ] && [ -e res/rate-4_memory-paged/keep ] &&
    [ -e res/rate-2_memory-max/manifest.yaml ] && cmp -s res/results.csv j1/results.csv &&
    cmp -s res/rate-2_memory-max/requests.csv j1/rate-2_memory-max/requests.csv; then
    ok "--resume: complete runs kept, the missing one rerun, results.csv the same"
else
    fail "--resume: $(ls res/rate-1_memory-max res/rate-2_memory-max 2>&1 | tr '\n' ' ')"
fi
"$L" run -q sweep.yaml -o res --resume --set workload.requests=301 || fail "--resume 301"
if [ ! -e res/rate-1_memory-max/keep ] && [ ! -e res/rate-4_memory-paged/keep ]; then
    ok "--resume after a change of settings reruns every run"
else
    fail "--resume kept runs of other settings"
fi

cat > intr.yaml <<'Y'
name: intr
workload: {requests: 200, rate: 4, max_prompt_tokens: 2048}
engine: {max_seq_len: 4096, memory: paged}
runs:
  - {name: quick}
  - {name: long1, workload.requests: 2000000, cluster.replicas: 4, workload.rate: 20}
  - {name: long2, workload.requests: 2000000, cluster.replicas: 4, workload.rate: 20}
Y
"$L" run -q intr.yaml -o out -j 2 > intr.out 2> intr.err &
pid=$!
for _ in $(seq 600); do
    [ -e out/quick/manifest.yaml ] && break
    sleep 0.1
done
sleep 0.5
workers=$(ps -o pid= --ppid $pid | tr '\n' ' ')
kill -TERM $pid
for _ in $(seq 300); do
    kill -0 $pid 2> /dev/null || break
    sleep 0.1
done
if kill -0 $pid 2> /dev/null; then
    kill -KILL $pid $workers 2> /dev/null
    fail "-j 2: still running 30 s after SIGTERM"
fi
wait $pid
st=$?
left=0
for w in $workers; do kill -0 "$w" 2> /dev/null && left=1 && kill -KILL "$w"; done
if [ $st -eq 143 ] && [ -e out/quick/summary.json ] && [ ! -e out/results.csv ] &&
    [ ! -e out/long1 ] && [ ! -e out/long2 ] && [ $left -eq 0 ] && [ -n "$workers" ]; then
    ok "-j 2, SIGTERM: status 143, finished run kept, workers [$workers] stopped"
else
    fail "-j 2, SIGTERM: status $st, workers [$workers] left=$left, $(ls out), $(cat intr.err)"
fi

# A worker killed outright (SIGKILL, as the OOM killer does) cannot clean up after itself: the
# parent reports the run once by name (status 3: the sweep stops, as on an I/O error), lets the
# started runs finish, and removes the dead worker's temporary directory: nothing *.tmp* left.
cat > kill.yaml <<'Y'
name: kill
workload: {requests: 200, rate: 4, max_prompt_tokens: 2048}
engine: {max_seq_len: 4096, memory: paged}
runs:
  - {name: quick}
  - {name: long1, workload.requests: 3000000, cluster.replicas: 4, workload.rate: 20}
  - {name: long3, workload.requests: 400, cluster.replicas: 4, workload.rate: 20}
Y
"$L" run -q kill.yaml -o kout -j 2 > kill.out 2> kill.err &
pid=$!
victim=
for _ in $(seq 600); do # once quick and long3 are done, the one worker left runs long1
    if [ -e kout/quick/manifest.yaml ] && [ -e kout/long3/manifest.yaml ] &&
        ls -d kout/long1.tmp* > /dev/null 2>&1; then
        victim=$(ps -o pid= --ppid $pid | tr -d ' ')
        [ "$(echo "$victim" | wc -w)" -eq 1 ] && break
    fi
    sleep 0.1
done
kill -KILL $victim 2> /dev/null
wait $pid
st=$?
left=$(find kout -name '*.tmp*' | tr '\n' ' ')
msgs=$(grep -c "run long1: its worker process died of signal 9" kill.err)
if [ $st -eq 3 ] && [ "$msgs" -eq 1 ] && ! grep -q "run long1: run long1" kill.err &&
    [ -z "$left" ] && [ -e kout/quick/summary.json ] && [ ! -e kout/long1 ]; then
    ok "-j 2, a worker SIGKILLed: status 3, said once, its temporary directory removed"
else
    fail "-j 2, a worker SIGKILLed: status $st, left: [$left], $(ls kout), $(cat kill.err)"
fi
finish
