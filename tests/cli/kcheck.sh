#!/usr/bin/env bash
# kcheck.sh (issue 18): `lensim kcheck` is reproducible by default (a fixed seed, printed), the
# wall clock is a seed only on request (--seed time), and --engine refuses an OP.
. "$(dirname "$0")/lib.sh"
L=$(lensim_abs "$1")
scratch

"$L" kcheck --backend cpu -v attn_decode >"$TMP/a" 2>&1
"$L" kcheck --backend cpu -v attn_decode >"$TMP/b" 2>&1
if [ -s "$TMP/a" ] && cmp -s "$TMP/a" "$TMP/b"; then
    ok "two default runs print the same report"
else
    fail "two default runs differ: $(diff "$TMP/a" "$TMP/b" | head -5)"
fi
if head -1 "$TMP/a" | grep -qx 'kcheck cpu, seed 18'; then
    ok "the default seed is 18 and is printed"
else
    fail "first line: $(head -1 "$TMP/a")"
fi
"$L" kcheck --backend cpu --seed time embed >"$TMP/t" 2>&1
seed=$(sed -n '1s/^kcheck cpu, seed \([0-9]*\)$/\1/p' "$TMP/t")
if [ -n "$seed" ] && [ "$seed" != 18 ] && [ "$seed" -gt 1000000 ]; then
    ok "--seed time takes the wall clock ($seed)"
else
    fail "--seed time: $(head -1 "$TMP/t")"
fi
"$L" kcheck --backend cpu --engine gemm >"$TMP/e" 2>&1
st=$?
if [ $st -eq 2 ] && grep -q "takes no OP" "$TMP/e"; then
    ok "--engine with an OP is refused"
else
    fail "--engine gemm: status $st, $(cat "$TMP/e")"
fi
finish
