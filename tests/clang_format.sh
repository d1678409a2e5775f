#!/bin/sh
# clang_format.sh SOURCE_ROOT: every .c and .h file of the tree is formatted as .clang-format
# says (clang-format --dry-run -Werror), so that the config and the code agree. The CUDA files
# (.cu, .cuh) are left out: clang-format's CUDA support reflows their launch syntax. Skipped
# (exit 77) when clang-format is not installed (.ci/run installs it).
# To fix a failure: clang-format -i FILE... (the failing files are listed).
root=${1:-.}
command -v clang-format >/dev/null 2>&1 || {
    echo "SKIP: clang-format is not installed (apt-get install clang-format)"
    exit 77
}
cd "$root" || exit 1
clang-format --version
files=$(git ls-files '*.c' '*.h' 2>/dev/null) || files=$(find . -name '*.[ch]' -not -path './build*')
[ -n "$files" ] || { echo "no sources found under $root"; exit 1; }
n=0 bad=0
for f in $files; do
    n=$((n + 1))
    if ! clang-format --dry-run -Werror "$f" >/dev/null 2>&1; then
        echo "not formatted: $f"
        bad=$((bad + 1))
    fi
done
echo "$n files, $bad not formatted"
[ "$bad" -eq 0 ]
