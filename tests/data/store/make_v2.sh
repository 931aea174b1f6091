#!/bin/bash
# make_v2.sh BUILD OUT.sql - writes the dump of a schema-version-2 store (tests/data/store/v2.sql)
# with the binaries of BUILD, a build of loophub 7efb9df (the last release with the pub_done and
# kafka_done columns): the real `loophub run` with its PUB socket and Kafka (the librdkafka mock
# cluster of tests/integration, two brokers), fed by `loophub send --reliable`, read by
# `loophub tail`. See README.md beside this file for the phases and the state they leave.
set -euo pipefail
build=$1
out=$2
lh=$build/loophub
mock=$build/tests/integration/kafka_mock
work=$(mktemp -d "${TMPDIR:-/tmp}/lh-make-v2.XXXXXX")
mock_pid= hub_pid= tail_pid=
cleanup() {
    [ -n "$tail_pid" ] && kill "$tail_pid" 2>/dev/null || true
    [ -n "$hub_pid" ] && kill "$hub_pid" 2>/dev/null || true
    [ -n "$mock_pid" ] && kill "$mock_pid" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
pull=tcp://127.0.0.1:$(port)
router=tcp://127.0.0.1:$(port)
pub=tcp://127.0.0.1:$(port)

# the mock: alerts topic with partition 0 led by broker 1 and partition 1 by broker 2
mkfifo "$work/mock.in"
"$mock" --brokers 2 --topic loophub.events:1 --topic loophub.changes:1 --topic loophub.alerts:2 \
    <"$work/mock.in" >"$work/mock.out" 2>"$work/mock.log" &
mock_pid=$!
exec 3>"$work/mock.in"
for _ in $(seq 100); do [ -s "$work/mock.out" ] && break; sleep 0.1; done
bootstrap=$(head -n1 "$work/mock.out")
ctl() { echo "$*" >&3; sleep 0.2; }
ctl leader loophub.alerts 0 1
ctl leader loophub.alerts 1 2
ctl leader loophub.events 0 1
ctl leader loophub.changes 0 1
ctl coordinator loophub 1

cat >"$work/loophub.ini" <<INI
[kafka]
topic.metadata.refresh.interval.ms = 1000
reconnect.backoff.ms = 50
reconnect.backoff.max.ms = 500
retry.backoff.ms = 50
INI
"$lh" run --config "$work/loophub.ini" --db "$work/store.db" --zmq-pull "$pull" \
    --zmq-router "$router" --zmq-pub "$pub" --http off --kafka-brokers "$bootstrap" \
    --kafka-hub-name v2 --log-level warn >"$work/hub.log" 2>&1 &
hub_pid=$!
sleep 1

# one alert per service: a deploy at 10:00, an incident at 10:05 (fixed times, 2026-01-10)
pair() {
    local s=$1
    "$lh" send deploy --to "$router" --reliable -q --id "d-$s" --time 2026-01-10T10:00:00Z \
        --service "$s" --env prod --deploy-id "D-$s" --status succeeded --version 2 \
        --previous-version 1 --host "host-$s"
    "$lh" send incident --to "$router" --reliable -q --id "i-$s" --time 2026-01-10T10:05:00Z \
        --service "$s" --env prod --incident-id "INC-$s" --state detected --severity critical
}
alerts() { sqlite3 "$work/store.db" "SELECT count(*) FROM alerts"; }
wait_sql() { # SQL WANT
    for _ in $(seq 300); do
        [ "$(sqlite3 "$work/store.db" "$1")" = "$2" ] && return 0
        sleep 0.1
    done
    echo "make_v2: timeout waiting for $1 = $2" >&2
    cat "$work/hub.log" >&2
    exit 1
}

# A: nobody subscribed on PUB; Kafka up: done for Kafka only
for s in api web; do pair "$s"; done
wait_sql "SELECT count(*) FROM alerts WHERE kafka_done = 1" 2

# B: a subscriber: PUB publishes what waited and what comes; broker 2 down: the alerts keyed to
# partition 1 stay in flight (Kafka done out of order)
"$lh" tail --from "$pub" --count 6 --timeout 30s >"$work/tail.out" 2>&1 &
tail_pid=$!
sleep 1
ctl down 2
for s in auth billing cart search; do pair "$s"; done
wait "$tail_pid"
tail_pid=
sleep 2.5 # the last PUB done marks get their own transaction within a second

# C: nobody subscribed again: neither sink
for s in mail queue; do pair "$s"; done
sleep 1
kill -TERM "$hub_pid"
wait "$hub_pid" || true
hub_pid=
[ "$(sqlite3 "$work/store.db" 'PRAGMA user_version')" = 2 ]
# .dump leaves out PRAGMA user_version: it is added at the end, as this release stamped it
{
    echo "-- a loophub 7efb9df store (schema version 2), made by make_v2.sh: see README.md"
    sqlite3 "$work/store.db" .dump
    echo "PRAGMA user_version = 2;"
} >"$out"
sqlite3 "$work/store.db" "SELECT seq, service, pub_done, kafka_done FROM alerts ORDER BY seq"
