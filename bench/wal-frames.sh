#!/bin/sh
# wal-frames.sh PID [SECONDS] - which b-trees a running hub's commits write, and which pages it
# reads from the file: attaches strace to `loophub run` (PID) for SECONDS (default 3), then maps
# each WAL frame it wrote and each page it read to its table or index through SQLite's dbstat.
#
# How: SQLite writes each WAL frame as a 24-byte header, whose first 4 bytes are the page number
# (big-endian) and the next 4 the database size on a commit frame, then the page itself. The
# hub's own WAL descriptor is the first one open on <db>-wal (the checkpointer's comes later).
# Needs strace and sqlite3; strace slows the hub, so use it to attribute pages, not to time.
# Example, during `BENCH_KEEP=1 BENCH_ONLY=growth sh bench/run.sh build-release`:
#   sh bench/wal-frames.sh "$(pgrep -f 'loophub run --db .*growth-full' | head -1)" 4
set -eu
pid=${1:?usage: wal-frames.sh PID [SECONDS]}
secs=${2:-3}
out=$(mktemp "${TMPDIR:-/tmp}/wal-frames.XXXXXX")
trap 'rm -f "$out" "$out.map"' EXIT

db= wal= rfds=
for fd in /proc/"$pid"/fd/*; do
    t=$(readlink "$fd" 2>/dev/null) || continue
    n=${fd##*/}
    case $t in
    *-wal) [ -n "$wal" ] || wal=$n ;;
    *-shm | *-journal) ;;
    *.db | *.sqlite)
        db=$t
        rfds="$rfds $n"
        ;;
    esac
done
[ -n "$db" ] && [ -n "$wal" ] || {
    echo "wal-frames.sh: process $pid has no SQLite store with a WAL open" >&2
    exit 2
}
if [ -n "${WAL_FRAMES_TRACE:-}" ]; then
    cp "$WAL_FRAMES_TRACE" "$out" # a trace taken before (fds as the process has them now)
else
    timeout "$secs" strace -f -p "$pid" -e trace=pwrite64,pread64 -s 24 -xx -o "$out" 2>/dev/null ||
        true
fi
psize=$(sqlite3 -readonly "$db" 'PRAGMA page_size')
sqlite3 -readonly "$db" 'SELECT pageno, name FROM dbstat' >"$out.map"

awk -v wal="$wal" -v rfds="$rfds" -v psize="$psize" '
function hexnum(s,    i, v) {
    v = 0
    for (i = 1; i <= length(s); i++)
        v = v * 16 + index("0123456789abcdef", substr(s, i, 1)) - 1
    return v
}
FNR == NR { split($0, a, "|"); name[a[1]] = a[2]; next }
{
    if (match($0, "pwrite64\\(" wal ", \"") && index($0, "\", 24, ")) {
        h = substr($0, RSTART + RLENGTH); gsub(/\\x/, "", h)
        pg = hexnum(substr(h, 1, 8)); w[name[pg] ""]++; frames++
        if (hexnum(substr(h, 9, 8)) > 0) commits++
    } else if (match($0, /pread64\([0-9]+, /)) {
        fd = substr($0, RSTART + 8, RLENGTH - 10)
        if (index(" " rfds " ", " " fd " ") && match($0, /, [0-9]+\) = [0-9]+$/)) {
            split(substr($0, RSTART + 2), b, ")"); pg = int(b[1] / psize) + 1
            r[name[pg] ""]++; reads++
            seen[name[pg] ""] = 1
        }
    }
}
END {
    printf "%d commits, %d WAL frames, %d pages read from the file\n", commits, frames, reads
    printf "%-28s %8s %10s %8s\n", "b-tree", "frames", "per commit", "reads"
    for (k in w) seen[k] = 1
    for (k in seen)
        printf "%-28s %8d %10.1f %8d\n", k == "" ? "(page not in the file yet)" : k, w[k],
               commits ? w[k] / commits : 0, r[k]
}' "$out.map" "$out" | { read -r head; echo "$head"; read -r cols; echo "$cols"; sort -k2,2nr; }
