#!/bin/sh
# help2man.sh LOOPHUB [COMMAND] - a man page from `loophub [COMMAND] --help`, on stdout.
#
# The --help texts are the one source (the build makes every page from them, so a page never
# says other than the binary; tests/man_pages.sh compares them). Their layout: "Usage:" lines,
# paragraphs, a line ending in ':' that heads the options (or commands), option lines
# ("  --name ARG   what it does", more indented lines go on with it), then paragraphs again.
set -eu
bin=$1
cmd=${2:-}
if [ -n "$cmd" ]; then
    name="loophub-$cmd"
    what=$("$bin" --help | awk -v c="$cmd" '$1 == c { $1 = ""; sub(/^ +/, ""); print; exit }')
    help=$("$bin" "$cmd" --help)
else
    name=loophub
    what="an event hub for DevOps feedback loops"
    help=$("$bin" --help)
fi
version=$("$bin" --version | sed 's/^loophub //')
upper=$(printf '%s' "$name" | tr a-z A-Z)

printf '%s\n' "$help" | awk -v name="$name" -v upper="$upper" -v what="$what" -v version="$version" '
function esc(s) {
    gsub(/\\/, "\\e", s)
    gsub(/-/, "\\-", s)
    if (s ~ /^[.\047]/)
        s = "\\&" s
    return s
}
BEGIN {
    print ".\\\" generated from `" name " --help` by scripts/help2man.sh: do not edit"
    print ".TH " upper " 1 \"\" \"loophub " version "\" \"loophub manual\""
    print ".SH NAME"
    print esc(name) " \\- " esc(what)
    section = ""
}
/^Usage: / {
    if (section != "SYNOPSIS") { print ".SH SYNOPSIS"; section = "SYNOPSIS" }
    sub(/^Usage: /, "")
    print ".nf"; print esc($0); print ".fi"
    synopsis = 1
    next
}
synopsis && /^ +[^ -]/ && !/^  -/ { # a Usage line that goes on
    print ".nf"; s = $0; sub(/^ +/, "", s); print "    " esc(s); print ".fi"
    next
}
/^$/ { synopsis = 0; if (para) { para = 0 }; if (inopt) print ""; next }
/^[A-Z][^:]*:$/ { # a heading of a list: the options, the commands
    h = $0; sub(/:$/, "", h)
    print ".SH " toupper(h)
    section = "LIST"; inopt = 1
    next
}
inopt && /^  [^ ]/ { # an option (or command) line: its name, then at two or more blanks its text
    line = $0; sub(/^  /, "", line)
    n = match(line, /   +|  +/)
    if (n > 0) { term = substr(line, 1, n - 1); text = substr(line, n); sub(/^ +/, "", text) }
    else { term = line; text = "" }
    print ".TP"; print ".B " esc(term)
    if (text != "") print esc(text)
    next
}
inopt && /^    +/ { # it goes on
    s = $0; sub(/^ +/, "", s); print esc(s); next
}
{
    if (section == "SYNOPSIS") { print ".SH DESCRIPTION"; section = "DESCRIPTION" }
    else if (inopt) { inopt = 0; print ".SH NOTES"; section = "NOTES" }
    if (!para) { print ".PP"; para = 1 }
    print esc($0)
}
'
