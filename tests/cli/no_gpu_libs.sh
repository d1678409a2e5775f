#!/usr/bin/env bash
# no_gpu_libs.sh LENSIM [openblas] (issue 13): no GPU library on the simulation path. lensim
# must not link libcudart or cuBLAS (ldd), and `lensim run` must not load them at run time
# either (the dynamic loader's own log, LD_DEBUG=libs, lists every library it opens, dlopen
# included). Where the cuda plugin was built, `lensim kcheck` (which asks for the cuda backend)
# must load it: that shows the log would catch a load, so the check on `run` can fail.
# Issue 13: nor OpenBLAS, whose constructor starts a spinning worker thread per core: lensim must
# not link it, `lensim run` must not load it, and `lensim kcheck --backend cpu gemm 2` (its
# cblas_sgemm variant) must load it where the build has it (second argument: openblas).
. "$(dirname "$0")/lib.sh"
LENSIM=$(lensim_abs "$1")
scratch
gpu='libcudart|libcublas|libopenblas'

if ldd "$LENSIM" | grep -Eq "$gpu"; then
    fail "lensim links a GPU library or OpenBLAS: $(ldd "$LENSIM" | grep -E "$gpu" | tr '\n' ' ')"
else
    ok "ldd lensim: no libcudart, no libcublas, no libopenblas"
fi

cat >"$TMP/e.yaml" <<'YAML'
name: nogpu
seed: 1
model: llama-2-7b
hardware: {gpu: a100-80gb, tp: 1}
perf: {profile: analytic}
workload: {source: synthetic, requests: 50, rate: 2, max_prompt_tokens: 1024}
YAML
LD_DEBUG=libs "$LENSIM" run -q -o "$TMP/out" "$TMP/e.yaml" >"$TMP/run.out" 2>"$TMP/run.log" || true
if [ ! -s "$TMP/out/results.csv" ]; then
    fail "the run did not finish: $(tail -3 "$TMP/run.out" "$TMP/run.log")"
elif grep -Eq "calling init: .*($gpu)" "$TMP/run.log"; then
    fail "lensim run loaded a GPU library or OpenBLAS: $(grep -E "calling init: .*($gpu)" "$TMP/run.log")"
else
    ok "lensim run: no GPU library, no OpenBLAS loaded"
fi

# The CPU backend's cblas_sgemm variant: OpenBLAS opened, and checked against the reference.
if [ "${2:-}" = openblas ]; then
    LD_DEBUG=libs "$LENSIM" kcheck --backend cpu gemm 2 >"$TMP/kcpu.out" 2>"$TMP/kcpu.log"
    st=$?
    if [ "$st" -ne 0 ] || ! grep -q "cblas_sgemm .* OK" "$TMP/kcpu.out"; then
        fail "lensim kcheck --backend cpu gemm 2: status $st, $(cat "$TMP/kcpu.out")"
    elif grep -Eq "calling init: .*libopenblas" "$TMP/kcpu.log"; then
        ok "kcheck --backend cpu gemm 2 opens OpenBLAS and matches the reference"
    else
        fail "kcheck --backend cpu gemm 2 passed without loading OpenBLAS"
    fi
else
    ok "this build has no OpenBLAS (nothing to open)"
fi

plugin=$(dirname "$LENSIM")/lensim-cuda.so
if [ -e "$plugin" ]; then
    LD_DEBUG=libs "$LENSIM" kcheck >/dev/null 2>"$TMP/kc.log" || true
    if grep -Eq "calling init: .*libcudart" "$TMP/kc.log"; then
        ok "lensim kcheck loads the cuda plugin and libcudart"
    else
        fail "lensim kcheck did not load libcudart through $plugin"
    fi
    mkdir "$TMP/bin" && cp "$LENSIM" "$TMP/bin/lensim"
    "$TMP/bin/lensim" kcheck >"$TMP/kc2.out" 2>&1
    st=$?
    if [ "$st" -eq 77 ] && grep -q "lensim-cuda.so is missing: looked for $TMP/bin/lensim-cuda.so" \
        "$TMP/kc2.out"; then
        ok "without its plugin, kcheck says where it looked"
    else
        fail "without its plugin, kcheck: status $st, $(cat "$TMP/kc2.out")"
    fi
else
    ok "no cuda plugin in this build (nothing more to check)"
fi
finish
