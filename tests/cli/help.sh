#!/bin/bash
# help.sh LENSIM SOURCE_ROOT (issue 12 item 6): `lensim --version` prints the version of the
# meson project (read here from meson.build, not from lensim); every command that
# `lensim --help` lists answers both `lensim help CMD` and `lensim CMD --help` with its own usage
# on stdout and exit status 0, and the two print the same text; `lensim help` with an unknown
# command is a usage error (2) naming it.
set -u
. "$(dirname "$0")/lib.sh"
L=$(lensim_abs "$1")
SRC=$(cd "$2" && pwd)
scratch
cd "$TMP" || exit 1

want=$(sed -n "s/^ *version: '\([^']*\)'.*/\1/p" "$SRC/meson.build" | head -1)
[ -n "$want" ] || fail "no version in $SRC/meson.build"
expect "lensim --version" 0 stdout "lensim $want" -- "$L" --version
expect "lensim -V" 0 stdout "lensim $want" -- "$L" -V
expect "lensim --help mentions --version" 0 stdout "--version" -- "$L" --help
expect "lensim --help mentions help COMMAND" 0 stdout "help COMMAND" -- "$L" --help

cmds=$("$L" --help | awk '/^commands:/ {on = 1; next} on && /^  [a-z]/ {print $1} on && /^$/ {on = 0}')
[ "$(echo $cmds | wc -w)" -ge 6 ] || fail "lensim --help lists too few commands: $cmds"
for c in $cmds; do
    [ "$c" = help ] && continue
    expect "lensim help $c" 0 stdout "usage: lensim $c" -- "$L" help "$c"
    cp out.txt help.txt
    expect "lensim $c --help" 0 stdout "usage: lensim $c" -- "$L" "$c" --help
    cmp -s help.txt out.txt && ok "help $c = $c --help" || fail "help $c and $c --help differ"
    [ -s err.txt ] && fail "lensim $c --help wrote to stderr: $(head -2 err.txt)"
done
expect "lensim help (no command)" 0 stdout "usage: lensim COMMAND" -- "$L" help
expect "lensim help unknown" 2 stderr "lensim: unknown command 'frobnicate'" -- \
    "$L" help frobnicate
finish
