#!/bin/bash
# usage.sh LENSIM: help and usage paths of `lensim run`, `lensim schema` and `lensim plot`, and
# their exit statuses: help 0; an unknown option or command 2; `lensim plot` on a directory with no
# results.csv 2; `lensim plot` without gnuplot on the PATH 3, saying how to install it.
set -u
. "$(dirname "$0")/lib.sh"
L=$(lensim_abs "$1")
scratch
cd "$TMP" || exit 1

expect "lensim --help" 0 stdout "usage: lensim COMMAND" -- "$L" --help
expect "lensim (no command)" 2 stderr "usage: lensim COMMAND" -- "$L"
expect "lensim unknown command" 2 stderr "lensim: unknown command 'frobnicate'" -- "$L" frobnicate
expect "lensim run --help" 0 stdout "usage: lensim run EXPERIMENT.yaml" -- "$L" run --help
expect "lensim run -h" 0 stdout "exit status: 0 done, 1 a run failed, 2 invalid" -- "$L" run -h
expect "lensim run (no file)" 2 stderr "usage: lensim run" -- "$L" run
expect "lensim run unknown option" 2 stderr "lensim run: unknown option '--frobnicate'" -- \
    "$L" run x.yaml --frobnicate
expect "lensim run -o without value" 2 stderr "lensim run: -o needs a value" -- "$L" run x.yaml -o
expect "lensim run two files" 2 stderr "one experiment file at a time" -- "$L" run a.yaml b.yaml
printf 'name: ok\nworkload: {requests: 10}\n' > ok.yaml
expect "lensim run --data-dir missing" 2 stderr "--data-dir: nowhere: no such directory" -- \
    "$L" run ok.yaml --data-dir nowhere -o out-data
[ -e out-data ] && fail "lensim run --data-dir missing wrote out-data"
expect "lensim schema" 0 stdout "workload.rate" -- "$L" schema
expect "lensim schema --markdown" 0 stdout "| \`hardware.tp\` | integer | \`1\` |" -- \
    "$L" schema --markdown
expect "lensim schema --help" 0 stdout "usage: lensim schema" -- "$L" schema --help
expect "lensim schema bad argument" 2 stderr "unknown argument '--frobnicate'" -- \
    "$L" schema --frobnicate
expect "lensim plot --help" 0 stdout "usage: lensim plot DIR" -- "$L" plot --help
expect "lensim plot (no dir)" 2 stderr "usage: lensim plot DIR" -- "$L" plot
expect "lensim plot unknown option" 2 stderr "unknown or incomplete option '--frobnicate'" -- \
    "$L" plot --frobnicate
expect "lensim plot bad format" 2 stderr "--format must be png, svg or pdf" -- \
    "$L" plot . --format gif
mkdir empty
expect "lensim plot without results.csv" 2 stderr \
    "lensim plot: empty/results.csv: No such file or directory (run \`lensim run\` first)" -- \
    "$L" plot empty

# gnuplot missing: a PATH with no gnuplot on it, lensim by its absolute path.
mkdir -p results nobin
printf 'run\n' > results/results.csv
expect "lensim plot without gnuplot" 3 stderr "sudo apt-get install gnuplot-nox" -- \
    env PATH="$TMP/nobin" "$L" plot results
if [ -e results/figures ] && [ -n "$(ls -A results/figures)" ]; then
    fail "lensim plot without gnuplot wrote figures"
fi
expect "lensim plot without gnuplot says results are complete" 3 stderr \
    "(the results in results are complete without it)" -- env PATH="$TMP/nobin" "$L" plot results
finish
