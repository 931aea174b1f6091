/*
 * check_correlator.c - the correlator against a real store in a temporary directory.
 *
 * Every test drives the hub's own sequence: build an event, encode its canonical protobuf, store
 * it (outcome flag from lh_correlator_is_outcome), correlate it, commit; then reads the outbox
 * back through lh_store_alert_pending + lh_codec_alert_pb_decode, as the publisher does.
 */
#include <check.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "correlator.h"
#include "correlator_sql.h"
#include "loophub/buf.h"
#include "loophub/correlated.h"
#include "loophub/error.h"
#include "loophub/event.h"
#include "loophub/format.h"
#include "loophub/log.h"
#include "loophub/timeutil.h"
#include "store.h"
#include "testutil.h"

#define MIN (60 * LH_NS_PER_SEC)
#define HOUR (60 * MIN)
#define NOW 1800000000000000000LL

static int64_t T0;

/* ---- fixture -------------------------------------------------------------------------------- */

typedef struct fx {
    char *dir;
    char path[512];
    lh_store_t *st;
    lh_correlator_t *c;
    lh_correlator_opts_t o;
} fx_t;

static void
fx_open(fx_t *f)
{
    lh_store_opts_t so;
    lh_store_opts_default(&so);
    so.synchronous_full = 0;
    ck_assert_int_eq(lh_store_open(f->path, &so, &f->st), 0);
    ck_assert_int_eq(lh_correlator_new(f->st, &f->o, &f->c), 0);
}

static void
fx_close(fx_t *f)
{
    lh_correlator_destroy(&f->c);
    ck_assert_ptr_null(f->c);
    lh_store_close(&f->st);
}

static void
fx_init(fx_t *f)
{
    memset(f, 0, sizeof(*f));
    ck_assert_int_eq(lh_time_parse("2026-11-26T10:00:00Z", &T0), 0);
    f->dir = lh_test_tmpdir();
    snprintf(f->path, sizeof(f->path), "%s/loophub.db", f->dir);
    lh_correlator_opts_default(&f->o);
    fx_open(f);
}

static void
fx_done(fx_t *f)
{
    fx_close(f);
    lh_test_rmrf(f->dir);
    free(f->dir);
}

/* ---- events --------------------------------------------------------------------------------- */

static lh_event_t *
mk_base(lh_kind_t kind, const char *id, int64_t t, const char *svc, const char *env,
        const char *hosts)
{
    lh_event_t *ev = lh_event_new();
    ck_assert_ptr_nonnull(ev);
    ev->kind = kind;
    ev->id = lh_event_str(ev, id, (size_t)-1);
    ev->source = lh_event_str(ev, "test", (size_t)-1);
    ev->time_ns = t;
    ev->service = lh_event_str(ev, svc, (size_t)-1);
    ev->environment = lh_event_str(ev, env, (size_t)-1);
    for (const char *p = hosts; p && *p;) {
        const char *e = strchr(p, ' ');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        ck_assert_int_eq(lh_event_add_host(ev, p, n), 0);
        p = e ? e + 1 : p + n;
    }
    return ev;
}

static lh_event_t *
mk_deploy(const char *id, const char *deploy_id, lh_deploy_status_t status, int64_t t,
          const char *svc, const char *env, const char *hosts, const char *version,
          const char *prev, const char *artifact)
{
    lh_event_t *ev = mk_base(LH_KIND_DEPLOY, id, t, svc, env, hosts);
    ev->actor = lh_event_str(ev, "alice", (size_t)-1);
    ev->deploy.deploy_id = lh_event_str(ev, deploy_id, (size_t)-1);
    ev->deploy.status = status;
    ev->deploy.version = lh_event_str(ev, version, (size_t)-1);
    ev->deploy.previous_version = lh_event_str(ev, prev, (size_t)-1);
    ev->deploy.commit = lh_event_str(ev, "9f2c1e0", (size_t)-1);
    ev->deploy.artifact = lh_event_str(ev, artifact, (size_t)-1);
    return ev;
}

static lh_event_t *
mk_incident(const char *id, int64_t t, const char *svc, const char *env, const char *hosts,
            lh_incident_state_t state, const char *artifact)
{
    lh_event_t *ev = mk_base(LH_KIND_INCIDENT, id, t, svc, env, hosts);
    /* each event its own incident (INC-<event id>); updates of one use mk_incident_of() */
    char inc[64];
    snprintf(inc, sizeof(inc), "INC-%s", id);
    ev->incident.incident_id = lh_event_str(ev, inc, (size_t)-1);
    ev->incident.state = state;
    ev->incident.severity = LH_SEV_CRITICAL;
    ev->incident.title = lh_event_str(ev, "5xx spike", (size_t)-1);
    ev->incident.artifact = lh_event_str(ev, artifact, (size_t)-1);
    return ev;
}

/* An event of incident incident_id (its lifecycle is one outcome). */
static lh_event_t *
mk_incident_of(const char *id, const char *incident_id, int64_t t, const char *hosts,
               lh_incident_state_t state)
{
    lh_event_t *ev = mk_incident(id, t, "api", "prod", hosts, state, NULL);
    ev->incident.incident_id = lh_event_str(ev, incident_id, (size_t)-1);
    return ev;
}

static lh_event_t *
mk_alert(const char *id, int64_t t, const char *svc, const char *env, const char *hosts,
         lh_alert_state_t state, lh_severity_t sev)
{
    lh_event_t *ev = mk_base(LH_KIND_ALERT, id, t, svc, env, hosts);
    ev->alert.name = lh_event_str(ev, "HighErrorRate", (size_t)-1);
    /* each event its own alert (fingerprint fp-<event id>); repeats use mk_alert_of() */
    char fp[64];
    snprintf(fp, sizeof(fp), "fp-%s", id);
    ev->alert.fingerprint = lh_event_str(ev, fp, (size_t)-1);
    ev->alert.state = state;
    ev->alert.severity = sev;
    return ev;
}

/* A notification of monitoring alert fingerprint fp on api in prod. */
static lh_event_t *
mk_alert_of(const char *id, const char *fp, int64_t t, const char *hosts, lh_alert_state_t state)
{
    lh_event_t *ev = mk_alert(id, t, "api", "prod", hosts, state, LH_SEV_ERROR);
    ev->alert.fingerprint = lh_event_str(ev, fp, (size_t)-1);
    return ev;
}

static int64_t submit_now; /* the hub's clock for submit_ex(): NOW unless set */

/* Stores ev and correlates it in one transaction, as the hub does; consumes ev. Returns what
 * lh_correlator_add returned; *ins (optional) gets what the insert returned. */
static int
submit_ex(fx_t *f, lh_event_t *ev, int *ins)
{
    lh_buf_t pb = LH_BUF_INIT;
    ck_assert_int_eq(lh_store_begin(f->st), 0);
    ck_assert_int_eq(lh_correlator_enrich(f->c, ev), 0); /* as the pipeline does */
    int outcome = lh_correlator_is_outcome(f->c, ev);
    ck_assert_int_eq(lh_store_event_encode(ev, outcome, &pb), 0);
    int64_t seq = 0;
    int rc = lh_store_insert_event(f->st, ev, outcome, pb.data, pb.len, &seq);
    ck_assert_msg(rc == 0 || rc == LH_EDUPLICATE, "insert: %s", lh_strerror(rc));
    if (ins)
        *ins = rc;
    int n = lh_correlator_add(f->c, ev, seq, submit_now ? submit_now : NOW);
    if (n >= 0)
        ck_assert_int_eq(lh_store_commit(f->st), 0);
    else
        lh_store_rollback(f->st);
    lh_buf_free(&pb);
    lh_event_destroy(&ev);
    return n;
}

static int
submit(fx_t *f, lh_event_t *ev)
{
    return submit_ex(f, ev, NULL);
}

/* ---- reading the outbox --------------------------------------------------------------------- */

#define MAX_ALERTS 8

typedef struct alerts {
    lh_correlated_t *a[MAX_ALERTS];
    int64_t seq[MAX_ALERTS];
    size_t n;
} alerts_t;

static int
collect_cb(int64_t seq, const void *pb, size_t len, void *arg)
{
    alerts_t *al = arg;
    ck_assert_uint_lt(al->n, MAX_ALERTS);
    ck_assert_int_eq(lh_codec_alert_pb_decode(pb, len, &al->a[al->n]), 0);
    al->seq[al->n++] = seq;
    return 0;
}

static void
read_alerts(fx_t *f, alerts_t *al)
{
    memset(al, 0, sizeof(*al));
    lh_store_sink_t pub;
    ck_assert_int_eq(lh_store_sink_register(f->st, "zmq-pub", &pub), 0);
    int n = lh_store_alert_pending(f->st, pub, 0, collect_cb, al);
    ck_assert_int_ge(n, 0);
    ck_assert_uint_eq((size_t)n, al->n);
}

static void
free_alerts(alerts_t *al)
{
    for (size_t i = 0; i < al->n; i++)
        lh_correlated_destroy(&al->a[i]);
    al->n = 0;
}

static int
has_reason(const lh_suspect_t *s, const char *r)
{
    for (size_t i = 0; i < s->n_reasons; i++)
        if (strcmp(s->reasons[i], r) == 0)
            return 1;
    return 0;
}

#define ck_assert_reason(s, r)                                                                     \
    ck_assert_msg(has_reason((s), (r)), "suspect %s lacks reason \"%s\" (first: \"%s\")",          \
                  (s)->deploy_id, (r), (s)->n_reasons ? (s)->reasons[0] : "")

static int64_t
count_sql(fx_t *f, const char *sql)
{
    sqlite3_stmt *s = NULL;
    ck_assert_int_eq(sqlite3_prepare_v2(lh__store_db(f->st), sql, -1, &s, NULL), SQLITE_OK);
    ck_assert_int_eq(sqlite3_step(s), SQLITE_ROW);
    int64_t v = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    return v;
}

/* count_sql() of a statement made with printf's format. */
static int64_t __attribute__((format(printf, 2, 3))) count_sqlf(fx_t *f, const char *fmt, ...)
{
    char sql[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(sql, sizeof(sql), fmt, ap);
    va_end(ap);
    ck_assert_int_lt(n, (int)sizeof(sql));
    return count_sql(f, sql);
}

/* The id of the alert of incident INC-i-1 in prod, worked out apart from the code: "ca-", the
 * outcome's start in seconds as 8 hex digits, then 64-bit FNV-1a with the avalanche of hash.h
 * over the outcome's key ("incident", environment, incident id, or "alert", environment,
 * fingerprint, start time in ns, joined by 0x1f), the hash written here as the fixed string it
 * must stay: every revision, every hub and every restart names the alert alike
 * (docs/correlation.md), so a change of the id scheme must fail here, not follow the code. */
#define ID_INC_PROD "3dc19b45eae947d5"

/* Asserts that alert a's id is "ca-", the start of its earliest outcome (seconds, 8 hex
 * digits), then hash. */
static void
assert_alert_id(const lh_correlated_t *a, const char *hash, const char *name)
{
    ck_assert_msg(a->n_outcomes > 0, "%s: alert %s has no outcome", name, a->id);
    int64_t t = a->outcomes[0].time_ns;
    for (size_t i = 1; i < a->n_outcomes; i++)
        if (a->outcomes[i].time_ns < t)
            t = a->outcomes[i].time_ns;
    char want[64];
    snprintf(want, sizeof(want), "ca-%08llx%s", (unsigned long long)(t / 1000000000LL), hash);
    ck_assert_msg(strcmp(a->id, want) == 0, "%s: alert id %s, expected %s", name, a->id, want);
}

/* ---- deploy then incident ------------------------------------------------------------------- */

START_TEST(test_deploy_then_incident)
{
    fx_t f;
    fx_init(&f);
    ck_assert_int_eq(submit(&f, mk_deploy("d-1", "D-1", LH_DEPLOY_SUCCEEDED, T0, "api", "prod",
                                          "web-1 web-2", "1.4.2", "1.4.1", NULL)),
                     0);
    ck_assert_int_eq(submit(&f, mk_incident("i-1", T0 + 5 * MIN, "api", "prod", "web-2 web-1",
                                            LH_INCIDENT_DETECTED, NULL)),
                     1);
    alerts_t al;
    read_alerts(&f, &al);
    ck_assert_uint_eq(al.n, 1);
    lh_correlated_t *a = al.a[0];
    assert_alert_id(a, ID_INC_PROD, __func__);
    char want[40];
    snprintf(want, sizeof(want), "ca-%08llx", (unsigned long long)((T0 + 5 * MIN) / 1000000000LL));
    ck_assert_msg(strncmp(a->id, want, strlen(want)) == 0, "%s does not start at the incident",
                  a->id);
    ck_assert_int_eq(a->kind, LH_CA_DEPLOY_PRECEDED_INCIDENT);
    ck_assert_str_eq(a->service, "api");
    ck_assert_str_eq(a->environment, "prod");
    ck_assert_int_eq(a->late, 0);
    ck_assert_int_eq(a->created_ns, NOW);
    ck_assert_ptr_nonnull(a->outcome);
    ck_assert_str_eq(a->outcome->id, "i-1");
    ck_assert_str_eq(a->outcome->incident.title, "5xx spike");
    ck_assert_str_eq(a->rollback_version, "1.4.1");
    ck_assert_uint_eq(a->n_suspects, 1);
    lh_suspect_t *s = &a->suspects[0];
    ck_assert_str_eq(s->deploy_id, "D-1");
    ck_assert_str_eq(s->event_id, "d-1");
    ck_assert_str_eq(s->service, "api");
    ck_assert_str_eq(s->version, "1.4.2");
    ck_assert_str_eq(s->previous_version, "1.4.1");
    ck_assert_str_eq(s->actor, "alice");
    ck_assert_str_eq(s->commit, "9f2c1e0");
    ck_assert_int_eq(s->lead_seconds, 300);
    ck_assert_int_eq(s->deploy_time_ns, T0);
    ck_assert_uint_eq(s->n_hosts, 2);
    ck_assert_str_eq(s->hosts[0], "web-1");
    /* 0.50 same service + 0.15 shared hosts + 0.25 * (1 - 300/7200) */
    ck_assert_double_eq_tol(s->score, 0.89, 0.001);
    ck_assert_uint_eq(s->n_reasons, 3);
    ck_assert_str_eq(s->reasons[0], "same service and environment (api in prod)");
    ck_assert_str_eq(s->reasons[1], "deployed 5m before the incident");
    ck_assert_str_eq(s->reasons[2], "shares hosts web-2, web-1");
    free_alerts(&al);

    /* the conclusion is in correlations, linked to the alert */
    ck_assert_int_eq(count_sql(&f, "SELECT count(*) FROM correlations"), 1);
    ck_assert_int_eq(count_sql(&f, "SELECT count(*) FROM correlations WHERE deploy_id = 'D-1'"
                                   " AND rank = 1 AND lead_seconds = 300 AND late = 0"
                                   " AND alert_seq = (SELECT seq FROM alerts)"
                                   " AND created = 1800000000000000000"
                                   " AND reasons = '[\"same service and environment (api in "
                                   "prod)\",\"deployed 5m before the incident\",\"shares hosts "
                                   "web-2, web-1\"]'"),
                     1);
    fx_done(&f);
}
END_TEST

/* The protobuf of ev, for comparing events field by field. */
static void
encode_event(const lh_event_t *ev, lh_buf_t *out)
{
    lh_buf_reset(out);
    ck_assert_int_eq(lh_codec_pb_encode(ev, out), 0);
}

/* A revision is stored without its outcome event, which the outbox puts back from events as it
 * was sent; a revision stored with its copy (before) leaves as stored; one whose event is gone
 * leaves without it, the rest of it whole. */
START_TEST(test_revision_outcome_by_reference)
{
    fx_t f;
    fx_init(&f);
    ck_assert_int_eq(submit(&f, mk_deploy("d-1", "D-1", LH_DEPLOY_SUCCEEDED, T0, "api", "prod",
                                          "web-1 web-2", "1.4.2", "1.4.1", NULL)),
                     0);
    lh_event_t *inc =
        mk_incident("i-1", T0 + 5 * MIN, "api", "prod", "web-2 web-1", LH_INCIDENT_DETECTED, NULL);
    inc->source = lh_event_str(inc, "pagerduty", (size_t)-1);
    lh_event_t *sent = lh_event_clone(inc);
    ck_assert_ptr_nonnull(sent);
    ck_assert_int_eq(submit(&f, inc), 1);

    /* stored: no outcome in the payload, named by the event's seq and id */
    sqlite3_stmt *q = NULL;
    ck_assert_int_eq(sqlite3_prepare_v2(lh__store_db(f.st),
                                        "SELECT a.payload, e.id FROM alerts a"
                                        " JOIN events e ON e.seq = a.event_seq",
                                        -1, &q, NULL),
                     SQLITE_OK);
    ck_assert_int_eq(sqlite3_step(q), SQLITE_ROW);
    ck_assert_str_eq((const char *)sqlite3_column_text(q, 1), "i-1");
    lh_correlated_t *stored = NULL;
    ck_assert_int_eq(lh_codec_alert_pb_decode(sqlite3_column_blob(q, 0),
                                              (size_t)sqlite3_column_bytes(q, 0), &stored),
                     0);
    size_t stored_len = (size_t)sqlite3_column_bytes(q, 0);
    sqlite3_finalize(q);
    ck_assert_ptr_null(stored->outcome);
    ck_assert_ptr_null(stored->id); /* the row's own columns hold it */
    ck_assert_uint_eq(stored->n_suspects, 1);

    /* delivered: the event as sent, field by field */
    alerts_t al;
    read_alerts(&f, &al);
    ck_assert_uint_eq(al.n, 1);
    ck_assert_ptr_nonnull(al.a[0]->outcome);
    lh_buf_t want = LH_BUF_INIT, got = LH_BUF_INIT;
    encode_event(sent, &want);
    encode_event(al.a[0]->outcome, &got);
    ck_assert_uint_eq(got.len, want.len);
    ck_assert_mem_eq(got.data, want.data, want.len);
    ck_assert_str_eq(al.a[0]->outcome->source, "pagerduty");
    ck_assert_str_eq(al.a[0]->service, "api"); /* and the row's own facts */
    ck_assert_int_eq(al.a[0]->revision, 1);
    ck_assert_int_eq(al.a[0]->created_ns, NOW);
    /* a revision stored whole (as before): its copy, its own facts */
    stored->id = strdup(al.a[0]->id);
    stored->kind = al.a[0]->kind;
    stored->service = strdup("api");
    stored->environment = strdup("prod");
    stored->created_ns = NOW;
    free_alerts(&al);

    /* a revision stored with its copy (as before) leaves byte for byte as stored */
    stored->outcome = lh_event_clone(sent);
    ck_assert_ptr_nonnull(stored->outcome);
    stored->revision = 2;
    lh_buf_t copy = LH_BUF_INIT;
    ck_assert_int_eq(lh_codec_alert_pb_encode(stored, &copy), 0);
    ck_assert_uint_gt(copy.len, stored_len);
    int64_t aseq = 0;
    ck_assert_int_eq(lh_store_alert_insert(f.st, stored->id, 2, "i-1", 2, (int)stored->kind, "api",
                                           "prod", 2, 0, NOW, 0, copy.data, copy.len, &aseq),
                     0);
    read_alerts(&f, &al);
    ck_assert_uint_eq(al.n, 2);
    lh_buf_t again = LH_BUF_INIT;
    ck_assert_int_eq(lh_codec_alert_pb_encode(al.a[1], &again), 0);
    ck_assert_uint_eq(again.len, copy.len);
    ck_assert_mem_eq(again.data, copy.data, copy.len);
    free_alerts(&al);

    /* the event gone (a sink that did not deliver within its retention): the revision made
     * without a copy leaves without it, the one with its copy keeps it */
    ck_assert_int_eq(
        sqlite3_exec(lh__store_db(f.st), "DELETE FROM events WHERE id = 'i-1'", NULL, NULL, NULL),
        SQLITE_OK);
    read_alerts(&f, &al);
    ck_assert_uint_eq(al.n, 2);
    ck_assert_ptr_null(al.a[0]->outcome);
    ck_assert_uint_eq(al.a[0]->n_suspects, 1);
    ck_assert_str_eq(al.a[0]->suspects[0].deploy_id, "D-1");
    ck_assert_ptr_nonnull(al.a[1]->outcome);
    free_alerts(&al);

    lh_buf_free(&want);
    lh_buf_free(&got);
    lh_buf_free(&copy);
    lh_buf_free(&again);
    lh_correlated_destroy(&stored);
    lh_event_destroy(&sent);
    fx_done(&f);
}
END_TEST

/* ---- window edges --------------------------------------------------------------------------- */

START_TEST(test_window_edge_inclusive)
{
    fx_t f;
    fx_init(&f);
    submit(&f,
           mk_deploy("d-1", "D-1", LH_DEPLOY_SUCCEEDED, T0, "api", "prod", NULL, "2", "1", NULL));
    ck_assert_int_eq(submit(&f, mk_incident("i-1", T0 + 2 * HOUR, "api", "prod", NULL,
                                            LH_INCIDENT_DETECTED, NULL)),
                     1);
    alerts_t al;
    read_alerts(&f, &al);
    ck_assert_uint_eq(al.n, 1);
    ck_assert_int_eq(al.a[0]->suspects[0].lead_seconds, 7200);
    ck_assert_reason(&al.a[0]->suspects[0], "deployed 2h before the incident");
    /* no recency left at the far edge */
    ck_assert_double_eq_tol(al.a[0]->suspects[0].score, 0.50, 0.001);
    free_alerts(&al);
    /* a deploy at the same instant as the outcome precedes it too */
    submit(&f, mk_deploy("d-2", "D-2", LH_DEPLOY_SUCCEEDED, T0 + 3 * HOUR, "api", "prod", NULL, "3",
                         "2", NULL));
    ck_assert_int_eq(submit(&f, mk_incident("i-2", T0 + 3 * HOUR, "api", "prod", NULL,
                                            LH_INCIDENT_DETECTED, NULL)),
                     1);
    fx_done(&f);
}
END_TEST

START_TEST(test_window_edge_outside)
{
    fx_t f;
    fx_init(&f);
    submit(&f,
           mk_deploy("d-1", "D-1", LH_DEPLOY_SUCCEEDED, T0, "api", "prod", NULL, "2", "1", NULL));
    ck_assert_int_eq(submit(&f, mk_incident("i-1", T0 + 2 * HOUR + 1, "api", "prod", NULL,
                                            LH_INCIDENT_DETECTED, NULL)),
                     0);
    /* a change's time is its first event: a later status event inside the window does not
     * bring it back in */
    submit(&f, mk_deploy("d-2", "D-2", LH_DEPLOY_STARTED, T0 + HOUR, "web", "prod", NULL, "2", "1",
                         NULL));
    submit(&f, mk_deploy("d-3", "D-2", LH_DEPLOY_SUCCEEDED, T0 + HOUR + 10 * MIN, "web", "prod",
                         NULL, NULL, NULL, NULL));
    ck_assert_int_eq(submit(&f, mk_incident("i-2", T0 + 3 * HOUR + 5 * MIN, "web", "prod", NULL,
                                            LH_INCIDENT_DETECTED, NULL)),
                     0);
    alerts_t al;
    read_alerts(&f, &al);
    ck_assert_uint_eq(al.n, 0);
    ck_assert_int_eq(count_sql(&f, "SELECT count(*) FROM correlations"), 0);
    fx_done(&f);
}
END_TEST

START_TEST(test_outcome_before_deploy)
{
    fx_t f;
    fx_init(&f);
    submit(&f, mk_incident("i-1", T0 - 1, "api", "prod", NULL, LH_INCIDENT_DETECTED, NULL));
    /* the deploy path looks forward only */
    ck_assert_int_eq(submit(&f, mk_deploy("d-1", "D-1", LH_DEPLOY_SUCCEEDED, T0, "api", "prod",
                                          NULL, "2", "1", NULL)),
                     0);
    /* and the outcome path looks back only */
    submit(&f, mk_deploy("d-2", "D-2", LH_DEPLOY_SUCCEEDED, T0 + HOUR, "db", "prod", NULL, "2", "1",
                         NULL));
    ck_assert_int_eq(submit(&f, mk_incident("i-2", T0 + HOUR - 1, "db", "prod", NULL,
                                            LH_INCIDENT_DETECTED, NULL)),
                     0);
    alerts_t al;
    read_alerts(&f, &al);
    ck_assert_uint_eq(al.n, 0);
    fx_done(&f);
}
END_TEST

/* ---- environment ---------------------------------------------------------------------------- */

START_TEST(test_environment_mismatch)
{
    fx_t f;
    fx_init(&f);
    submit(&f, mk_deploy("d-1", "D-1", LH_DEPLOY_SUCCEEDED, T0, "api", "staging", "web-1", "2", "1",
                         "pkg:oci/api@sha256:aa"));
    ck_assert_int_eq(submit(&f, mk_incident("i-1", T0 + 5 * MIN, "api", "prod", "web-1",
                                            LH_INCIDENT_DETECTED, "pkg:oci/api@sha256:aa")),
                     0);
    alerts_t al;
    read_alerts(&f, &al);
    ck_assert_uint_eq(al.n, 0);
    fx_done(&f);
}
END_TEST

/* ---- deploy status -------------------------------------------------------------------------- */

START_TEST(test_failed_not_suspect)
{
    fx_t f;
    fx_init(&f);
    submit(&f, mk_deploy("d-1", "D-1", LH_DEPLOY_STARTED, T0, "api", "prod", NULL, "2", "1", NULL));
    submit(&f, mk_deploy("d-2", "D-1", LH_DEPLOY_FAILED, T0 + MIN, "api", "prod", NULL, NULL, NULL,
                         NULL));
    ck_assert_int_eq(submit(&f, mk_incident("i-1", T0 + 5 * MIN, "api", "prod", NULL,
                                            LH_INCIDENT_DETECTED, NULL)),
                     0);
    alerts_t al;
    read_alerts(&f, &al);
    ck_assert_uint_eq(al.n, 0);
    fx_done(&f);
}
END_TEST

START_TEST(test_rolled_back_not_suspect)
{
    fx_t f;
    fx_init(&f);
    submit(&f,
           mk_deploy("d-1", "D-1", LH_DEPLOY_SUCCEEDED, T0, "api", "prod", NULL, "2", "1", NULL));
    submit(&f, mk_deploy("d-2", "D-1", LH_DEPLOY_ROLLED_BACK, T0 + MIN, "api", "prod", NULL, NULL,
                         NULL, NULL));
    ck_assert_int_eq(submit(&f, mk_incident("i-1", T0 + 5 * MIN, "api", "prod", NULL,
                                            LH_INCIDENT_DETECTED, NULL)),
                     0);
    /* a failed deploy arriving late makes no pair either */
    ck_assert_int_eq(submit(&f, mk_deploy("d-3", "D-3", LH_DEPLOY_FAILED, T0 + 2 * MIN, "api",
                                          "prod", NULL, "3", "2", NULL)),
                     0);
    ck_assert_int_eq(count_sql(&f, "SELECT count(*) FROM correlations"), 0);
    fx_done(&f);
}
END_TEST

START_TEST(test_started_is_suspect)
{
    fx_t f;
    fx_init(&f);
    submit(&f, mk_deploy("d-1", "D-1", LH_DEPLOY_STARTED, T0, "api", "prod", NULL, "2", "1", NULL));
    ck_assert_int_eq(submit(&f, mk_incident("i-1", T0 + 90 * LH_NS_PER_SEC, "api", "prod", NULL,
                                            LH_INCIDENT_REPORTED, NULL)),
                     1);
    alerts_t al;
    read_alerts(&f, &al);
    ck_assert_uint_eq(al.n, 1);
    lh_suspect_t *s = &al.a[0]->suspects[0];
    ck_assert_str_eq(s->deploy_id, "D-1");
    ck_assert_reason(s, "started 1m30s before the incident");
    ck_assert_reason(s, "still deploying when the incident began");
    free_alerts(&al);
    fx_done(&f);
}
END_TEST

/* ---- ranking -------------------------------------------------------------------------------- */

START_TEST(test_rank_service_over_host)
{
    fx_t f;
    fx_init(&f);
    /* host-only is more recent, same service still wins */
    submit(&f,
           mk_deploy("d-1", "D-SVC", LH_DEPLOY_SUCCEEDED, T0, "api", "prod", NULL, "2", "1", NULL));
    submit(&f, mk_deploy("d-2", "D-HOST", LH_DEPLOY_SUCCEEDED, T0 + 50 * MIN, "db", "prod", "web-1",
                         "9", "8", NULL));
    ck_assert_int_eq(submit(&f, mk_incident("i-1", T0 + HOUR, "api", "prod", "web-1",
                                            LH_INCIDENT_DETECTED, NULL)),
                     1);
    alerts_t al;
    read_alerts(&f, &al);
    ck_assert_uint_eq(al.n, 1);
    lh_correlated_t *a = al.a[0];
    ck_assert_uint_eq(a->n_suspects, 2);
    ck_assert_str_eq(a->suspects[0].deploy_id, "D-SVC");
    ck_assert_str_eq(a->suspects[1].deploy_id, "D-HOST");
    ck_assert_double_gt(a->suspects[0].score, a->suspects[1].score);
    ck_assert_str_eq(a->rollback_version, "1");
    assert_alert_id(a, ID_INC_PROD, __func__);
    free_alerts(&al);
    ck_assert_int_eq(count_sql(&f, "SELECT rank FROM correlations WHERE deploy_id = 'D-HOST'"), 2);
    fx_done(&f);
}
END_TEST

START_TEST(test_rank_recent_over_older)
{
    fx_t f;
    fx_init(&f);
    submit(&f,
           mk_deploy("d-1", "D-OLD", LH_DEPLOY_SUCCEEDED, T0, "api", "prod", NULL, "2", "1", NULL));
    submit(&f, mk_deploy("d-2", "D-NEW", LH_DEPLOY_SUCCEEDED, T0 + 80 * MIN, "api", "prod", NULL,
                         "3", "2", NULL));
    ck_assert_int_eq(submit(&f, mk_incident("i-1", T0 + 90 * MIN, "api", "prod", NULL,
                                            LH_INCIDENT_DETECTED, NULL)),
                     1);
    alerts_t al;
    read_alerts(&f, &al);
    ck_assert_uint_eq(al.n, 1);
    ck_assert_uint_eq(al.a[0]->n_suspects, 2);
    ck_assert_str_eq(al.a[0]->suspects[0].deploy_id, "D-NEW");
    ck_assert_int_eq(al.a[0]->suspects[0].lead_seconds, 600);
    ck_assert_str_eq(al.a[0]->suspects[1].deploy_id, "D-OLD");
    ck_assert_reason(&al.a[0]->suspects[1], "deployed 1h30m before the incident");
    /* the version before the service's earliest suspect change, not the other suspect's */
    ck_assert_str_eq(al.a[0]->rollback_version, "1");
    free_alerts(&al);
    fx_done(&f);
}
END_TEST

START_TEST(test_rank_artifact_over_service)
{
    fx_t f;
    fx_init(&f);
    const char *art = "pkg:oci/api@sha256:0123abcd";
    submit(&f, mk_deploy("d-1", "D-ART", LH_DEPLOY_SUCCEEDED, T0, "api-worker", "prod", NULL, "7",
                         "6", art));
    submit(&f, mk_deploy("d-2", "D-SVC", LH_DEPLOY_SUCCEEDED, T0 + 5 * MIN, "api", "prod", NULL,
                         "3", "2", "pkg:oci/api@sha256:ffff"));
    ck_assert_int_eq(submit(&f, mk_incident("i-1", T0 + 10 * MIN, "api", "prod", NULL,
                                            LH_INCIDENT_DETECTED, art)),
                     1);
    alerts_t al;
    read_alerts(&f, &al);
    ck_assert_uint_eq(al.n, 1);
    lh_correlated_t *a = al.a[0];
    ck_assert_uint_eq(a->n_suspects, 2);
    ck_assert_str_eq(a->suspects[0].deploy_id, "D-ART");
    ck_assert_str_eq(a->suspects[0].artifact, art);
    ck_assert_str_eq(a->suspects[0].reasons[0], "the incident names artifact "
                                                "pkg:oci/api@sha256:0123abcd, which this change "
                                                "shipped");
    ck_assert_str_eq(a->suspects[1].deploy_id, "D-SVC");
    ck_assert_str_eq(a->rollback_version, "6");
    free_alerts(&al);
    fx_done(&f);
}
END_TEST

/* ---- shared host ---------------------------------------------------------------------------- */

START_TEST(test_shared_host_across_services)
{
    fx_t f;
    fx_init(&f);
    submit(&f, mk_deploy("d-1", "D-DB", LH_DEPLOY_SUCCEEDED, T0, "db", "prod", "db-1 web-1", "15.2",
                         "15.1", NULL));
    ck_assert_int_eq(submit(&f, mk_alert("a-1", T0 + 5 * MIN, "api", "prod", "web-1 web-3",
                                         LH_ALERT_FIRING, LH_SEV_CRITICAL)),
                     1);
    alerts_t al;
    read_alerts(&f, &al);
    ck_assert_uint_eq(al.n, 1);
    lh_correlated_t *a = al.a[0];
    ck_assert_int_eq(a->kind, LH_CA_DEPLOY_PRECEDED_ALERT);
    ck_assert_str_eq(a->service, "api");
    ck_assert_uint_eq(a->n_suspects, 1);
    lh_suspect_t *s = &a->suspects[0];
    ck_assert_str_eq(s->service, "db");
    ck_assert_str_eq(s->reasons[0], "shares host web-1 with the alert (service db)");
    ck_assert_reason(s, "deployed 5m before the alert");
    /* 0.25 host-only + recency, no shared-host bonus */
    ck_assert_double_eq_tol(s->score, 0.25 + 0.25 * (1.0 - 300.0 / 7200.0), 0.001);
    ck_assert_str_eq(a->rollback_version, "15.1");
    free_alerts(&al);
    fx_done(&f);
}
END_TEST

/* ---- late data ------------------------------------------------------------------------------ */

START_TEST(test_late_deploy)
{
    fx_t f;
    fx_init(&f);
    ck_assert_int_eq(submit(&f, mk_incident("i-1", T0 + 5 * MIN, "api", "prod", NULL,
                                            LH_INCIDENT_DETECTED, NULL)),
                     0);
    ck_assert_int_eq(submit(&f, mk_deploy("d-1", "D-1", LH_DEPLOY_SUCCEEDED, T0, "api", "prod",
                                          NULL, "1.4.2", "1.4.1", NULL)),
                     1);
    alerts_t al;
    read_alerts(&f, &al);
    ck_assert_uint_eq(al.n, 1);
    lh_correlated_t *a = al.a[0];
    ck_assert_int_eq(a->late, 1);
    ck_assert_str_eq(a->outcome->id, "i-1");
    assert_alert_id(a, ID_INC_PROD, __func__);
    ck_assert_str_eq(a->rollback_version, "1.4.1");
    ck_assert_reason(&a->suspects[0], "arrived after the incident (late data)");
    ck_assert_reason(&a->suspects[0], "deployed 5m before the incident");
    free_alerts(&al);
    ck_assert_int_eq(count_sql(&f, "SELECT late FROM correlations WHERE deploy_id = 'D-1'"), 1);
    fx_done(&f);
}
END_TEST

/* the deploy path finds outcomes by shared host and by artifact too */
START_TEST(test_late_by_host_and_artifact)
{
    fx_t f;
    fx_init(&f);
    const char *art = "pkg:oci/lib@sha256:beef";
    ck_assert_int_eq(submit(&f, mk_alert("a-1", T0 + 5 * MIN, "api", "prod", "web-9",
                                         LH_ALERT_FIRING, LH_SEV_CRITICAL)),
                     0);
    ck_assert_int_eq(submit(&f, mk_incident("i-1", T0 + 6 * MIN, "billing", "prod", NULL,
                                            LH_INCIDENT_DETECTED, art)),
                     0);
    /* one change on web-9 shipping the artifact precedes both */
    ck_assert_int_eq(submit(&f, mk_deploy("d-1", "D-LIB", LH_DEPLOY_SUCCEEDED, T0, "lib", "prod",
                                          "web-9", "5", "4", art)),
                     2);
    alerts_t al;
    read_alerts(&f, &al);
    ck_assert_uint_eq(al.n, 2);
    ck_assert_str_eq(al.a[0]->outcome->id, "a-1");
    ck_assert_int_eq(al.a[0]->late, 1);
    ck_assert_str_eq(al.a[0]->suspects[0].reasons[0],
                     "shares host web-9 with the alert (service lib)");
    ck_assert_str_eq(al.a[1]->outcome->id, "i-1");
    ck_assert_int_eq(al.a[1]->late, 1);
    ck_assert_str_eq(al.a[1]->suspects[0].reasons[0],
                     "the incident names artifact pkg:oci/lib@sha256:beef, which this change "
                     "shipped");
    free_alerts(&al);
    fx_done(&f);
}
END_TEST

START_TEST(test_second_late_suspect)
{
    fx_t f;
    fx_init(&f);
    submit(&f,
           mk_deploy("d-1", "D-1", LH_DEPLOY_SUCCEEDED, T0, "api", "prod", NULL, "2", "1", NULL));
    ck_assert_int_eq(submit(&f, mk_incident("i-1", T0 + 30 * MIN, "api", "prod", NULL,
                                            LH_INCIDENT_DETECTED, NULL)),
                     1);
    ck_assert_int_eq(submit(&f, mk_deploy("d-2", "D-2", LH_DEPLOY_SUCCEEDED, T0 + 20 * MIN, "api",
                                          "prod", NULL, "3", "2", NULL)),
                     1);
    alerts_t al;
    read_alerts(&f, &al);
    /* one alert, revised: the late suspect is a new revision of the same id, not a new alert */
    ck_assert_uint_eq(al.n, 2);
    assert_alert_id(al.a[0], ID_INC_PROD, __func__);
    assert_alert_id(al.a[1], ID_INC_PROD, __func__);
    ck_assert_int_eq(count_sql(&f, "SELECT max(revision) FROM alerts"), 2);
    ck_assert_int_eq(al.a[0]->late, 0);
    ck_assert_int_eq(al.a[1]->late, 1);
    ck_assert_int_gt(al.seq[1], al.seq[0]);
    ck_assert_uint_eq(al.a[1]->n_suspects, 2);
    ck_assert_str_eq(al.a[1]->suspects[0].deploy_id, "D-2");
    ck_assert_str_eq(al.a[1]->suspects[1].deploy_id, "D-1");
    ck_assert_reason(&al.a[1]->suspects[0], "arrived after the incident (late data)");
    ck_assert(!has_reason(&al.a[1]->suspects[1], "arrived after the incident (late data)"));
    /* D-1 is the earliest suspect of api: what ran before it (1) is the last known good; the old
     * answer (2, D-2's previous version) was D-1 itself, a suspect */
    ck_assert_str_eq(al.a[1]->rollback_version, "1");
    /* each pair names the latest revision that concluded it */
    ck_assert_int_eq(count_sql(&f, "SELECT count(*) FROM correlations"
                                   " WHERE alert_seq = (SELECT max(seq) FROM alerts)"),
                     2);
    free_alerts(&al);
    fx_done(&f);
}
END_TEST

/* ---- idempotence ---------------------------------------------------------------------------- */

START_TEST(test_idempotent_outcome)
{
    fx_t f;
    fx_init(&f);
    submit(&f,
           mk_deploy("d-1", "D-1", LH_DEPLOY_SUCCEEDED, T0, "api", "prod", NULL, "2", "1", NULL));
    ck_assert_int_eq(submit(&f, mk_incident("i-1", T0 + 5 * MIN, "api", "prod", NULL,
                                            LH_INCIDENT_DETECTED, NULL)),
                     1);
    int ins = 0;
    /* the same event again: the store says duplicate, correlating it again changes nothing */
    ck_assert_int_eq(
        submit_ex(&f,
                  mk_incident("i-1", T0 + 5 * MIN, "api", "prod", NULL, LH_INCIDENT_DETECTED, NULL),
                  &ins),
        0);
    ck_assert_int_eq(ins, LH_EDUPLICATE);
    ck_assert_int_eq(submit(&f, mk_deploy("d-1", "D-1", LH_DEPLOY_SUCCEEDED, T0, "api", "prod",
                                          NULL, "2", "1", NULL)),
                     0);
    alerts_t al;
    read_alerts(&f, &al);
    ck_assert_uint_eq(al.n, 1);
    free_alerts(&al);
    ck_assert_int_eq(count_sql(&f, "SELECT count(*) FROM correlations"), 1);
    fx_done(&f);
}
END_TEST

START_TEST(test_idempotent_status_update)
{
    fx_t f;
    fx_init(&f);
    submit(&f,
           mk_deploy("d-1", "D-1", LH_DEPLOY_STARTED, T0, "api", "prod", "web-1", "2", "1", NULL));
    ck_assert_int_eq(submit(&f, mk_incident("i-1", T0 + 5 * MIN, "api", "prod", "web-1",
                                            LH_INCIDENT_DETECTED, NULL)),
                     1);
    ck_assert_int_eq(submit(&f, mk_deploy("d-2", "D-1", LH_DEPLOY_SUCCEEDED, T0 + 7 * MIN, "api",
                                          "prod", "web-1", NULL, NULL, NULL)),
                     0);
    alerts_t al;
    read_alerts(&f, &al);
    ck_assert_uint_eq(al.n, 1);
    free_alerts(&al);
    /* a later outcome sees the change as succeeded, with the version of its first event */
    ck_assert_int_eq(submit(&f, mk_incident("i-2", T0 + 20 * MIN, "api", "prod", NULL,
                                            LH_INCIDENT_DETECTED, NULL)),
                     1);
    read_alerts(&f, &al);
    ck_assert_uint_eq(al.n, 2);
    lh_suspect_t *s = &al.a[1]->suspects[0];
    ck_assert_str_eq(s->deploy_id, "D-1");
    ck_assert_str_eq(s->event_id, "d-1");
    ck_assert_str_eq(s->version, "2");
    ck_assert_reason(s, "deployed 20m before the incident");
    ck_assert(!has_reason(s, "still deploying when the incident began"));
    free_alerts(&al);
    fx_done(&f);
}
END_TEST

/* The correlator caches loaded changes: a later event of a change (here: it failed) must show
 * in the next outcome, and a batch rolled back must not leave its version of a change behind. */
START_TEST(test_change_cache_follows_store)
{
    fx_t f;
    fx_init(&f);
    submit(&f, mk_deploy("d-1", "D-1", LH_DEPLOY_SUCCEEDED, T0, "api", "prod", "web-1", "2", "1",
                         NULL));
    ck_assert_int_eq(submit(&f, mk_incident("i-1", T0 + 5 * MIN, "api", "prod", NULL,
                                            LH_INCIDENT_DETECTED, NULL)),
                     1);
    /* a batch that stores "D-1 failed" (and correlates it) is rolled back */
    lh_event_t *ev = mk_deploy("d-2", "D-1", LH_DEPLOY_FAILED, T0 + 6 * MIN, "api", "prod", NULL,
                               NULL, NULL, NULL);
    lh_buf_t pb = LH_BUF_INIT;
    ck_assert_int_eq(lh_codec_pb_encode(ev, &pb), 0);
    ck_assert_int_eq(lh_store_begin(f.st), 0);
    int64_t seq = 0;
    ck_assert_int_eq(lh_store_insert_event(f.st, ev, 0, pb.data, pb.len, &seq), 0);
    ck_assert_int_ge(lh_correlator_add(f.c, ev, seq, NOW), 0);
    ck_assert_int_eq(lh_store_rollback(f.st), 0);
    lh_buf_free(&pb);
    lh_event_destroy(&ev);
    /* so D-1 still succeeded: the next outcome blames it */
    ck_assert_int_eq(submit(&f, mk_incident("i-2", T0 + 8 * MIN, "api", "prod", NULL,
                                            LH_INCIDENT_DETECTED, NULL)),
                     1);
    /* now D-1 fails for real: the outcome after that does not blame it */
    ck_assert_int_eq(submit(&f, mk_deploy("d-3", "D-1", LH_DEPLOY_FAILED, T0 + 9 * MIN, "api",
                                          "prod", NULL, NULL, NULL, NULL)),
                     0);
    ck_assert_int_eq(submit(&f, mk_incident("i-3", T0 + 10 * MIN, "api", "prod", NULL,
                                            LH_INCIDENT_DETECTED, NULL)),
                     0);
    ck_assert_int_eq(count_sql(&f, "SELECT count(*) FROM correlations WHERE deploy_id = 'D-1'"), 2);
    fx_done(&f);
}
END_TEST

/* ---- non-outcomes --------------------------------------------------------------------------- */

START_TEST(test_non_outcomes)
{
    fx_t f;
    fx_init(&f);
    submit(&f,
           mk_deploy("d-1", "D-1", LH_DEPLOY_SUCCEEDED, T0, "api", "prod", NULL, "2", "1", NULL));
    lh_event_t *w = mk_alert("a-1", T0 + MIN, "api", "prod", NULL, LH_ALERT_FIRING, LH_SEV_WARNING);
    ck_assert_int_eq(lh_correlator_is_outcome(f.c, w), 0);
    ck_assert_int_eq(submit(&f, w), 0);
    lh_event_t *r =
        mk_alert("a-2", T0 + MIN, "api", "prod", NULL, LH_ALERT_RESOLVED, LH_SEV_CRITICAL);
    ck_assert_int_eq(lh_correlator_is_outcome(f.c, r), 0);
    ck_assert_int_eq(submit(&f, r), 0);
    lh_event_t *ir = mk_incident("i-1", T0 + MIN, "api", "prod", NULL, LH_INCIDENT_RESOLVED, NULL);
    ck_assert_int_eq(lh_correlator_is_outcome(f.c, ir), 0);
    ck_assert_int_eq(submit(&f, ir), 0);
    lh_event_t *t = mk_base(LH_KIND_TICKET, "t-1", T0 + MIN, NULL, NULL, NULL);
    t->ticket.ticket_id = lh_event_str(t, "CHG-7", (size_t)-1);
    ck_assert_int_eq(lh_correlator_is_outcome(f.c, t), 0);
    ck_assert_int_eq(submit(&f, t), 0);
    /* at the threshold it is an outcome */
    lh_event_t *e = mk_alert("a-3", T0 + MIN, "api", "prod", NULL, LH_ALERT_FIRING, LH_SEV_ERROR);
    ck_assert_int_eq(lh_correlator_is_outcome(f.c, e), 1);
    lh_event_destroy(&e);
    alerts_t al;
    read_alerts(&f, &al);
    ck_assert_uint_eq(al.n, 0);
    ck_assert_int_eq(count_sql(&f, "SELECT count(*) FROM events WHERE outcome = 1"), 0);
    fx_done(&f);
}
END_TEST

START_TEST(test_min_severity_option)
{
    fx_t f;
    fx_init(&f);
    fx_close(&f);
    f.o.alert_min_severity = LH_SEV_WARNING;
    fx_open(&f);
    submit(&f,
           mk_deploy("d-1", "D-1", LH_DEPLOY_SUCCEEDED, T0, "api", "prod", NULL, "2", "1", NULL));
    ck_assert_int_eq(
        submit(&f, mk_alert("a-1", T0 + MIN, "api", "prod", NULL, LH_ALERT_FIRING, LH_SEV_WARNING)),
        1);
    lh_event_t *i = mk_alert("a-2", T0 + MIN, "api", "prod", NULL, LH_ALERT_FIRING, LH_SEV_INFO);
    ck_assert_int_eq(lh_correlator_is_outcome(f.c, i), 0);
    lh_event_destroy(&i);
    fx_done(&f);
}
END_TEST

/* ---- restart -------------------------------------------------------------------------------- */

START_TEST(test_restart_idempotent)
{
    fx_t f;
    fx_init(&f);
    submit(&f,
           mk_deploy("d-1", "D-1", LH_DEPLOY_STARTED, T0, "api", "prod", "web-1", "2", "1", NULL));
    ck_assert_int_eq(submit(&f, mk_incident("i-1", T0 + 5 * MIN, "api", "prod", "web-1",
                                            LH_INCIDENT_DETECTED, NULL)),
                     1);
    fx_close(&f);
    fx_open(&f);
    int ins = 0;
    ck_assert_int_eq(submit_ex(&f,
                               mk_deploy("d-1", "D-1", LH_DEPLOY_STARTED, T0, "api", "prod",
                                         "web-1", "2", "1", NULL),
                               &ins),
                     0);
    ck_assert_int_eq(ins, LH_EDUPLICATE);
    ck_assert_int_eq(submit_ex(&f,
                               mk_incident("i-1", T0 + 5 * MIN, "api", "prod", "web-1",
                                           LH_INCIDENT_DETECTED, NULL),
                               &ins),
                     0);
    ck_assert_int_eq(ins, LH_EDUPLICATE);
    ck_assert_int_eq(submit(&f, mk_deploy("d-2", "D-1", LH_DEPLOY_SUCCEEDED, T0 + 6 * MIN, "api",
                                          "prod", "web-1", NULL, NULL, NULL)),
                     0);
    alerts_t al;
    read_alerts(&f, &al);
    ck_assert_uint_eq(al.n, 1);
    free_alerts(&al);
    /* the reopened correlator still concludes new pairs */
    ck_assert_int_eq(submit(&f, mk_incident("i-2", T0 + 8 * MIN, "api", "prod", NULL,
                                            LH_INCIDENT_DETECTED, NULL)),
                     1);
    fx_done(&f);
}
END_TEST

/* ---- bad input and errors ------------------------------------------------------------------- */

START_TEST(test_bad_arguments)
{
    fx_t f;
    fx_init(&f);
    lh_correlator_t *c = (lh_correlator_t *)&f;
    ck_assert_int_eq(lh_correlator_new(NULL, NULL, &c), LH_EINVAL);
    ck_assert_ptr_null(c);
    lh_correlator_opts_t o;
    lh_correlator_opts_default(&o);
    ck_assert_int_eq(o.window_ns, 2 * HOUR);
    ck_assert_int_eq(o.alert_min_severity, LH_SEV_ERROR);
    o.window_ns = 0;
    ck_assert_int_eq(lh_correlator_new(f.st, &o, &c), LH_EINVAL);
    ck_assert_ptr_null(c);
    ck_assert_int_eq(lh_correlator_new(f.st, NULL, &c), 0);
    lh_correlator_destroy(&c);
    lh_correlator_destroy(&c); /* NULL-safe */
    lh_correlator_destroy(NULL);
    ck_assert_int_eq(lh_correlator_add(f.c, NULL, 1, NOW), LH_EINVAL);
    ck_assert_int_eq(lh_correlator_is_outcome(f.c, NULL), 0);
    /* a deploy without a deploy_id (not normalized) is stored but correlates nothing */
    ck_assert_int_eq(submit(&f, mk_deploy("d-1", NULL, LH_DEPLOY_SUCCEEDED, T0, "api", "prod", NULL,
                                          "2", "1", NULL)),
                     0);
    ck_assert_int_eq(
        submit(&f, mk_incident("i-1", T0 + MIN, "api", "prod", NULL, LH_INCIDENT_DETECTED, NULL)),
        0);
    fx_done(&f);
}
END_TEST

static void
quiet_sink(lh_log_level_t level, const char *component, const char *msg, void *arg)
{
    (void)level;
    (void)component;
    (void)msg;
    (*(int *)arg)++;
}

START_TEST(test_store_error)
{
    fx_t f;
    fx_init(&f);
    submit(&f,
           mk_deploy("d-1", "D-1", LH_DEPLOY_SUCCEEDED, T0, "api", "prod", NULL, "2", "1", NULL));
    ck_assert_int_eq(sqlite3_exec(lh__store_db(f.st), "DROP TABLE correlations", NULL, NULL, NULL),
                     SQLITE_OK);
    int logged = 0;
    lh_log_set_sink(quiet_sink, &logged);
    ck_assert_int_eq(
        submit(&f, mk_incident("i-1", T0 + MIN, "api", "prod", NULL, LH_INCIDENT_DETECTED, NULL)),
        LH_ESTORE);
    lh_log_set_sink(NULL, NULL);
    ck_assert_int_eq(logged, 1);
    fx_done(&f);
}
END_TEST

/* Every lookup must be an index search: a full scan would grow with the timeline. */
START_TEST(test_query_plans_use_indexes)
{
    fx_t f;
    fx_init(&f);
    sqlite3 *db = lh__store_db(f.st);
    for (int i = 0; i < LH_CSQL_COUNT; i++) {
        char sql[1024];
        snprintf(sql, sizeof(sql), "EXPLAIN QUERY PLAN %s", LH_CORR_SQL[i]);
        sqlite3_stmt *s = NULL;
        ck_assert_int_eq(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK);
        while (sqlite3_step(s) == SQLITE_ROW) {
            const char *detail = (const char *)sqlite3_column_text(s, 3);
            /* the buckets of a window (LH_STORE_BUCKETS) are a scan of the CTE's own rows */
            int buckets =
                !strcmp(detail, "SCAN lh_buckets") || !strcmp(detail, "SCAN CONSTANT ROW");
            ck_assert_msg(strncmp(detail, "SCAN", 4) != 0 || buckets, "statement %d: %s", i,
                          detail);
        }
        sqlite3_finalize(s);
    }
    /* the candidate lookups read their index only (schema version 2): no table row per match */
    static const int covered[] = {LH_CSQL_CAND_SERVICE, LH_CSQL_CAND_HOST, LH_CSQL_CAND_ARTIFACT,
                                  LH_CSQL_OUT_SERVICE,  LH_CSQL_OUT_HOST,  LH_CSQL_OUT_ARTIFACT};
    for (size_t i = 0; i < sizeof(covered) / sizeof(covered[0]); i++) {
        char sql[1024];
        snprintf(sql, sizeof(sql), "EXPLAIN QUERY PLAN %s", LH_CORR_SQL[covered[i]]);
        sqlite3_stmt *s = NULL;
        ck_assert_int_eq(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK);
        int searches = 0;
        while (sqlite3_step(s) == SQLITE_ROW) {
            const char *detail = (const char *)sqlite3_column_text(s, 3);
            /* one seek of one time bucket, rows in the index's order: no sort, no table row
             * (the host rows are a table keyed as an index, schema 14) */
            int keyed = strstr(detail, "event_hosts USING PRIMARY KEY (bucket=?") != NULL;
            ck_assert_msg(!strncmp(detail, "SEARCH", 6) &&
                              (keyed || (strstr(detail, "COVERING INDEX") &&
                                         strstr(detail, "(<expr>=?"))),
                          "statement %d does not seek one bucket of its index only: %s", covered[i],
                          detail);
            searches++;
        }
        ck_assert_int_eq(searches, 1);
        sqlite3_finalize(s);
    }
    fx_done(&f);
}
END_TEST

/* Rewrites the store's indexes as schema version 1 had them (the store keeps its rows). */
static void
downgrade_to_v1(fx_t *f)
{
    sqlite3 *db = NULL;
    ck_assert_int_eq(sqlite3_open(f->path, &db), SQLITE_OK);
    char *err = NULL;
    int rc = sqlite3_exec(
        db,
        /* 15 -> 14: every event's labels in its protobuf */
        "ALTER TABLE events DROP COLUMN labels_ref;"
        "DROP TABLE labelsets;"
        /* 14 -> 13: the host rows in a rowid table with its two indexes */
        "CREATE TABLE event_hosts13 (host TEXT NOT NULL, environment TEXT,"
        "  time INTEGER NOT NULL, seq INTEGER NOT NULL, kind INTEGER NOT NULL, deploy_id TEXT);"
        "INSERT INTO event_hosts13 SELECT host, nullif(environment, ''), time, seq, kind,"
        "  deploy_id FROM event_hosts;"
        "DROP TABLE event_hosts;"
        "ALTER TABLE event_hosts13 RENAME TO event_hosts;"
        "CREATE INDEX eh_host ON event_hosts(time / 14400000000000, host, environment, time,"
        "  kind, seq, deploy_id);"
        "CREATE INDEX eh_seq ON event_hosts(seq);"
        /* 13 -> 12: every revision whole (this store has no resolution, none repeats another) */
        "ALTER TABLE alerts DROP COLUMN same_as;"
        /* 12 -> 11: each event's time of receipt in its row */
        "UPDATE events SET received = (SELECT r.received FROM event_received r"
        "  WHERE r.seq = events.seq) WHERE received = 0;"
        "DROP VIEW event_received;"
        "DROP TABLE arrivals;"
        /* 11 -> 10: the sources by name in their rows, as every release before kept them */
        "UPDATE events SET source = (SELECT s.source FROM sources s WHERE s.ref = source_ref)"
        "  WHERE source_ref IS NOT NULL;"
        "ALTER TABLE events DROP COLUMN source_ref;"
        "DROP TABLE sources;"
        /* 8 -> 7: no changes table (the outcomes' severity column goes with the table) */
        "DROP TABLE changes;"
        /* 6 -> 5: the window indexes by key first (recreated below as version 1 had them) */
        "DROP INDEX ev_good;"
        /* 5 -> 4: no tally, no indexes by event on host rows and ticket links */
        "DROP TABLE tally;"
        "DROP INDEX eh_seq;"
        "DROP INDEX tl_seq;"
        /* 4 -> 3: no outcomes or cases, the alert id unique again */
        "DROP VIEW alert_delivery;"
        "DROP TABLE outcomes;"
        "DROP INDEX ev_incident_event;"
        "DROP TABLE cases;"
        "ALTER TABLE events DROP COLUMN previous_derived;"
        "CREATE TABLE alerts3 (seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE,"
        "  kind INTEGER NOT NULL, service TEXT, environment TEXT, outcome_seq INTEGER NOT NULL,"
        "  late INTEGER NOT NULL, created INTEGER NOT NULL, payload BLOB NOT NULL);"
        "INSERT INTO alerts3 SELECT seq, id, kind, service, environment, outcome_seq, late,"
        "  created, payload FROM alerts;"
        "DROP TABLE alerts;"
        "ALTER TABLE alerts3 RENAME TO alerts;"
        /* 3 -> 2: delivery state back in the alerts' columns (no alert is done here) */
        "DROP TABLE outbox_done;"
        "DROP TABLE sinks;"
        "ALTER TABLE alerts ADD COLUMN pub_done INTEGER NOT NULL DEFAULT 0;"
        "ALTER TABLE alerts ADD COLUMN kafka_done INTEGER NOT NULL DEFAULT 0;"
        "CREATE INDEX al_pub_pending ON alerts(seq) WHERE pub_done = 0;"
        "CREATE INDEX al_kafka_pending ON alerts(seq) WHERE kafka_done = 0;"
        /* 2 -> 1 */
        "DROP INDEX ev_deploy_svc;"
        "CREATE INDEX ev_deploy_svc ON events(service, environment, time) WHERE kind = 1;"
        "DROP INDEX ev_outcome_svc;"
        "CREATE INDEX ev_outcome_svc ON events(service, environment, time) WHERE outcome = 1;"
        "DROP INDEX eh_host;"
        "ALTER TABLE event_hosts DROP COLUMN deploy_id;"
        "CREATE INDEX eh_host ON event_hosts(host, environment, time);"
        "DROP INDEX ev_artifact;"
        "CREATE INDEX ev_artifact ON events(artifact, environment, time)"
        "  WHERE artifact IS NOT NULL;"
        "DROP INDEX ev_deploy_id;"
        "CREATE INDEX ev_deploy_id ON events(deploy_id) WHERE deploy_id IS NOT NULL;"
        "PRAGMA user_version = 1;",
        NULL, NULL, &err);
    ck_assert_msg(rc == SQLITE_OK, "downgrade: %s", err ? err : "?");
    sqlite3_close(db);
}

/* A store written by schema version 1 is migrated on open and its rows correlate as before:
 * outcomes after the migration find changes stored before it (service, host, artifact), and a
 * late change finds an outcome stored before it. */
START_TEST(test_migrated_v1_store)
{
    fx_t f;
    fx_init(&f);
    const char *art = "pkg:oci/api@sha256:cafe";
    ck_assert_int_eq(submit(&f, mk_deploy("d-1", "D-1", LH_DEPLOY_SUCCEEDED, T0, "api", "prod",
                                          "web-1", "7", "6", art)),
                     0);
    ck_assert_int_eq(submit(&f, mk_incident("i-0", T0 + 2 * MIN, "batch", "prod", "web-5",
                                            LH_INCIDENT_DETECTED, NULL)),
                     0);
    fx_close(&f);
    downgrade_to_v1(&f);
    fx_open(&f);
    ck_assert_int_eq(count_sql(&f, "PRAGMA user_version"), lh_store_schema_version());
    ck_assert_int_eq(count_sql(&f, "SELECT count(*) FROM sqlite_master WHERE name = "
                                   "'ev_deploy_svc' AND sql LIKE '%deploy_id%'"),
                     1);

    /* by artifact and host (another service), then by service */
    ck_assert_int_eq(submit(&f, mk_incident("i-1", T0 + 5 * MIN, "billing", "prod", "web-1",
                                            LH_INCIDENT_DETECTED, art)),
                     1);
    ck_assert_int_eq(submit(&f, mk_alert("a-1", T0 + 6 * MIN, "api", "prod", NULL, LH_ALERT_FIRING,
                                         LH_SEV_CRITICAL)),
                     1);
    alerts_t al;
    read_alerts(&f, &al);
    ck_assert_uint_eq(al.n, 2);
    ck_assert_str_eq(al.a[0]->suspects[0].deploy_id, "D-1");
    ck_assert_reason(&al.a[0]->suspects[0],
                     "the incident names artifact pkg:oci/api@sha256:cafe, which this change "
                     "shipped");
    ck_assert_str_eq(al.a[1]->suspects[0].deploy_id, "D-1");
    ck_assert_str_eq(al.a[1]->rollback_version, "6");
    free_alerts(&al);
    /* by shared host alone: the host rows written before the migration carry the deploy_id */
    ck_assert_int_eq(submit(&f, mk_incident("i-2", T0 + 7 * MIN, "search", "prod", "web-1",
                                            LH_INCIDENT_DETECTED, NULL)),
                     1);
    ck_assert_int_eq(count_sql(&f, "SELECT count(*) FROM correlations c JOIN events e"
                                   " ON e.seq = c.outcome_seq WHERE e.id = 'i-2'"
                                   " AND c.deploy_id = 'D-1'"),
                     1);

    /* a late change on web-5 finds the incident stored before the migration */
    ck_assert_int_eq(submit(&f, mk_deploy("d-2", "D-2", LH_DEPLOY_SUCCEEDED, T0 + MIN, "jobs",
                                          "prod", "web-5", "2", "1", NULL)),
                     1);
    ck_assert_int_eq(count_sql(&f, "SELECT count(*) FROM correlations WHERE deploy_id = 'D-2'"
                                   " AND late = 1"),
                     1);
    fx_done(&f);
}
END_TEST

/* ---- one alert per outcome, in revisions ---------------------------------------------------- */

static int
has_change(const lh_correlated_t *a, const char *prefix)
{
    for (size_t i = 0; i < a->n_changes; i++)
        if (strncmp(a->changes[i], prefix, strlen(prefix)) == 0)
            return 1;
    return 0;
}

/* Every event of one incident is one outcome: detected, then two updates (no host, a new
 * severity) change no conclusion and publish nothing; the resolution is the final revision of
 * the same alert. The old correlator raised an alert per event (#2 with a lower score, since the
 * update carried no host). */
START_TEST(test_incident_updates_one_alert)
{
    fx_t f;
    fx_init(&f);
    submit(&f, mk_deploy("d-1", "D-1", LH_DEPLOY_SUCCEEDED, T0, "api", "prod", "web-1", "1.0.12",
                         "1.0.11", NULL));
    ck_assert_int_eq(
        submit(&f, mk_incident_of("i-1", "INC-7", T0 + 5 * MIN, "web-1", LH_INCIDENT_DETECTED)), 1);
    ck_assert_int_eq(
        submit(&f, mk_incident_of("i-2", "INC-7", T0 + 9 * MIN, NULL, LH_INCIDENT_REPORTED)), 0);
    lh_event_t *sev = mk_incident_of("i-3", "INC-7", T0 + 12 * MIN, NULL, LH_INCIDENT_REPORTED);
    sev->incident.severity = LH_SEV_ERROR;
    ck_assert_int_eq(submit(&f, sev), 0);
    ck_assert_int_eq(
        submit(&f, mk_incident_of("i-4", "INC-7", T0 + 65 * MIN, NULL, LH_INCIDENT_RESOLVED)), 1);

    alerts_t al;
    read_alerts(&f, &al);
    ck_assert_uint_eq(al.n, 2);
    ck_assert_str_eq(al.a[0]->id, al.a[1]->id);
    ck_assert_int_eq(al.a[0]->revision, 1);
    ck_assert_int_eq(al.a[0]->resolved, 0);
    ck_assert_uint_eq(al.a[0]->n_changes, 0);
    ck_assert_int_eq(al.a[1]->revision, 2);
    ck_assert_int_eq(al.a[1]->resolved, 1);
    ck_assert_int_eq(al.a[1]->resolved_ns, T0 + 65 * MIN);
    ck_assert_msg(has_change(al.a[1], "resolved: incident INC-7 (5xx spike) resolved at "
                                      "2026-11-26T11:05:00Z, 1h after it began"),
                  "change: %s", al.a[1]->n_changes ? al.a[1]->changes[0] : "none");
    /* the final revision keeps the conclusion: same suspect, same score (host web-1 counted) */
    ck_assert_uint_eq(al.a[1]->n_suspects, 1);
    ck_assert_str_eq(al.a[1]->suspects[0].deploy_id, "D-1");
    ck_assert_double_eq_tol(al.a[1]->suspects[0].score, al.a[0]->suspects[0].score, 1e-9);
    ck_assert_reason(&al.a[1]->suspects[0], "shares host web-1");
    ck_assert_uint_eq(al.a[1]->n_outcomes, 1);
    ck_assert_str_eq(al.a[1]->outcomes[0].ref, "INC-7");
    ck_assert_str_eq(al.a[1]->outcomes[0].event_id, "i-1");
    ck_assert_int_eq(al.a[1]->outcomes[0].resolved_ns, T0 + 65 * MIN);
    ck_assert_str_eq(al.a[1]->outcome->id, "i-4");
    free_alerts(&al);
    ck_assert_int_eq(count_sql(&f, "SELECT count(*) FROM outcomes"), 1);
    /* every revision names the event that made it */
    ck_assert_int_eq(count_sql(&f, "SELECT count(*) FROM alerts WHERE outcome_id = 'i-1'"), 1);
    ck_assert_int_eq(count_sql(&f, "SELECT count(*) FROM alerts WHERE outcome_id = 'i-4' AND"
                                   " event_seq = (SELECT seq FROM events WHERE id = 'i-4')"),
                     1);
    ck_assert_int_eq(count_sql(&f, "SELECT resolved FROM cases"), 1);
    /* a late update after the end is no news */
    ck_assert_int_eq(
        submit(&f, mk_incident_of("i-5", "INC-7", T0 + 30 * MIN, NULL, LH_INCIDENT_REPORTED)), 0);
    fx_done(&f);
}
END_TEST

/* The suspects (and rollbacks, rollback target) of alert a, encoded, into out. */
static void
suspects_of(const lh_correlated_t *a, lh_buf_t *out)
{
    lh_correlated_t only = {0};
    only.id = a->id;
    only.suspects = a->suspects;
    only.n_suspects = a->n_suspects;
    only.rollbacks = a->rollbacks;
    only.n_rollbacks = a->n_rollbacks;
    only.rollback_version = a->rollback_version;
    lh_buf_reset(out);
    ck_assert_int_eq(lh_codec_alert_pb_encode(&only, out), 0);
}

/* The resolution repeats the suspects of the revision before: it is stored without them, naming
 * that revision (same_as), and read back with them (the outbox, the timeline); retention that
 * deletes the revision it repeats makes it whole first. */
START_TEST(test_resolution_repeats_suspects)
{
    fx_t f;
    fx_init(&f);
    submit(&f, mk_deploy("d-1", "D-1", LH_DEPLOY_SUCCEEDED, T0, "api", "prod", "web-1", "1.0.12",
                         "1.0.11", NULL));
    ck_assert_int_eq(
        submit(&f, mk_incident_of("i-1", "INC-7", T0 + 5 * MIN, "web-1", LH_INCIDENT_DETECTED)), 1);
    submit_now = NOW + 2 * 24 * HOUR; /* resolved two days after */
    ck_assert_int_eq(
        submit(&f, mk_incident_of("i-2", "INC-7", T0 + 65 * MIN, NULL, LH_INCIDENT_RESOLVED)), 1);
    submit_now = 0;
    ck_assert_int_eq(count_sql(&f, "SELECT count(*) FROM alerts WHERE revision = 2 AND same_as ="
                                   " (SELECT seq FROM alerts WHERE revision = 1)"),
                     1);
    /* stored: no suspects, no rollback target */
    sqlite3_stmt *q = NULL;
    ck_assert_int_eq(sqlite3_prepare_v2(lh__store_db(f.st),
                                        "SELECT payload FROM alerts WHERE revision = 2", -1, &q,
                                        NULL),
                     SQLITE_OK);
    ck_assert_int_eq(sqlite3_step(q), SQLITE_ROW);
    lh_correlated_t *stored = NULL;
    ck_assert_int_eq(lh_codec_alert_pb_decode(sqlite3_column_blob(q, 0),
                                              (size_t)sqlite3_column_bytes(q, 0), &stored),
                     0);
    sqlite3_finalize(q);
    ck_assert_uint_eq(stored->n_suspects, 0);
    ck_assert_ptr_null(stored->rollback_version);
    ck_assert_int_eq(stored->resolved, 1);
    lh_correlated_destroy(&stored);

    /* delivered: the same suspects as revision 1, field by field */
    alerts_t al;
    read_alerts(&f, &al);
    ck_assert_uint_eq(al.n, 2);
    lh_buf_t one = LH_BUF_INIT, two = LH_BUF_INIT;
    suspects_of(al.a[0], &one);
    suspects_of(al.a[1], &two);
    ck_assert_uint_gt(one.len, 20);
    ck_assert_uint_eq(two.len, one.len);
    ck_assert_mem_eq(two.data, one.data, one.len);
    ck_assert_str_eq(al.a[1]->rollback_version, "1.0.11");
    ck_assert_int_eq(al.a[1]->resolved, 1);
    int64_t seq1 = al.seq[0], seq2 = al.seq[1];
    free_alerts(&al);

    /* retention one day after revision 1 (both delivered): it goes, the resolution stays whole */
    lh_store_sink_t pub;
    ck_assert_int_eq(lh_store_sink_register(f.st, "zmq-pub", &pub), 0);
    ck_assert_int_eq(lh_store_alert_done(f.st, pub, seq1), 0);
    ck_assert_int_eq(lh_store_alert_done(f.st, pub, seq2), 0);
    lh_store_retention_t r;
    lh_store_retention_default(&r);
    r.keep_ns[LH_KIND_INCIDENT] = 24 * HOUR;
    lh_store_expired_t x;
    ck_assert_int_eq(lh_store_expire(f.st, &r, NOW + 36 * HOUR, 100, &x), 0);
    ck_assert_int_eq(x.alerts, 1);
    ck_assert_int_eq(count_sql(&f, "SELECT count(*) FROM alerts"), 1);
    ck_assert_int_eq(count_sql(&f, "SELECT count(*) FROM alerts WHERE same_as IS NOT NULL"), 0);
    lh_buf_t whole = LH_BUF_INIT;
    ck_assert_int_eq(lh_store_alert_payload(f.st, seq2, 1, &whole), 0);
    lh_correlated_t *kept = NULL;
    ck_assert_int_eq(lh_codec_alert_pb_decode(whole.data, whole.len, &kept), 0);
    suspects_of(kept, &two);
    ck_assert_uint_eq(two.len, one.len);
    ck_assert_mem_eq(two.data, one.data, one.len);
    lh_correlated_destroy(&kept);
    lh_buf_free(&whole);
    lh_buf_free(&one);
    lh_buf_free(&two);
    fx_done(&f);
}
END_TEST

/* An update naming a host no earlier event named reveals a suspect on it: a revision, which says
 * so; the suspects come from every host of the incident, not the last event's. */
START_TEST(test_incident_update_new_suspect)
{
    fx_t f;
    fx_init(&f);
    submit(&f, mk_deploy("d-1", "D-1", LH_DEPLOY_SUCCEEDED, T0, "api", "prod", "web-1", "2", "1",
                         NULL));
    submit(&f, mk_deploy("d-2", "D-DB", LH_DEPLOY_SUCCEEDED, T0 + MIN, "db", "prod", "db-1", "9",
                         "8", NULL));
    ck_assert_int_eq(
        submit(&f, mk_incident_of("i-1", "INC-8", T0 + 5 * MIN, "web-1", LH_INCIDENT_DETECTED)), 1);
    ck_assert_int_eq(
        submit(&f, mk_incident_of("i-2", "INC-8", T0 + 6 * MIN, "db-1", LH_INCIDENT_REPORTED)), 1);
    alerts_t al;
    read_alerts(&f, &al);
    ck_assert_uint_eq(al.n, 2);
    ck_assert_str_eq(al.a[1]->id, al.a[0]->id);
    ck_assert_int_eq(al.a[1]->revision, 2);
    ck_assert_uint_eq(al.a[1]->n_suspects, 2);
    ck_assert_str_eq(al.a[1]->suspects[0].deploy_id, "D-1");
    ck_assert_reason(&al.a[1]->suspects[0], "shares host web-1");
    ck_assert_str_eq(al.a[1]->suspects[1].deploy_id, "D-DB");
    ck_assert_msg(has_change(al.a[1], "new suspect D-DB (db 9)"), "change: %s",
                  al.a[1]->n_changes ? al.a[1]->changes[0] : "none");
    /* a rollback target per suspect service */
    ck_assert_uint_eq(al.a[1]->n_rollbacks, 2);
    ck_assert_str_eq(al.a[1]->rollbacks[0].service, "api");
    ck_assert_str_eq(al.a[1]->rollbacks[0].version, "1");
    ck_assert_str_eq(al.a[1]->rollbacks[1].service, "db");
    ck_assert_str_eq(al.a[1]->rollbacks[1].version, "8");
    free_alerts(&al);
    fx_done(&f);
}
END_TEST

/* A monitoring alert on the same service a minute after the incident, with the same suspects,
 * joins its alert as a revision; one past the group window, or with other suspects, does not. */
START_TEST(test_group_same_suspects)
{
    fx_t f;
    fx_init(&f);
    submit(&f,
           mk_deploy("d-1", "D-1", LH_DEPLOY_SUCCEEDED, T0, "api", "prod", NULL, "2", "1", NULL));
    ck_assert_int_eq(
        submit(&f, mk_incident_of("i-1", "INC-9", T0 + 5 * MIN, NULL, LH_INCIDENT_DETECTED)), 1);
    ck_assert_int_eq(submit(&f, mk_alert_of("a-1", "fp-1", T0 + 6 * MIN, NULL, LH_ALERT_FIRING)),
                     1);
    alerts_t al;
    read_alerts(&f, &al);
    ck_assert_uint_eq(al.n, 2);
    ck_assert_str_eq(al.a[1]->id, al.a[0]->id);
    ck_assert_int_eq(al.a[1]->revision, 2);
    ck_assert_int_eq(al.a[1]->kind, LH_CA_DEPLOY_PRECEDED_INCIDENT);
    ck_assert_msg(has_change(al.a[1], "joined by alert HighErrorRate (fingerprint fp-1)"),
                  "change: %s", al.a[1]->n_changes ? al.a[1]->changes[0] : "none");
    ck_assert_uint_eq(al.a[1]->n_outcomes, 2);
    ck_assert_str_eq(al.a[1]->outcomes[0].ref, "INC-9");
    ck_assert_str_eq(al.a[1]->outcomes[1].ref, "fp-1");
    ck_assert_int_eq(al.a[1]->outcomes[1].kind, LH_KIND_ALERT);
    free_alerts(&al);
    ck_assert_int_eq(count_sql(&f, "SELECT count(DISTINCT case_id) FROM outcomes"), 1);

    /* 16 minutes after the incident's outcome: past the 10m group window, its own alert */
    ck_assert_int_eq(
        submit(&f, mk_alert_of("a-2", "fp-2", T0 + 16 * MIN + 1, NULL, LH_ALERT_FIRING)), 1);
    /* another suspect as well (a db deploy on the alert's host): not the same cause */
    submit(&f, mk_deploy("d-3", "D-3", LH_DEPLOY_SUCCEEDED, T0 + 7 * MIN, "db", "prod", "web-9",
                         "3", "2", NULL));
    read_alerts(&f, &al);
    size_t before = al.n;
    free_alerts(&al);
    ck_assert_int_eq(submit(&f, mk_alert_of("a-3", "fp-3", T0 + 8 * MIN, "web-9", LH_ALERT_FIRING)),
                     1);
    ck_assert_int_eq(count_sql(&f, "SELECT count(*) FROM cases"), 3);
    read_alerts(&f, &al);
    ck_assert_uint_eq(al.n, before + 1);
    ck_assert_int_eq(al.a[al.n - 1]->revision, 1);
    free_alerts(&al);

    /* with grouping off (group window 0) an alert with the same suspects is its own */
    fx_close(&f);
    f.o.group_window_ns = 0;
    fx_open(&f);
    ck_assert_int_eq(count_sql(&f, "SELECT count(*) FROM cases"), 3);
    ck_assert_int_eq(submit(&f, mk_alert_of("a-4", "fp-4", T0 + 8 * MIN, NULL, LH_ALERT_FIRING)),
                     1);
    ck_assert_int_eq(count_sql(&f, "SELECT count(*) FROM cases"), 4);
    fx_done(&f);
}
END_TEST

/* Repeated notifications of one firing alert (same fingerprint, until it resolves) are one
 * outcome; firing again after the resolution is a new one. */
START_TEST(test_repeated_notifications)
{
    fx_t f;
    fx_init(&f);
    submit(&f,
           mk_deploy("d-1", "D-1", LH_DEPLOY_SUCCEEDED, T0, "api", "prod", NULL, "2", "1", NULL));
    ck_assert_int_eq(submit(&f, mk_alert_of("a-1", "c0ffee", T0 + 5 * MIN, NULL, LH_ALERT_FIRING)),
                     1);
    ck_assert_int_eq(
        submit(&f, mk_alert_of("a-2", "c0ffee", T0 + 10 * MIN, "web-1", LH_ALERT_FIRING)), 0);
    ck_assert_int_eq(submit(&f, mk_alert_of("a-3", "c0ffee", T0 + 15 * MIN, NULL, LH_ALERT_FIRING)),
                     0);
    ck_assert_int_eq(count_sql(&f, "SELECT count(*) FROM outcomes"), 1);
    ck_assert_int_eq(count_sql(&f, "SELECT count(*) FROM alerts"), 1);
    /* resolved: the final revision; firing again later: a new outcome and alert */
    ck_assert_int_eq(
        submit(&f, mk_alert_of("a-4", "c0ffee", T0 + 20 * MIN, NULL, LH_ALERT_RESOLVED)), 1);
    ck_assert_int_eq(submit(&f, mk_alert_of("a-5", "c0ffee", T0 + 40 * MIN, NULL, LH_ALERT_FIRING)),
                     1);
    ck_assert_int_eq(count_sql(&f, "SELECT count(*) FROM outcomes"), 2);
    ck_assert_int_eq(count_sql(&f, "SELECT count(*) FROM cases"), 2);
    ck_assert_int_eq(count_sql(&f, "SELECT count(*) FROM alerts"), 3);
    /* a resolution of nothing open is stored and concludes nothing */
    ck_assert_int_eq(submit(&f, mk_alert_of("a-6", "dead", T0 + 41 * MIN, NULL, LH_ALERT_RESOLVED)),
                     0);
    ck_assert_int_eq(count_sql(&f, "SELECT count(*) FROM outcomes"), 2);
    fx_done(&f);
}
END_TEST

/* Two suspect changes of one service (1.0.12, then 1.0.13): roll back to what ran before the
 * earlier, 1.0.11, not to 1.0.12, the other suspect (the old answer). */
START_TEST(test_rollback_before_earliest_suspect)
{
    fx_t f;
    fx_init(&f);
    submit(&f, mk_deploy("d-11", "D-11", LH_DEPLOY_SUCCEEDED, T0 - 3 * 3600 * LH_NS_PER_SEC, "api",
                         "prod", NULL, "1.0.11", "1.0.10", NULL));
    submit(&f, mk_deploy("d-12", "D-12", LH_DEPLOY_SUCCEEDED, T0, "api", "prod", NULL, "1.0.12",
                         "1.0.11", NULL));
    submit(&f, mk_deploy("d-13", "D-13", LH_DEPLOY_SUCCEEDED, T0 + 10 * MIN, "api", "prod", NULL,
                         "1.0.13", "1.0.12", NULL));
    ck_assert_int_eq(submit(&f, mk_incident("i-1", T0 + 15 * MIN, "api", "prod", NULL,
                                            LH_INCIDENT_DETECTED, NULL)),
                     1);
    alerts_t al;
    read_alerts(&f, &al);
    ck_assert_uint_eq(al.n, 1);
    lh_correlated_t *a = al.a[0];
    ck_assert_uint_eq(a->n_suspects, 2);
    ck_assert_str_eq(a->suspects[0].deploy_id, "D-13");
    ck_assert_str_eq(a->rollback_version, "1.0.11");
    ck_assert_uint_eq(a->n_rollbacks, 1);
    ck_assert_str_eq(a->rollbacks[0].deploy_id, "D-12");
    ck_assert_str_eq(a->rollbacks[0].from_version, "1.0.12");
    ck_assert_str_eq(a->rollbacks[0].version, "1.0.11");
    ck_assert_int_eq(a->rollbacks[0].derived, 0);
    free_alerts(&al);
    fx_done(&f);
}
END_TEST

/* A deploy without previous_version gets the version of the last change of its service and
 * environment that succeeded (stored as derived); a change rolled back since does not count;
 * with no history at all the rollback target is unknown, and the alert says so. */
START_TEST(test_previous_version_from_history)
{
    fx_t f;
    fx_init(&f);
    /* the first deploy ever: nothing to derive */
    submit(&f, mk_deploy("d-1", "D-1", LH_DEPLOY_SUCCEEDED, T0 - 3 * 3600 * LH_NS_PER_SEC, "api",
                         "prod", NULL, "1.0.11", NULL, NULL));
    ck_assert_int_eq(count_sql(&f, "SELECT count(*) FROM events WHERE id = 'd-1' AND"
                                   " previous_version IS NULL AND previous_derived IS NULL"),
                     1);
    /* 1.0.12 succeeded and was rolled back later; staging deploys are another environment */
    submit(&f, mk_deploy("d-2", "D-2", LH_DEPLOY_SUCCEEDED, T0 - 2 * 3600 * LH_NS_PER_SEC, "api",
                         "prod", NULL, "1.0.12", NULL, NULL));
    submit(&f, mk_deploy("d-2r", "D-2", LH_DEPLOY_ROLLED_BACK, T0 - 2 * 3600 * LH_NS_PER_SEC + MIN,
                         "api", "prod", NULL, NULL, NULL, NULL));
    submit(&f, mk_deploy("d-s", "D-S", LH_DEPLOY_SUCCEEDED, T0 - MIN, "api", "staging", NULL,
                         "1.0.99", NULL, NULL));
    submit(&f, mk_deploy("d-3", "D-3", LH_DEPLOY_SUCCEEDED, T0, "api", "prod", NULL, "1.0.13", NULL,
                         NULL));
    ck_assert_int_eq(count_sql(&f, "SELECT count(*) FROM events WHERE id = 'd-2' AND"
                                   " previous_version = '1.0.11' AND previous_derived = 1"),
                     1);
    ck_assert_int_eq(count_sql(&f, "SELECT count(*) FROM events WHERE id = 'd-3' AND"
                                   " previous_version = '1.0.11' AND previous_derived = 1"),
                     1);
    ck_assert_int_eq(submit(&f, mk_incident("i-1", T0 + 5 * MIN, "api", "prod", NULL,
                                            LH_INCIDENT_DETECTED, NULL)),
                     1);
    alerts_t al;
    read_alerts(&f, &al);
    ck_assert_uint_eq(al.n, 1);
    ck_assert_str_eq(al.a[0]->suspects[0].previous_version, "1.0.11");
    ck_assert_int_eq(al.a[0]->suspects[0].previous_version_derived, 1);
    ck_assert_str_eq(al.a[0]->rollback_version, "1.0.11");
    ck_assert_int_eq(al.a[0]->rollbacks[0].derived, 1);
    free_alerts(&al);

    /* a service with one deploy and no history: the target is unknown, named as such */
    submit(&f,
           mk_deploy("d-w", "D-W", LH_DEPLOY_SUCCEEDED, T0, "web", "prod", NULL, "5", NULL, NULL));
    ck_assert_int_eq(submit(&f, mk_incident("i-2", T0 + 5 * MIN, "web", "prod", NULL,
                                            LH_INCIDENT_DETECTED, NULL)),
                     1);
    read_alerts(&f, &al);
    ck_assert_uint_eq(al.n, 2);
    ck_assert_ptr_null(al.a[1]->rollback_version);
    ck_assert_uint_eq(al.a[1]->n_rollbacks, 1);
    ck_assert_str_eq(al.a[1]->rollbacks[0].service, "web");
    ck_assert_ptr_null(al.a[1]->rollbacks[0].version);
    ck_assert_str_eq(al.a[1]->rollbacks[0].from_version, "5");
    free_alerts(&al);
    fx_done(&f);
}
END_TEST

/* A window holding 120 changes of the service: the alert lists --max-suspects of them (the most
 * recent, best scored), counts the others, says the window is unusually busy, and records pairs
 * for the listed ones only. (Before: every change was listed: 227 KB alerts, 643,500 rows.) */
START_TEST(test_max_suspects_bounded)
{
    fx_t f;
    fx_init(&f);
    fx_close(&f);
    f.o.max_suspects = 10;
    fx_open(&f);
    for (int i = 0; i < 120; i++) {
        char id[32], did[32];
        snprintf(id, sizeof(id), "d-%d", i);
        snprintf(did, sizeof(did), "D-%03d", i);
        submit(&f, mk_deploy(id, did, LH_DEPLOY_SUCCEEDED, T0 + i * 30 * LH_NS_PER_SEC, "api",
                             "prod", NULL, "2", "1", NULL));
    }
    ck_assert_int_eq(submit(&f, mk_incident("i-1", T0 + 61 * MIN, "api", "prod", NULL,
                                            LH_INCIDENT_DETECTED, NULL)),
                     1);
    alerts_t al;
    read_alerts(&f, &al);
    ck_assert_uint_eq(al.n, 1);
    ck_assert_uint_eq(al.a[0]->n_suspects, 10);
    ck_assert_uint_eq(al.a[0]->more_suspects, 110);
    ck_assert_str_eq(al.a[0]->suspects[0].deploy_id, "D-119");
    ck_assert_str_eq(al.a[0]->suspects[9].deploy_id, "D-110");
    ck_assert_reason(&al.a[0]->suspects[0],
                     "one of 120 related changes in the window: an unusually "
                     "busy one, so this ranking is weak");
    free_alerts(&al);
    ck_assert_int_eq(count_sql(&f, "SELECT count(*) FROM correlations"), 10);
    fx_done(&f);
}
END_TEST

/* Past the lookups' limit (512 rows, most recent first) the count of the others is the window's
 * changes of the service, counted by the index: still exact for a one-service window. 600
 * deploys 10 s apart from T0 + offset, an incident 101 minutes after the first. */
static void
past_lookup_limit(int64_t offset)
{
    fx_t f;
    fx_init(&f); /* sets T0 */
    const int64_t start = T0 + offset;
    ck_assert_int_eq(lh_store_begin(f.st), 0);
    lh_buf_t pb = LH_BUF_INIT;
    for (int i = 0; i < 600; i++) {
        char id[32], did[32];
        snprintf(id, sizeof(id), "d-%d", i);
        snprintf(did, sizeof(did), "D-%03d", i);
        lh_event_t *ev = mk_deploy(id, did, LH_DEPLOY_SUCCEEDED, start + i * 10 * LH_NS_PER_SEC,
                                   "api", "prod", NULL, "2", "1", NULL);
        lh_buf_reset(&pb);
        ck_assert_int_eq(lh_codec_pb_encode(ev, &pb), 0);
        int64_t seq = 0;
        ck_assert_int_eq(lh_store_insert_event(f.st, ev, 0, pb.data, pb.len, &seq), 0);
        ck_assert_int_ge(lh_correlator_add(f.c, ev, seq, NOW), 0);
        lh_event_destroy(&ev);
    }
    lh_buf_free(&pb);
    ck_assert_int_eq(lh_store_commit(f.st), 0);
    ck_assert_int_eq(submit(&f, mk_incident("i-1", start + 101 * MIN, "api", "prod", NULL,
                                            LH_INCIDENT_DETECTED, NULL)),
                     1);
    alerts_t al;
    read_alerts(&f, &al);
    ck_assert_uint_eq(al.n, 1);
    ck_assert_uint_eq(al.a[0]->n_suspects, 10);
    ck_assert_uint_eq(al.a[0]->more_suspects, 590);
    ck_assert_str_eq(al.a[0]->suspects[0].deploy_id, "D-599");
    ck_assert_str_eq(al.a[0]->suspects[9].deploy_id, "D-590");
    ck_assert_reason(&al.a[0]->suspects[0], "one of 600 related changes in the window: an "
                                            "unusually busy one, so this ranking is weak");
    free_alerts(&al);
    fx_done(&f);
}

START_TEST(test_max_suspects_past_lookup_limit)
{
    past_lookup_limit(0); /* 10:00-11:40, one 4-hour bucket of the store's indexes */
}
END_TEST

/* The same across a bucket boundary (10:21:40-12:01:30; the store's indexes start a bucket at
 * 12:00, so the older bucket alone holds more than the limit): the lookups walk the newest
 * bucket first, so the limit keeps the newest changes, and the count of the others counts each
 * change once. */
START_TEST(test_max_suspects_past_lookup_limit_buckets)
{
    past_lookup_limit(1300 * LH_NS_PER_SEC);
}
END_TEST

/* ---- suite ---------------------------------------------------------------------------------- */

/* ---- retention ------------------------------------------------------------------------------ */

static int
expire_all(fx_t *f, const lh_store_retention_t *r, int64_t now, int budget, lh_store_expired_t *sum)
{
    memset(sum, 0, sizeof(*sum));
    int steps = 0;
    lh_store_expired_t x;
    do {
        ck_assert_int_eq(lh_store_expire(f->st, r, now, budget, &x), 0);
        for (int k = 0; k < 5; k++)
            sum->events[k] += x.events[k];
        sum->alerts += x.alerts;
        sum->quarantine += x.quarantine;
        ck_assert_int_lt(++steps, 1000);
    } while (x.more);
    return steps;
}

/* Events past their kind's retention go in small steps with what hangs on them: host rows,
 * ticket links, an outcome's row, correlations and case, the outbox rows every sink delivered.
 * What is kept still correlates, the tally follows, and an undelivered alert stays. */
START_TEST(test_retention)
{
    fx_t f;
    fx_init(&f);
    const int64_t OLD = T0 - 10 * 24 * HOUR;
    /* the old world: a change, an incident it is blamed for, a ticket, a firing alert period */
    submit_now = OLD + HOUR;
    ck_assert_int_eq(submit(&f, mk_deploy("d-old", "D-OLD", LH_DEPLOY_SUCCEEDED, OLD, "api", "prod",
                                          "web-1", "1", "0", NULL)),
                     0);
    ck_assert_int_eq(submit(&f, mk_incident("i-old", OLD + 5 * MIN, "api", "prod", "web-1",
                                            LH_INCIDENT_DETECTED, NULL)),
                     1);
    lh_event_t *t = mk_base(LH_KIND_TICKET, "t-old", OLD + MIN, NULL, NULL, NULL);
    t->ticket.ticket_id = lh_event_str(t, "CHG-1", (size_t)-1);
    t->ticket.state = LH_TICKET_APPROVED;
    ck_assert_int_eq(lh_event_add_link(t, "D-OLD", (size_t)-1), 0);
    ck_assert_int_eq(submit(&f, t), 0);
    for (int i = 0; i < 30; i++) { /* more rows than one step looks at */
        char id[16];
        snprintf(id, sizeof(id), "a-old-%d", i);
        submit(&f, mk_alert_of(id, "fp-old", OLD + (10 + i) * MIN, "web-1", LH_ALERT_FIRING));
    }
    /* the world now */
    submit_now = T0 + HOUR;
    ck_assert_int_eq(submit(&f, mk_deploy("d-new", "D-NEW", LH_DEPLOY_SUCCEEDED, T0, "api", "prod",
                                          "web-1", "2", "1", NULL)),
                     0);
    ck_assert_int_eq(submit(&f, mk_incident("i-new", T0 + 5 * MIN, "api", "prod", "web-1",
                                            LH_INCIDENT_DETECTED, NULL)),
                     1);
    int64_t events = count_sql(&f, "SELECT count(*) FROM events");
    int64_t n_outbox = count_sql(&f, "SELECT count(*) FROM alerts");
    ck_assert_int_ge(n_outbox, 3); /* the old incident's, the old alert period's, the new one */
    /* one sink, which delivered all but the first alert and the newest */
    lh_store_sink_t sink;
    ck_assert_int_eq(lh_store_sink_register(f.st, "zmq-pub", &sink), 0);
    int64_t max_alert = count_sql(&f, "SELECT max(seq) FROM alerts");
    for (int64_t a = 2; a < max_alert; a++)
        ck_assert_int_eq(lh_store_alert_done(f.st, sink, a), 0);

    lh_store_retention_t r;
    lh_store_retention_default(&r);
    for (int k = 1; k < 5; k++)
        r.keep_ns[k] = 2 * 24 * HOUR;
    lh_store_expired_t sum;
    int steps = expire_all(&f, &r, T0 + 2 * HOUR, 8, &sum);
    /* the first alert is not delivered: nothing of the outbox goes (the sink's mark is below) */
    ck_assert_int_eq(sum.alerts, 0);
    ck_assert_int_eq(count_sql(&f, "SELECT count(*) FROM alerts"), n_outbox);
    ck_assert_int_eq(lh_store_alert_done(f.st, sink, 1), 0);
    lh_store_expired_t more;
    expire_all(&f, &r, T0 + 2 * HOUR, 8, &more);
    sum.alerts = more.alerts;
    ck_assert_int_gt(steps, 2); /* small steps */
    ck_assert_int_eq(sum.events[LH_KIND_DEPLOY], 1);
    ck_assert_int_eq(sum.events[LH_KIND_INCIDENT], 1);
    ck_assert_int_eq(sum.events[LH_KIND_TICKET], 1);
    ck_assert_int_eq(sum.events[LH_KIND_ALERT], 30);
    ck_assert_int_eq(count_sql(&f, "SELECT count(*) FROM events"), events - 33);
    ck_assert_int_eq(count_sql(&f, "SELECT count(*) FROM events WHERE id LIKE '%-old%'"), 0);
    ck_assert_int_eq(count_sql(&f, "SELECT count(*) FROM event_hosts WHERE seq NOT IN"
                                   " (SELECT seq FROM events)"),
                     0);
    ck_assert_int_eq(count_sql(&f, "SELECT count(*) FROM ticket_links"), 0);
    ck_assert_int_eq(count_sql(&f, "SELECT count(*) FROM outcomes WHERE first_seq NOT IN"
                                   " (SELECT seq FROM events)"),
                     0);
    ck_assert_int_eq(count_sql(&f, "SELECT count(*) FROM correlations WHERE outcome_seq NOT IN"
                                   " (SELECT seq FROM events)"),
                     0);
    ck_assert_int_eq(count_sql(&f, "SELECT count(*) FROM cases WHERE id NOT IN"
                                   " (SELECT case_id FROM outcomes WHERE case_id IS NOT NULL)"),
                     0);
    /* the old alerts were delivered and are gone; the newest was not, and stays */
    ck_assert_int_eq(sum.alerts, n_outbox - count_sql(&f, "SELECT count(*) FROM alerts"));
    ck_assert_int_eq(count_sql(&f, "SELECT max(seq) FROM alerts"), max_alert);
    ck_assert_int_ge(sum.alerts, 2);
    int64_t pending = 0;
    ck_assert_int_eq(lh_store_alert_pending_count(f.st, sink, &pending), 0);
    ck_assert_int_eq(pending, 1);

    /* the tally follows, and names the oldest kept */
    lh_store_stats_t st;
    ck_assert_int_eq(lh_store_stats(f.st, &st), 0);
    ck_assert_int_eq(st.events, events - 33);
    ck_assert_int_eq(st.events_by_kind[LH_KIND_DEPLOY], 1);
    ck_assert_int_eq(st.oldest_by_kind[LH_KIND_DEPLOY], T0);
    ck_assert_int_eq(st.oldest_by_kind[LH_KIND_TICKET], 0);
    ck_assert_int_eq(st.events_by_kind[LH_KIND_TICKET], 0);

    /* nothing more to do; what is kept still correlates */
    expire_all(&f, &r, T0 + 2 * HOUR, 8, &sum);
    ck_assert_int_eq(sum.events[LH_KIND_ALERT] + sum.events[LH_KIND_DEPLOY] + sum.alerts, 0);
    ck_assert_int_eq(submit(&f, mk_incident("i-new2", T0 + 10 * MIN, "api", "prod", "web-1",
                                            LH_INCIDENT_DETECTED, NULL)),
                     1);
    /* an event older than the walk's position is still found: it moves the walk back */
    submit_now = 0;
    ck_assert_int_eq(submit(&f, mk_deploy("d-late", "D-LATE", LH_DEPLOY_SUCCEEDED, OLD, "web",
                                          "prod", "web-9", "1", "0", NULL)),
                     0);
    expire_all(&f, &r, T0 + 2 * HOUR, 8, &sum);
    ck_assert_int_eq(sum.events[LH_KIND_DEPLOY], 1);
    fx_done(&f);
}
END_TEST

/* ---- the rules of docs/correlation.md, one row each ---------------------------------------- */

/* Every row: its deploy events (submitted in this order, before the outcome), one outcome and
 * what the docs say comes of it: the suspects in rank order with the exact rounded score, the
 * lead and every reason, and the alert's id as a fixed string (the id scheme is a contract:
 * "every revision, every hub and every restart names it alike", so a change of it must fail
 * here, not follow the code). Times are minutes or ns before the outcome at OT. */
#define OT (T0 + 3 * HOUR)
#define MAX_ROW_DEPLOYS 4
#define MAX_ROW_SUSPECTS 3

typedef struct {
    const char *deploy_id;
    lh_deploy_status_t status;
    int64_t before; /* ns before OT */
    const char *service, *env, *hosts, *artifact;
} row_deploy_t;

typedef struct {
    const char *deploy_id;
    double score;
    int lead_s;
    const char *reasons[6];
} row_suspect_t;

typedef struct {
    const char *name;
    row_deploy_t deploys[MAX_ROW_DEPLOYS];
    lh_kind_t outcome_kind; /* incident (INC-i-1) or alert (fingerprint fp-a-1) */
    const char *service, *env, *hosts, *artifact;
    const char *alert_id; /* NULL: no alert */
    row_suspect_t suspects[MAX_ROW_SUSPECTS];
} doc_row_t;

#define ART_API "pkg:oci/api@sha256:1111"
#define ART_WEB "pkg:oci/web@sha256:2222"
/* the rows' other alert ids are worked out like ID_INC_PROD */

static const doc_row_t doc_rows[] = {
    {"service and hosts, 5m before: 0.50 + 0.15 + 0.25 x (1 - 5m/2h)",
     {{"D-1", LH_DEPLOY_SUCCEEDED, 5 * MIN, "api", "prod", "web-1 web-2", NULL}},
     LH_KIND_INCIDENT,
     "api",
     "prod",
     "web-2 web-1",
     NULL,
     ID_INC_PROD,
     {{"D-1",
       0.890,
       300,
       {"same service and environment (api in prod)", "deployed 5m before the incident",
        "shares hosts web-2, web-1"}}}},
    {"service only, 1h before: 0.50 + 0.25 x 1/2",
     {{"D-1", LH_DEPLOY_SUCCEEDED, 60 * MIN, "api", "prod", NULL, NULL}},
     LH_KIND_INCIDENT,
     "api",
     "prod",
     "web-1",
     NULL,
     ID_INC_PROD,
     {{"D-1",
       0.625,
       3600,
       {"same service and environment (api in prod)", "deployed 1h before the incident"}}}},
    {"artifact of another service, 24m before: 0.60 + 0.25 x 0.8",
     {{"D-1", LH_DEPLOY_SUCCEEDED, 24 * MIN, "web", "prod", NULL, ART_WEB}},
     LH_KIND_INCIDENT,
     "api",
     "prod",
     NULL,
     ART_WEB,
     ID_INC_PROD,
     {{"D-1",
       0.800,
       1440,
       {"the incident names artifact " ART_WEB ", which this change shipped",
        "deployed 24m before the incident"}}}},
    {"artifact, same service and hosts, 1h12m before: 0.60 + 0.15 + 0.25 x 0.4 (the service adds a "
     "reason, no score)",
     {{"D-1", LH_DEPLOY_SUCCEEDED, 72 * MIN, "api", "prod", "web-1", ART_API}},
     LH_KIND_INCIDENT,
     "api",
     "prod",
     "web-1",
     ART_API,
     ID_INC_PROD,
     {{"D-1",
       0.850,
       4320,
       {"the incident names artifact " ART_API ", which this change shipped",
        "same service and environment (api in prod)", "deployed 1h12m before the incident",
        "shares host web-1"}}}},
    {"shared host only, 10m before: 0.25 + 0.25 x (1 - 10m/2h), the other service named",
     {{"D-1", LH_DEPLOY_SUCCEEDED, 10 * MIN, "db", "prod", "web-1 db-1", NULL}},
     LH_KIND_INCIDENT,
     "api",
     "prod",
     "web-1",
     NULL,
     ID_INC_PROD,
     {{"D-1",
       0.479,
       600,
       {"shares host web-1 with the incident (service db)", "deployed 10m before the incident"}}}},
    {"the window's edge, exactly 2h before: the relation's weight alone",
     {{"D-1", LH_DEPLOY_SUCCEEDED, 120 * MIN, "api", "prod", NULL, NULL}},
     LH_KIND_INCIDENT,
     "api",
     "prod",
     NULL,
     NULL,
     ID_INC_PROD,
     {{"D-1",
       0.500,
       7200,
       {"same service and environment (api in prod)", "deployed 2h before the incident"}}}},
    {"a lead under a second: full recency, rounded, and no duration",
     {{"D-1", LH_DEPLOY_SUCCEEDED, 400 * 1000 * 1000LL, "api", "prod", NULL, NULL}},
     LH_KIND_INCIDENT,
     "api",
     "prod",
     NULL,
     NULL,
     ID_INC_PROD,
     {{"D-1",
       0.750,
       0,
       {"same service and environment (api in prod)",
        "deployed at the same moment as the incident began"}}}},
    {"still deploying: started 15m before, 0.50 + 0.25 x 7/8 = 0.71875",
     {{"D-1", LH_DEPLOY_STARTED, 15 * MIN, "api", "prod", NULL, NULL}},
     LH_KIND_INCIDENT,
     "api",
     "prod",
     NULL,
     NULL,
     ID_INC_PROD,
     {{"D-1",
       0.719,
       900,
       {"same service and environment (api in prod)", "started 15m before the incident",
        "still deploying when the incident began"}}}},
    {"rounded scores tie (0.8896 and 0.8900 are both 0.890): the shorter lead first",
     {{"D-far", LH_DEPLOY_SUCCEEDED, 3168 * LH_NS_PER_SEC, "web", "prod", "web-1", ART_WEB},
      {"D-near", LH_DEPLOY_SUCCEEDED, 5 * MIN, "api", "prod", "web-1", NULL}},
     LH_KIND_INCIDENT,
     "api",
     "prod",
     "web-1",
     ART_WEB,
     ID_INC_PROD,
     {{"D-near",
       0.890,
       300,
       {"same service and environment (api in prod)", "deployed 5m before the incident",
        "shares host web-1"}},
      {"D-far",
       0.890,
       3168,
       {"the incident names artifact " ART_WEB ", which this change shipped",
        "deployed 52m48s before the incident", "shares host web-1"}}}},
    {"same score and lead: by deploy_id, whatever the arrival order",
     {{"D-b", LH_DEPLOY_SUCCEEDED, 30 * MIN, "api", "prod", NULL, NULL},
      {"D-a", LH_DEPLOY_SUCCEEDED, 30 * MIN, "api", "prod", NULL, NULL}},
     LH_KIND_INCIDENT,
     "api",
     "prod",
     NULL,
     NULL,
     ID_INC_PROD,
     {{"D-a",
       0.688,
       1800,
       {"same service and environment (api in prod)", "deployed 30m before the incident"}},
      {"D-b",
       0.688,
       1800,
       {"same service and environment (api in prod)", "deployed 30m before the incident"}}}},
    {"no environment on either side: the same (missing) environment; a prod deploy is not",
     {{"D-prod", LH_DEPLOY_SUCCEEDED, 5 * MIN, "api", "prod", NULL, NULL},
      {"D-none", LH_DEPLOY_SUCCEEDED, 20 * MIN, "api", NULL, NULL, NULL}},
     LH_KIND_INCIDENT,
     "api",
     NULL,
     NULL,
     NULL,
     "51bf222cf708fb78",
     {{"D-none", 0.708, 1200, {"same service (api)", "deployed 20m before the incident"}}}},
    {"a deploy without environment never explains a prod incident",
     {{"D-none", LH_DEPLOY_SUCCEEDED, 5 * MIN, "api", NULL, NULL, NULL}},
     LH_KIND_INCIDENT,
     "api",
     "prod",
     NULL,
     NULL,
     NULL,
     {{NULL}}},
    {"more than five shared hosts: five named, then and N more",
     {{"D-1", LH_DEPLOY_SUCCEEDED, 60 * MIN, "api", "prod", "h-1 h-2 h-3 h-4 h-5 h-6 h-7", NULL}},
     LH_KIND_INCIDENT,
     "api",
     "prod",
     "h-1 h-2 h-3 h-4 h-5 h-6 h-7",
     NULL,
     ID_INC_PROD,
     {{"D-1",
       0.775,
       3600,
       {"same service and environment (api in prod)", "deployed 1h before the incident",
        "shares hosts h-1, h-2, h-3, h-4, h-5 and 2 more"}}}},
    {"a monitoring alert: 'the alert', and the id from fingerprint, environment and start",
     {{"D-1", LH_DEPLOY_SUCCEEDED, 5 * MIN, "api", "prod", NULL, NULL}},
     LH_KIND_ALERT,
     "api",
     "prod",
     NULL,
     NULL,
     "897633b13fb5e233",
     {{"D-1",
       0.740,
       300,
       {"same service and environment (api in prod)", "deployed 5m before the alert"}}}},
};

/* the out-of-order rows: change events whose arrival order differs from their time order */
typedef struct {
    const char *event_id, *deploy_id;
    lh_deploy_status_t status;
    int64_t before;
} row_event_t;

static const struct {
    const char *name;
    row_event_t events[3];
    int suspect; /* D-1 a suspect after all three events */
    int lead_s;  /* from the change's first event by time */
    double score;
    const char *when; /* its timing reason */
} order_rows[] = {
    {"succeeded arrives before started: the change's time is its first event by time",
     {{"d-1b", "D-1", LH_DEPLOY_SUCCEEDED, 10 * MIN}, {"d-1a", "D-1", LH_DEPLOY_STARTED, 20 * MIN}},
     1,
     1200,
     0.708,
     "deployed 20m before the incident"},
    {"a failed event later in time, arriving last: the change failed, no suspect",
     {{"d-1a", "D-1", LH_DEPLOY_STARTED, 20 * MIN},
      {"d-1b", "D-1", LH_DEPLOY_SUCCEEDED, 15 * MIN},
      {"d-1c", "D-1", LH_DEPLOY_FAILED, 10 * MIN}},
     0,
     0,
     0,
     NULL},
    {"a failed event earlier in time, arriving last: the status is still the later succeeded",
     {{"d-1a", "D-1", LH_DEPLOY_STARTED, 20 * MIN},
      {"d-1b", "D-1", LH_DEPLOY_SUCCEEDED, 10 * MIN},
      {"d-1c", "D-1", LH_DEPLOY_FAILED, 15 * MIN}},
     1,
     1200,
     0.708,
     "deployed 20m before the incident"},
};

static double
stored_score(fx_t *f, const char *deploy_id, int *rank)
{
    sqlite3_stmt *s = NULL;
    ck_assert_int_eq(sqlite3_prepare_v2(lh__store_db(f->st),
                                        "SELECT score, rank FROM correlations WHERE deploy_id = ?1",
                                        -1, &s, NULL),
                     SQLITE_OK);
    sqlite3_bind_text(s, 1, deploy_id, -1, SQLITE_STATIC);
    ck_assert_msg(sqlite3_step(s) == SQLITE_ROW, "no correlation stored for %s", deploy_id);
    double v = sqlite3_column_double(s, 0);
    *rank = sqlite3_column_int(s, 1);
    ck_assert_int_eq(sqlite3_step(s), SQLITE_DONE);
    sqlite3_finalize(s);
    return v;
}

static void
check_row_alert(fx_t *f, const char *name, const char *alert_id, const row_suspect_t *want)
{
    alerts_t al;
    read_alerts(f, &al);
    if (!alert_id) {
        ck_assert_msg(al.n == 0, "%s: %zu alerts, none expected", name, al.n);
        ck_assert_int_eq(count_sql(f, "SELECT count(*) FROM correlations"), 0);
        return;
    }
    ck_assert_msg(al.n == 1, "%s: %zu alerts, one expected", name, al.n);
    lh_correlated_t *a = al.a[0];
    assert_alert_id(a, alert_id, name);
    size_t n = 0;
    while (n < MAX_ROW_SUSPECTS && want[n].deploy_id)
        n++;
    ck_assert_msg(a->n_suspects == n, "%s: %zu suspects, expected %zu", name, a->n_suspects, n);
    ck_assert_int_eq(count_sql(f, "SELECT count(*) FROM correlations"), (int64_t)n);
    for (size_t i = 0; i < n; i++) {
        const lh_suspect_t *s = &a->suspects[i];
        ck_assert_msg(strcmp(s->deploy_id, want[i].deploy_id) == 0, "%s: rank %zu is %s, not %s",
                      name, i + 1, s->deploy_id, want[i].deploy_id);
        /* exact: the docs round to three decimals, so 0.890 is 0.890, not 0.8896 */
        ck_assert_msg(s->score == want[i].score, "%s: %s scores %.6f, expected %.3f", name,
                      s->deploy_id, s->score, want[i].score);
        ck_assert_int_eq(s->lead_seconds, want[i].lead_s);
        size_t nr = 0;
        while (nr < 6 && want[i].reasons[nr])
            nr++;
        ck_assert_msg(s->n_reasons == nr, "%s: %s has %zu reasons, expected %zu (first: %s)", name,
                      s->deploy_id, s->n_reasons, nr, s->n_reasons ? s->reasons[0] : "");
        for (size_t r = 0; r < nr; r++)
            ck_assert_str_eq(s->reasons[r], want[i].reasons[r]);
        /* what the store keeps for the timeline and the audit is what was published */
        int rank = 0;
        ck_assert_msg(stored_score(f, s->deploy_id, &rank) == want[i].score,
                      "%s: correlations.score of %s differs from the alert's", name, s->deploy_id);
        ck_assert_int_eq(rank, (int)i + 1);
    }
    free_alerts(&al);
}

START_TEST(test_docs_table)
{
    const doc_row_t *row = &doc_rows[_i];
    fx_t f;
    fx_init(&f);
    for (int i = 0; i < MAX_ROW_DEPLOYS && row->deploys[i].deploy_id; i++) {
        const row_deploy_t *d = &row->deploys[i];
        char eid[32];
        snprintf(eid, sizeof(eid), "d-%d", i);
        ck_assert_int_eq(
            submit(&f, mk_deploy(eid, d->deploy_id, d->status, OT - d->before, d->service, d->env,
                                 d->hosts, "2.0.0", "1.9.0", d->artifact)),
            0);
    }
    lh_event_t *o;
    if (row->outcome_kind == LH_KIND_INCIDENT) {
        o = mk_incident("i-1", OT, row->service, row->env, row->hosts, LH_INCIDENT_DETECTED,
                        row->artifact);
    } else {
        o = mk_alert("a-1", OT, row->service, row->env, row->hosts, LH_ALERT_FIRING,
                     LH_SEV_CRITICAL);
        o->alert.artifact = lh_event_str(o, row->artifact, (size_t)-1);
    }
    ck_assert_int_eq(submit(&f, o), row->alert_id ? 1 : 0);
    check_row_alert(&f, row->name, row->alert_id, row->suspects);
    fx_done(&f);
}
END_TEST

START_TEST(test_change_events_out_of_order)
{
    fx_t f;
    fx_init(&f);
    /* a control suspect, so every row raises an alert and D-1's presence is the question */
    ck_assert_int_eq(submit(&f, mk_deploy("d-ok", "D-OK", LH_DEPLOY_SUCCEEDED, OT - 90 * MIN, "api",
                                          "prod", NULL, "1.0", "0.9", NULL)),
                     0);
    for (int i = 0; i < 3 && order_rows[_i].events[i].event_id; i++) {
        const row_event_t *e = &order_rows[_i].events[i];
        ck_assert_int_eq(submit(&f, mk_deploy(e->event_id, e->deploy_id, e->status, OT - e->before,
                                              "api", "prod", NULL, "2.0", "1.0", NULL)),
                         0);
    }
    ck_assert_int_eq(
        submit(&f, mk_incident("i-1", OT, "api", "prod", NULL, LH_INCIDENT_DETECTED, NULL)), 1);
    row_suspect_t want[MAX_ROW_SUSPECTS] = {{0}};
    const row_suspect_t ok = {
        "D-OK",
        0.563,
        5400,
        {"same service and environment (api in prod)", "deployed 1h30m before the incident"}};
    if (order_rows[_i].suspect) {
        want[0] =
            (row_suspect_t){"D-1",
                            order_rows[_i].score,
                            order_rows[_i].lead_s,
                            {"same service and environment (api in prod)", order_rows[_i].when}};
        want[1] = ok;
    } else {
        want[0] = ok;
    }
    check_row_alert(&f, order_rows[_i].name, ID_INC_PROD, want);
    fx_done(&f);
}
END_TEST

/* ---- the outcome's row, written column group by column group -------------------------------- */

/* Each update of an incident writes only what changed (outcome.c, oc_statement()): a new host
 * alone, a resolution, an earlier event. Each is read back through the index that must see it:
 * oc_ref by its time, oc_dora by its state, oc_case by its case. */
START_TEST(test_outcome_row_updates)
{
    fx_t f;
    fx_init(&f);
    ck_assert_int_eq(submit(&f, mk_deploy("d-1", "D-1", LH_DEPLOY_SUCCEEDED, T0, "api", "prod",
                                          "web-1", "1.4.2", "1.4.1", NULL)),
                     0);
    ck_assert_int_eq(
        submit(&f, mk_incident_of("i-1", "INC-U", T0 + 10 * MIN, "web-1", LH_INCIDENT_DETECTED)),
        1);
    /* a new host only: the facts, nothing indexed */
    submit(&f, mk_incident_of("i-2", "INC-U", T0 + 12 * MIN, "web-9", LH_INCIDENT_REPORTED));
    ck_assert_int_eq(count_sql(&f, "SELECT count(*) FROM outcomes WHERE ref = 'INC-U'"
                                   " AND hosts LIKE '%web-9%' AND hosts LIKE '%web-1%'"),
                     1);
    ck_assert_int_eq(count_sqlf(&f,
                                "SELECT count(*) FROM outcomes INDEXED BY oc_ref"
                                " WHERE ref = 'INC-U'"
                                " AND environment = 'prod' AND kind = 3 AND time = %lld",
                                (long long)(T0 + 10 * MIN)),
                     1);
    /* an earlier event: the time moves, in oc_ref and oc_dora */
    submit(&f, mk_incident_of("i-3", "INC-U", T0 + 8 * MIN, "web-1", LH_INCIDENT_DETECTED));
    ck_assert_int_eq(count_sqlf(&f,
                                "SELECT count(*) FROM outcomes INDEXED BY oc_ref"
                                " WHERE ref = 'INC-U'"
                                " AND environment = 'prod' AND kind = 3 AND time = %lld",
                                (long long)(T0 + 8 * MIN)),
                     1);
    ck_assert_int_eq(count_sqlf(&f,
                                "SELECT count(*) FROM outcomes INDEXED BY oc_dora"
                                " WHERE kind = 3 AND time = %lld"
                                " AND open = 1 AND top = 'D-1'",
                                (long long)(T0 + 8 * MIN)),
                     1);
    /* the case, through oc_case */
    ck_assert_int_eq(count_sql(&f, "SELECT count(*) FROM outcomes INDEXED BY oc_case"
                                   " WHERE case_id = (SELECT id FROM cases) AND ref = 'INC-U'"),
                     1);
    /* a case made later, by a late deploy: the outcome's case changes alone, in oc_case */
    ck_assert_int_eq(submit(&f, mk_incident("l-1", T0 + 40 * MIN, "pay", "prod", "pay-1",
                                            LH_INCIDENT_DETECTED, NULL)),
                     0);
    ck_assert_int_eq(submit(&f, mk_deploy("d-2", "D-2", LH_DEPLOY_SUCCEEDED, T0 + 35 * MIN, "pay",
                                          "prod", "pay-1", "2.0.1", "2.0.0", NULL)),
                     1);
    ck_assert_int_eq(count_sql(&f, "SELECT count(*) FROM outcomes INDEXED BY oc_case"
                                   " WHERE case_id IN (SELECT id FROM cases) AND ref = 'INC-l-1'"),
                     1);
    /* resolved: the state, in oc_dora */
    submit(&f, mk_incident_of("i-4", "INC-U", T0 + 30 * MIN, "web-1", LH_INCIDENT_RESOLVED));
    ck_assert_int_eq(count_sqlf(&f,
                                "SELECT count(*) FROM outcomes INDEXED BY oc_dora"
                                " WHERE kind = 3 AND time = %lld"
                                " AND open = 0 AND resolved = %lld",
                                (long long)(T0 + 8 * MIN), (long long)(T0 + 30 * MIN)),
                     1);
    fx_done(&f);
}
END_TEST

/* ---- the correlator's caches ---------------------------------------------------------------- */

/* Every row of a table, as text, in the order of sql. */
static void
dump_rows(fx_t *f, const char *sql, lh_buf_t *out)
{
    lh_buf_reset(out);
    sqlite3_stmt *s = NULL;
    ck_assert_int_eq(sqlite3_prepare_v2(lh__store_db(f->st), sql, -1, &s, NULL), SQLITE_OK);
    while (sqlite3_step(s) == SQLITE_ROW) {
        for (int i = 0; i < sqlite3_column_count(s); i++) {
            const unsigned char *v = sqlite3_column_blob(s, i);
            int n = sqlite3_column_bytes(s, i);
            ck_assert_int_eq(lh_buf_printf(out, "%d:%d:", sqlite3_column_type(s, i), n), 0);
            for (int k = 0; k < n; k++)
                ck_assert_int_eq(lh_buf_printf(out, "%02x", v[k]), 0);
            ck_assert_int_eq(lh_buf_append(out, "|", 1), 0);
        }
        ck_assert_int_eq(lh_buf_append(out, "\n", 1), 0);
    }
    sqlite3_finalize(s);
    ck_assert_int_eq(lh_buf_append(out, "", 1), 0); /* NUL-terminated */
}

/* The tables the correlator writes are the same in every fixture. */
static void
assert_same_tables(fx_t *f, size_t n, int step)
{
    static const char *const sql[] = {
        "SELECT * FROM outcomes ORDER BY first_seq",
        "SELECT * FROM cases ORDER BY id",
        "SELECT * FROM alerts ORDER BY seq",
        "SELECT * FROM correlations ORDER BY outcome_seq, deploy_id",
    };
    lh_buf_t want = LH_BUF_INIT, got = LH_BUF_INIT;
    for (size_t q = 0; q < sizeof(sql) / sizeof(sql[0]); q++) {
        dump_rows(&f[0], sql[q], &want);
        for (size_t i = 1; i < n; i++) {
            dump_rows(&f[i], sql[q], &got);
            ck_assert_msg(strcmp((const char *)want.data, (const char *)got.data) == 0,
                          "after event %d: \"%s\" differs between caches %s and none", step, sql[q],
                          i == 1 ? "as built" : "of four entries");
        }
    }
    lh_buf_free(&want);
    lh_buf_free(&got);
}

static uint64_t
rnd(uint64_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    return *x;
}

/* Submits ev to fixture m of a differential run, whose alerts written must be fixture 0's (*n0,
 * set by m == 0) after event `step`; or, discard: stores and correlates it in a batch that then
 * fails, so its writes are discarded. Consumes ev. */
static void
submit_or_discard(fx_t *f, int m, lh_event_t *ev, int discard, int *n0, int step)
{
    if (!discard) {
        int n = submit(&f[m], ev);
        ck_assert_int_ge(n, 0);
        if (m == 0)
            *n0 = n;
        ck_assert_msg(n == *n0, "event %d: %d alerts written with caches %s, %d without", step, n,
                      m == 1 ? "as built" : "of four entries", *n0);
        return;
    }
    lh_buf_t pb = LH_BUF_INIT;
    ck_assert_int_eq(lh_store_begin(f[m].st), 0);
    int outcome = lh_correlator_is_outcome(f[m].c, ev);
    ck_assert_int_eq(lh_store_event_encode(ev, outcome, &pb), 0);
    int64_t seq = 0;
    ck_assert_int_eq(lh_store_insert_event(f[m].st, ev, outcome, pb.data, pb.len, &seq), 0);
    ck_assert_int_ge(lh_correlator_add(f[m].c, ev, seq, submit_now), 0);
    ck_assert_int_eq(lh_store_rollback(f[m].st), 0);
    lh_buf_free(&pb);
    lh_event_destroy(&ev);
}

/* A hub whose correlator caches changes and outcome lookups writes what one without the caches
 * writes, event by event: alert periods that open, repeat, resolve and open again,
 * notifications older than a period's start (its time moves) or than the newest period (a late
 * one), incidents reported again after their resolution, changes that gain events, environments
 * NULL and named, batches rolled back after they correlated, retention deleting periods whose
 * fingerprints fire again, and a restart. One fixture has no caches, one the built ones, one of
 * four entries each (every eviction path). */
START_TEST(test_caches_same_as_store)
{
    enum { N = 3, EVENTS = 1600 };
    fx_t f[N];
    for (int m = 0; m < N; m++) {
        lh__c_test_caches(m == 0 ? 1 : m == 1 ? 0 : 2);
        fx_init(&f[m]);
    }
    static const char *const envs[] = {"prod", "staging", NULL};
    static const char *const svcs[] = {"api", "pay"};
    uint64_t x = 0x9e3779b97f4a7c15ULL;
    int64_t latest = T0;
    int rolled = 0, expired = 0, late = 0;
    lh_store_retention_t r;
    lh_store_retention_default(&r);
    r.keep_ns[LH_KIND_ALERT] = 3 * HOUR;
    r.keep_ns[LH_KIND_INCIDENT] = 5 * HOUR;
    for (int i = 0; i < EVENTS; i++) {
        uint64_t u = rnd(&x);
        int64_t t = T0 + (int64_t)i * MIN;
        if (u % 100 < 15) { /* late: up to three hours before its place */
            t -= (int64_t)(rnd(&x) % (3 * 60)) * MIN;
            late++;
        }
        if (t > latest)
            latest = t;
        const char *svc = svcs[rnd(&x) % 2];
        const char *env = envs[rnd(&x) % 3];
        char id[32], key[32], host[16];
        snprintf(id, sizeof(id), "e-%d", i);
        snprintf(host, sizeof(host), "%s-%d", svc, (int)(rnd(&x) % 3));
        int what = (int)(rnd(&x) % 100);
        int rollback = rnd(&x) % 100 < 3, n0 = 0;
        for (int m = 0; m < N; m++) {
            lh_event_t *ev;
            if (what < 12) {
                /* a few changes at a time, each gaining events (a failed one is no suspect) */
                static const lh_deploy_status_t sts[] = {LH_DEPLOY_STARTED, LH_DEPLOY_SUCCEEDED,
                                                         LH_DEPLOY_FAILED, LH_DEPLOY_ROLLED_BACK};
                snprintf(key, sizeof(key), "D-%d", i / 40 + (int)(u % 4));
                ev = mk_deploy(id, key, sts[(u >> 8) % 4], t, svc, env, host, "2.0", "1.9", NULL);
            } else if (what < 30) {
                snprintf(key, sizeof(key), "INC-%d", (int)(u % 5));
                ev = mk_incident(id, t, svc, env, host,
                                 (u >> 8) % 3 == 0 ? LH_INCIDENT_RESOLVED : LH_INCIDENT_DETECTED,
                                 NULL);
                ev->incident.incident_id = lh_event_str(ev, key, (size_t)-1);
            } else {
                snprintf(key, sizeof(key), "fp-%d", (int)(u % 9));
                ev = mk_alert(id, t, svc, env, host,
                              (u >> 8) % 10 < 3 ? LH_ALERT_RESOLVED : LH_ALERT_FIRING,
                              (u >> 16) % 10 == 0 ? LH_SEV_INFO : LH_SEV_ERROR);
                ev->alert.fingerprint = lh_event_str(ev, key, (size_t)-1);
            }
            submit_now = latest + MIN;
            submit_or_discard(f, m, ev, rollback, &n0, i);
        }
        rolled += rollback;
        if (i % 200 == 199) { /* retention, in small steps */
            for (int m = 0; m < N; m++) {
                lh_store_expired_t sum;
                expire_all(&f[m], &r, latest, 16, &sum);
                if (m == 0)
                    expired += (int)sum.events[LH_KIND_ALERT];
            }
        }
        if (i == EVENTS / 2) /* a restart: the cache starts empty */
            for (int m = 0; m < N; m++) {
                fx_close(&f[m]);
                lh__c_test_caches(m == 0 ? 1 : m == 1 ? 0 : 2);
                fx_open(&f[m]);
            }
        if (i % 400 == 399)
            assert_same_tables(f, N, i);
    }
    assert_same_tables(f, N, EVENTS);
    /* the script took the paths it is about */
    ck_assert_int_gt(rolled, 10);
    ck_assert_int_gt(expired, 500);
    ck_assert_int_gt(late, 100);
    ck_assert_int_gt(count_sql(&f[0], "SELECT count(*) FROM alerts"), 40);
    ck_assert_int_gt(count_sql(&f[0], "SELECT count(*) FROM outcomes WHERE kind = 2 AND open = 0"),
                     5);
    ck_assert_int_gt(count_sql(&f[0], "SELECT count(*) FROM outcomes WHERE environment IS NULL"),
                     5);
    lh__c_test_caches(0);
    for (int m = 0; m < N; m++)
        fx_done(&f[m]);
    submit_now = 0;
}
END_TEST

/* A notification that adds nothing to its outcome is not concluded again while nothing its last
 * conclusion read was written since (outcome.c, "memo"). Alerts that keep firing with the same
 * facts, among changes whose events move them between services and hosts (a change found by a
 * host it no longer names, or by a service it left), fail or roll back (no longer suspects),
 * share hosts across services, ship the artifact an alert names, and alerts that join another's
 * case; batches rolled back after they correlated, late events, and new options twice: the
 * correlator with its memos writes what one without any cache writes, event by event, and the
 * memos answered a good share of the notifications. */
START_TEST(test_memo_same_as_store)
{
    enum { N = 3, EVENTS = 2400 };
    fx_t f[N];
    for (int m = 0; m < N; m++) {
        lh__c_test_caches(m == 0 ? 1 : m == 1 ? 0 : 2);
        fx_init(&f[m]);
    }
    static const char *const svcs[] = {"api", "pay", "web", "auth", "cart"};
    static const char *const envs[] = {"prod", "staging"};
    static const lh_deploy_status_t sts[] = {LH_DEPLOY_STARTED, LH_DEPLOY_SUCCEEDED,
                                             LH_DEPLOY_SUCCEEDED, LH_DEPLOY_FAILED,
                                             LH_DEPLOY_ROLLED_BACK};
    uint64_t x = 0x2545f4914f6cdd1dULL;
    int64_t latest = T0;
    int rolled = 0;
    for (int i = 0; i < EVENTS; i++) {
        uint64_t u = rnd(&x);
        int64_t t = T0 + (int64_t)i * 20 * LH_NS_PER_SEC;
        if (u % 100 < 10) /* late: up to an hour before its place */
            t -= (int64_t)(rnd(&x) % 60) * MIN;
        if (t > latest)
            latest = t;
        int what = (int)(rnd(&x) % 100), rollback = rnd(&x) % 100 < 3;
        int fp = (int)(rnd(&x) % 16), svc = (int)(rnd(&x) % 5), host = (int)(rnd(&x) % 7);
        uint64_t v = rnd(&x);
        if (i == EVENTS / 3 || i == 2 * EVENTS / 3) /* new options: every memo is void */
            for (int m = 0; m < N; m++) {
                f[m].o.window_ns = i == EVENTS / 3 ? HOUR : 2 * HOUR;
                ck_assert_int_eq(lh_correlator_set_opts(f[m].c, &f[m].o), 0);
            }
        int n0 = 0;
        for (int m = 0; m < N; m++) {
            char id[32], key[32], hosts[16], art[16];
            snprintf(id, sizeof(id), "m-%d", i);
            lh_event_t *ev;
            if (what < 10) {
                /* a few changes at a time; an event may name another service or host */
                snprintf(key, sizeof(key), "D-%d", i / 50 + (int)(u % 6));
                snprintf(hosts, sizeof(hosts), "h%d", host);
                snprintf(art, sizeof(art), "pkg-%d", (int)(v % 3));
                ev = mk_deploy(id, key, sts[(u >> 8) % 5], t, svcs[svc], envs[(v >> 8) % 4 == 0],
                               hosts, "2.0", "1.9", (v >> 16) % 3 == 0 ? art : NULL);
            } else if (what < 13) {
                snprintf(key, sizeof(key), "INC-%d", (int)(u % 4));
                snprintf(hosts, sizeof(hosts), "h%d", (int)(u % 7));
                ev = mk_incident(id, t, svcs[u % 5], "prod", hosts,
                                 (u >> 8) % 8 == 0 ? LH_INCIDENT_RESOLVED : LH_INCIDENT_DETECTED,
                                 NULL);
                ev->incident.incident_id = lh_event_str(ev, key, (size_t)-1);
            } else {
                /* each fingerprint keeps its service, host and environment: repeats add
                 * nothing; two fingerprints of a service share its suspects (a join) */
                snprintf(key, sizeof(key), "fp-%d", fp);
                snprintf(hosts, sizeof(hosts), "h%d", fp % 7);
                ev = mk_alert(id, t, svcs[fp % 5], envs[fp >= 13], hosts,
                              (u >> 8) % 100 < 4 ? LH_ALERT_RESOLVED : LH_ALERT_FIRING,
                              LH_SEV_ERROR);
                ev->alert.fingerprint = lh_event_str(ev, key, (size_t)-1);
                if (fp % 4 == 0) {
                    snprintf(art, sizeof(art), "pkg-%d", fp % 3);
                    ev->alert.artifact = lh_event_str(ev, art, (size_t)-1);
                }
            }
            submit_now = latest + MIN;
            submit_or_discard(f, m, ev, rollback, &n0, i);
        }
        rolled += rollback;
        if (i % 300 == 299)
            assert_same_tables(f, N, i);
    }
    assert_same_tables(f, N, EVENTS);
    ck_assert_int_gt(rolled, 20);
    ck_assert_int_gt(count_sql(&f[0], "SELECT count(*) FROM (SELECT deploy_id FROM events"
                                      " WHERE kind = 1 GROUP BY deploy_id, environment"
                                      " HAVING count(DISTINCT service) > 1)"),
                     10);
    ck_assert_int_gt(count_sql(&f[0], "SELECT count(*) FROM alerts"), 40);
    ck_assert_int_gt(count_sql(&f[0], "SELECT count(*) FROM alerts WHERE revision > 1"), 20);
    lh_correlator_stats_t cs;
    lh_correlator_stats(f[1].c, &cs);
    uint64_t hits = cs.hits[LH_CORR_CACHE_CONCLUSIONS], miss = cs.misses[LH_CORR_CACHE_CONCLUSIONS];
    fprintf(stderr, "memo: %llu of %llu conclusions stood\n", (unsigned long long)hits,
            (unsigned long long)(hits + miss));
    ck_assert_uint_gt(hits, (hits + miss) / 4);
    lh_correlator_stats(f[0].c, &cs); /* no caches: no memos */
    ck_assert_uint_eq(cs.hits[LH_CORR_CACHE_CONCLUSIONS], 0);
    lh__c_test_caches(0);
    for (int m = 0; m < N; m++)
        fx_done(&f[m]);
    submit_now = 0;
}
END_TEST

/* The first outcome seq of fingerprint fp (0: none). */
static int64_t
first_seq_of(fx_t *f, const char *fp)
{
    char sql[128];
    snprintf(sql, sizeof(sql), "SELECT coalesce(max(first_seq), 0) FROM outcomes WHERE ref = '%s'",
             fp);
    return count_sql(f, sql);
}

/* A change related to an alert by its service, a host or its artifact arrives late, when over
 * the lookups' limit of newer notifications lie in its window: the deploy path concludes those
 * only. The alert's next notification adds nothing to it, yet its conclusion is made again (the
 * change wrote into one of its scopes) and names the change. */
START_TEST(test_memo_busy_window)
{
    for (int rel = 0; rel < 3; rel++) {
        fx_t f;
        fx_init(&f);
        const char *svc = rel == 0 ? "api" : "db", *art = rel == 2 ? "pkg-1" : NULL;
        lh_event_t *o = mk_alert_of("o-1", "fp-O", T0, "h1", LH_ALERT_FIRING);
        if (art)
            o->alert.artifact = lh_event_str(o, art, (size_t)-1);
        ck_assert_int_eq(submit(&f, o), 0); /* no change yet: nothing to publish */
        for (int i = 0; i < 600; i++) {
            /* another alert of the same relation, firing every second */
            char id[32];
            snprintf(id, sizeof(id), "n-%d", i);
            lh_event_t *ev =
                mk_alert(id, T0 + (i + 1) * LH_NS_PER_SEC, rel == 0 ? "api" : "web", "prod",
                         rel == 1 ? "h1" : "h5", LH_ALERT_FIRING, LH_SEV_ERROR);
            ev->alert.fingerprint = lh_event_str(ev, "fp-N", (size_t)-1);
            if (art)
                ev->alert.artifact = lh_event_str(ev, art, (size_t)-1);
            ck_assert_int_eq(submit(&f, ev), 0);
        }
        ck_assert_int_eq(submit(&f, mk_deploy("d-1", "D-1", LH_DEPLOY_SUCCEEDED, T0 - 5 * MIN, svc,
                                              "prod", rel == 1 ? "h1" : "h9", "2", "1", art)),
                         1); /* fp-N's alert, concluded by the deploy path */
        int64_t oseq = first_seq_of(&f, "fp-O");
        char sql[128];
        snprintf(sql, sizeof(sql), "SELECT count(*) FROM correlations WHERE outcome_seq = %lld",
                 (long long)oseq);
        ck_assert_int_eq(count_sql(&f, sql), 0); /* past the deploy path's limit */
        /* (an outcome keeps the artifact an earlier notification named) */
        ck_assert_int_eq(
            submit(&f, mk_alert_of("o-2", "fp-O", T0 + 20 * MIN, "h1", LH_ALERT_FIRING)), 1);
        ck_assert_msg(count_sql(&f, sql) == 1, "relation %d: the repeat did not conclude", rel);
        fx_done(&f);
    }
}
END_TEST

/* Two alerts share a case; a late change becomes the top suspect of the second only, whose
 * revision makes it the case's top. The first alert's next notification adds nothing to it, yet
 * it is concluded again (its case was written) and, as without memos, its own top suspect is
 * the case's again. */
START_TEST(test_memo_case_written)
{
    fx_t f;
    fx_init(&f);
    ck_assert_int_eq(submit(&f, mk_deploy("d-1", "D-1", LH_DEPLOY_SUCCEEDED, T0 - 30 * MIN, "api",
                                          "prod", "h9", "2", "1", NULL)),
                     0);
    ck_assert_int_eq(submit(&f, mk_alert_of("a-1", "fp-a", T0, "h1", LH_ALERT_FIRING)), 1);
    lh_event_t *b = mk_alert_of("b-1", "fp-b", T0 + MIN, "h2", LH_ALERT_FIRING);
    b->alert.artifact = lh_event_str(b, "pkg-2", (size_t)-1);
    ck_assert_int_eq(submit(&f, b), 1); /* joins fp-a's alert */
    ck_assert_int_eq(submit(&f, mk_deploy("d-2", "D-2", LH_DEPLOY_SUCCEEDED, T0 - 10 * MIN, "db",
                                          "prod", "h7", "3", "2", "pkg-2")),
                     1); /* the case's top is now D-2 */
    ck_assert_int_eq(submit(&f, mk_alert_of("a-2", "fp-a", T0 + 5 * MIN, "h1", LH_ALERT_FIRING)),
                     1);
    alerts_t al;
    read_alerts(&f, &al);
    ck_assert_uint_eq(al.n, 4);
    ck_assert_str_eq(al.a[0]->id, al.a[3]->id);
    ck_assert_str_eq(al.a[2]->suspects[0].deploy_id, "D-2");
    ck_assert_str_eq(al.a[3]->suspects[0].deploy_id, "D-1");
    ck_assert_uint_eq(al.a[3]->revision, 4);
    free_alerts(&al);
    fx_done(&f);
}
END_TEST

/* Two fixtures, the first without caches, the second with them as built (memos included). */
static void
fx_pair(fx_t f[2])
{
    for (int m = 0; m < 2; m++) {
        lh__c_test_caches(m == 0 ? 1 : 0);
        fx_init(&f[m]);
    }
    lh__c_test_caches(0);
}

/* A late change relates by a host to an alert's older, resolved period, and to its newer one
 * only through a notification outside the change's window: the deploy path concludes the older
 * period alone, which must leave the newer one's memo (the key's cache entry) as it was. The
 * newer period's next notification then names the change, as without memos. */
START_TEST(test_memo_other_period)
{
    fx_t f[2];
    fx_pair(f);
    for (int m = 0; m < 2; m++) {
        ck_assert_int_eq(
            submit(&f[m], mk_alert_of("p1-a", "fp-x", T0 + MIN, "h1", LH_ALERT_FIRING)), 0);
        ck_assert_int_eq(
            submit(&f[m], mk_alert_of("p1-b", "fp-x", T0 + 2 * MIN, "h1", LH_ALERT_RESOLVED)), 0);
        ck_assert_int_eq(
            submit(&f[m], mk_alert_of("p2-a", "fp-x", T0 + 10 * MIN, "h5", LH_ALERT_FIRING)), 0);
        /* the newer period gains h1, two hours on */
        ck_assert_int_eq(submit(&f[m], mk_alert_of("p2-b", "fp-x", T0 + 2 * HOUR + 10 * MIN, "h1",
                                                   LH_ALERT_FIRING)),
                         0);
        /* the older period's event on h1 is in the change's window, the newer's is not */
        ck_assert_int_eq(submit(&f[m], mk_deploy("d-1", "D-1", LH_DEPLOY_SUCCEEDED, T0, "db",
                                                 "prod", "h1", "2", "1", NULL)),
                         1);
        ck_assert_int_eq(submit(&f[m], mk_alert_of("p2-c", "fp-x", T0 + 2 * HOUR + 15 * MIN, "h5",
                                                   LH_ALERT_FIRING)),
                         1);
    }
    assert_same_tables(f, 2, 6);
    ck_assert_int_eq(count_sql(&f[1], "SELECT count(*) FROM correlations"), 2);
    for (int m = 0; m < 2; m++)
        fx_done(&f[m]);
}
END_TEST

/* A conclusion whose suspects differ from the published ones, but not in a way worth a revision
 * (a suspect that failed, the top the same), reads the published revision; retention then
 * deletes that revision (by its age: the sources' clocks ahead of the hub's) while the case
 * stays open. The next notification adds nothing, yet it is concluded again and, finding no
 * published revision, publishes one, as without memos. */
START_TEST(test_memo_revision_expired)
{
    fx_t f[2];
    fx_pair(f);
    lh_store_retention_t r;
    lh_store_retention_default(&r);
    r.keep_ns[LH_KIND_ALERT] = HOUR;
    submit_now = T0 - 50 * MIN;
    for (int m = 0; m < 2; m++) {
        ck_assert_int_eq(submit(&f[m], mk_deploy("d-1", "D-1", LH_DEPLOY_SUCCEEDED, T0 - 10 * MIN,
                                                 "api", "prod", "h1", "2", "1", NULL)),
                         0);
        ck_assert_int_eq(submit(&f[m], mk_deploy("d-2", "D-2", LH_DEPLOY_SUCCEEDED, T0 - 40 * MIN,
                                                 "api", "prod", "h2", "3", "2", NULL)),
                         0);
        ck_assert_int_eq(submit(&f[m], mk_alert_of("a-1", "fp-a", T0, "h9", LH_ALERT_FIRING)), 1);
        ck_assert_int_eq(submit(&f[m], mk_deploy("d-3", "D-2", LH_DEPLOY_FAILED, T0 - 39 * MIN,
                                                 "api", "prod", "h2", "3", "2", NULL)),
                         0);
        /* suspects D-1 alone now, the top unchanged: nothing to publish */
        ck_assert_int_eq(submit(&f[m], mk_alert_of("a-2", "fp-a", T0 + MIN, "h9", LH_ALERT_FIRING)),
                         0);
        lh_store_expired_t sum;
        expire_all(&f[m], &r, submit_now + HOUR + LH_NS_PER_SEC, 16, &sum);
        ck_assert_int_eq(sum.alerts, 1);
        ck_assert_int_eq(sum.events[LH_KIND_ALERT], 0);
        ck_assert_int_eq(
            submit(&f[m], mk_alert_of("a-3", "fp-a", T0 + 2 * MIN, "h9", LH_ALERT_FIRING)), 1);
    }
    submit_now = 0;
    assert_same_tables(f, 2, 6);
    for (int m = 0; m < 2; m++)
        fx_done(&f[m]);
}
END_TEST

static Suite *
correlator_suite(void)
{
    Suite *s = suite_create("correlator");
    const lh_test_case_t cases[] = {
        {"retention", test_retention, 0, 0},
        {"docs_table", test_docs_table, 0, (int)LH_TEST_COUNT(doc_rows)},
        {"change_events_out_of_order", test_change_events_out_of_order, 0,
         (int)LH_TEST_COUNT(order_rows)},
        {"deploy_then_incident", test_deploy_then_incident, 0, 0},
        {"revision_outcome_by_reference", test_revision_outcome_by_reference, 0, 0},
        {"resolution_repeats_suspects", test_resolution_repeats_suspects, 0, 0},
        {"outcome_row_updates", test_outcome_row_updates, 0, 0},
        {"caches_same_as_store", test_caches_same_as_store, 180, 0},
        {"memo_same_as_store", test_memo_same_as_store, 180, 0},
        {"memo_busy_window", test_memo_busy_window, 120, 0},
        {"memo_case_written", test_memo_case_written, 0, 0},
        {"memo_other_period", test_memo_other_period, 0, 0},
        {"memo_revision_expired", test_memo_revision_expired, 0, 0},
        {"window_edge_inclusive", test_window_edge_inclusive, 0, 0},
        {"window_edge_outside", test_window_edge_outside, 0, 0},
        {"outcome_before_deploy", test_outcome_before_deploy, 0, 0},
        {"environment_mismatch", test_environment_mismatch, 0, 0},
        {"failed_not_suspect", test_failed_not_suspect, 0, 0},
        {"rolled_back_not_suspect", test_rolled_back_not_suspect, 0, 0},
        {"started_is_suspect", test_started_is_suspect, 0, 0},
        {"rank_service_over_host", test_rank_service_over_host, 0, 0},
        {"rank_recent_over_older", test_rank_recent_over_older, 0, 0},
        {"rank_artifact_over_service", test_rank_artifact_over_service, 0, 0},
        {"shared_host_across_services", test_shared_host_across_services, 0, 0},
        {"late_deploy", test_late_deploy, 0, 0},
        {"second_late_suspect", test_second_late_suspect, 0, 0},
        {"late_by_host_and_artifact", test_late_by_host_and_artifact, 0, 0},
        {"idempotent_outcome", test_idempotent_outcome, 0, 0},
        {"idempotent_status_update", test_idempotent_status_update, 0, 0},
        {"change_cache_follows_store", test_change_cache_follows_store, 0, 0},
        {"non_outcomes", test_non_outcomes, 0, 0},
        {"min_severity_option", test_min_severity_option, 0, 0},
        {"restart_idempotent", test_restart_idempotent, 0, 0},
        {"bad_arguments", test_bad_arguments, 0, 0},
        {"store_error", test_store_error, 0, 0},
        {"query_plans_use_indexes", test_query_plans_use_indexes, 0, 0},
        {"migrated_v1_store", test_migrated_v1_store, 0, 0},
        {"incident_updates_one_alert", test_incident_updates_one_alert, 0, 0},
        {"incident_update_new_suspect", test_incident_update_new_suspect, 0, 0},
        {"group_same_suspects", test_group_same_suspects, 0, 0},
        {"repeated_notifications", test_repeated_notifications, 0, 0},
        {"rollback_before_earliest_suspect", test_rollback_before_earliest_suspect, 0, 0},
        {"previous_version_from_history", test_previous_version_from_history, 0, 0},
        {"max_suspects_bounded", test_max_suspects_bounded, 0, 0},
        {"max_suspects_past_lookup_limit", test_max_suspects_past_lookup_limit, 0, 0},
        {"max_suspects_past_lookup_limit_buckets", test_max_suspects_past_lookup_limit_buckets, 0,
         0},
    };
    lh_test_add_cases(s, cases, LH_TEST_COUNT(cases), 30, NULL, NULL);
    return s;
}

int
main(void)
{
    return lh_test_run_suite(correlator_suite());
}
