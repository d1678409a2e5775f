#!/bin/bash
# sweeps_hostile.sh LENSIM: a hostile user's pass over what issues 13 and 14 added (`lensim
# search`, `run --seeds`, -j, --resume, --only): each bad input gets a non-zero status and a
# message that says what and where, and nothing that looks like a complete result is left:
# - a search whose probes cannot run (workload.rate on a trace that has its own arrival times)
#   is exit 2 with the reason, before any directory is written; it used to report every probe
#   as passing with p99_ttft_ms = 0 (the failed runs' zeroed summaries), "answer at or above 8";
# - a probe that builds but fails as it runs (rate 1e-9: arrivals beyond 146 years) ends the
#   search with its reason (exit 2, no search.csv); its zeroed summary used to pass
#   p99_ttft_ms<1000 ("every probe meets the targets", exit 0);
# - a --tol finer than a double can split (1e-300) is refused: it used to probe the same rate
#   again and again up to the 256-probe cap and then print an "answer" with exit 0; a search
#   that reaches the cap before --tol says so and exits 1 (-j 32 at --tol 1e-9 needs more than
#   256 probes: 33 points a round, each round divides the bracket by 33, and 1e6 / 33^9 is
#   above 1e-9 times the knee near 5 requests/s);
# - a search into a folder that holds an earlier search's (or run's) results is refused without
#   --force, which clears them; it used to write its probes among the old ones and, when
#   interrupted, leave the old search.csv beside them, a complete-looking answer of another
#   search. lensim run refuses a folder that holds a search.csv likewise. Ctrl-C mid-search:
#   status 130, the finished probes kept, no search.csv;
# - a target with no value where the load is lightest (slo_attainment with no slo.* set) is
#   exit 2 naming the cause; it used to be "no workload.rate in [1, 4] meets every target",
#   exit 1, as if the system were too slow;
# - lensim plot: --format given twice is refused (the second used to win silently); a file
#   given as DIR, or a DIR whose results.csv is a directory, is 2 (invalid input) with what is
#   wrong, not 3 (input/output error); a second DIR names itself.
set -u
. "$(dirname "$0")/lib.sh"
L=$(lensim_abs "$1")
scratch
cd "$TMP" || exit 1
T="timeout 60"

printf 'arrival_s,prompt_tokens,output_tokens\n0,10,5\n0.5,20,5\n1,30,6\n' > t.csv
printf 'name: tr\nworkload: {source: csv, path: t.csv}\n' > tr.yaml
for j in 1 2; do
    expect "search -j $j: probes that cannot run are an error" 2 stderr \
        "workload.rate: a csv trace replays its own arrival times" -- \
        $T "$L" search tr.yaml --target 'p99_ttft_ms<2000' --over workload.rate --lo 1 --hi 8 \
        -o s$j -q -j $j
    grep -q "answer\|meets the targets" out.txt && fail "search -j $j: an answer: $(cat out.txt)"
    [ -e s$j ] && fail "search -j $j: wrote s$j: $(ls s$j)"
done

printf 'name: k\nworkload: {requests: 20}\n' > k.yaml
expect "search --tol 1e-300" 2 stderr "lensim search: --tol 1e-300: from 1e-09" -- \
    $T "$L" search k.yaml --target 'p99_ttft_ms<1000' --over workload.rate --lo 0.1 --hi 100 \
    --tol 1e-300 -o t1 -q
[ -e t1 ] && fail "search --tol 1e-300 wrote t1"
expect "search: the probe cap before --tol" 1 stderr "probes (the limit is 256) before --tol was met" -- \
    $T "$L" search k.yaml --target "mean_tpot_ms<1e9" --target "p99_ttft_ms<1000" \
    --over workload.rate --lo 1 --hi 1e6 --tol 1e-9 -j 32 -o t2 -q
grep -q "^answer" out.txt && fail "search at the probe cap printed an answer: $(cat out.txt)"

expect "search: a probe that fails as it runs" 2 stderr \
    "lensim search: run probe-01_rate-1e-09: trace: generated arrival" -- \
    $T "$L" search k.yaml --target 'p99_ttft_ms<1000' --over workload.rate --lo 1e-9 --hi 1 \
    -o ex -q
[ -e ex/search.csv ] && fail "search: a probe that fails as it runs wrote ex/search.csv"

# Earlier results in -o.
S=(--target 'p99_ttft_ms<2000' --over workload.rate --lo 1 --hi 8 -q)
$T "$L" search k.yaml "${S[@]}" -o old > /dev/null 2>&1 || fail "search into old: $(cat err.txt)"
cp old/search.csv first.csv
expect "search into a folder with results" 2 stderr \
    "old: holds the results of an earlier run; --force replaces them, or write elsewhere with -o" \
    -- $T "$L" search k.yaml "${S[@]}" -o old --tol 0.05
cmp -s first.csv old/search.csv || fail "the refused search changed old/search.csv"
expect "run into a folder with a search.csv" 2 stderr "holds the results of an earlier run" -- \
    $T "$L" run -q k.yaml -o old
printf 'name: big\nworkload: {requests: 100000}\n' > big.yaml
$T "$L" search big.yaml "${S[@]}" -o old --force > int.out 2> int.err &
pid=$!
for _ in $(seq 1 900); do # until the old files are gone and a probe is written (at most 45 s)
    [ ! -e old/search.csv ] && [ -e old/probe-01_rate-1 ] && break
    sleep 0.05
done
kill -INT $pid
wait $pid
st=$?
if [ $st -eq 130 ] && [ ! -e old/search.csv ] && [ -e old/probe-01_rate-1/summary.json ] &&
    [ ! -e old/probe-03_rate-4.5 ] && grep -q "interrupted; finished probes are kept" int.err; then
    ok "search --force, SIGINT: 130, old results gone, finished probes kept, no search.csv"
else
    fail "search --force, SIGINT: status $st, $(ls old), $(cat int.err)"
fi

expect "search: a target with no value" 2 stderr \
    "lensim search: --target slo_attainment>=0.99: no value at workload.rate = 1" -- \
    $T "$L" search k.yaml --target 'slo_attainment>=0.99' --over workload.rate --lo 1 --hi 4 \
    -o nv -q
grep -q "meets every target" out.txt && fail "search: a target with no value: $(cat out.txt)"
[ -e nv/search.csv ] && fail "search: a target with no value wrote nv/search.csv"
expect "search: an SLO target with an SLO set" 0 stdout "answer" -- \
    $T "$L" search k.yaml --target 'slo_attainment>=0.99' --set slo.ttft_ms=2000 \
    --over workload.rate --lo 1 --hi 64 -o sv -q

# lensim plot (these checks come before gnuplot is looked for).
mkdir -p pl
printf 'run\n' > pl/results.csv
expect "plot --format twice" 2 stderr "lensim plot: --format given twice" -- \
    $T "$L" plot pl --format png --format svg
expect "plot FILE" 2 stderr "lensim plot: pl/results.csv: not a directory" -- \
    $T "$L" plot pl/results.csv
mkdir -p pd/results.csv
expect "plot DIR whose results.csv is a directory" 2 stderr \
    "lensim plot: pd/results.csv: is a directory" -- $T "$L" plot pd
expect "plot two DIRs" 2 stderr "lensim plot: one results directory at a time ('pd')" -- \
    $T "$L" plot pl pd

finish
