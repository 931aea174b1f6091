/*
 * check_correlator_edges.c - correlation rules at their edges, against a real store in a
 * temporary directory, driven in the hub's order (enrich, encode, insert, correlate, commit);
 * the alerts are read back from the outbox as a sink reads them. Each test was written against
 * a mutation of tests/mutations.txt that survived the other suites.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "correlator.h"
#include "loophub/buf.h"
#include "loophub/correlated.h"
#include "loophub/error.h"
#include "loophub/event.h"
#include "loophub/format.h"
#include "loophub/timeutil.h"
#include "store.h"
#include "testutil.h"

#define MIN (60 * LH_NS_PER_SEC)
#define T0 (1795687200LL * LH_NS_PER_SEC) /* 2026-11-26T10:00:00Z */
#define NOW (T0 + 24 * 60 * MIN)

typedef struct {
    char *dir;
    lh_store_t *st;
    lh_correlator_t *c;
} hub_t;

static void
hub_open(hub_t *h)
{
    memset(h, 0, sizeof(*h));
    h->dir = lh_test_tmpdir();
    char path[512];
    snprintf(path, sizeof(path), "%s/edges.db", h->dir);
    lh_store_opts_t so;
    lh_store_opts_default(&so);
    so.synchronous_full = 0;
    ck_assert_int_eq(lh_store_open(path, &so, &h->st), 0);
    lh_correlator_opts_t co;
    lh_correlator_opts_default(&co);
    ck_assert_int_eq(lh_correlator_new(h->st, &co, &h->c), 0);
}

static void
hub_close(hub_t *h)
{
    lh_correlator_destroy(&h->c);
    lh_store_close(&h->st);
    lh_test_rmrf(h->dir);
    free(h->dir);
}

/* An event of kind at t on service (env NULL: none). */
static lh_event_t *
event(lh_kind_t kind, const char *id, int64_t t, const char *service, const char *env)
{
    lh_event_t *ev = lh_event_new();
    ck_assert_ptr_nonnull(ev);
    ev->kind = kind;
    ev->id = lh_event_str(ev, id, (size_t)-1);
    ev->source = lh_event_str(ev, "edges", (size_t)-1);
    ev->time_ns = t;
    ev->service = lh_event_str(ev, service, (size_t)-1);
    if (env)
        ev->environment = lh_event_str(ev, env, (size_t)-1);
    return ev;
}

static lh_event_t *
deploy(const char *id, int64_t t, const char *service, const char *env)
{
    lh_event_t *ev = event(LH_KIND_DEPLOY, id, t, service, env);
    ev->deploy.deploy_id = lh_event_str(ev, id, (size_t)-1);
    ev->deploy.status = LH_DEPLOY_SUCCEEDED;
    ev->deploy.version = lh_event_str(ev, "2.0.0", (size_t)-1);
    return ev;
}

static lh_event_t *
incident(const char *id, int64_t t, const char *service, const char *env)
{
    lh_event_t *ev = event(LH_KIND_INCIDENT, id, t, service, env);
    ev->incident.incident_id = lh_event_str(ev, id, (size_t)-1);
    ev->incident.state = LH_INCIDENT_DETECTED;
    ev->incident.severity = LH_SEV_CRITICAL;
    ev->incident.title = lh_event_str(ev, "errors", (size_t)-1);
    return ev;
}

/* Stores and correlates ev in one transaction, as the hub's pipeline does; consumes ev. Returns
 * the number of alerts lh_correlator_add() wrote. */
static int
submit(hub_t *h, lh_event_t *ev)
{
    lh_buf_t pb = LH_BUF_INIT;
    ck_assert_int_eq(lh_store_begin(h->st), 0);
    ck_assert_int_eq(lh_correlator_enrich(h->c, ev), 0);
    ck_assert_int_eq(lh_codec_pb_encode(ev, &pb), 0);
    int64_t seq = 0;
    ck_assert_int_eq(
        lh_store_insert_event(h->st, ev, lh_correlator_is_outcome(h->c, ev), pb.data, pb.len, &seq),
        0);
    int n = lh_correlator_add(h->c, ev, seq, NOW);
    ck_assert_int_ge(n, 0);
    ck_assert_int_eq(lh_store_commit(h->st), 0);
    lh_buf_free(&pb);
    lh_event_destroy(&ev);
    return n;
}

typedef struct {
    lh_correlated_t *last;
    int n;
} outbox_t;

static int
take_alert(int64_t seq, const void *pb, size_t len, void *arg)
{
    (void)seq;
    outbox_t *o = arg;
    lh_correlated_destroy(&o->last);
    ck_assert_int_eq(lh_codec_alert_pb_decode(pb, len, &o->last), 0);
    o->n++;
    return 0;
}

/* The newest alert of the outbox (NULL when none); caller frees. */
static lh_correlated_t *
newest_alert(hub_t *h)
{
    lh_store_sink_t sink;
    ck_assert_int_eq(lh_store_sink_register(h->st, "edges", &sink), 0);
    outbox_t o = {NULL, 0};
    ck_assert_int_ge(lh_store_alert_pending(h->st, sink, 0, take_alert, &o), 0);
    return o.last;
}

/* A deploy and an incident of the same service, neither with an environment: the deploy is the
 * suspect (environments compare with IS: "none" matches "none"). */
START_TEST(test_no_environment_matches_no_environment)
{
    hub_t h;
    hub_open(&h);
    submit(&h, deploy("d-noenv", T0, "billing", NULL));
    submit(&h, deploy("d-prod", T0, "billing", "prod")); /* another environment: not a suspect */
    ck_assert_int_eq(submit(&h, incident("i-noenv", T0 + 10 * MIN, "billing", NULL)), 1);
    lh_correlated_t *a = newest_alert(&h);
    ck_assert_ptr_nonnull(a);
    ck_assert_ptr_null(a->environment);
    ck_assert_msg(a->n_suspects == 1, "%zu suspects, want the deploy without environment",
                  a->n_suspects);
    ck_assert_str_eq(a->suspects[0].deploy_id, "d-noenv");
    lh_correlated_destroy(&a);
    hub_close(&h);
}
END_TEST

int
main(void)
{
    Suite *s = suite_create("correlator_edges");
    const lh_test_case_t cases[] = {
        {"no_environment", test_no_environment_matches_no_environment, 0, 0},
    };
    lh_test_add_cases(s, cases, LH_TEST_COUNT(cases), 30, NULL, NULL);
    return lh_test_run_suite(s);
}
