#!/bin/sh
# demo.sh - the README's five-minute walk-through, as a script: start a hub on a temporary
# database, send a deploy, send an incident, watch the correlated alert arrive in `loophub tail`,
# then read the postmortem timeline. Usage: sh examples/demo.sh [path/to/loophub]
set -eu
LH=${1:-./build/loophub}
[ -x "$LH" ] || { echo "demo: no loophub binary at $LH (run 'make' first)" >&2; exit 1; }

DIR=$(mktemp -d)
# ports near the defaults, shifted so the demo never collides with a hub of your own
base=$((17000 + $$ % 1000 * 10))
PULL=tcp://127.0.0.1:$((base + 1))
ROUTER=tcp://127.0.0.1:$((base + 2))
PUB=tcp://127.0.0.1:$((base + 3))
HTTP=127.0.0.1:$((base + 4))
HUB=""
TAIL=""
cleanup() {
    [ -n "$TAIL" ] && kill "$TAIL" 2>/dev/null || true
    [ -n "$HUB" ] && kill -TERM "$HUB" 2>/dev/null && wait "$HUB" 2>/dev/null || true
    rm -rf "$DIR"
}
trap cleanup EXIT INT TERM

say() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }
iso() { date -u -d "@$1" +%Y-%m-%dT%H:%M:%SZ; }
now=$(date +%s)

say "loophub run --db $DIR/demo.db ...   # the hub, in the background"
"$LH" run --db "$DIR/demo.db" --zmq-pull "$PULL" --zmq-router "$ROUTER" --zmq-pub "$PUB" \
    --http "$HTTP" >"$DIR/hub.log" 2>&1 &
HUB=$!
i=0
until grep -q "hub: running" "$DIR/hub.log" 2>/dev/null; do
    i=$((i + 1))
    if [ $i -gt 100 ] || ! kill -0 "$HUB" 2>/dev/null; then
        echo "demo: the hub did not start:" >&2
        cat "$DIR/hub.log" >&2
        exit 1
    fi
    sleep 0.1
done
sed 's/^/  /' "$DIR/hub.log"

say "loophub tail --from $PUB &   # a team subscribes to correlated alerts"
"$LH" tail --from "$PUB" --count 1 --timeout 30s >"$DIR/tail.out" 2>&1 &
TAIL=$!

say "loophub send deploy --service api --env prod --deploy-id D-42 --version 1.4.2 --previous-version 1.4.1 --actor alice --host web-1 --time $(iso $((now - 300))) --reliable"
"$LH" send deploy --id d-42 --service api --env prod --deploy-id D-42 --status succeeded \
    --version 1.4.2 --previous-version 1.4.1 --commit 9f2c1e0 --actor alice --host web-1 \
    --change-ticket CHG-7 --time "$(iso $((now - 300)))" --to "$ROUTER" --reliable

say "loophub send incident --service api --env prod --incident-id INC-7 --severity critical --title '5xx spike' --reliable"
"$LH" send incident --id i-7 --service api --env prod --incident-id INC-7 --state detected \
    --severity critical --title "5xx spike on checkout" --host web-1 --time "$(iso "$now")" \
    --to "$ROUTER" --reliable

say "# ...and the alert that loophub tail printed:"
wait "$TAIL" || true
TAIL=""
sed 's/^/  /' "$DIR/tail.out"

say "loophub send incident ... --reliable   # the same incident again: deduplicated, no second alert"
"$LH" send incident --id i-7 --service api --env prod --incident-id INC-7 --to "$ROUTER" --reliable

kill -TERM "$HUB"
wait "$HUB" || true
HUB=""

say "loophub timeline --incident INC-7 --db $DIR/demo.db   # the postmortem view"
"$LH" timeline --incident INC-7 --db "$DIR/demo.db"

say "loophub timeline --deploy D-42 --db $DIR/demo.db"
"$LH" timeline --deploy D-42 --db "$DIR/demo.db"

printf '\nDone. The demo database was temporary; run "make run" for a hub of your own.\n'
