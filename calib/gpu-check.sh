#!/bin/sh
# gpu-check.sh: one command for a machine with an NVIDIA GPU (made for one H200, under 8 minutes):
# build lensim with the CUDA kernels for sm_90, run every kernel check, time the kernels against
# the measured copy bandwidth and cuBLAS GEMM rate, calibrate Llama-2-7B and GPT-J-6B, and write
# the profiles, logs and a short summary table to an output folder.
#
#   calib/gpu-check.sh [OUTDIR]            OUTDIR defaults to $OUT, else ./gpu-check-out
#   options: --models "a b"   models to calibrate (default "llama-2-7b gpt-j-6b")
#            --grid G         calibration grid: full (default), small or quick
#            --sm N           SM architecture (default 90)
#            --cpu            the same flow on the CPU backend with the `tiny` model (no GPU
#                             needed; no kernel benchmark), to check the script itself
#            --lensim PATH    use this lensim binary instead of building one
#            --dry-run        print the commands, run nothing
# Exit status: 0 all checks passed and every profile was written; 1 otherwise; 2 bad usage.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
out=${OUT:-}
models="llama-2-7b gpt-j-6b"
grid=full
sm=90
backend=cuda
lensim=
dry=0

while [ $# -gt 0 ]; do
    case "$1" in
    --models) models=$2; shift 2 ;;
    --grid) grid=$2; shift 2 ;;
    --sm) sm=$2; shift 2 ;;
    --cpu) backend=cpu; models=tiny; shift ;;
    --lensim) lensim=$2; shift 2 ;;
    --dry-run) dry=1; shift ;;
    -h|--help) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "gpu-check.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    *) out=$1; shift ;;
    esac
done
case "$grid" in full|small|quick) ;; *) echo "gpu-check.sh: --grid full|small|quick" >&2; exit 2 ;; esac
[ -n "$out" ] || out=$PWD/gpu-check-out

run() { # run CMD...: print it, and run it unless --dry-run
    echo "+ $*"
    [ "$dry" = 1 ] || "$@"
}

t0=$(date +%s)
step() { echo "== $1 ($(( $(date +%s) - t0 )) s)"; }

run mkdir -p "$out"
status=0

step "build"
if [ -z "$lensim" ]; then
    build=$root/build-gpu-check
    if [ "$backend" = cuda ]; then
        opts="-Dcuda=enabled -Dsm_arch=$sm -Dbuildtype=release"
    else
        opts="-Dcuda=auto -Dbuildtype=release"
    fi
    if [ -f "$build/build.ninja" ]; then
        run meson configure "$build" $opts
    else
        run meson setup "$build" "$root" $opts
    fi
    run ninja -C "$build" lensim
    lensim=$build/lensim
fi

step "kernel checks"
if [ "$dry" = 1 ]; then
    echo "+ $lensim kcheck --backend $backend -v > $out/kcheck.txt"
else
    set +e
    "$lensim" kcheck --backend "$backend" -v > "$out/kcheck.txt" 2>&1
    rc=$?
    set -e
    tail -n 1 "$out/kcheck.txt"
    if [ $rc -eq 77 ]; then
        echo "gpu-check.sh: no GPU (kcheck exit 77); use --cpu on a machine without one" >&2
        exit 1
    fi
    [ $rc -eq 0 ] || { echo "gpu-check.sh: kernel checks FAILED (see $out/kcheck.txt)" >&2; status=1; }
fi

if [ "$backend" = cuda ]; then
    step "kernel benchmark"
    if [ "$dry" = 1 ]; then
        echo "+ $lensim kcheck --bench > $out/bench.txt"
    else
        "$lensim" kcheck --bench > "$out/bench.txt" 2>&1 || status=1
    fi
fi

for m in $models; do
    step "calibrate $m"
    if [ "$dry" = 1 ]; then
        echo "+ $lensim calibrate --backend $backend --model $m --grid $grid -q -o $out/$m.yaml > $out/$m.log"
    else
        if "$lensim" calibrate --backend "$backend" --model "$m" --grid "$grid" \
                -o "$out/$m.yaml" > "$out/$m.log" 2>&1; then
            echo "   $(grep 'held-out MAPE' "$out/$m.log" | sed 's/^ *//')"
        else
            echo "gpu-check.sh: calibration of $m FAILED (see $out/$m.log)" >&2
            status=1
        fi
    fi
done

step "summary"
if [ "$dry" = 0 ]; then
    {
        echo "# lensim gpu-check: $(date -u +%Y-%m-%dT%H:%M:%SZ), backend $backend, grid $grid"
        echo "# git: $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)"
        command -v nvidia-smi >/dev/null 2>&1 &&
            nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader |
            sed 's/^/# gpu: /'
        echo
        echo "## kernel checks"
        grep -E 'checks? +(OK|FAIL)$|checks?, ' "$out/kcheck.txt" || true
        if [ -f "$out/bench.txt" ]; then
            echo
            echo "## kernel times (median of 20, L2 flushed) against the measured ceilings"
            grep -E '^(ceiling|bench)' "$out/bench.txt" || true
        fi
        echo
        echo "## profiles"
        for m in $models; do
            [ -f "$out/$m.log" ] || continue
            echo "### $m"
            sed -n '/pieces$/,/wrote/p' "$out/$m.log"
        done
    } > "$out/summary.txt"
    cat "$out/summary.txt"
fi
elapsed=$(( $(date +%s) - t0 ))
echo "== done in $elapsed s; outputs in $out"
if [ "$backend" = cuda ] && [ "$dry" = 0 ] && [ $elapsed -gt 480 ]; then
    echo "gpu-check.sh: warning: took $elapsed s, over the 8-minute budget" >&2
fi
exit $status
