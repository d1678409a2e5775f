#!/bin/bash
# outputs.sh LENSIM: what `lensim run` and `lensim plot` leave on a full disk, and two writers
# into one output directory.
#  - A run set is atomic: on a small tmpfs (sizes that fail in every file of a run), every run
#    directory that exists holds all four files, there is no *.tmp* and no results.csv unless
#    every run finished (issue 15, defect 6).
#  - A failed write names its path and its cause (defect 7).
#  - `lensim plot` on a full disk exits 3 naming the figure and the cause, and leaves no empty,
#    truncated or temporary figure (defect 8; needs gnuplot).
#  - A second `lensim run` into a directory another one is writing is refused at once (exit 3,
#    "in use"), and the first one's files are untouched (defect 9).
# The full-disk cases mount tmpfs in a private user and mount namespace (unshare -rm); they are
# skipped with a message where that is not allowed.
set -u
. "$(dirname "$0")/lib.sh"
L=$(lensim_abs "$1")

if [ "${LENSIM_OUTPUTS_NS:-}" != 1 ] && unshare -rm true 2> /dev/null; then
    LENSIM_OUTPUTS_NS=1 exec unshare -rm bash "$0" "$@"
fi
scratch
cd "$TMP" || exit 1

cat > small.yaml <<'Y'
name: small
workload: {requests: 300, max_prompt_tokens: 3072}
engine: {max_seq_len: 4096}
sweep:
  workload.rate: [1, 2, 3]
Y

# A tmpfs of $1 at ./$2 (empty). Fails where mounting is not allowed.
tmpfs() {
    mkdir -p "$2" && mount -t tmpfs -o "size=$1" tmpfs "$2" 2> /dev/null
}

# Every run directory under $1 is complete; no temporary file anywhere.
check_set() {
    local d=$1 what=$2 r f bad=""
    for r in "$d"/*/; do
        [ -d "$r" ] || continue
        [ "$(basename "$r")" = figures ] && continue
        for f in requests.csv timeline.csv summary.json manifest.yaml; do
            [ -s "$r$f" ] || bad="$bad ${r#"$d"/}$f"
        done
        [ -s "${r}summary.json" ] && ! tail -n 1 "${r}summary.json" | grep -qx '}' &&
            bad="$bad ${r#"$d"/}summary.json(truncated)"
    done
    local tmp
    tmp=$(find "$d" -name '*.tmp*' -o -name '.*tmp*' | head -3)
    [ -z "$bad" ] && ok "$what: every run directory is complete" ||
        fail "$what: incomplete run directories:$bad"
    [ -z "$tmp" ] && ok "$what: no temporary file" || fail "$what: left $tmp"
}

if [ "${LENSIM_OUTPUTS_NS:-}" = 1 ] && tmpfs 8k probe; then
    umount probe
    # ---- defects 6 and 7: lensim run on a full disk ----
    n_full=0
    for kb in 8 20 32 44 56 68 80 92 104 140 176 212; do
        d=fs$kb
        tmpfs ${kb}k $d || fail "mount tmpfs ${kb}k"
        "$L" run small.yaml -q -o $d/out > run.out 2> run.err
        status=$?
        if [ $status -eq 0 ]; then
            check_set $d/out "run on ${kb}k (done)"
            continue
        fi
        n_full=$((n_full + 1))
        [ $status -eq 3 ] && ok "run on ${kb}k: exit status 3" ||
            fail "run on ${kb}k: exit status $status, want 3: $(cat run.err)"
        grep -q "$d/out/.*: .*No space left on device" run.err &&
            ok "run on ${kb}k: the message names the path and the cause" ||
            fail "run on ${kb}k: message without path or cause: '$(cat run.err)'"
        check_set $d/out "run on ${kb}k"
        [ -e $d/out/results.csv ] && fail "run on ${kb}k: results.csv after a failed run"
        umount $d
    done
    [ $n_full -ge 8 ] && ok "$n_full sizes filled the disk" || fail "only $n_full sizes filled the disk"

    # ---- defect 8: lensim plot on a full disk ----
    if command -v gnuplot > /dev/null; then
        "$L" run small.yaml -q -o res || fail "lensim run: exit status $?"
        base=$(du -sk res | cut -f1)
        n_full=0
        for extra in 4 12 24 40 60 90 130; do
            d=pfs$extra
            tmpfs $((base + 16 + extra))k $d || fail "mount tmpfs"
            cp -r res $d/res 2> /dev/null || {
                umount $d
                continue
            }
            "$L" plot $d/res > plot.out 2> plot.err
            status=$?
            if [ $status -ne 0 ]; then
                n_full=$((n_full + 1))
                [ $status -eq 3 ] && ok "plot with ${extra}k free: exit status 3" ||
                    fail "plot with ${extra}k free: exit status $status, want 3: $(cat plot.err)"
                grep -q "$d/res/figures/.*: .*No space left on device" plot.err &&
                    ok "plot with ${extra}k free: the message names the figure and the cause" ||
                    fail "plot with ${extra}k free: message: '$(cat plot.err)'"
            fi
            bad=""
            for f in $d/res/figures/*; do
                [ -e "$f" ] || continue
                case $f in
                *.png) tail -c 8 "$f" | od -An -tx1 | tr -d ' \n' | grep -qx 49454e44ae426082 ||
                    bad="$bad $f" ;;
                *.svg) tail -n 2 "$f" | grep -q '</svg>' || bad="$bad $f" ;;
                *) bad="$bad $f" ;;
                esac
            done
            [ -z "$bad" ] && ok "plot with ${extra}k free: every figure left is complete" ||
                fail "plot with ${extra}k free: empty, truncated or temporary figures:$bad"
            umount $d
        done
        [ $n_full -ge 3 ] && ok "$n_full sizes filled the disk while plotting" ||
            fail "only $n_full sizes filled the disk while plotting"
    else
        printf 'skipped: plot on a full disk (gnuplot is not installed)\n'
    fi
else
    printf 'skipped: full-disk cases (cannot mount tmpfs in a user namespace here)\n'
fi

# ---- defect 9: two writers into one directory ----
cat > long.yaml <<'Y'
name: long
seed: 1
workload: {requests: 2000000, rate: 20, max_prompt_tokens: 3072}
cluster: {replicas: 4}
engine: {max_seq_len: 4096, memory: paged}
Y
"$L" run long.yaml -q -o two > first.out 2> first.err &
first=$!
for _ in $(seq 100); do # the first one has started (its directory exists)
    [ -d two ] && break
    sleep 0.1
done
sleep 0.5
start=$(date +%s)
timeout 30 "$L" run small.yaml -q --seed 2 -o two > second.out 2> second.err
status=$?
took=$(($(date +%s) - start))
[ $status -eq 3 ] && ok "second writer: exit status 3" ||
    fail "second writer: exit status $status, want 3: $(cat second.err)"
grep -qF "two: in use by another lensim run" second.err && ok "second writer: says why" ||
    fail "second writer: stderr: '$(cat second.err)'"
[ $took -le 5 ] && ok "second writer refused at once" || fail "second writer took $took s"
[ -e two/results.csv ] && fail "second writer wrote results.csv"
ls two | grep -q rate- && fail "second writer wrote runs: $(ls two)"
kill -0 $first 2> /dev/null && ok "first writer still running" ||
    fail "first writer stopped: $(cat first.err)"
kill -INT $first
wait $first
status=$?
[ $status -eq 130 ] && ok "first writer: interrupted, exit status 130" ||
    fail "first writer: exit status $status, want 130: $(cat first.err)"
# The lock is released: a third run into the directory goes through.
"$L" run small.yaml -q -o two > /dev/null 2> third.err && ok "after the first: a new run works" ||
    fail "after the first: $(cat third.err)"
check_set two "after the first"
finish
