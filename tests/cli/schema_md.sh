#!/bin/bash
# schema_md.sh LENSIM SOURCE_ROOT: experiments/SCHEMA.md is exactly what `lensim schema --markdown`
# prints, so that the committed reference never drifts from the schema in sim/cfg.c.
set -u
L=$1
DOC=$2/experiments/SCHEMA.md
out=$(mktemp) || exit 1
trap 'rm -f "$out"' EXIT
"$L" schema --markdown > "$out" || { echo "FAIL lensim schema --markdown: exit status $?"; exit 1; }
if ! diff -u "$DOC" "$out"; then
    echo "FAIL experiments/SCHEMA.md is out of date with the schema in sim/cfg.c. Regenerate it:"
    echo "    ./build/lensim schema --markdown > experiments/SCHEMA.md"
    exit 1
fi
echo "ok   experiments/SCHEMA.md matches lensim schema --markdown"
