/*
 * b_store_ref.c - measurement 2, the store reference: the naive design loophub's store must
 * beat. The same columns loophub keeps for an event (decoded fields + the protobuf payload) go
 * into a plain rowid table with one (service, environment, time) index, WAL, synchronous=FULL,
 * SQLite's default cache and checkpointing, one prepared INSERT, 1,000 rows a transaction.
 *
 * Only inserts and commits are timed: each batch of 1,000 events is decoded from the same
 * payloads before its transaction starts, outside the clock.
 */
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

#include "bench.h"
#include "loophub/format.h"
#include "loophub/timeutil.h"

#define BATCH 1000

static const char *const ref_schema =
    "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;"
    "CREATE TABLE events (id TEXT NOT NULL, kind INTEGER NOT NULL, time INTEGER NOT NULL,"
    " received INTEGER NOT NULL, service TEXT, environment TEXT, actor TEXT, source TEXT,"
    " hosts TEXT, state INTEGER, severity INTEGER, deploy_id TEXT, version TEXT,"
    " previous_version TEXT, commit_sha TEXT, commit_time INTEGER, artifact TEXT,"
    " change_ticket TEXT, name TEXT, fingerprint TEXT, incident_id TEXT, ticket_id TEXT,"
    " event BLOB NOT NULL);"
    "CREATE INDEX ev_svc ON events(service, environment, time);";

static const char *const ref_insert =
    "INSERT INTO events VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14,"
    " ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23)";

static void
text(sqlite3_stmt *s, int i, const char *v)
{
    if (v)
        sqlite3_bind_text(s, i, v, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(s, i);
}

static void
bind_event(sqlite3_stmt *s, const lh_event_t *ev, const char *hosts, const void *pb, size_t len)
{
    int state = 0, sev = 0;
    const char *dep = NULL, *ver = NULL, *prev = NULL, *commit = NULL, *art = NULL, *chg = NULL;
    const char *name = NULL, *fp = NULL, *inc = NULL, *tic = NULL;
    int64_t ct = 0;
    switch (ev->kind) {
    case LH_KIND_DEPLOY:
        state = ev->deploy.status;
        dep = ev->deploy.deploy_id;
        ver = ev->deploy.version;
        prev = ev->deploy.previous_version;
        commit = ev->deploy.commit;
        ct = ev->deploy.commit_time_ns;
        art = ev->deploy.artifact;
        chg = ev->deploy.change_ticket;
        break;
    case LH_KIND_ALERT:
        state = ev->alert.state;
        sev = ev->alert.severity;
        name = ev->alert.name;
        fp = ev->alert.fingerprint;
        break;
    case LH_KIND_INCIDENT:
        state = ev->incident.state;
        sev = ev->incident.severity;
        name = ev->incident.title;
        inc = ev->incident.incident_id;
        break;
    case LH_KIND_TICKET:
        state = ev->ticket.state;
        tic = ev->ticket.ticket_id;
        break;
    default:
        break;
    }
    text(s, 1, ev->id);
    sqlite3_bind_int(s, 2, (int)ev->kind);
    sqlite3_bind_int64(s, 3, ev->time_ns);
    sqlite3_bind_int64(s, 4, lh_now_ns());
    text(s, 5, ev->service);
    text(s, 6, ev->environment);
    text(s, 7, ev->actor);
    text(s, 8, ev->source);
    text(s, 9, hosts[0] ? hosts : NULL);
    sqlite3_bind_int(s, 10, state);
    sqlite3_bind_int(s, 11, sev);
    text(s, 12, dep);
    text(s, 13, ver);
    text(s, 14, prev);
    text(s, 15, commit);
    sqlite3_bind_int64(s, 16, ct);
    text(s, 17, art);
    text(s, 18, chg);
    text(s, 19, name);
    text(s, 20, fp);
    text(s, 21, inc);
    text(s, 22, tic);
    sqlite3_bind_blob(s, 23, pb, (int)len, SQLITE_STATIC);
}

int
bench_store_ref(const bench_cfg_t *cfg, const wl_stream_t *s)
{
    char dir[600], path[700];
    snprintf(dir, sizeof(dir), "%s/store-ref", cfg->workdir);
    bench_rmrf(dir);
    bench_mkdir_p(dir);
    snprintf(path, sizeof(path), "%s/ref.db", dir);
    sqlite3 *db = NULL;
    sqlite3_stmt *ins = NULL, *begin = NULL, *commit = NULL;
    if (sqlite3_open(path, &db) != SQLITE_OK ||
        sqlite3_exec(db, ref_schema, NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db, ref_insert, -1, &ins, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db, "BEGIN", -1, &begin, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db, "COMMIT", -1, &commit, NULL) != SQLITE_OK) {
        bench_note("store reference: %s", sqlite3_errmsg(db));
        sqlite3_close(db);
        return -1;
    }
    lh_event_t *evs[BATCH];
    char hosts[BATCH][128];
    int64_t timed = 0, worst = 0;
    int rc = 0;
    for (size_t i = 0; i < s->n && rc == 0; i += BATCH) {
        size_t n = s->n - i < BATCH ? s->n - i : BATCH;
        for (size_t k = 0; k < n; k++) {
            char why[128];
            const uint8_t *p = s->data + s->off[i + k];
            if (lh_codec_pb_decode(p, s->off[i + k + 1] - s->off[i + k], &evs[k], why,
                                   sizeof(why)) != 0)
                return -1;
            hosts[k][0] = 0;
            size_t used = 0;
            for (size_t h = 0; h < evs[k]->n_hosts && used < 100; h++)
                used += (size_t)snprintf(hosts[k] + used, sizeof(hosts[k]) - used, "%s%s",
                                         h ? " " : "", evs[k]->hosts[h]);
        }
        int64_t t0 = bench_mono_ns();
        sqlite3_step(begin);
        sqlite3_reset(begin);
        for (size_t k = 0; k < n && rc == 0; k++) {
            bind_event(ins, evs[k], hosts[k], s->data + s->off[i + k],
                       s->off[i + k + 1] - s->off[i + k]);
            if (sqlite3_step(ins) != SQLITE_DONE)
                rc = -1;
            sqlite3_reset(ins);
        }
        if (sqlite3_step(commit) != SQLITE_DONE)
            rc = -1;
        sqlite3_reset(commit);
        int64_t dt = bench_mono_ns() - t0;
        timed += dt;
        if (dt > worst)
            worst = dt;
        for (size_t k = 0; k < n; k++)
            lh_event_destroy(&evs[k]);
    }
    if (rc != 0)
        bench_note("store reference: %s", sqlite3_errmsg(db));
    sqlite3_finalize(ins);
    sqlite3_finalize(begin);
    sqlite3_finalize(commit);
    sqlite3_close(db);
    bench_rmrf(dir);
    if (rc != 0)
        return -1;
    double secs = (double)timed / 1e9;
    bench_set("store_reference_rows_per_s", (double)s->n / secs);
    bench_set("store_reference_worst_commit_ms", (double)worst / 1e6);
    printf("  store reference: %zu rows in %.2f s (worst batch %.1f ms)\n", s->n, secs,
           (double)worst / 1e6);
    return 0;
}
