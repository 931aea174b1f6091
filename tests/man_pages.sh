#!/bin/sh
# man_pages.sh LOOPHUB SOURCE_DIR MAN_DIR - the man pages the build made (from the --help texts,
# scripts/help2man.sh) against the binary: one page per command `loophub --help` lists and one
# for loophub itself, each the same as made from the binary now (no page says other than it),
# and each rendered by groff names every option its --help names.
set -eu
bin=$1
src=$2
man=$3
fail() { echo "man_pages: $*" >&2; exit 1; }
command -v groff >/dev/null || fail "no groff (Debian's groff-base) to render the pages with"
cmds=$("$bin" --help | awk '/^Commands:/ { on = 1; next } on && /^  [a-z]/ { print $1 } /^$/ { on = 0 }')
[ -n "$cmds" ] || fail "loophub --help lists no commands"
n=0
for c in "" $cmds; do
    page=$man/loophub${c:+-$c}.1
    [ -f "$page" ] || fail "no page $page for '${c:-loophub}'"
    sh "$src/scripts/help2man.sh" "$bin" $c | cmp -s - "$page" ||
        fail "$page is not what loophub ${c:+$c }--help says now: rebuild"
    text=$(groff -man -Tutf8 -rHY=0 "$page" 2>/dev/null | sed 's/.\x08//g')
    help=$("$bin" $c --help)
    for opt in $(printf '%s\n' "$help" | grep -oE -- '--[a-z0-9][a-z0-9-]*' | sort -u); do
        printf '%s\n' "$text" | grep -qF -- "$opt" || fail "$page does not show $opt"
    done
    n=$((n + 1))
done
echo "man_pages: $n pages, each the same as its --help and naming every option"
