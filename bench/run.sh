#!/bin/sh
# bench/run.sh BUILD_DIR - runs every loophub benchmark side by side, prints one table and
# writes bench/results.json (not committed). Called by `make bench` after a Release build.
#
# Environment: BENCH_SCALE (default 1: 1,000,000 events end to end, a 10,000,000-event query
# store), BENCH_ONLY=transport,store,append,pull,router,kafka,memory,latency,query,growth,import,sec (a
# subset),
# BENCH_KEEP=1 (keep stores and logs), BENCH_REGEN=1 (rebuild the cached query store),
# BENCH_WORKDIR (scratch space, default a new dir under ${TMPDIR:-/tmp}).
set -eu

if [ $# -ne 1 ]; then
    echo "usage: sh bench/run.sh BUILD_DIR" >&2
    exit 2
fi
build=$(cd "$1" && pwd)
here=$(cd "$(dirname "$0")" && pwd)

if [ ! -f "$build/bench-paths.sh" ]; then
    echo "bench/run.sh: $build has no benchmark build (cmake -DCMAKE_BUILD_TYPE=Release, then build lh-bench)" >&2
    exit 1
fi
. "$build/bench-paths.sh"
for bin in "$LOOPHUB_BIN" "$LH_BENCH_BIN"; do
    if [ ! -x "$bin" ]; then
        echo "bench/run.sh: $bin is not built" >&2
        exit 1
    fi
done
buildtype=$(sed -n 's/^CMAKE_BUILD_TYPE:[A-Z]*=//p' "$build/CMakeCache.txt")
if [ "$buildtype" != "Release" ]; then
    echo "bench/run.sh: warning: $build is a '$buildtype' build, not Release" >&2
fi
[ -x "$KAFKA_MOCK_BIN" ] || KAFKA_MOCK_BIN=
sec_bin=$(command -v sec || true)
if [ -z "$sec_bin" ]; then
    echo "bench/run.sh: SEC not found (apt-get install sec): the peer comparison is skipped" >&2
fi

workdir=${BENCH_WORKDIR:-$(mktemp -d "${TMPDIR:-/tmp}/lh-bench-run.XXXXXX")}
datadir="$build/bench-data"
mkdir -p "$datadir"

exec "$LH_BENCH_BIN" run --loophub "$LOOPHUB_BIN" --kafka-mock "$KAFKA_MOCK_BIN" \
    --sec "$sec_bin" --workdir "$workdir" --datadir "$datadir" --out "$here/results.json"
