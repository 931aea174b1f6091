#!/bin/sh
# install-deps.sh - install the Debian 12 packages loophub needs to build, test and bench.
#
# Idempotent: asks dpkg which packages are missing and installs only those; runs
# `apt-get update` only when something must be installed. Works from a minimal Debian 12
# with nothing but apt, git and make. Must run as root (or with sudo available).
#
#   scripts/install-deps.sh            build + run dependencies
#   scripts/install-deps.sh --test     also what the tests drive (kcat, alertmanager, promtool, ...)
#   scripts/install-deps.sh --bench    also the benchmark peer (sec)
#   scripts/install-deps.sh --coverage also the coverage report's gcovr (make coverage)
set -eu

BUILD="build-essential cmake pkg-config protobuf-c-compiler libprotobuf-c-dev libzmq3-dev \
librdkafka-dev libsqlite3-dev libmicrohttpd-dev libinih-dev libjansson-dev libssl-dev \
libcurl4-openssl-dev libsystemd-dev"
TEST="check libsubunit-dev kcat prometheus-alertmanager prometheus sqlite3 curl chromium \
fonts-dejavu-core nodejs systemd file groff-base \
python3-zmq python3-protobuf protobuf-compiler"
BENCH="sec"
COVERAGE="gcovr"

want="$BUILD"
for arg in "$@"; do
    case "$arg" in
    --test) want="$want $TEST" ;;
    --bench) want="$want $TEST $BENCH" ;;
    --coverage) want="$want $COVERAGE" ;;
    -h | --help)
        sed -n '2,11p' "$0"
        exit 0
        ;;
    *)
        echo "install-deps.sh: unknown option '$arg' (try --help)" >&2
        exit 2
        ;;
    esac
done

missing=""
for p in $want; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed$'; then
        missing="$missing $p"
    fi
done

[ -z "$missing" ] && exit 0

SUDO=""
if [ "$(id -u)" != 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
        SUDO=sudo
    else
        echo "install-deps.sh: missing packages:$missing; run as root to install them" >&2
        exit 1
    fi
fi

echo "install-deps.sh: installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
# apt's own lines only when it fails (VERBOSE=1 shows them all)
if [ -n "${VERBOSE:-}" ]; then log=/dev/stderr; else log=$(mktemp); fi
# shellcheck disable=SC2086
if ! { $SUDO apt-get update -q && $SUDO apt-get install -y -q --no-install-recommends $missing; } \
    >>"$log" 2>&1; then
    [ "$log" = /dev/stderr ] || { tail -n 40 "$log" >&2; rm -f "$log"; }
    echo "install-deps.sh: apt-get failed (above)" >&2
    exit 1
fi
[ "$log" = /dev/stderr ] || rm -f "$log"
echo "install-deps.sh: installed$missing" >&2
