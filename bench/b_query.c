/*
 * b_query.c - measurement 6, query latency on a 10,000,000-event store.
 *
 * The store is generated in this process through the hub's own write path minus the transport:
 * lh_correlator_enrich(), the protobuf without what the row's columns hold
 * (lh_store_event_encode()), lh_store_insert_event() and lh_correlator_add(), as pipeline.c does,
 * for every event of the main workload (same mix,
 * 10 days of traffic at the e2e stream's rate), 20,000 events a transaction. So it has the hub's
 * exact schema, indexes, correlations and outbox. It is cached under the data dir with a small
 * sidecar file and reused while the sidecar matches (BENCH_REGEN=1 rebuilds it). The growth step
 * (b_growth.c) ingests into a copy of the same store: bench_query_store() is shared.
 *
 * Queries go through lh_query_timeline() in-process on a read-only store, text format, as
 * `loophub timeline` runs them, so no process start is timed; every query is run once untimed
 * first (warm page cache and SQLite cache), then the timed rounds. The CLI as a process is timed
 * separately, for reference only.
 */
#include <inttypes.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "bench.h"
#include "correlator.h"
#include "loophub/format.h"
#include "loophub/timeutil.h"
#include "query.h"
#include "store.h"

/* the generator's own version; the cache key also holds the store's schema version, so a
 * schema change (new indexes) regenerates the store instead of measuring the old one */
#define GEN_VERSION                                                                                \
    3 /* 2: the history ends before the e2e streams begin; 3: the events                           \
       * enriched and stripped as the hub stores them */
#define GEN_KEY (GEN_VERSION * 100 + lh_store_schema_version())
#define TX_EVENTS 20000
#define N_QUERIES 200
#define ROUNDS 5

typedef struct {
    int version;
    size_t n;
    int64_t t_end;
    double gen_secs;
} meta_t;

static int
meta_read(const char *path, meta_t *m)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    long long t;
    int ok = fscanf(f, "%d %zu %lld %lf", &m->version, &m->n, &t, &m->gen_secs) == 4;
    fclose(f);
    m->t_end = t;
    return ok ? 0 : -1;
}

static int
generate(const char *path, size_t n, size_t n_e2e, meta_t *m)
{
    char wal[1100];
    unlink(path);
    snprintf(wal, sizeof(wal), "%s-wal", path);
    unlink(wal);
    snprintf(wal, sizeof(wal), "%s-shm", path);
    unlink(wal);
    lh_store_opts_t so;
    lh_store_opts_default(&so);
    /* a generator, not a hub: no fsync per transaction, a bigger cache (same schema) */
    so.synchronous_full = 0;
    so.cache_kb = 262144;
    lh_store_t *st = NULL;
    lh_correlator_t *corr = NULL;
    lh_correlator_opts_t co;
    lh_correlator_opts_default(&co);
    if (lh_store_open(path, &so, &st) != 0 || lh_correlator_new(st, &co, &corr) != 0) {
        lh_store_close(&st);
        return -1;
    }
    int64_t day = 86400 * LH_NS_PER_SEC;
    /* the e2e stream's rate (1,000,000 events a day), ending two hours (one correlation window)
     * before the e2e streams of this run begin: growth then feeds history that came before, as
     * a hub running for months sees it, not a second copy of the same hours (which made twice
     * the candidates and alerts of the empty store's run) */
    int64_t span = (int64_t)((double)day * (double)n / 1e6);
    int64_t e2e_span = (int64_t)((double)day * (double)n_e2e / 1e6);
    int64_t t_end = lh_now_ns() - e2e_span - 7200 * LH_NS_PER_SEC;
    wl_opts_t o = {0x5eed0006, n, 1000, t_end - span, span, NULL};
    wl_t *w = wl_new(&o);
    lh_buf_t pb = LH_BUF_INIT;
    int64_t start = bench_mono_ns();
    int rc = 0;
    size_t i = 0;
    lh_event_t *ev;
    printf("  query: generating a %zu-event store (cached for later runs) ...\n", n);
    fflush(stdout);
    while (rc == 0 && (ev = wl_next(w)) != NULL) {
        if (i % TX_EVENTS == 0)
            rc = lh_store_begin(st);
        int64_t seq = 0;
        if (rc == 0)
            rc = lh_correlator_enrich(corr, ev);
        /* stored as the hub stores it (pipeline.c): without the fields its columns hold */
        int outcome = lh_correlator_is_outcome(corr, ev);
        if (rc == 0)
            rc = lh_store_event_encode(ev, outcome, &pb);
        if (rc == 0)
            rc = lh_store_insert_event(st, ev, outcome, pb.data, pb.len, &seq);
        if (rc == 0)
            rc = lh_correlator_add(corr, ev, seq, ev->time_ns + LH_NS_PER_SEC);
        rc = rc > 0 ? 0 : rc;
        lh_event_destroy(&ev);
        i++;
        if (rc == 0 && (i % TX_EVENTS == 0 || i == n))
            rc = lh_store_commit(st);
        if (i % 1000000 == 0) {
            printf("    %zu events, %.0f events/s\n", i, (double)i / bench_secs_since(start));
            fflush(stdout);
        }
    }
    m->gen_secs = bench_secs_since(start);
    lh_buf_free(&pb);
    wl_destroy(&w);
    lh_correlator_destroy(&corr);
    lh_store_close(&st);
    if (rc != 0 || i != n)
        return -1;
    m->version = GEN_KEY;
    m->n = n;
    m->t_end = t_end;
    return 0;
}

typedef struct {
    char *incident[N_QUERIES];
    int n_incident;
} ids_t;

/* Picks N_QUERIES incident ids spread over the store, through the incident-id index. */
static int
pick_incidents(lh_store_t *st, ids_t *ids)
{
    sqlite3 *db = lh__store_db(st);
    sqlite3_stmt *s = NULL;
    int64_t total = 0;
    if (sqlite3_prepare_v2(db,
                           "SELECT count(*) FROM events INDEXED BY ev_incident_id"
                           " WHERE incident_id IS NOT NULL",
                           -1, &s, NULL) != SQLITE_OK)
        return -1;
    if (sqlite3_step(s) == SQLITE_ROW)
        total = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    if (total < N_QUERIES)
        return -1;
    if (sqlite3_prepare_v2(db,
                           "SELECT incident_id FROM events INDEXED BY ev_incident_id"
                           " WHERE incident_id IS NOT NULL",
                           -1, &s, NULL) != SQLITE_OK)
        return -1;
    int64_t step = total / N_QUERIES, k = 0;
    while (sqlite3_step(s) == SQLITE_ROW && ids->n_incident < N_QUERIES) {
        if (k++ % step == step / 2)
            ids->incident[ids->n_incident++] = strdup((const char *)sqlite3_column_text(s, 0));
    }
    sqlite3_finalize(s);
    return ids->n_incident == N_QUERIES ? 0 : -1;
}

static int
timeline(lh_store_t *st, lh_timeline_req_t *r, lh_buf_t *out, double *ms, size_t *bytes)
{
    lh_buf_reset(out);
    int64_t t0 = bench_mono_ns();
    int rc = lh_query_timeline(st, r, LH_QUERY_TEXT, out);
    *ms = (double)(bench_mono_ns() - t0) / 1e6;
    *bytes = out->len;
    return rc;
}

/* This process's CPU time so far (user and system, every thread), ms. */
static double
self_cpu_ms(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0)
        return 0;
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 +
           (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3;
}

static void
record(const char *prefix, double *v, size_t n, double bytes)
{
    char key[96];
    double p50 = bench_percentile(v, n, 50), p99 = bench_percentile(v, n, 99);
    snprintf(key, sizeof(key), "%s_p50_ms", prefix);
    bench_set(key, p50);
    snprintf(key, sizeof(key), "%s_p99_ms", prefix);
    bench_set(key, p99);
    snprintf(key, sizeof(key), "%s_avg_output_bytes", prefix);
    bench_set(key, bytes);
    printf("  %s: %zu queries, p50 %.3f ms, p99 %.3f ms, max %.3f ms, %.0f bytes of output\n",
           prefix, n, p50, p99, v[n - 1], bytes);
}

int
bench_query_store(const bench_cfg_t *cfg, char *path, size_t len, size_t *events, int64_t *t_end)
{
    char mpath[1100];
    bench_mkdir_p(cfg->datadir);
    snprintf(path, len, "%s/store-%zu.db", cfg->datadir, cfg->n_query);
    snprintf(mpath, sizeof(mpath), "%s.meta", path);
    meta_t m = {0};
    const char *regen = getenv("BENCH_REGEN");
    struct stat sb;
    /* BENCH_REGEN rebuilds once per run, not once per step that asks for the store */
    static int regenerated;
    if ((regen && *regen == '1' && !regenerated) || meta_read(mpath, &m) != 0 ||
        m.version != GEN_KEY || m.n != cfg->n_query || stat(path, &sb) != 0) {
        unlink(mpath);
        if (generate(path, cfg->n_query, cfg->n_e2e, &m) != 0) {
            bench_note("query: cannot generate the store");
            return -1;
        }
        regenerated = 1;
        FILE *f = fopen(mpath, "w");
        if (f) {
            fprintf(f, "%d %zu %lld %.1f\n", m.version, m.n, (long long)m.t_end, m.gen_secs);
            fclose(f);
        }
        printf("  query: store generated in %.0f s (%.0f events/s)\n", m.gen_secs,
               (double)m.n / m.gen_secs);
        bench_set("query_store_gen_events_per_s", (double)m.n / m.gen_secs);
    } else {
        printf("  query: reusing %s (generated earlier in %.0f s)\n", path, m.gen_secs);
    }
    if (stat(path, &sb) == 0)
        bench_set("query_store_mb", (double)sb.st_size / 1048576.0);
    bench_set("query_store_events", (double)m.n);
    *events = m.n;
    *t_end = m.t_end;
    return 0;
}

int
bench_query(const bench_cfg_t *cfg)
{
    char path[1000];
    meta_t m = {0};
    if (bench_query_store(cfg, path, sizeof(path), &m.n, &m.t_end) != 0)
        return -1;

    lh_store_opts_t so;
    lh_store_opts_default(&so);
    so.readonly = 1;
    lh_store_t *st = NULL;
    if (lh_store_open(path, &so, &st) != 0)
        return -1;
    ids_t ids = {0};
    int rc = pick_incidents(st, &ids);
    if (rc != 0)
        bench_note("query: cannot pick incident ids");
    lh_buf_t out = LH_BUF_INIT;
    double *lat = calloc(N_QUERIES * ROUNDS, sizeof(double));
    size_t bytes;
    double total_bytes = 0;
    /* --incident */
    for (int round = 0; rc == 0 && round <= ROUNDS; round++) {
        for (int q = 0; rc == 0 && q < N_QUERIES; q++) {
            lh_timeline_req_t r;
            lh_timeline_req_default(&r);
            r.mode = LH_TIMELINE_INCIDENT;
            r.incident_id = ids.incident[(q * 7 + round * 13) % N_QUERIES];
            r.now_ns = m.t_end;
            double ms;
            rc = timeline(st, &r, &out, &ms, &bytes);
            if (round > 0) { /* round 0 warms */
                lat[(round - 1) * N_QUERIES + q] = ms;
                total_bytes += (double)bytes;
            }
        }
    }
    if (rc == 0)
        record("timeline_incident", lat, N_QUERIES * ROUNDS, total_bytes / (N_QUERIES * ROUNDS));
    else
        bench_note("query: timeline --incident failed (%d)", rc);
    /* --service S --env E --since 1h, "now" being the end of the generated traffic */
    total_bytes = 0;
    int qrc = 0;
    for (int round = 0; qrc == 0 && round <= ROUNDS; round++) {
        for (int q = 0; qrc == 0 && q < N_QUERIES; q++) {
            char svc[32];
            wl_service_name((q * 37 + 11) % 1000, svc, sizeof(svc));
            lh_timeline_req_t r;
            lh_timeline_req_default(&r);
            r.mode = LH_TIMELINE_SERVICE;
            r.service = svc;
            r.environment = wl_envs[q % 3];
            r.since_ns = 3600 * LH_NS_PER_SEC;
            r.now_ns = m.t_end;
            double ms;
            qrc = timeline(st, &r, &out, &ms, &bytes);
            if (round > 0) {
                lat[(round - 1) * N_QUERIES + q] = ms;
                total_bytes += (double)bytes;
            }
        }
    }
    if (qrc == 0)
        record("timeline_service_1h", lat, N_QUERIES * ROUNDS, total_bytes / (N_QUERIES * ROUNDS));
    else
        bench_note("query: timeline --service failed (%d)", qrc);
    /* the reports of issue 13 on the whole store, "now" the end of its traffic: deployed (every
     * service and environment), audit --since 30d (its default limit of 200 changes), dora
     * --since 90d (every change of the store decoded); 5 runs each after a warm one */
    static const struct {
        const char *name;
        lh_report_kind_t kind;
        int64_t since_days;
    } reports[] = {
        {"report_deployed", LH_REPORT_DEPLOYED, 0},
        {"report_audit_30d", LH_REPORT_AUDIT, 30},
        {"report_dora_90d", LH_REPORT_DORA, 90},
    };
    for (size_t k = 0; k < sizeof(reports) / sizeof(reports[0]); k++) {
        double rl[6], cpu[6];
        int rrc = 0;
        total_bytes = 0;
        for (int round = 0; rrc == 0 && round < 6; round++) {
            lh_report_req_t r;
            lh_report_req_default(&r, reports[k].kind);
            if (reports[k].since_days)
                r.since_ns = reports[k].since_days * 24 * 3600 * LH_NS_PER_SEC;
            r.now_ns = m.t_end;
            lh_buf_reset(&out);
            double c0 = self_cpu_ms();
            int64_t t0 = bench_mono_ns();
            rrc = lh_query_report(st, &r, LH_QUERY_JSON, &out);
            rl[round] = (double)(bench_mono_ns() - t0) / 1e6;
            cpu[round] = self_cpu_ms() - c0;
            total_bytes += (double)out.len;
        }
        if (rrc == 0) {
            /* the CPU time of the report's threads together: steadier than the time on a
             * shared machine, and what two threads save shows as their difference */
            char key[96];
            snprintf(key, sizeof(key), "%s_cpu_ms", reports[k].name);
            bench_set(key, bench_percentile(cpu + 1, 5, 50));
            record(reports[k].name, rl + 1, 5, total_bytes / 6);
        } else
            bench_note("query: %s failed (%d)", reports[k].name, rrc);
    }
    lh_buf_free(&out);
    free(lat);
    lh_store_close(&st);

    /* the CLI as a process, for reference: median of 9 */
    if (rc == 0) {
        double wall[9];
        for (int i = 0; i < 9; i++) {
            const char *argv[] = {cfg->loophub, "timeline",   "--db",
                                  path,         "--incident", ids.incident[i * 17 % N_QUERIES],
                                  NULL};
            int64_t t0 = bench_mono_ns();
            pid_t pid = bench_spawn(argv, "/dev/null");
            int status = -1;
            waitpid(pid, &status, 0);
            wall[i] = (double)(bench_mono_ns() - t0) / 1e6;
            if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
                bench_note("query: `loophub timeline --incident` exited with status %d", status);
        }
        bench_set("timeline_cli_incident_ms", bench_percentile(wall, 9, 50));
    }
    for (int i = 0; i < ids.n_incident; i++)
        free(ids.incident[i]);
    return rc == 0 && qrc == 0 ? 0 : -1;
}
