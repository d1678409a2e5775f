#!/bin/sh
# gpu-check.sh: one command for a machine with an NVIDIA GPU (made for one H200, under 8 minutes):
# build lensim with the CUDA kernels for sm_90, run every kernel check, time the kernels against
# the measured copy bandwidth and cuBLAS GEMM rate, calibrate Llama-2-7B and GPT-J-6B, run live
# mode (issue 11: live-tiny, and a Llama-2-7B shape with random weights and a few requests) live
# and simulated with `lensim fidelity` reports, and write the profiles, logs, reports and a short
# summary table to an output folder. Issue 18: also decode-attention bandwidth (MHA, GQA G = 4
# and 8; B 1, 8, 64; ctx 1k, 4k, 16k) as a fraction of the measured copy bandwidth
# (lensim-decode-bench, contiguous and paged cache; about 10 s of each on an H200).
#
#   calib/gpu-check.sh [OUTDIR]            OUTDIR defaults to $OUT, else ./gpu-check-out
#   options: --models "a b"   models to calibrate (default "llama-2-7b gpt-j-6b")
#            --grid G         calibration grid: full (default), small or quick
#            --sm N           SM architecture (default 90)
#            --cpu            the same flow on the CPU backend with the `tiny` model (no GPU
#                             needed; no kernel benchmark; live-tiny only, 60 requests), to
#                             check the script itself
#            --no-live        skip the live-mode fidelity runs
#            --no-decode-bw   skip the decode-bandwidth table (issue 18)
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
live=1
decode_bw=1

while [ $# -gt 0 ]; do
    case "$1" in
    --models) models=$2; shift 2 ;;
    --grid) grid=$2; shift 2 ;;
    --sm) sm=$2; shift 2 ;;
    --cpu) backend=cpu; models=tiny; shift ;;
    --no-live) live=0; shift ;;
    --no-decode-bw) decode_bw=0; shift ;;
    --lensim) lensim=$2; shift 2 ;;
    --dry-run) dry=1; shift ;;
    -h|--help) sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
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
    # issue 18: the cuda plugin and the decode bench are targets of their own (`ninja lensim`
    # alone left lensim-cuda.so unbuilt on a fresh checkout)
    if [ "$backend" = cuda ]; then
        run ninja -C "$build" lensim lensim-cuda.so kernels/lensim-decode-bench
    else
        run ninja -C "$build" lensim
    fi
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

# Issue 18: decode attention against the copy ceiling (lensim-decode-bench beside lensim, or in
# kernels/ under it as meson builds it).
if [ "$backend" = cuda ] && [ "$decode_bw" = 1 ]; then
    step "decode-attention bandwidth"
    ldir=$(dirname "$lensim")
    dbench=$ldir/kernels/lensim-decode-bench
    [ -x "$dbench" ] || dbench=$ldir/lensim-decode-bench
    if [ "$dry" = 1 ]; then
        echo "+ $dbench > $out/decode_bw.txt; $dbench --paged > $out/decode_bw_paged.txt"
    elif [ ! -x "$dbench" ]; then
        echo "gpu-check.sh: lensim-decode-bench not found beside $lensim" >&2
        status=1
    else
        for lay in contiguous paged; do
            f=$out/decode_bw.txt flag=
            [ "$lay" = paged ] && f=$out/decode_bw_paged.txt flag=--paged
            if "$dbench" $flag > "$f" 2>&1; then
                echo "   $lay: $(grep -c '^decode_bw' "$f") points, $(grep '^ceiling' "$f")"
            else
                echo "gpu-check.sh: decode bandwidth ($lay) FAILED (see $f)" >&2
                status=1
            fi
        done
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

# live_fidelity NAME EXPERIMENT PROFILE [--set K=V]...: run EXPERIMENT live and simulated with
# PROFILE, and write `lensim fidelity` of the two to $out/live/NAME/fidelity.txt. A live run that
# finds no CUDA backend or device (exit 77, the plugin or the GPU missing) is skipped with a
# message, not failed.
live_fidelity() {
    name=$1 exp=$2 prof=$3
    shift 3
    d=$out/live/$name
    if [ "$dry" = 1 ]; then
        echo "+ $lensim run $exp -q --force -o $d/live --set perf.profile=$prof $*"
        echo "+ $lensim run $exp -q --force -o $d/sim --set perf.profile=$prof $* --set engine.mode=sim"
        echo "+ $lensim fidelity $d/live $d/sim > $d/fidelity.txt"
        return 0
    fi
    mkdir -p "$d"
    set +e
    "$lensim" run "$exp" -q --force -o "$d/live" --set perf.profile="$prof" "$@" > "$d/live.log" 2>&1
    rc=$?
    set -e
    if [ $rc -eq 77 ]; then
        echo "   $name: skipped, no CUDA backend or device: $(tail -n 1 "$d/live.log")"
        echo "skipped: $(tail -n 1 "$d/live.log")" > "$d/fidelity.txt"
        return 0
    fi
    if [ $rc -ne 0 ]; then
        echo "gpu-check.sh: live run $name FAILED (see $d/live.log)" >&2
        status=1
        return 0
    fi
    if ! "$lensim" run "$exp" -q --force -o "$d/sim" --set perf.profile="$prof" "$@" \
            --set engine.mode=sim > "$d/sim.log" 2>&1; then
        echo "gpu-check.sh: simulated run $name FAILED (see $d/sim.log)" >&2
        status=1
        return 0
    fi
    if "$lensim" fidelity "$d/live" "$d/sim" > "$d/fidelity.txt" 2>&1; then
        sed -n '1,40p' "$d/fidelity.txt" | sed 's/^/   /'
    else
        echo "gpu-check.sh: fidelity report of $name FAILED (see $d/fidelity.txt)" >&2
        status=1
    fi
}

if [ "$live" = 1 ]; then
    step "live-tiny: calibrate tiny ($backend), run live and simulated"
    run mkdir -p "$out/live/tiny"
    # The limits of `make fidelity`; on the GPU time wall time (live.timer wall), on the CPU the
    # thread's CPU time, as live-tiny does on a shared machine.
    if [ "$backend" = cuda ]; then
        ctime='' timer=wall nreq=300
    else
        ctime=--cpu-time timer=cpu nreq=60
    fi
    if run "$lensim" calibrate --backend "$backend" --model tiny $ctime --grid small -q \
            --max-seqs 32 --max-ctx 512 --max-prompt 256 --max-batch-tok 512 \
            -o "$out/live/tiny/tiny.yaml"; then
        live_fidelity tiny "$root/experiments/live-tiny.yaml" "$out/live/tiny/tiny.yaml" \
            --set model.name=tiny --set live.backend="$backend" --set live.timer="$timer" \
            --set workload.requests="$nreq"
    else
        echo "gpu-check.sh: calibration of tiny for live-tiny FAILED" >&2
        status=1
    fi
    if [ "$backend" = cuda ]; then
        step "live Llama-2-7B shape (random weights, 32 requests)"
        prof=$out/llama-2-7b.yaml
        if [ ! -f "$prof" ] && [ "$dry" = 0 ]; then
            prof=$out/live/llama-2-7b/profile.yaml
            mkdir -p "$out/live/llama-2-7b"
            "$lensim" calibrate --backend cuda --model llama-2-7b --grid quick -q \
                --max-seqs 16 --max-ctx 1024 --max-prompt 512 --max-batch-tok 1024 \
                -o "$prof" > "$out/live/llama-2-7b-calibrate.log" 2>&1 || status=1
        fi
        exp=$out/live/llama-2-7b.yaml
        if [ "$dry" = 0 ]; then
            cat > "$exp" <<YAML
# gpu-check.sh: a live Llama-2-7B shape (random weights) on one GPU, a few requests.
name: live-llama-2-7b
seed: 1
model: llama-2-7b
perf: {profile: $prof, allow_mismatch: true}
workload: {source: synthetic, requests: 32, rate: 4, prompt_mu: 5.5, prompt_sigma: 0.5,
           output_mu: 4.0, output_sigma: 0.5, max_prompt_tokens: 512, max_output_tokens: 256}
engine: {mode: live, batching: continuous, memory: paged, max_batch: 16,
         max_batched_tokens: 1024, max_seq_len: 1024}
live: {backend: cuda, clock: measured, timer: wall}
YAML
        fi
        live_fidelity llama-2-7b "$exp" "$prof"
    fi
fi

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
        for f in "$out"/decode_bw.txt "$out"/decode_bw_paged.txt; do
            [ -f "$f" ] || continue
            echo
            echo "## decode attention vs copy bandwidth ($(basename "$f" .txt); median of 10, L2 flushed)"
            grep -E '^(ceiling|decode_bw)' "$f" || true
        done
        for f in "$out"/live/*/fidelity.txt; do
            [ -f "$f" ] || continue
            echo
            echo "## live fidelity: $(basename "$(dirname "$f")")"
            cat "$f"
        done
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
