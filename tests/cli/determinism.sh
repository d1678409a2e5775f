#!/bin/bash
# determinism.sh LENSIM SOURCE_ROOT: `lensim run experiments/demo.yaml` twice gives byte-identical
# files (results.csv and every run's requests.csv, timeline.csv, summary.json, manifest.yaml);
# with --queue heap, everything but manifest.yaml (which records the queue) is identical too.
set -u
. "$(dirname "$0")/lib.sh"
L=$(lensim_abs "$1")
DEMO=$2/experiments/demo.yaml
scratch

for out in a b; do
    "$L" run "$DEMO" -o "$TMP/$out" -q || fail "run $out: exit status $?"
done
"$L" run "$DEMO" -o "$TMP/heap" -q --queue heap || fail "run heap: exit status $?"

# same DIR1 DIR2 [find options excluding files]: the same file list, every file byte-identical.
same() {
    local a=$1 b=$2
    shift 2
    local la lb
    la=$(cd "$TMP/$a" && find . -type f "$@" | sort)
    lb=$(cd "$TMP/$b" && find . -type f "$@" | sort)
    if [ "$la" != "$lb" ]; then
        fail "$a vs $b: different files: $(diff <(echo "$la") <(echo "$lb") | head -5)"
        return
    fi
    local n runs
    n=$(echo "$la" | wc -l)
    runs=$(echo "$la" | grep -c '/summary.json$')
    if [ "$runs" -ne 12 ] || ! echo "$la" | grep -qx './results.csv'; then
        fail "$a: expected results.csv and 12 runs, found: $la"
        return
    fi
    local bad=0
    for f in $la; do
        if ! cmp -s "$TMP/$a/$f" "$TMP/$b/$f"; then
            fail "$a vs $b: $f differs: $(diff "$TMP/$a/$f" "$TMP/$b/$f" | head -4)"
            bad=1
        fi
    done
    [ $bad -eq 0 ] && ok "$a vs $b: $n files byte-identical"
}
same a b
same a heap ! -name manifest.yaml
# The manifests differ in the queue line (and the allocator's counters), nothing else.
d=$(diff "$TMP/a/rate-3_memory-paged/manifest.yaml" "$TMP/heap/rate-3_memory-paged/manifest.yaml" |
    grep '^[<>]' | grep -v -e 'queue: "calendar"' -e 'queue: "heap"' -e 'peak_bytes:' \
    -e 'allocations:')
[ -z "$d" ] && ok "manifests differ only in queue and allocator counters" || fail "manifests: $d"
finish
