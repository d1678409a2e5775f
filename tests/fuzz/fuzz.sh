#!/bin/sh
# fuzz.sh BUILD SECONDS [TARGET...]: fuzz each target (default: all) for SECONDS with libFuzzer,
# from the seeds of corpus/<target> and its dictionary; new inputs go to BUILD/fuzz/corpus/
# <target> (kept between runs), failing inputs to BUILD/fuzz/<target>-{crash,leak,timeout,oom}-*,
# logs to BUILD/fuzz/<target>.log. Prints some of libFuzzer's progress and the distinct
# failures, then one line per target: executions, coverage (cov: edges, ft: features), failures
# by kind. Exits 1 when any target failed: add the input to repro/<target>/ (README.md).
# FUZZ_RUNS=N (CI): instead, each target runs exactly N inputs with a fixed seed (-seed=1), in one
# process that stops at the first failure, from its seeds alone (a fresh output corpus), so that
# a tree fuzzes nearly the same inputs on every machine (coverage feedback can still differ a
# little with the checkout's path and temporary names): CI's verdict does not rest on luck.
# SECONDS then only caps the time a target may take.
set -u
build=$1
secs=$2
shift 2
here=$(cd "$(dirname "$0")" && pwd)
[ $# -gt 0 ] || set -- cfg profile trace run
out=$build/fuzz
mkdir -p "$out"
summary=$out/summary.txt
: > "$summary"
status=0
for t in "$@"; do
    prog=$build/tests/fuzz/fuzz_$t
    [ -x "$prog" ] || { echo "fuzz.sh: no $prog (configure with -Dfuzz=true)"; exit 2; }
    dict=$here/dict/$t.dict
    [ -f "$dict" ] || dict=$here/dict/cfg.dict # the run target reads experiments too
    mkdir -p "$out/corpus/$t"
    log=$out/$t.log
    : > "$log.start"
    echo "== fuzz_$t for $secs s"
    # Fork mode: a crash, leak, timeout or out-of-memory is saved and fuzzing goes on, so that
    # one known defect does not hide the rest. -timeout: one input; -rss_limit_mb: with ASan.
    if [ -n "${FUZZ_RUNS:-}" ]; then
        rm -rf "$out/corpus-ci/$t" && mkdir -p "$out/corpus-ci/$t"
        "$prog" -seed=1 -runs="$FUZZ_RUNS" -max_total_time="$secs" -timeout=10 \
            -rss_limit_mb=4096 -dict="$dict" -artifact_prefix="$out/$t-" \
            "$out/corpus-ci/$t" "$here/corpus/$t" > "$log" 2>&1
    else
        "$prog" -fork=1 -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1 \
            -max_total_time="$secs" -timeout=10 -rss_limit_mb=4096 -dict="$dict" \
            -artifact_prefix="$out/$t-" "$out/corpus/$t" "$here/corpus/$t" > "$log" 2>&1
    fi
    rc=$?
    # Progress lines: fork mode's parent writes "#EXECS: cov: N ft: N corp: N exec/s N
    # oom/timeout/crash: a/b/c time: Ns ...", one process "#EXECS<TAB>pulse|NEW|DONE cov: N ft: N".
    grep -E '^#[0-9]+[:[:space:]]' "$log" | awk 'NR % 10 == 1' | cut -c1-160
    last=$(grep -E '^#[0-9]+[:[:space:]].*cov:' "$log" | tail -n 1)
    execs=$(printf '%s\n' "$last" | sed -n 's/^#\([0-9]*\).*/\1/p')
    cov=$(printf '%s\n' "$last" | grep -Eo 'cov: [0-9]+ ft: [0-9]+')
    kinds=$(printf '%s\n' "$last" | grep -Eo 'oom/timeout/crash: [0-9/]+')
    found=$(find "$out" -maxdepth 1 -name "$t-*" -newer "$log.start" | sort)
    crashes=$(printf '%s' "$found" | grep -c .)
    # Fork mode keeps the children's reports to itself: replay each new input (10 at most) for
    # the first line that says what failed.
    for f in $(printf '%s\n' "$found" | head -n 10); do
        why=$("$prog" -timeout=10 -rss_limit_mb=4096 "$f" 2>&1 |
              grep -E -m 1 'fuzz check failed|assertion failed|runtime error|ERROR: |SUMMARY' |
              cut -c1-200)
        echo "  $f: ${why:-no failure on replay}"
    done
    line="fuzz_$t: ${execs:-?} execs, ${cov:-cov: ?}, ${kinds:-oom/timeout/crash: ?}, $crashes failing inputs saved, exit $rc"
    echo "$line" | tee -a "$summary"
    [ "$rc" -eq 0 ] && [ "$crashes" -eq 0 ] || status=1
done
echo "== summary ($summary)"
cat "$summary"
exit $status
