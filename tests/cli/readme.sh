#!/bin/bash
# readme.sh LENSIM SRC: the README a user reads (issue 12, item 9): every link is a file of the
# repository (no ../shared, no web address), the pages it must point to are linked, it says
# how to install lensim and that rejected requests are reported, and every key it names in
# backquotes as `group.key` is one `lensim schema` knows.
set -u
. "$(dirname "$0")/lib.sh"
L=$(lensim_abs "$1")
SRC=$(cd "$2" && pwd)
R=$SRC/README.md
scratch
cd "$TMP" || exit 1
bad=$(grep -o '\](\([^)]*\))' "$R" | sed 's/^](\(.*\))$/\1/' | while read -r link; do
    case $link in
    http*|*://*|../*) echo "$link" ;;
    *) [ -e "$SRC/${link%%#*}" ] || echo "$link" ;;
    esac
done)
[ -z "$bad" ] && ok "every link is a file of the repository" || fail "links: $bad"
grep -q '\.\./shared' "$R" && fail "README names ../shared, which a user does not have" ||
    ok "no ../shared path"
for page in experiments/SCHEMA.md traces/FORMAT.md calib/PROFILE.md; do
    grep -qF "]($page)" "$R" && ok "links $page" || fail "no link to $page"
done
grep -q 'make install PREFIX=' "$R" && grep -q 'meson install' "$R" &&
    ok "says how to install" || fail "no install instructions"
grep -qi 'rejected requests are reported' "$R" && ok "says rejected requests are reported" ||
    fail "rejected requests not mentioned"
"$L" schema > keys.txt 2> /dev/null || fail "lensim schema"
unknown=$(grep -o '`[a-z_]*\.[a-z_]*`' "$R" | tr -d '`' | sort -u | while read -r k; do
    case $k in *.md | *.c | *.h | *.yaml | *.csv | *.json | *.py | *.sh | *.gp | *.png | *.svg | *.pdf) continue ;; esac
    grep -q "^$k " keys.txt || echo "$k"
done)
[ -z "$unknown" ] && ok "every setting it names exists" || fail "unknown keys: $unknown"
finish
