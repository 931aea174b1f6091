#!/bin/sh
# mutation.sh - mutation testing for developers (`make mutation`; not run in CI, like `make bench`).
#
# Copies the tree (git ls-files: tracked files and new ones not ignored, so a test being written
# counts) to build-mutation/src, builds it once without sanitizers
# (Debug, LH_SANITIZE=OFF) in build-mutation/build and checks that the unmutated suites pass. Then,
# for each mutation of tests/mutations.txt (its format is described at the top of that file):
# checks that the original text occurs exactly once in the file (else the entry is "stale": the
# list must follow the code), applies it, rebuilds incrementally, runs the unit suites then the
# integration suites, then the slowest suites (ctest --stop-on-failure: the first failing test
# ends the run; fast suites first, so a killed mutation costs little) and restores the file. A mutation is "killed" when a test fails, "survived" when every suite passes, "no build"
# when the mutated code does not compile (not counted as killed). A failing test is run again on
# its own (a pass then is a flake: the round runs again), and a kill is confirmed by running the
# killing test on the restored tree: when it fails there too the mutation is "flaky", not killed.
#
# Report: a markdown table on stdout and in build-mutation/report.md; logs of each run in
# build-mutation/logs/. Exit status 1 when the unmutated suites fail or an entry is stale or
# malformed (survivors do not fail the run: they are for a developer to read).
#
# Environment:
#   MUTATION_ONLY=id1,id2  run these mutations only
#   MUTATION_JOBS=N        build and ctest parallelism (default 2)
#   MUTATION_LIST=path     the list (default tests/mutations.txt)
#   MUTATION_DIR=path      the scratch directory (default build-mutation)
#   MUTATION_TIMEOUT=s     ctest --timeout per test (default 300)
#   LH_TEST_SLOW=N         the suites' timing scale (default 2 here)
#   MUTATION_LAST=regex    the slow suites, run after all others (default ^(it_kafka|bench_smoke)$)
set -u

top=$(cd "$(dirname "$0")/.." && pwd)
jobs=${MUTATION_JOBS:-2}
list=${MUTATION_LIST:-$top/tests/mutations.txt}
case $list in /*) ;; *) list=$top/$list ;; esac
work=${MUTATION_DIR:-$top/build-mutation}
case $work in /*) ;; *) work=$top/$work ;; esac
timeout=${MUTATION_TIMEOUT:-300}
# the suites' waits and timing limits scale with LH_TEST_SLOW (tests/testutil.h): doubled by
# default, as the mutation run shares the machine with builds; a flake kills nothing
LH_TEST_SLOW=${LH_TEST_SLOW:-2}
export LH_TEST_SLOW
last=${MUTATION_LAST:-^(it_kafka|bench_smoke)\$}
only=${MUTATION_ONLY:-}
src=$work/src
build=$work/build
logs=$work/logs
report=$work/report.md
pl=$work/mutation.pl

say() { printf 'mutation: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

command -v perl >/dev/null || die "perl is needed"
command -v git >/dev/null || die "git is needed"
[ -f "$list" ] || die "no list $list"

mkdir -p "$work" "$logs" || die "cannot create $work"

# The list parser and the exact-text replacement. Subcommands:
#   ids LIST ONLY         one line per selected entry: id TAB file TAB equivalent(0/1); checks the
#                         format (unknown keys, missing keys, duplicate ids, unknown ONLY ids)
#   get LIST ID KEY       prints the entry's value of KEY
#   apply LIST ID FILE    replaces the entry's orig by its repl in FILE; exit 3 (and the count on
#                         stdout) when orig does not occur exactly once
cat >"$pl" <<'PERL'
use strict;
use warnings;

sub parse {
    my ($path) = @_;
    open(my $fh, '<', $path) or die "cannot read $path: $!\n";
    my (@entries, $cur, $last, %seen);
    my %known = map { $_ => 1 } qw(id file why orig repl equivalent);
    my $n = 0;
    my $close = sub {
        return unless $cur;
        for my $k (qw(id file why orig repl)) {
            die "$path: entry ending at line $n has no '$k'\n" unless defined $cur->{$k};
        }
        die "$path: duplicate id $cur->{id}\n" if $seen{ $cur->{id} }++;
        die "$path: $cur->{id}: orig and repl are the same\n" if $cur->{orig} eq $cur->{repl};
        die "$path: $cur->{id}: empty orig\n" if $cur->{orig} eq '';
        push @entries, $cur;
        $cur  = undef;
        $last = undef;
    };
    while (my $line = <$fh>) {
        $n++;
        chomp $line;
        if ($line =~ /^\s*$/) { $close->(); next; }
        next if $line =~ /^#/;
        if ($line =~ /^\|(.*)$/s) {
            die "$path:$n: a '|' line continues no key\n" unless $cur && defined $last;
            $cur->{$last} .= "\n" . $1;
            next;
        }
        if ($line =~ /^([a-z]+):(?: (.*))?$/s) {
            my ($k, $v) = ($1, defined $2 ? $2 : '');
            die "$path:$n: unknown key '$k'\n" unless $known{$k};
            $cur ||= {};
            die "$path:$n: '$k' given twice\n" if defined $cur->{$k};
            $cur->{$k} = $v;
            $last = $k;
            next;
        }
        die "$path:$n: not 'key: value', '|continuation', '#comment' or blank: $line\n";
    }
    $close->();
    for my $e (@entries) {
        die "$path: bad id '$e->{id}' (letters, digits, '-', '_', '.')\n"
            unless $e->{id} =~ /^[A-Za-z0-9._-]+$/;
        die "$path: $e->{id}: bad file '$e->{file}'\n"
            if $e->{file} =~ /\.\.|^\/|\s/;
    }
    return @entries;
}

my $cmd = shift @ARGV;
my @e = parse(shift @ARGV);
my %by = map { $_->{id} => $_ } @e;
if ($cmd eq 'ids') {
    my $only = shift @ARGV;
    my @sel = @e;
    if (defined $only && $only ne '') {
        my %want;
        for my $id (split /[,\s]+/, $only) {
            next if $id eq '';
            die "MUTATION_ONLY: no mutation '$id' in the list\n" unless $by{$id};
            $want{$id} = 1;
        }
        @sel = grep { $want{ $_->{id} } } @e;
    }
    print join("\t", $_->{id}, $_->{file}, defined $_->{equivalent} ? 1 : 0), "\n" for @sel;
} elsif ($cmd eq 'get') {
    my ($id, $key) = @ARGV;
    my $v = $by{$id}{$key};
    print defined $v ? $v : '';
} elsif ($cmd eq 'apply') {
    my ($id, $file) = @ARGV;
    my $m = $by{$id} or die "no mutation $id\n";
    open(my $in, '<', $file) or do { print "missing"; exit 3; };
    local $/;
    my $text = <$in>;
    close $in;
    my $count = 0;
    my $pos = 0;
    while ((my $i = index($text, $m->{orig}, $pos)) >= 0) {
        $count++;
        $pos = $i + 1;
    }
    if ($count != 1) { print $count; exit 3; }
    my $i = index($text, $m->{orig});
    substr($text, $i, length($m->{orig})) = $m->{repl};
    open(my $out, '>', $file) or die "cannot write $file: $!\n";
    print $out $text;
    close $out or die "cannot write $file: $!\n";
} else {
    die "usage: mutation.pl ids|get|apply LIST ...\n";
}
PERL

ids=$(perl "$pl" ids "$list" "$only") || die "the list $list is malformed (above)"
[ -n "$ids" ] || die "no mutation selected"

# ---- the scratch copy and its build ----------------------------------------------------------
say "copying the tracked tree to $src"
rm -rf "$src"
mkdir -p "$src" || die "cannot create $src"
(cd "$top" && git ls-files -z --cached --others --exclude-standard | xargs -0 -r sh -c '
    for f do [ -f "$f" ] && printf "%s\0" "$f"; done' sh) >"$work/files" || die "git ls-files failed"
(cd "$top" && xargs -0 -r cp --parents -p -t "$src" <"$work/files") || die "copy failed"

backup=$work/original
cur=""
restore() {
    if [ -n "$cur" ] && [ -f "$backup" ]; then
        cp "$backup" "$src/$cur" && touch "$src/$cur"
    fi
    cur=""
}
trap 'restore; say "interrupted: $src restored"; exit 130' INT TERM HUP
trap 'restore' EXIT

now() { date +%s; }

# The first failing test of a ctest log ($1) and, in parentheses, its first failing Check test.
first_failure() {
    failed=$(sed -n 's/^ *[0-9]*\/[0-9]* Test *#[0-9]*: \([^ ]*\) .*\(\*\*\*\|Failed\|Timeout\|Exception\|Not Run\).*/\1/p' "$1" | head -n 1)
    # file:line:F|E:case:test:...
    check=$(sed -n 's/^[^ :]*\.c:[0-9]*:[EF]:[^:]*:\([^:]*\):.*/\1/p' "$1" | head -n 1)
    printf '%s%s' "$failed" "${check:+ ($check)}"
}

# Runs the suites in three rounds, stopping at the first failure: the unit suites, the integration
# suites, then the slowest ones ($last). A failing test is run again on its own: when it passes
# then, the failure was a flake (timing on a loaded machine), not the mutation's doing; it is
# noted in the log and the round runs again, once. $1: log file. Prints the killing test ("" when
# all passed), status 0 when all passed.
run_suites() {
    : >"$1"
    for round in unit integration last; do
        tries=0
        while :; do
            case $round in
            unit) set -- "$1" -LE integration -E "$last" ;;
            integration) set -- "$1" -L integration -E "$last" ;;
            last) set -- "$1" -R "$last" ;;
            esac
            log1=$1
            shift
            one=$log1.round
            (cd "$build" && ctest "$@" -j"$jobs" --stop-on-failure --timeout "$timeout" \
                --output-on-failure) >"$one" 2>&1
            rc=$?
            cat "$one" >>"$log1"
            set -- "$log1"
            [ $rc -eq 0 ] && break
            by=$(first_failure "$one")
            name=${by%% *}
            if [ -z "$name" ]; then
                rm -f "$one"
                printf 'ctest rc %s' "$rc"
                return 1
            fi
            printf '\n==== %s again, on its own ====\n' "$name" >>"$1"
            (cd "$build" && ctest -R "^$name\$" --timeout "$timeout" --output-on-failure) \
                >>"$1" 2>&1
            again=$?
            if [ $again -ne 0 ] || [ $tries -ge 1 ]; then
                rm -f "$one"
                [ $again -eq 0 ] && by="$by, flaky: passed on its own twice"
                printf '%s' "$by"
                return 1
            fi
            printf '\n==== %s passed on its own: a flake; the round again ====\n' "$name" >>"$1"
            say "  $name failed, then passed on its own (flake): round $round again"
            tries=$((tries + 1))
        done
        rm -f "$one"
    done
    return 0
}

say "configuring $build (Debug, no sanitizers)"
cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=Debug -DLH_SANITIZE=OFF >"$logs/configure.log" 2>&1 ||
    die "configure failed: $logs/configure.log"
say "building"
cmake --build "$build" -j"$jobs" >"$logs/build.log" 2>&1 || die "build failed: $logs/build.log"
say "running the unmutated suites"
t0=$(now)
if ! baseline=$(run_suites "$logs/baseline.log"); then
    die "the unmutated suites fail ($baseline): $logs/baseline.log"
fi
say "unmutated suites pass in $(($(now) - t0)) s"

# ---- the mutations ------------------------------------------------------------------------------
rows=$work/rows
: >"$rows"
n=0 killed=0 survived=0 nobuild=0 stale=0 equiv=0 equiv_killed=0 flaky=0
nl='
'
oldifs=$IFS
IFS=$nl
for line in $ids; do
    IFS=$oldifs
    id=$(printf '%s' "$line" | cut -f1)
    file=$(printf '%s' "$line" | cut -f2)
    eq=$(printf '%s' "$line" | cut -f3)
    why=$(perl "$pl" get "$list" "$id" why)
    n=$((n + 1))
    t0=$(now)
    log=$logs/$id.log
    by=""
    if [ ! -f "$src/$file" ]; then
        result=stale
        by="no file $file"
    else
        cp -p "$src/$file" "$backup" || die "cannot back up $file"
        cur=$file
        count=$(perl "$pl" apply "$list" "$id" "$src/$file")
        st=$?
        if [ $st -eq 3 ]; then
            result=stale
            by="orig found $count times"
            cur=""
        elif [ $st -ne 0 ]; then
            die "$id: cannot apply"
        else
            touch "$src/$file"
            if ! cmake --build "$build" -j"$jobs" >"$log" 2>&1; then
                result="no build"
            elif by=$(run_suites "$log.ctest"); then
                result=survived
                by=""
            else
                result=killed
            fi
            [ -f "$log.ctest" ] && cat "$log.ctest" >>"$log" && rm -f "$log.ctest"
            restore
            # a kill counts only if the killing test passes without the mutation
            name=${by%% *}
            if [ "$result" = killed ] && [ -n "$name" ] && [ "$name" != ctest ]; then
                printf '\n==== %s without the mutation ====\n' "$name" >>"$log"
                if ! cmake --build "$build" -j"$jobs" >>"$log" 2>&1 ||
                    ! (cd "$build" && ctest -R "^$name\$" --timeout "$timeout" \
                        --output-on-failure) >>"$log" 2>&1; then
                    result=flaky
                    by="$by fails without the mutation too"
                fi
            fi
        fi
    fi
    secs=$(($(now) - t0))
    case $result in
    killed) [ "$eq" = 1 ] && equiv_killed=$((equiv_killed + 1)) || killed=$((killed + 1)) ;;
    survived) [ "$eq" = 1 ] && equiv=$((equiv + 1)) || survived=$((survived + 1)) ;;
    "no build") nobuild=$((nobuild + 1)) ;;
    flaky) flaky=$((flaky + 1)) ;;
    stale) stale=$((stale + 1)) ;;
    esac
    shown=$result
    [ "$eq" = 1 ] && shown="$result (equivalent)"
    say "$n $id: $shown${by:+ by $by} (${secs} s)"
    # markdown cells: no pipes, no newlines
    cell() { printf '%s' "$1" | tr '\n|' ' /'; }
    printf '| %s | %s | %s | %s | %s | %s |\n' "$(cell "$id")" "$(cell "$file")" "$(cell "$why")" \
        "$(cell "$shown")" "$(cell "$by")" "$secs" >>"$rows"
    IFS=$nl
done
IFS=$oldifs
# rebuild the restored tree so build-mutation/build matches the sources again
cmake --build "$build" -j"$jobs" >"$logs/build-final.log" 2>&1 || say "final rebuild failed"

counted=$((killed + survived))
if [ $counted -gt 0 ]; then
    pct=$(awk -v k=$killed -v c=$counted 'BEGIN { printf "%.1f", 100 * k / c }')
else
    pct=0
fi
{
    printf '# Mutation testing: %s\n\n' "$(date -u '+%Y-%m-%d %H:%M UTC')"
    printf '| id | file | why | result | killed by | s |\n|---|---|---|---|---|---|\n'
    cat "$rows"
    printf '\n%s mutations: %s killed, %s survived, %s did not build, %s stale, %s equivalent, %s flaky' \
        "$n" "$killed" "$survived" "$nobuild" "$stale" "$equiv" "$flaky"
    [ $equiv_killed -gt 0 ] && printf ' (and %s marked equivalent but killed: not equivalent)' "$equiv_killed"
    printf '.\nKilled: %s%% of %s (equivalent, stale, flaky and unbuilt ones excluded).\n' "$pct" "$counted"
} >"$report"
cat "$report"
status=0
[ $stale -eq 0 ] || { say "$stale stale entries: update $list"; status=1; }
[ $equiv_killed -eq 0 ] || { say "$equiv_killed entries marked equivalent were killed"; status=1; }
exit $status
