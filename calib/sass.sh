#!/bin/sh
# sass.sh: `make sass` (issue 18). Compiles the CUDA kernels (kernels/*.cu) for sm_90 as the
# release build does, disassembles them with cuobjdump and prints per kernel: registers, spills,
# shared memory, blocks per SM, and, for the decode-attention kernels, instructions per KB of K/V
# in each decode loop, then PASS/MISS per goal of the issue (see calib/sass.py). Needs no GPU.
#
#   calib/sass.sh [--strict] [--skip-missing] [--sm N] [--keep DIR]
#     --strict   exit 1 when a goal is missed (default: report only, exit 0)
#     --skip-missing  exit 77 (a skip for meson) when nvcc or cuobjdump is missing
#     --sm N     SM architecture (default 90; the occupancy rules are sm_90's)
#     --keep DIR keep the cubins and disassembly in DIR
# cuobjdump is not in every CUDA toolkit; `python3 -m pip install --user nvidia-cuda-cuobjdump`
# provides it (looked for on PATH, then in the user's and the system's site-packages).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
strict=
missing=1
sm=90
keep=
while [ $# -gt 0 ]; do
    case "$1" in
    --strict) strict=--strict; shift ;;
    --skip-missing) missing=77; shift ;;
    --sm) sm=$2; shift 2 ;;
    --keep) keep=$2; shift 2 ;;
    -h|--help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "sass.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
    esac
done

nvcc=$(command -v nvcc || true)
[ -n "$nvcc" ] || { [ -x /usr/local/cuda/bin/nvcc ] && nvcc=/usr/local/cuda/bin/nvcc; } || true
[ -n "$nvcc" ] || { echo "sass.sh: nvcc not found" >&2; exit $missing; }
cuobjdump=$(command -v cuobjdump || true)
if [ -z "$cuobjdump" ]; then
    for d in $(python3 -c 'import site, sys; print(" ".join([site.getusersitepackages()] + site.getsitepackages()))' 2>/dev/null); do
        for f in "$d"/nvidia/cu*/bin/cuobjdump "$d"/nvidia/cuda_cuobjdump/bin/cuobjdump; do
            [ -x "$f" ] && cuobjdump=$f && break 2
        done
    done
fi
[ -n "$cuobjdump" ] || {
    echo "sass.sh: cuobjdump not found; python3 -m pip install --user nvidia-cuda-cuobjdump" >&2
    exit $missing
}

if [ -n "$keep" ]; then
    tmp=$keep
    mkdir -p "$tmp"
else
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
fi

# The kernels' flags of kernels/meson.build, optimised as a release build.
: > "$tmp/ptxas.txt"
for cu in "$root"/kernels/*.cu; do
    n=$(basename "$cu" .cu)
    "$nvcc" -cubin -gencode "arch=compute_$sm,code=sm_$sm" -std=c++17 -O3 \
        -DLENSIM_HAVE_CUDA=1 --expt-relaxed-constexpr -I"$root/kernels" -I"$root/kernels/ref" \
        -I"$root/base" -Xptxas -v -o "$tmp/$n.cubin" "$cu" 2>> "$tmp/ptxas.txt"
done
: > "$tmp/all.sass"
: > "$tmp/all.res"
for c in "$tmp"/*.cubin; do
    "$cuobjdump" -sass "$c" >> "$tmp/all.sass"
    "$cuobjdump" -res-usage "$c" >> "$tmp/all.res"
done

# The decode kernel's dynamic shared memory at its largest plan, from the host planner itself.
smem=
if [ -f "$root/kernels/decode_plan.c" ]; then
    cc=${CC:-cc}
    "$cc" -std=c11 -O1 -DDECODE_PLAN_PRINT_SMEM -I"$root/kernels" -I"$root/base" \
        -o "$tmp/smem" "$root/kernels/decode_plan.c" -lm
    "$tmp/smem" > "$tmp/smem.txt"
    smem="--smem $tmp/smem.txt"
fi

echo "# sass.sh: sm_$sm, $("$nvcc" --version | tail -n 1), $(basename "$cuobjdump") $("$cuobjdump" --version | tail -n 1)"
# shellcheck disable=SC2086
python3 "$here/sass.py" --sass "$tmp/all.sass" --res "$tmp/all.res" --ptxas "$tmp/ptxas.txt" $smem $strict
