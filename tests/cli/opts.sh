#!/bin/bash
# opts.sh LENSIM: the options `lensim run` and `lensim search` share (cli/opts.c) are refused
# the same way by both: the same exit status (2) and the same message but for the command's
# name, for every shared option: -o, --set, --data-dir, -j without a value; -j out of range or
# not a number; an unknown option (last or not); a second experiment file; -o, -j, --data-dir
# given twice (the later one used to win silently); a --set of an unknown key; a --data-dir
# that does not exist (nothing written); an -o that is a file, or empty (these were exit 3,
# "ok.yaml/.lock: Not a directory" and ": No such file or directory"). Then each command's own single-valued options given
# twice (run: --seed, --seeds, --queue, --only; search: --over, --lo, --hi, --tol) are refused,
# while --set and --target may repeat; -j 0 (one per CPU) is accepted by both.
set -u
. "$(dirname "$0")/lib.sh"
L=$(lensim_abs "$1")
scratch
cd "$TMP" || exit 1
T="timeout 30"

printf 'name: ok\nworkload: {requests: 20}\n' > ok.yaml
S=(--target 'p99_ttft_ms<2000' --over workload.rate --lo 1 --hi 2)

# both NAME PATTERN ARGS...: run and search with ARGS first (before search's own options) exit
# 2, print PATTERN (with CMD replaced by the command), the same line but for the name, and
# write nothing.
both() {
    local name=$1 pattern=$2
    shift 2
    $T "$L" run "$@" > r.out 2> r.err
    local sr=$?
    $T "$L" search "$@" "${S[@]}" > s.out 2> s.err
    local ss=$?
    local pr=${pattern//CMD/run} ps=${pattern//CMD/search}
    if [ $sr -ne 2 ] || [ $ss -ne 2 ]; then
        fail "$name: exit status run $sr, search $ss, want 2 ($(head -1 r.err) / $(head -1 s.err))"
    elif ! grep -qF -- "$pr" r.err || ! grep -qF -- "$ps" s.err; then
        fail "$name: want '$pattern': run '$(head -1 r.err)', search '$(head -1 s.err)'"
    elif [ "$(head -1 r.err | sed 's/lensim run/lensim CMD/g')" != \
        "$(head -1 s.err | sed 's/lensim search/lensim CMD/g')" ]; then
        fail "$name: messages differ: run '$(cat r.err)', search '$(cat s.err)'"
    elif [ -e results ] || [ -e out ]; then
        fail "$name: wrote $(ls -d results out 2> /dev/null)"
    else
        ok "$name"
    fi
}

for opt in -o --set --data-dir -j; do
    # The option last: no value. For search its own options come first here.
    $T "$L" run ok.yaml $opt > r.out 2> r.err
    sr=$?
    $T "$L" search ok.yaml "${S[@]}" $opt > s.out 2> s.err
    ss=$?
    if [ $sr -eq 2 ] && [ $ss -eq 2 ] && grep -qxF "lensim run: $opt needs a value" r.err &&
        grep -qxF "lensim search: $opt needs a value" s.err; then
        ok "$opt without a value"
    else
        fail "$opt without a value: run $sr '$(cat r.err)', search $ss '$(cat s.err)'"
    fi
done
for j in x -1 65 '' 2x 1e1; do
    both "-j '$j'" "lensim CMD: -j $j: a number of workers from 0 to 64" -j "$j" ok.yaml
done
both "unknown option" "lensim CMD: unknown option '--frobnicate' (see lensim CMD --help)" \
    --frobnicate ok.yaml
# Last on the line: search used to say "--frobnicate needs a value".
$T "$L" search ok.yaml "${S[@]}" --frobnicate > s.out 2> s.err
ss=$?
if [ $ss -eq 2 ] && grep -qF "lensim search: unknown option '--frobnicate'" s.err; then
    ok "unknown option last"
else
    fail "unknown option last: status $ss, $(cat s.err)"
fi
both "two experiment files" "lensim CMD: one experiment file at a time ('b.yaml')" ok.yaml b.yaml
both "-o twice" "lensim CMD: -o given twice" -o out -o out2 ok.yaml
both "-j twice" "lensim CMD: -j given twice" -j 1 -j 2 ok.yaml
both "--data-dir twice" "lensim CMD: --data-dir given twice" --data-dir . --data-dir .. ok.yaml
both "--set unknown key" "lensim CMD: --set: nosuch" --set nosuch=1 ok.yaml -o out
both "--data-dir missing" "lensim CMD: --data-dir: nowhere: no such directory" \
    --data-dir nowhere ok.yaml -o out
both "-o a file" "lensim CMD: -o ok.yaml: not a directory" -o ok.yaml ok.yaml
both "-o /dev/null" "lensim CMD: -o /dev/null: not a directory" -o /dev/null ok.yaml
both "-o empty" "lensim CMD: -o: an empty path" -o '' ok.yaml
both "escaped option bytes" "unknown option '--caf\\xc3\\xa9'" $'--caf\xc3\xa9' ok.yaml
LC_ALL=C grep -q $'[\x80-\xff]' r.err s.err && fail "raw bytes on stderr: $(cat -v r.err s.err)"

for opt in --seed --seeds --queue --only; do
    v=1
    [ $opt = --queue ] && v=heap
    expect "run $opt twice" 2 stderr "lensim run: $opt given twice" -- \
        $T "$L" run ok.yaml -o out $opt $v $opt $v
done
for opt in --over --lo --hi --tol; do
    v=0.5
    [ $opt = --over ] && v=workload.rate
    expect "search $opt twice" 2 stderr "lensim search: $opt given twice" -- \
        $T "$L" search ok.yaml -o out "${S[@]}" $opt $v $opt $v
done
[ -e out ] && fail "an option given twice wrote out/"

# run --resume --force: one keeps the finished runs, the other removes them; it used to resume
# and leave the earlier results (a stale run, figures) the --force asked to remove.
expect "run --resume --force" 2 stderr "lensim run: --resume and --force contradict each other" \
    -- $T "$L" run -q ok.yaml -o out --resume --force
[ -e out ] && fail "run --resume --force wrote out/"

# --seed's value is passed whole: 100 zeros and a 7 is seed 7 (it used to be cut to 58 zeros in
# a 64-byte buffer: seed 0, silently).
z=$(printf '0%.0s' $(seq 1 100))
$T "$L" run -q ok.yaml -o zs --seed "${z}7" > /dev/null 2>&1 || fail "--seed 0...07 failed"
s=$(awk -F, 'NR==1{for(i=1;i<=NF;i++)if($i=="seed")c=i} NR==2{print $c}' zs/results.csv 2> /dev/null)
[ "$s" = 7 ] && ok "--seed 0...07 is seed 7" || fail "--seed 0...07 ran seed '$s'"

# What may repeat, and -j 0.
$T "$L" run -q ok.yaml -o r0 -j 0 --set workload.requests=5 --set workload.requests=10 \
    > out.txt 2>&1 || fail "run --set twice, -j 0, -q: $(cat out.txt)"
[ "$(awk -F, 'NR==1{for(i=1;i<=NF;i++)if($i=="completed")c=i} NR==2{print $c}' r0/results.csv)" = 10 ] ||
    fail "--set twice: the later one is not the one used: $(cat r0/results.csv | head -2)"
[ -s out.txt ] && fail "run -q printed: $(cat out.txt)" || ok "run: --set twice (the later wins), -j 0, -q"
expect "search --target twice, -j 0" 0 stdout "answer" -- $T "$L" search ok.yaml -o s0 -j 0 \
    --target 'p99_ttft_ms<100000' --target 'mean_tpot_ms<100000' --over cluster.replicas --hi 3
finish
