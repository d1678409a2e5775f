#!/bin/bash
# mpi.sh LENSIM SRC_ROOT (issue 13, item 6): `mpirun -n 2 lensim run EXP` on an MPI build
# (meson -Dmpi=enabled) writes the files a serial run writes (manifests compared without their
# allocator counters, as in jobs.sh), results.csv by rank 0, and exits 0; a failing run on
# either rank makes every rank exit 1 with no results.csv. Skipped without an MPI build or
# without mpirun. Two ranks on this machine: --oversubscribe.
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
"$L" run -q sweep.yaml -o serial || fail "serial run failed"
mpirun --oversubscribe -n 2 "$L" run -q sweep.yaml -o par > mpi.out 2>&1
st=$?
same=1
[ "$(cd serial && find . -type f | sort)" = "$(cd par && find . -type f | sort)" ] || same=0
while IFS= read -r f; do
    rel=${f#serial/}
    case $rel in
    */manifest.yaml)
        cmp -s <(sed '/^memory:/,/^  allocations:/d' "$f") \
            <(sed '/^memory:/,/^  allocations:/d' "par/$rel") || same=0
        ;;
    *) cmp -s "$f" "par/$rel" || same=0 ;;
    esac
done < <(find serial -type f)
if [ $st -eq 0 ] && [ $same -eq 1 ]; then
    ok "mpirun -n 2: the serial run's files"
else
    fail "mpirun -n 2: status $st, same=$same: $(tail -5 mpi.out)"
fi

# Run 1 (rank 1's) cannot build: its trace file is missing.
cat > bad.yaml <<'Y'
name: bad
workload: {requests: 100, max_prompt_tokens: 2048}
engine: {max_seq_len: 4096}
runs:
  - {name: fine}
  - {name: broken, workload.source: csv, workload.path: /nonexistent/trace.csv}
Y
mpirun --oversubscribe -n 2 "$L" run -q bad.yaml -o bad > bad.out 2>&1
st=$?
if [ $st -ne 0 ] && [ ! -e bad/results.csv ] && grep -q "run broken" bad.out; then
    ok "a failed run on rank 1: status $st, no results.csv, rank 0 names it"
else
    fail "failed run on rank 1: status $st: $(cat bad.out)"
fi
finish
