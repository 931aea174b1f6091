#!/bin/bash
# make_store.sh BUILD OUT.sql REV - writes the dump of a store written by the binaries of BUILD, a
# build of loophub REV (tests/data/store/v4.sql: 77ae869, schema version 4; v5.sql: schema version
# 5): the real `loophub run` with its PUB socket, fed by `loophub send --reliable`, read by
# `loophub tail`. See README.md beside this file for what it sends and the state it leaves.
# LH_RUN_ARGS: more options for that `loophub run` (a release with retention deletes January's
# monitoring alerts at once unless told to keep them).
set -euo pipefail
build=$1
out=$2
rev=$3
lh=$build/loophub
work=$(mktemp -d "${TMPDIR:-/tmp}/lh-make-store.XXXXXX")
hub_pid= tail_pid=
cleanup() {
    [ -n "$tail_pid" ] && kill "$tail_pid" 2>/dev/null || true
    [ -n "$hub_pid" ] && kill "$hub_pid" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
pull=tcp://127.0.0.1:$(port)
router=tcp://127.0.0.1:$(port)
pub=tcp://127.0.0.1:$(port)

"$lh" run --db "$work/store.db" --zmq-pull "$pull" --zmq-router "$router" --zmq-pub "$pub" \
    --http off --log-level warn ${LH_RUN_ARGS:-} >"$work/hub.log" 2>&1 &
hub_pid=$!
sleep 1

send() { "$lh" send "$@" --to "$router" --reliable -q; }
# one alert per service: a deploy at 10:00 on its host, an incident at 10:05 (2026-01-10, prod)
pair() {
    local s=$1
    send deploy --id "d-$s" --time 2026-01-10T10:00:00Z --service "$s" --env prod \
        --deploy-id "D-$s" --status succeeded --version 2 --previous-version 1 --host "host-$s"
    send incident --id "i-$s" --time 2026-01-10T10:05:00Z --service "$s" --env prod \
        --incident-id "INC-$s" --state detected --severity critical --host "host-$s"
}
wait_sql() { # SQL WANT
    for _ in $(seq 300); do
        [ "$(sqlite3 "$work/store.db" "$1")" = "$2" ] && return 0
        sleep 0.1
    done
    echo "make_store: timeout waiting for $1 = $2" >&2
    cat "$work/hub.log" >&2
    exit 1
}

# A: nobody subscribed: two alerts wait in the outbox
pair api
pair web
# a change ticket approving D-api, a monitoring alert period on web (firing, then resolved),
# and an event sent as JSON (its original bytes are kept in this release)
send ticket --id t-1 --time 2026-01-10T09:50:00Z --ticket-id CHG-1 --type change \
    --state approved --link D-api
send alert --id a-1 --time 2026-01-10T10:06:00Z --service web --env prod --name HighErrorRate \
    --fingerprint fp-web --state firing --severity error --host host-web
send alert --id a-2 --time 2026-01-10T10:20:00Z --service web --env prod --name HighErrorRate \
    --fingerprint fp-web --state resolved --severity error --host host-web
echo '{"id":"j-1","kind":"alert","time":"2026-01-10T11:00:00Z","service":"api","environment":"prod","alert":{"name":"Latency","severity":"info"}}' >"$work/j.jsonl"
"$lh" send --json "$work/j.jsonl" --to "$router" --reliable -q
# a rejection: kept in the quarantine
echo '{"kind":"deploy","time":"2026-01-10T11:00:00Z","service":"api"}' >"$work/bad.jsonl"
"$lh" send --json "$work/bad.jsonl" --to "$router" --reliable -q && exit 1 || true

# B: a subscriber takes everything published so far and one more pair
n=$(sqlite3 "$work/store.db" "SELECT count(*) FROM alerts")
"$lh" tail --from "$pub" --count $((n + 1)) --timeout 30s >"$work/tail.out" 2>&1 &
tail_pid=$!
sleep 1
pair auth
wait "$tail_pid"
tail_pid=
sleep 2.5 # the last PUB done marks get their own transaction within a second

# C: nobody subscribed again: one more alert waits
pair mail
# LH_DORA_FACTS=1 (v7.sql on): what `loophub dora` reads of a change and an incident. D-pay
# (labelled, with a commit time) starts and succeeds, then an error incident follows it; D-pay2
# fails, D-pay3 is rolled back; a warning incident follows D-pay3.
if [ -n "${LH_DORA_FACTS:-}" ]; then
    send deploy --id p-1 --time 2026-01-10T12:00:00Z --service pay --env prod --deploy-id D-pay \
        --status started --version 7 --commit abc --commit-time 2026-01-10T11:30:00Z \
        --label team=payments --host host-pay
    send deploy --id p-2 --time 2026-01-10T12:04:00Z --service pay --env prod --deploy-id D-pay \
        --status succeeded --version 7 --label tier=gold --host host-pay
    send incident --id pi-1 --time 2026-01-10T12:10:00Z --service pay --env prod \
        --incident-id INC-pay --state detected --severity warning --host host-pay
    send incident --id pi-2 --time 2026-01-10T12:12:00Z --service pay --env prod \
        --incident-id INC-pay --state reported --severity error --host host-pay
    send incident --id pi-3 --time 2026-01-10T13:10:00Z --service pay --env prod \
        --incident-id INC-pay --state resolved --host host-pay
    send deploy --id p-3 --time 2026-01-10T14:00:00Z --service pay --env prod --deploy-id D-pay2 \
        --status failed --version 8 --host host-pay
    send deploy --id p-4 --time 2026-01-10T15:00:00Z --service pay --env prod --deploy-id D-pay3 \
        --status rolled_back --version 9 --host host-pay
    send incident --id pi-4 --time 2026-01-10T15:05:00Z --service pay --env prod \
        --incident-id INC-pay2 --state detected --severity warning --host host-pay
fi
# LH_HOST_SHAPES=1 (v13.sql on): host rows of the shapes the store writes beside one host per
# event: a deploy naming its host twice; a monitoring alert on two hosts, one with a space (its
# hosts stay in its protobuf).
if [ -n "${LH_HOST_SHAPES:-}" ]; then
    send deploy --id r-1 --time 2026-01-10T12:00:00Z --service rack --env prod \
        --deploy-id D-rack --status succeeded --version 4 --host host-rack --host host-rack
    send alert --id ra-1 --time 2026-01-10T12:05:00Z --service rack --env prod --name RackHot \
        --fingerprint fp-rack --state firing --severity error --host "rack 7" --host host-rack
fi
sleep 1
kill -TERM "$hub_pid"
wait "$hub_pid" || true
hub_pid=
version=$(sqlite3 "$work/store.db" 'PRAGMA user_version')
{
    echo "-- a loophub $rev store (schema version $version), made by make_store.sh: see README.md"
    sqlite3 "$work/store.db" .dump
    echo "PRAGMA user_version = $version;"
} >"$out"
sqlite3 "$work/store.db" "SELECT kind, count(*), min(time) FROM events GROUP BY kind"
sqlite3 "$work/store.db" "SELECT seq, id, revision, done FROM alerts JOIN alert_delivery USING (seq) ORDER BY seq"
sqlite3 "$work/store.db" "SELECT count(*) FROM quarantine; SELECT count(*) FROM events WHERE raw IS NOT NULL"
