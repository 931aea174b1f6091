#!/bin/sh
# coverage.sh - line and branch coverage of the product code, with gcov and gcovr (make coverage).
#
#   scripts/coverage.sh [BUILD_DIR]      BUILD_DIR defaults to build-coverage
#
# Builds BUILD_DIR with LH_COVERAGE=ON (--coverage -O0, no sanitizers), then measures twice,
# the counters zeroed before each:
#   suites        every ctest test but the fuzz-corpus replays (fuzz_replay_*)
#   fuzz replays  only the fuzz_replay_* tests (tests/fuzz/CMakeLists.txt)
# Each report goes to BUILD_DIR/coverage/<name>/: summary.txt (line and branch per file, per
# folder and in total), coverage.csv and coverage.json (gcovr's) and html/index.html (line by line).
# Counted: the product code, hub/, adapters/ and cli/. Not counted: tests/ (suites, helpers,
# fuzz targets), bench/, examples/ and what the build generates (BUILD_DIR/gen: the protobuf-c
# code and the adapter table). Exits non-zero when a test failed; the reports are written anyway.
set -eu

src=$(cd "$(dirname "$0")/.." && pwd)
cd "$src"
build=${1:-build-coverage}
jobs=${JOBS:-$(nproc 2>/dev/null || echo 2)}
out="$build/coverage"

command -v gcovr >/dev/null || {
    echo "coverage.sh: gcovr missing (scripts/install-deps.sh --coverage)" >&2
    exit 1
}

# shellcheck disable=SC2086 # CMAKE_ARGS: extra cmake options, split on purpose
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Debug -DLH_COVERAGE=ON -DLH_SANITIZE=OFF \
    ${CMAKE_ARGS:-} >/dev/null
cmake --build "$build" -j"$jobs"

# zero: counters reset (gcov starts over where a .gcda is missing). The two reports' line totals
# differ a little: gcovr does not count a line that holds only a brace when nothing ran it.
zero() { find "$build" -name '*.gcda' -delete; }

# report NAME TITLE: gcovr over the counters as they are now
report() {
    dir="$out/$1"
    rm -rf "$dir"
    mkdir -p "$dir/html"
    gcovr --root . --object-directory "$build" -f 'hub/' -f 'adapters/' -f 'cli/' \
        --csv "$dir/coverage.csv" --json "$dir/coverage.json" \
        --html-details "$dir/html/index.html" --html-title "loophub coverage: $2" >/dev/null
    table "$2" <"$dir/coverage.csv" >"$dir/summary.txt"
}

# table TITLE < gcovr CSV: one row per file, then per folder (hub/ alone, hub/<module>/, each
# adapter, cli/) and the three trees, then the total; branches are gcc's (each outcome of each
# condition)
table() {
    awk -F, -v title="$1" '
    function pct(c, t) { return t ? sprintf("%6.1f%%", 100 * c / t) : "     -" }
    function fmt(name, lc, lt, bc, bt) {
        return sprintf("%-44s %6d/%-6d %s  %6d/%-6d %s", name, lc, lt, pct(lc, lt), bc, bt,
                       pct(bc, bt))
    }
    function add(k) { L[k] += $(col["line_covered"]); LT[k] += $(col["line_total"])
                      B[k] += $(col["branch_covered"]); BT[k] += $(col["branch_total"]) }
    NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i
              printf "loophub coverage: %s\n\n", title
              printf "%-44s %-13s %7s  %-13s %7s\n", "file", "lines", "", "branches", ""
              next }
    {
        file = $(col["filename"])
        print fmt(file, $(col["line_covered"]), $(col["line_total"]), $(col["branch_covered"]),
                  $(col["branch_total"])) | "sort"
        n = split(file, p, "/"); folder = p[1] "/"
        for (i = 2; i < n; i++) folder = folder p[i] "/"
        add(folder); add(p[1] "/ (all)"); add("total")
        seen[folder] = 1
    }
    END {
        close("sort")
        printf "\nper folder\n"
        fflush()
        for (k in seen) print fmt(k, L[k], LT[k], B[k], BT[k]) | "sort"
        close("sort")
        printf "\nper tree\n"
        split("hub adapters cli", t, " ")
        for (i = 1; i <= 3; i++) { k = t[i] "/ (all)"; print fmt(k, L[k], LT[k], B[k], BT[k]) }
        printf "\n%s\n", fmt("TOTAL", L["total"], LT["total"], B["total"], BT["total"])
    }'
}

rc=0
zero
(cd "$build" && ctest -j"$jobs" --timeout 600 --output-on-failure -E '^fuzz_replay_') || rc=1
report suites "suites (every ctest test but the fuzz replays)"
zero
(cd "$build" && ctest -j"$jobs" --timeout 600 --output-on-failure -R '^fuzz_replay_') || rc=1
report fuzz "fuzz replays (tests/fuzz/corpus)"

for r in suites fuzz; do
    echo
    sed -n '1p' "$out/$r/summary.txt"
    sed -n '/^per tree/,$p' "$out/$r/summary.txt"
done
echo
echo "coverage.sh: per-file tables in $out/suites/summary.txt and $out/fuzz/summary.txt," \
    "HTML in $out/*/html/index.html"
[ "$rc" = 0 ] || echo "coverage.sh: some tests failed (above); the figures cover what ran" >&2
exit "$rc"
