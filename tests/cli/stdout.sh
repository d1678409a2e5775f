#!/usr/bin/env bash
# stdout.sh LENSIM: what lensim prints on standard output is all there, or it says so.
# - A reader that goes away (`lensim run X | head -n 1`) stops a sweep as Ctrl-C does: exit 141
#   (128 + SIGPIPE), the finished runs complete on disk, no temporary file or lock left, and
#   --resume finishes the sweep. (By default SIGPIPE killed lensim mid-sweep and left
#   results.csv.tmp*, results.json.tmp* and the current run's temporary directory.)
# - Output that cannot be written (a full disk: /dev/full; a closed descriptor) is an I/O error:
#   exit 3 and "cannot write standard output", from run, schema, --version and --help. With -q
#   nothing is printed, so nothing can fail to be.
# - A warning line is written with one write (strace, where present), so that -j's workers do not
#   interleave their lines.
. "$(dirname "$0")/lib.sh"
LENSIM=$(lensim_abs "$1")
scratch
cd "$TMP" || exit 1

cat > sweep.yaml <<'YAML'
name: stdout
seed: 1
workload: {requests: 20000, max_prompt_tokens: 3072}
engine: {max_seq_len: 8192, memory: paged}
sweep:
  workload.rate: [1, 2, 3, 4, 5]
YAML

for j in 1 2; do
    "$LENSIM" run sweep.yaml -o p$j -j $j 2> err$j.txt | head -n 1 > /dev/null
    st=${PIPESTATUS[0]}
    left=$(find p$j -name '*.tmp*' -o -name .lock | tr '\n' ' ')
    done_runs=$(find p$j -name summary.json | wc -l)
    if [ "$st" -ne 141 ]; then
        fail "-j $j | head -n 1: status $st, want 141 (the sweep should stop; $(tail -2 err$j.txt))"
    elif [ -n "$left" ]; then
        fail "-j $j | head -n 1: left behind: $left"
    elif [ -e p$j/results.csv ] || [ "$done_runs" -ge 5 ]; then
        fail "-j $j | head -n 1: the sweep ran to its end ($done_runs runs)"
    else
        ok "-j $j | head -n 1: stopped (141), $done_runs finished runs kept, nothing left over"
    fi
    if "$LENSIM" run -q sweep.yaml -o p$j --resume 2> /dev/null && [ -s p$j/results.csv ] &&
        [ "$(find p$j -name summary.json | wc -l)" -eq 5 ]; then
        ok "-j $j: --resume finishes the sweep"
    else
        fail "-j $j: --resume did not finish the sweep: $(ls p$j)"
    fi
done

"$LENSIM" run sweep.yaml -o full > /dev/full 2> full.err
st=$?
if [ "$st" -eq 3 ] && grep -q "lensim run: cannot write standard output: No space left on device" full.err &&
    [ -s full/results.csv ]; then
    ok "run > /dev/full: exit 3, said so, results written"
else
    fail "run > /dev/full: status $st, $(tail -2 full.err)"
fi
if "$LENSIM" run -q sweep.yaml -o fullq > /dev/full 2> fullq.err; then
    ok "run -q > /dev/full: nothing printed, exit 0"
else
    fail "run -q > /dev/full: status $?, $(tail -2 fullq.err)"
fi
expect "schema > /dev/full" 3 stderr "lensim schema: cannot write standard output: No space left on device" -- \
    sh -c '"$1" schema > /dev/full' sh "$LENSIM"
expect "--version > /dev/full" 3 stderr "lensim: cannot write standard output" -- \
    sh -c '"$1" --version > /dev/full' sh "$LENSIM"
expect "--help > /dev/full" 3 stderr "lensim: cannot write standard output" -- \
    sh -c '"$1" --help > /dev/full' sh "$LENSIM"
expect "run --help > /dev/full" 3 stderr "lensim run: cannot write standard output" -- \
    sh -c '"$1" run --help > /dev/full' sh "$LENSIM"
expect "schema, stdout closed" 3 stderr "lensim schema: cannot write standard output: Bad file descriptor" -- \
    sh -c '"$1" schema >&-' sh "$LENSIM"
# -j's workers share stderr: each warning line must leave in one write, or lines of two workers
# interleave (warn_cut wrote a line in up to seven pieces). Checked with strace where present.
if command -v strace > /dev/null 2>&1; then
    # -ff: a file per process, so that strace does not split a call (<unfinished ...>) between
    # two processes' lines.
    strace -ff -qq -s 4096 -e trace=write -o st.txt "$LENSIM" run -q sweep.yaml -o st -j 2 \
        2> /dev/null
    lines=$(cat st.txt.* | grep -cE 'write\(2, "lensim run: warning: run [^"]*\\n"')
    pieces=$(cat st.txt.* | grep -E 'write\(2, ' | grep -cvE '\\n", [0-9]+\)')
    if [ "$lines" -eq 5 ] && [ "$pieces" -eq 0 ]; then
        ok "-j 2: each warning line written whole (5 lines, one write each)"
    else
        fail "-j 2: $lines warning lines written whole, $pieces writes to stderr that end mid-line"
    fi
else
    ok "no strace here: the one-write-per-line check is not run"
fi
finish
