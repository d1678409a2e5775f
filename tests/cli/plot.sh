#!/bin/bash
# plot.sh LENSIM SOURCE_ROOT: `lensim plot` on the demo's results draws every figure as a
# non-empty PNG (PNG signature) and SVG (an <svg> element). Skipped (77) without gnuplot.
set -u
. "$(dirname "$0")/lib.sh"
L=$(lensim_abs "$1")
command -v gnuplot > /dev/null ||
    skip "gnuplot is not installed (sudo apt-get install gnuplot-nox); lensim plot is untested"
scratch
"$L" run "$2/experiments/demo.yaml" -o "$TMP/demo" -q || fail "lensim run: exit status $?"
"$L" plot "$TMP/demo" > "$TMP/plot.out" 2> "$TMP/plot.err"
status=$?
[ $status -eq 0 ] && ok "lensim plot exit status 0" ||
    fail "lensim plot: exit status $status: $(cat "$TMP/plot.err")"
for fig in latency_cdf rate_sweep timeline; do
    png=$TMP/demo/figures/$fig.png svg=$TMP/demo/figures/$fig.svg
    if [ -s "$png" ] && [ "$(head -c 8 "$png" | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ]; then
        ok "$fig.png"
    else
        fail "$fig.png missing, empty or not a PNG"
    fi
    [ -s "$svg" ] && grep -q '<svg' "$svg" && ok "$fig.svg" || fail "$fig.svg missing, empty or not SVG"
    grep -qxF "$png" "$TMP/plot.out" && grep -qxF "$svg" "$TMP/plot.out" ||
        fail "lensim plot did not list $fig's files"
done
finish
