#!/bin/bash
# reproduce_hostile.sh LENSIM SRC: tools/reproduce.py (make reproduce) on bad input ends with one
# "reproduce: ..." line and a non-zero status, never a Python traceback: a lensim that does not
# exist, a --docs without claims.json, a --results without the experiments' results (exit 2 for
# input, as lensim's own statuses). A lensim run killed by a signal is reported as such, with
# 128 + N. A report that cannot be made leaves docs/ as it was.
set -u
. "$(dirname "$0")/lib.sh"
L=$(lensim_abs "$1")
SRC=$(cd "$2" && pwd)
R=$SRC/tools/reproduce.py
scratch
cd "$TMP" || exit 1
command -v python3 > /dev/null || skip "no python3"
T="timeout 60"

# clean NAME STATUS PATTERN -- COMMAND...: status, the pattern on stderr, no traceback.
clean() {
    local name=$1 want=$2 pattern=$3
    shift 4
    "$@" > out.txt 2> err.txt
    local st=$?
    if [ $st -ne "$want" ] || grep -q Traceback err.txt || ! grep -qF -- "$pattern" err.txt; then
        fail "$name: status $st (want $want): $(tail -3 err.txt)"
    else
        ok "$name"
    fi
}
clean "run: no such lensim" 2 "reproduce: /nonexistent: No such file or directory" -- \
    $T python3 "$R" run --lensim /nonexistent --out r1
clean "check: no claims.json" 2 "reproduce: $TMP/claims.json: No such file or directory" -- \
    $T python3 "$R" check --docs "$TMP"
mkdir docs empty
cp "$SRC/docs/claims.json" docs/
echo keep > docs/REPRODUCTION.md
clean "report: no results" 2 "empty/" -- \
    $T python3 "$R" report --results empty --lensim "$L" --docs "$TMP/docs"
[ "$(cat docs/REPRODUCTION.md)" = keep ] && [ ! -e docs/reproduction-data.json ] ||
    fail "report without results changed docs/: $(ls docs)"
# A lensim killed by SIGKILL: a stand-in that kills itself.
printf '#!/bin/sh\nkill -9 $$\n' > killed.sh
chmod +x killed.sh
clean "run: lensim killed" 137 "stopped by signal 9" -- \
    $T python3 "$R" run --lensim "$TMP/killed.sh" --out r2
finish
