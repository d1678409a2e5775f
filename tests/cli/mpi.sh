#!/bin/bash
# mpi.sh LENSIM SRC_ROOT (issue 13, item 6): `mpirun -n 2 lensim run EXP` on an MPI build
# (meson -Dmpi=enabled) writes the files a serial run writes (manifests compared without their
# allocator counters, as in jobs.sh), results.csv by rank 0, and exits 0. A run that fails at
# run time, on either rank, is reported once (rank 0 speaks for all), the other runs are kept,
# results.csv records it as failed, and every rank exits 1: again the serial run's files. An
# experiment the configuration check rejects exits 2 before anything is written, with the
# message's file:line:col. Skipped without an MPI build or without mpirun. Two ranks on this
# machine: --oversubscribe.
set -u
. "$(dirname "$0")/lib.sh"
L=$(lensim_abs "$1")
ldd "$L" | grep -q libmpi || skip "lensim is not an MPI build (meson -Dmpi=enabled)"
command -v mpirun > /dev/null || skip "no mpirun"
scratch
cd "$TMP" || exit 1
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_plm=isolated \
    OMPI_MCA_btl=self,vader 2> /dev/null

cat > sweep.yaml <<'Y'
name: sweep
seed: 5
workload: {requests: 300, max_prompt_tokens: 2048}
engine: {max_seq_len: 4096}
sweep:
  workload.rate: [1, 2, 4]
  engine.memory: [max, paged]
Y
# same_files A B: A and B hold the same files with the same bytes, manifests compared without
# their allocator counters.
same_files() {
    local f rel
    [ "$(cd "$1" && find . -type f | sort)" = "$(cd "$2" && find . -type f | sort)" ] || return 1
    while IFS= read -r f; do
        rel=${f#"$1"/}
        case $rel in
        */manifest.yaml)
            cmp -s <(sed '/^memory:/,/^  allocations:/d' "$f") \
                <(sed '/^memory:/,/^  allocations:/d' "$2/$rel") || return 1
            ;;
        *) cmp -s "$f" "$2/$rel" || return 1 ;;
        esac
    done < <(find "$1" -type f)
}

"$L" run -q sweep.yaml -o serial || fail "serial run failed"
mpirun --oversubscribe -n 2 "$L" run -q sweep.yaml -o par > mpi.out 2>&1
st=$?
same=1
same_files serial par || same=0
if [ $st -eq 0 ] && [ $same -eq 1 ]; then
    ok "mpirun -n 2: the serial run's files"
else
    fail "mpirun -n 2: status $st, same=$same: $(tail -5 mpi.out)"
fi

# Runs that fail at run time, not at the configuration check: cut.csv's header and first 50
# rows are good (the check builds the run and reads its start), row 51 has a 0-token prompt
# (cut.csv:52), which the run meets when it gets there. Run i is rank i mod 2's: b fails on
# rank 1, c on rank 0; a and d complete.
{
    echo arrival_s,prompt_tokens,output_tokens
    for i in $(seq 1 50); do echo "$i,100,20"; done
    echo "51,0,20"
} > cut.csv
cat > bad.yaml <<'Y'
name: bad
workload: {requests: 100, max_prompt_tokens: 2048}
engine: {max_seq_len: 4096}
runs:
  - {name: a}
  - {name: b, workload.source: csv, workload.path: cut.csv}
  - {name: c, workload.source: csv, workload.path: cut.csv}
  - {name: d, workload.rate: 2}
Y
"$L" run -q bad.yaml -o bad_serial > bad_serial.out 2>&1
sst=$?
mpirun --oversubscribe -n 2 "$L" run -q bad.yaml -o bad > bad.out 2>&1
st=$?
status=$(awk -F, 'NR == 1 { for (k = 1; k <= NF; k++) if ($k == "status") c = k; next }
    { printf "%s,%s ", $1, $c }' bad/results.csv 2> /dev/null)
if [ $sst -eq 1 ] && [ $st -eq 1 ] && same_files bad_serial bad &&
    [ "$status" = "a,ok b,failed c,failed d,ok " ] &&
    [ "$(grep -c '^lensim run: run b failed: .*cut.csv:52: prompt_tokens' bad.out)" = 1 ] &&
    [ "$(grep -c '^lensim run: run c failed: .*cut.csv:52: prompt_tokens' bad.out)" = 1 ] &&
    [ "$(grep -c '^lensim run: 2 of 4 runs failed' bad.out)" = 1 ]; then
    ok "runs failing at run time on ranks 1 and 0: status 1, reported once, a and d kept"
else
    fail "runs failing at run time: status $st (serial $sst), results [$status]: $(cat bad.out)"
fi

# Rejected by the configuration check: rank 1's run's trace is missing.
cat > cfgbad.yaml <<'Y'
name: cfgbad
workload: {requests: 100, max_prompt_tokens: 2048}
engine: {max_seq_len: 4096}
runs:
  - {name: fine}
  - {name: broken, workload.source: csv, workload.path: /nonexistent/trace.csv}
Y
mpirun --oversubscribe -n 2 "$L" run -q cfgbad.yaml -o cfgbad > cfgbad.out 2>&1
st=$?
if [ $st -eq 2 ] && [ ! -e cfgbad ] &&
    [ "$(grep -c '^lensim run: cfgbad.yaml:6:[0-9]*: workload.path: cannot find' cfgbad.out)" = 1 ]
then
    ok "a run the configuration check rejects: status 2, nothing written, file:line:col once"
else
    fail "configuration check under mpirun: status $st: $(cat cfgbad.out)"
fi
finish
