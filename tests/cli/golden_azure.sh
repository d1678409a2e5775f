#!/bin/bash
# golden_azure.sh LENSIM SOURCE_ROOT: experiments/azure-conv.yaml replays the whole Azure 2023
# conversation trace; in each of its runs (paged, max) every one of the 19,366 requests either
# completes or fails (requests.csv rows match). Skipped (77) without the data directory
# ($LENSIM_DATA, else ../shared/data beside the source tree).
set -u
. "$(dirname "$0")/lib.sh"
L=$(lensim_abs "$1")
SRC=$2
if [ -n "${LENSIM_DATA:-}" ]; then
    DATA=$LENSIM_DATA
else
    DATA=$SRC/../shared/data
fi
TRACE=traces/azure2023/AzureLLMInferenceTrace_conv.csv
[ -f "$DATA/$TRACE" ] || skip "no $TRACE in the data directory '$DATA' (set LENSIM_DATA)"
scratch
"$L" run "$SRC/experiments/azure-conv.yaml" --data-dir "$DATA" -o "$TMP/out" -q 2> "$TMP/err"
status=$?
[ $status -eq 0 ] || fail "lensim run: exit status $status: $(cat "$TMP/err")"
# Columns by name from the header.
rows=$(awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next }
                { print $col["run"], $col["completed"], $col["failed"] }' "$TMP/out/results.csv")
[ "$(echo "$rows" | awk '{ print $1 }' | tr '\n' ' ')" = "paged max " ] ||
    fail "results.csv runs: $rows"
while read -r run completed failed; do
    [ -n "$run" ] || continue
    if [ $((completed + failed)) -eq 19366 ]; then
        ok "$run: $completed completed + $failed failed = 19366"
    else
        fail "$run: $completed completed + $failed failed != 19366"
    fi
    # Issue 12: requests.csv lists every request, a failed one with its status.
    n=$(grep -c -e ',done$' -e ',truncated$' "$TMP/out/$run/requests.csv")
    nf=$(grep -c ',failed_[a-z_]*$' "$TMP/out/$run/requests.csv")
    [ "$n" -eq "$completed" ] && [ "$nf" -eq "$failed" ] &&
        ok "$run: requests.csv has $n completed and $nf failed rows" ||
        fail "$run: requests.csv has $n completed and $nf failed rows, results.csv says" \
            "$completed and $failed"
done <<< "$rows"
finish
