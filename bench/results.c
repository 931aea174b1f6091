/*
 * results.c - the registry of figures, the printed table and bench/results.json.
 *
 * Every measurement records its figures under the key names of results.json; the table is a
 * fixed list of rows over those keys (a missing key prints "n/a"), followed by the ratios and the
 * issue's goals, each marked met or missed. Ratios are computed here from figures of the same
 * run, never from remembered numbers.
 */
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

#define MAX_RESULTS 256
#define MAX_NOTES 64

typedef struct {
    char key[64];
    int is_str;
    double v;
    char s[256];
} result_t;

static result_t results[MAX_RESULTS];
static int n_results;
static char *notes[MAX_NOTES];
static int n_notes;

static result_t *
slot(const char *key)
{
    for (int i = 0; i < n_results; i++)
        if (strcmp(results[i].key, key) == 0)
            return &results[i];
    if (n_results == MAX_RESULTS) { /* said, never dropped in silence */
        fprintf(stderr, "lh-bench: more than %d results: %s is not recorded\n", MAX_RESULTS, key);
        return NULL;
    }
    result_t *r = &results[n_results++];
    memset(r, 0, sizeof(*r));
    snprintf(r->key, sizeof(r->key), "%s", key);
    return r;
}

void
bench_set(const char *key, double v)
{
    result_t *r = slot(key);
    if (r) {
        r->is_str = 0;
        r->v = v;
    }
}

int
bench_get(const char *key, double *v)
{
    for (int i = 0; i < n_results; i++)
        if (!results[i].is_str && strcmp(results[i].key, key) == 0) {
            *v = results[i].v;
            return 1;
        }
    return 0;
}

void
bench_set_str(const char *key, const char *v)
{
    result_t *r = slot(key);
    if (r) {
        r->is_str = 1;
        snprintf(r->s, sizeof(r->s), "%s", v);
    }
}

const char *
bench_get_str(const char *key)
{
    for (int i = 0; i < n_results; i++)
        if (results[i].is_str && strcmp(results[i].key, key) == 0)
            return results[i].s;
    return NULL;
}

void
bench_note(const char *fmt, ...)
{
    if (n_notes == MAX_NOTES)
        return;
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    notes[n_notes++] = strdup(buf);
    fprintf(stderr, "lh-bench: note: %s\n", buf);
}

/* ---- derived figures ---------------------------------------------------------------------- */

static void
ratio(const char *key, const char *num, const char *den)
{
    double a, b;
    if (bench_get(num, &a) && bench_get(den, &b) && b > 0)
        bench_set(key, a / b);
}

static void
derive(void)
{
    ratio("ratio_e2e_pull_to_transport", "e2e_pull_events_per_s", "transport_limit_msgs_per_s");
    ratio("ratio_e2e_pull_to_store_reference", "e2e_pull_events_per_s",
          "store_reference_rows_per_s");
    ratio("ratio_e2e_router_to_transport", "e2e_router_events_per_s", "transport_limit_msgs_per_s");
    ratio("ratio_e2e_router_to_store_reference", "e2e_router_events_per_s",
          "store_reference_rows_per_s");
    ratio("ratio_e2e_kafka_to_transport", "e2e_kafka_events_per_s", "transport_limit_msgs_per_s");
    ratio("ratio_e2e_kafka_to_store_reference", "e2e_kafka_events_per_s",
          "store_reference_rows_per_s");
    ratio("ratio_loophub_to_sec", "loophub_same_stream_events_per_s", "sec_events_per_s");
    ratio("ratio_e2e_pull_to_append_limit", "e2e_pull_events_per_s", "append_limit_rows_per_s");
    ratio("ratio_store_reference_to_append_limit", "store_reference_rows_per_s",
          "append_limit_rows_per_s");
    /* a sink whose receiver never answers, against none, back to back */
    ratio("ratio_dead_sink_to_no_sink", "e2e_pull_dead_sink_events_per_s",
          "e2e_pull_no_sink_events_per_s");
    ratio("ratio_dead_sink_to_no_sink_cpu", "e2e_pull_dead_sink_hub_cpu_us_per_event",
          "e2e_pull_no_sink_hub_cpu_us_per_event");
    /* growth: the 10M-event store against the empty one of the same step */
    ratio("ratio_full_to_empty_store", "e2e_pull_full_store_events_per_s",
          "e2e_pull_empty_store_events_per_s");
    ratio("ratio_full_to_empty_store_cpu", "e2e_pull_full_store_hub_cpu_us_per_event",
          "e2e_pull_empty_store_hub_cpu_us_per_event");
    ratio("ratio_full_to_empty_store_rss", "peak_rss_10m_mb", "e2e_pull_empty_store_peak_rss_mb");
    ratio("ratio_full_to_empty_store_restart", "restart_10m_s", "e2e_pull_empty_store_ready_s");
    ratio("ratio_full_to_empty_store_bytes", "store_bytes_per_event",
          "e2e_pull_empty_store_store_bytes_per_event");
}

/* ---- table -------------------------------------------------------------------------------- */

typedef struct {
    const char *key;
    const char *label;
    const char *unit;
    int decimals;
} row_t;

static const row_t rows[] = {
    {NULL, "1. transport limit (raw libzmq PUSH->PULL, tcp loopback)", NULL, 0},
    {"transport_limit_msgs_per_s", "  same encoded events", "msgs/s", 0},
    {NULL, "2. store reference (plain table + (service,env,time) index, WAL, FULL, 1,000/tx)", NULL,
     0},
    {"store_reference_rows_per_s", "  raw SQLite inserts", "rows/s", 0},
    {NULL, "3. loophub end to end (real `loophub run`, until all committed)", NULL, 0},
    {"e2e_pull_events_per_s", "  ZMQ PULL", "events/s", 0},
    {"e2e_router_events_per_s", "  ZMQ ROUTER, acked, window of outstanding events", "events/s", 0},
    {"e2e_kafka_events_per_s", "  Kafka consumer group, librdkafka mock cluster", "events/s", 0},
    {"e2e_pull_hub_cpu_us_per_event", "  hub CPU time per event, PULL", "us", 1},
    {"e2e_router_hub_cpu_us_per_event", "  hub CPU time per event, ROUTER", "us", 1},
    {"e2e_kafka_hub_cpu_us_per_event", "  hub CPU time per event, Kafka (incl. librdkafka threads)",
     "us", 1},
    {"ratio_e2e_pull_to_transport", "  PULL / transport limit", "x", 3},
    {"ratio_e2e_pull_to_store_reference", "  PULL / store reference", "x", 2},
    {"ratio_e2e_pull_to_append_limit", "  PULL / append limit", "x", 2},
    {"e2e_pull_store_bytes_per_event", "  store on disk per event, PULL run (db + WAL, closed)",
     "bytes", 0},
    {"ratio_e2e_router_to_store_reference", "  ROUTER / store reference", "x", 2},
    {"ratio_e2e_kafka_to_store_reference", "  Kafka / store reference", "x", 2},
    {NULL, "4. correlation latency (incident sent -> alert received on SUB)", NULL, 0},
    {"corr_latency_idle_p50_ms", "  idle p50", "ms", 2},
    {"corr_latency_idle_p99_ms", "  idle p99", "ms", 2},
    {"corr_latency_idle_max_ms", "  idle max", "ms", 2},
    {"corr_latency_load_events_per_s", "  background load (half of PULL peak)", "events/s", 0},
    {"corr_latency_p50_ms", "  under load p50", "ms", 2},
    {"corr_latency_p99_ms", "  under load p99", "ms", 2},
    {"corr_latency_max_ms", "  under load max", "ms", 2},
    {NULL, "3b. a notification sink whose receiver never answers (first 300,000 events)", NULL, 0},
    {"e2e_pull_no_sink_events_per_s", "  PULL, no sink", "events/s", 0},
    {"e2e_pull_dead_sink_events_per_s", "  PULL, a webhook sink timing out", "events/s", 0},
    {"ratio_dead_sink_to_no_sink", "  dead sink / no sink", "x", 2},
    {"e2e_pull_no_sink_hub_cpu_us_per_event", "  hub CPU per event, no sink", "us", 1},
    {"e2e_pull_dead_sink_hub_cpu_us_per_event", "  hub CPU per event, dead sink", "us", 1},
    {"ratio_dead_sink_to_no_sink_cpu", "  CPU per event, dead sink / no sink", "x", 2},
    {NULL, "4b. webhook answer (GitHub deployment_status posted -> 202 after commit)", NULL, 0},
    {"webhook_answer_idle_p50_ms", "  idle p50", "ms", 2},
    {"webhook_answer_idle_p99_ms", "  idle p99", "ms", 2},
    {"webhook_answer_p50_ms", "  under load p50", "ms", 2},
    {"webhook_answer_p99_ms", "  under load p99 (GitHub waits 10 s, PagerDuty 5 s)", "ms", 2},
    {"webhook_answer_max_ms", "  under load max", "ms", 2},
    {NULL, "5. memory (hub VmHWM)", NULL, 0},
    {"peak_rss_mb", "  peak RSS at the end of 3", "MiB", 1},
    {"e2e_router_peak_rss_mb", "  peak RSS, ROUTER run", "MiB", 1},
    {"e2e_kafka_peak_rss_mb", "  peak RSS, Kafka run", "MiB", 1},
    {"peak_rss_100k_deploys_mb", "  peak RSS, 100,000 deploys inside the window", "MiB", 1},
    {NULL, "6. query latency (lh_query_timeline in-process, warm)", NULL, 0},
    {"query_store_events", "  events in the store", "events", 0},
    {"timeline_incident_p50_ms", "  timeline --incident p50", "ms", 3},
    {"timeline_incident_p99_ms", "  timeline --incident p99", "ms", 3},
    {"timeline_service_1h_p50_ms", "  timeline --service S --env E --since 1h p50", "ms", 3},
    {"timeline_service_1h_p99_ms", "  timeline --service S --env E --since 1h p99", "ms", 3},
    {"timeline_cli_incident_ms", "  `loophub timeline --incident` as a process (median)", "ms", 1},
    {"report_deployed_p50_ms", "  deployed, every service and environment, p50", "ms", 1},
    {"report_deployed_cpu_ms", "  deployed, CPU time of its threads together, p50", "ms", 1},
    {"report_audit_30d_p50_ms", "  audit --since 30d (its 200 newest changes), p50", "ms", 1},
    {"report_dora_90d_p50_ms", "  dora --since 90d, p50", "ms", 1},
    {"report_dora_90d_p99_ms", "  dora --since 90d, max of 5", "ms", 1},
    {"report_dora_90d_cpu_ms", "  dora --since 90d, CPU time of its threads together, p50", "ms",
     1},
    {NULL, "7. peer: SEC 2.9, PairWithWindow rule per service", NULL, 0},
    {"sec_events_per_s", "  SEC", "events/s", 0},
    {"sec_generic_events_per_s", "  SEC, one generic rule (for reference)", "events/s", 0},
    {"loophub_same_stream_events_per_s", "  loophub, same stream", "events/s", 0},
    {"ratio_loophub_to_sec", "  loophub / SEC", "x", 1},
    {"sec_peak_rss_mb", "  SEC peak RSS", "MiB", 1},
    {"sec_proof_correlations", "  agreement stream: SEC correlations", "", 0},
    {"loophub_proof_correlations", "  agreement stream: loophub correlations", "", 0},
    {"proof_expected_correlations", "  agreement stream: expected", "", 0},
    {NULL, "8. append limit (the hub's events rows, no secondary index, hub's pragmas, 4,000/tx)",
     NULL, 0},
    {"append_limit_rows_per_s", "  plain rowid table, lh_store_open() + its checkpointer", "rows/s",
     0},
    {"ratio_store_reference_to_append_limit", "  store reference / append limit", "x", 2},
    {NULL, "9. growth (the same PULL workload into an empty store, then into a copy of 6's)", NULL,
     0},
    {"growth_store_events", "  events in the store copied", "events", 0},
    {"e2e_pull_empty_store_events_per_s", "  PULL into an empty store", "events/s", 0},
    {"e2e_pull_full_store_events_per_s", "  PULL into the 10M-event store", "events/s", 0},
    {"ratio_full_to_empty_store", "  10M-event store / empty store", "x", 2},
    {"e2e_pull_empty_store_hub_cpu_us_per_event", "  hub CPU time per event, empty store", "us", 1},
    {"e2e_pull_full_store_hub_cpu_us_per_event", "  hub CPU time per event, 10M-event store", "us",
     1},
    {"ratio_full_to_empty_store_cpu", "  CPU per event, 10M-event store / empty store", "x", 2},
    {"e2e_pull_empty_store_hub_written_bytes_per_event",
     "  hub bytes written per event (WAL + checkpoints), empty store", "bytes", 0},
    {"e2e_pull_full_store_hub_written_bytes_per_event",
     "  hub bytes written per event (WAL + checkpoints), 10M-event store", "bytes", 0},
    {"e2e_pull_empty_store_hub_read_bytes_per_event",
     "  hub bytes read per event (pages not in its cache, checkpoints), empty", "bytes", 0},
    {"e2e_pull_full_store_hub_read_bytes_per_event",
     "  hub bytes read per event (pages not in its cache, checkpoints), 10M store", "bytes", 0},
    {"e2e_pull_empty_store_alerts_created", "  alerts created, empty store", "", 0},
    {"e2e_pull_full_store_alerts_created",
     "  alerts created, 10M-event store (its history is in the workload's windows)", "", 0},
    {"e2e_pull_empty_store_wal_checkpoints", "  WAL checkpoints, empty store", "", 0},
    {"e2e_pull_full_store_wal_checkpoints", "  WAL checkpoints, 10M-event store", "", 0},
    {"e2e_pull_empty_store_ready_s", "  `loophub run` to GET /healthz, empty store", "s", 3},
    {"restart_10m_s", "  `loophub run` to GET /healthz, 10M-event store", "s", 3},
    {"e2e_pull_full_store_open_cpu_s", "  hub CPU time until then, 10M-event store", "s", 3},
    {"e2e_pull_empty_store_peak_rss_mb", "  peak RSS, end of the ingest, empty store", "MiB", 1},
    {"e2e_pull_full_store_open_rss_mb", "  peak RSS after opening the 10M-event store", "MiB", 1},
    {"peak_rss_10m_mb", "  peak RSS, end of the ingest, 10M-event store", "MiB", 1},
    {"ratio_full_to_empty_store_rss", "  peak RSS, 10M-event store / empty store", "x", 2},
    {"e2e_pull_empty_store_store_bytes_per_event", "  on disk per event, the empty store's run",
     "bytes", 0},
    {"store_bytes_per_event", "  on disk per event, the 10M-event store after its run", "bytes", 0},
    {NULL, "10. import (the main workload as JSON lines, `loophub import`)", NULL, 0},
    {"import_events_per_s", "  loophub import", "events/s", 0},
    {"import_cpu_us_per_event", "  CPU time per event", "us", 1},
    {"import_vs_pull", "  import / PULL end to end", "x", 2},
};

typedef struct {
    const char *key;
    const char *text;
    int at_most; /* 1: value <= limit, 0: value >= limit */
    double limit;
} goal_t;

static const goal_t goals[] = {
    {"e2e_pull_events_per_s", "end to end >= 200,000 events/s (2 cores)", 0, 200000},
    {"ratio_e2e_pull_to_store_reference", "end to end >= 1.5 x store reference", 0, 1.5},
    {"ratio_e2e_pull_to_append_limit", "end to end >= 0.5 x append limit", 0, 0.5},
    {"ratio_full_to_empty_store", "into the 10M-event store >= 0.8 x into an empty one", 0, 0.8},
    {"store_bytes_per_event", "<= 300 bytes on disk per event (10M-event store)", 1, 300},
    {"peak_rss_10m_mb", "peak RSS <= 100 MB after 10M events", 1, 100},
    {"restart_10m_s", "listening (GET /healthz) <= 5 s on the 10M-event store", 1, 5},
    {"corr_latency_p99_ms", "alert p99 <= 10 ms at half of peak load", 1, 10},
    {"corr_latency_idle_p99_ms", "alert p99 <= 3 ms idle", 1, 3},
    {"webhook_answer_p99_ms", "webhook answer p99 under load within PagerDuty's 5 s", 1, 5000},
    {"ratio_dead_sink_to_no_sink", "ingest with a sink timing out >= 0.9 x without", 0, 0.9},
    {"peak_rss_mb", "peak RSS <= 100 MB (end of 3)", 1, 100},
    {"peak_rss_100k_deploys_mb", "peak RSS <= 100 MB (100k deploys in window)", 1, 100},
    {"timeline_incident_p99_ms", "timeline --incident p99 <= 5 ms on 10M events", 1, 5},
    {"timeline_service_1h_p99_ms", "timeline --service --since 1h p99 <= 10 ms (10M events)", 1,
     10},
    {"ratio_loophub_to_sec", "at least 25 x SEC", 0, 25},
    {"report_audit_30d_p50_ms", "audit --since 30d < 200 ms on 10M events", 1, 200},
    {"report_deployed_p50_ms", "deployed < 200 ms on 10M events", 1, 200},
    {"report_dora_90d_p50_ms", "dora --since 90d < 200 ms on 10M events", 1, 200},
};

static void
fmt_num(double v, int decimals, char *out, size_t len)
{
    if (decimals == 0 && fabs(v) >= 1000) {
        char raw[64], *p = out;
        snprintf(raw, sizeof(raw), "%.0f", v);
        size_t n = strlen(raw), lead = n % 3 ? n % 3 : 3;
        for (size_t i = 0; i < n && (size_t)(p - out) + 2 < len; i++) {
            if (i && (i - lead) % 3 == 0 && i >= lead)
                *p++ = ',';
            *p++ = raw[i];
        }
        *p = 0;
    } else {
        snprintf(out, len, "%.*f", decimals, v);
    }
}

void
bench_print_table(void)
{
    derive();
    const char *m = bench_get_str("machine");
    printf("\nloophub benchmarks  (machine: %s)\n", m ? m : "?");
    double load;
    if (bench_get("loadavg_start", &load))
        printf("load average at start %.2f, at end ", load);
    if (bench_get("loadavg_end", &load))
        printf("%.2f\n", load);
    printf("%-78s %16s  %s\n", "measurement", "value", "unit");
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        if (!rows[i].key) {
            printf("%s\n", rows[i].label);
            continue;
        }
        double v;
        int have = bench_get(rows[i].key, &v);
        char num[64] = "n/a", goal[96] = "";
        if (have)
            fmt_num(v, rows[i].decimals, num, sizeof(num));
        /* a figure with a goal shows it on its row */
        for (size_t g = 0; g < sizeof(goals) / sizeof(goals[0]); g++) {
            if (strcmp(goals[g].key, rows[i].key) != 0)
                continue;
            char lim[64];
            fmt_num(goals[g].limit, goals[g].limit < 10 ? 1 : 0, lim, sizeof(lim));
            int ok = have && (goals[g].at_most ? v <= goals[g].limit : v >= goals[g].limit);
            snprintf(goal, sizeof(goal), "   goal %s %s: %s", goals[g].at_most ? "<=" : ">=", lim,
                     !have ? "not measured"
                     : ok  ? "met"
                           : "MISSED");
        }
        printf("%-78s %16s  %-8s%s\n", rows[i].label, num, rows[i].unit, goal);
    }
    printf("\ngoals\n");
    for (size_t i = 0; i < sizeof(goals) / sizeof(goals[0]); i++) {
        double v;
        const char *verdict = "not measured";
        char num[64] = "";
        if (bench_get(goals[i].key, &v)) {
            int ok = goals[i].at_most ? v <= goals[i].limit : v >= goals[i].limit;
            verdict = ok ? "met" : "MISSED";
            fmt_num(v, v < 100 ? 2 : 0, num, sizeof(num));
        }
        printf("  %-56s %14s  %s\n", goals[i].text, num, verdict);
    }
    if (n_notes) {
        printf("\nnotes\n");
        for (int i = 0; i < n_notes; i++)
            printf("  - %s\n", notes[i]);
    }
}

int
bench_write_json(const char *path)
{
    derive();
    json_t *o = json_object();
    for (int i = 0; i < n_results; i++) {
        if (results[i].is_str)
            json_object_set_new(o, results[i].key, json_string(results[i].s));
        else
            json_object_set_new(o, results[i].key, json_real(results[i].v));
    }
    json_t *g = json_object();
    for (size_t i = 0; i < sizeof(goals) / sizeof(goals[0]); i++) {
        double v;
        if (bench_get(goals[i].key, &v))
            json_object_set_new(
                g, goals[i].key,
                json_boolean(goals[i].at_most ? v <= goals[i].limit : v >= goals[i].limit));
    }
    json_object_set_new(o, "goals_met", g);
    json_t *n = json_array();
    for (int i = 0; i < n_notes; i++)
        json_array_append_new(n, json_string(notes[i]));
    json_object_set_new(o, "notes", n);
    int rc = json_dump_file(o, path, JSON_INDENT(2) | JSON_SORT_KEYS | JSON_REAL_PRECISION(10));
    json_decref(o);
    return rc == 0 ? 0 : -1;
}
