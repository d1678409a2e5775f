#!/usr/bin/env bash
# openblas_missing.sh LENSIM [openblas] (issue 13, review): a build with OpenBLAS whose library
# cannot be opened at run time (kernels/kern_cpu.c opens it with dlopen) is a broken install.
# The CPU backend must refuse with the library's path and the loader's reason, and with an
# error status, never 77: meson reads 77 as a skip, so `kcheck --backend cpu` (test kcheck_cpu)
# would pass as skipped on a machine without OpenBLAS. Simulated on a copy of lensim whose two
# names for the library (LENSIM_OPENBLAS_PATH and the soname libopenblas.so.0) are renamed in
# place (same length); the copy must still run a simulation, which needs no OpenBLAS.
. "$(dirname "$0")/lib.sh"
LENSIM=$(lensim_abs "$1")
[ "${2:-}" = openblas ] || skip "this build has no OpenBLAS (nothing to open)"
command -v python3 > /dev/null || skip "no python3"
scratch
cd "$TMP" || exit 1

python3 - "$LENSIM" lensim-noob <<'PY' || fail "cannot patch a copy of lensim"
import sys
b = open(sys.argv[1], 'rb').read()
n = b.count(b'libopenblas.so')
if n < 2:
    sys.exit('lensim names libopenblas.so %d times, want 2 or more' % n)
open(sys.argv[2], 'wb').write(b.replace(b'libopenblas.so', b'libopenblaX.so'))
PY
chmod +x lensim-noob

cat > e.yaml <<'YAML'
name: noob
seed: 1
model: llama-2-7b
hardware: {gpu: a100-80gb, tp: 1}
perf: {profile: analytic}
workload: {source: synthetic, requests: 20, rate: 2, max_prompt_tokens: 1024}
YAML
if ./lensim-noob run -q -o out e.yaml > run.txt 2>&1 && [ -s out/results.csv ]; then
    ok "the copy still simulates"
else
    fail "the copy does not simulate: $(tail -3 run.txt)"
fi
expect "kcheck --backend cpu: I/O error, not a skip" 3 stderr "cannot open OpenBLAS" -- \
    ./lensim-noob kcheck --backend cpu
if grep -q SKIP out.txt; then fail "kcheck --backend cpu says SKIP: $(cat out.txt)"; else
    ok "kcheck --backend cpu does not say SKIP"; fi
grep -qF "libopenblaX.so: cannot open shared object file" err.txt &&
    ok "the message names the library and the loader's reason" ||
    fail "the message lacks the library and the reason: $(cat err.txt)"
expect "calibrate --backend cpu: I/O error" 3 stderr "cannot open OpenBLAS" -- \
    ./lensim-noob calibrate -q --model tiny --backend cpu --grid quick -o p.yaml
finish
