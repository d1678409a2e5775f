#!/bin/bash
# sweeps_hostile.sh LENSIM: a hostile user's pass over what issues 13 and 14 added (`lensim
# search`, `run --seeds`, -j, --resume, --only): each bad input gets a non-zero status and a
# message that says what and where, and nothing that looks like a complete result is left:
# - a search whose probes cannot run (workload.rate on a trace that has its own arrival times)
#   is exit 2 with the reason, before any directory is written; it used to report every probe
#   as passing with p99_ttft_ms = 0 (the failed runs' zeroed summaries), "answer at or above 8";
# - a --tol finer than a double can split (1e-300) is refused: it used to probe the same rate
#   again and again up to the 256-probe cap and then print an "answer" with exit 0; a search
#   that reaches the cap before --tol says so and exits 1 (-j 32 at --tol 1e-9 needs more than
#   256 probes: 33 points a round, each round divides the bracket by 33, and 1e6 / 33^9 is
#   above 1e-9 times the knee near 5 requests/s);
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

finish
