#!/bin/sh
# bench_smoke.sh LH_BENCH LOOPHUB KAFKA_MOCK - runs the benchmark steps of `make bench` at 1/500
# of their size against the binaries of this build and checks that results.json holds every
# figure issues 5, 12, 13 and 14 ask for, as a number (machine: a string). It measures nothing: it keeps
# the benchmark from rotting between `make bench` runs. The SEC step is left to `make bench` (its
# fixed-size agreement stream alone takes a minute, and `sec` is not a test dependency). The
# growth step ingests into a copy of the query step's store, 100,000 events at this scale.
set -eu
if [ $# -ne 3 ]; then
    echo "usage: sh bench_smoke.sh LH_BENCH LOOPHUB KAFKA_MOCK" >&2
    exit 2
fi
work=$(mktemp -d "${TMPDIR:-/tmp}/loophub-test-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT
if ! BENCH_SCALE=0.002 BENCH_ONLY=transport,store,append,pull,deadsink,router,kafka,memory,latency,query,growth,import \
    "$1" run --loophub "$2" --kafka-mock "$3" --sec "" \
    --workdir "$work/run" --datadir "$work/data" --out "$work/results.json" >"$work/out.txt" 2>&1; then
    cat "$work/out.txt"
    echo "bench_smoke: lh-bench failed" >&2
    exit 1
fi

keys="e2e_pull_events_per_s e2e_router_events_per_s e2e_kafka_events_per_s
transport_limit_msgs_per_s store_reference_rows_per_s corr_latency_p50_ms corr_latency_p99_ms
peak_rss_mb peak_rss_100k_deploys_mb timeline_incident_p99_ms timeline_service_1h_p99_ms
append_limit_rows_per_s e2e_pull_full_store_events_per_s store_bytes_per_event peak_rss_10m_mb
restart_10m_s import_events_per_s webhook_answer_idle_p99_ms webhook_answer_p99_ms
e2e_pull_dead_sink_events_per_s ratio_dead_sink_to_no_sink"
missing=0
for k in $keys; do
    if ! grep -Eq "\"$k\": [0-9]" "$work/results.json"; then
        echo "bench_smoke: results.json lacks a number for $k" >&2
        missing=1
    fi
done
if ! grep -Eq '"machine": "[0-9]+ cores, ' "$work/results.json"; then
    echo "bench_smoke: results.json lacks the machine" >&2
    missing=1
fi
if [ "$missing" -ne 0 ]; then
    cat "$work/out.txt"
    exit 1
fi
n=$(echo $keys | wc -w)
echo "bench_smoke: every step but SEC ran; results.json holds all $n figures and the machine"
