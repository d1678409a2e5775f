#!/bin/bash
# sweeps_hostile.sh LENSIM: a hostile user's pass over what issues 13 and 14 added (`lensim
# search`, `run --seeds`, -j, --resume, --only): each bad input gets a non-zero status and a
# message that says what and where, and nothing that looks like a complete result is left:
# - a search whose probes cannot run (workload.rate on a trace that has its own arrival times)
#   is exit 2 with the reason, before any directory is written; it used to report every probe
#   as passing with p99_ttft_ms = 0 (the failed runs' zeroed summaries), "answer at or above 8";
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

finish
