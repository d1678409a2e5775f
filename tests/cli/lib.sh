# lib.sh: helpers shared by the CLI tests (sourced; bash).
# Each test gets the lensim executable as $1 (meson passes the built target's path) and, where
# it needs files from the tree, the source root as $2.

# An absolute path to lensim, so that tests can change directory and PATH.
lensim_abs() {
    case $1 in
    /*) printf '%s\n' "$1" ;;
    *) printf '%s/%s\n' "$(cd "$(dirname "$1")" && pwd)" "$(basename "$1")" ;;
    esac
}

n_fail=0
n_ok=0
fail() {
    printf 'FAIL %s\n' "$*"
    n_fail=$((n_fail + 1))
}
ok() {
    printf 'ok   %s\n' "$*"
    n_ok=$((n_ok + 1))
}
# Exit status meson expects: 0 all passed, 1 some failed.
finish() {
    local n=$((n_ok + n_fail)) s=s
    [ $n -eq 1 ] && s=
    printf '%d check%s, %d failed\n' $n "$s" "$n_fail"
    [ "$n_fail" -eq 0 ]
    exit $?
}
skip() {
    printf 'SKIP: %s\n' "$*"
    exit 77
}

# A scratch directory removed on exit.
scratch() {
    TMP=$(mktemp -d "${TMPDIR:-/tmp}/lensim-cli-XXXXXX") || exit 1
    trap 'rm -rf "$TMP"' EXIT
}

# expect NAME STATUS STREAM PATTERN -- COMMAND...: exit status and a fixed string on stdout/stderr.
expect() {
    local name=$1 want=$2 stream=$3 pattern=$4
    shift 5
    "$@" > out.txt 2> err.txt
    local status=$?
    local file=out.txt
    [ "$stream" = stderr ] && file=err.txt
    if [ $status -ne "$want" ]; then
        fail "$name: exit status $status, want $want (stderr: $(head -3 err.txt))"
    elif ! grep -qF -- "$pattern" "$file"; then
        fail "$name: $stream lacks '$pattern': $(head -5 "$file")"
    else
        ok "$name"
    fi
}
