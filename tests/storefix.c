/*
 * storefix.c - a real store for the query suites (storefix.h).
 */
#include "storefix.h"

#include <check.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "loophub/buf.h"
#include "loophub/error.h"
#include "loophub/format.h"
#include "loophub/log.h"
#include "loophub/report.h"
#include "query.h"
#include "testutil.h"

lh_event_t *
fx_event(const char *id, lh_kind_t kind, int64_t t, const char *svc, const char *env)
{
    lh_event_t *ev = lh_event_new();
    ck_assert_ptr_nonnull(ev);
    ev->id = FX_S(ev, id);
    ev->kind = kind;
    ev->time_ns = t;
    ev->source = FX_S(ev, "test");
    ev->service = svc ? FX_S(ev, svc) : NULL;
    ev->environment = env ? FX_S(ev, env) : NULL;
    return ev;
}

lh_event_t *
fx_deploy(const char *id, const char *did, lh_deploy_status_t st, int64_t t, const char *svc,
          const char *env, const char *ver, const char *prev, const char *actor)
{
    lh_event_t *ev = fx_event(id, LH_KIND_DEPLOY, t, svc, env);
    ev->deploy.deploy_id = FX_S(ev, did);
    ev->deploy.status = st;
    ev->deploy.version = ver ? FX_S(ev, ver) : NULL;
    ev->deploy.previous_version = prev ? FX_S(ev, prev) : NULL;
    ev->actor = actor ? FX_S(ev, actor) : NULL;
    return ev;
}

lh_event_t *
fx_ticket(const char *id, const char *tid, lh_ticket_type_t type, lh_ticket_state_t st, int64_t t,
          const char *link)
{
    lh_event_t *ev = fx_event(id, LH_KIND_TICKET, t, NULL, NULL);
    ev->ticket.ticket_id = FX_S(ev, tid);
    ev->ticket.type = type;
    ev->ticket.state = st;
    if (link)
        ck_assert_int_eq(lh_event_add_link(ev, link, strlen(link)), 0);
    return ev;
}

void
fx_hosts(lh_event_t *ev, const char *const *hosts)
{
    for (; hosts && *hosts; hosts++)
        ck_assert_int_eq(lh_event_add_host(ev, *hosts, strlen(*hosts)), 0);
}

void
fx_writer_open(lh_store_t **st, lh_correlator_t **c, const lh_correlator_opts_t *co)
{
    int rc = lh_store_open(lh_test_fx.db, NULL, st);
    ck_assert_msg(rc == 0, "open: %s; log: %s", lh_strerror(rc), lh_test_fx.log);
    ck_assert_int_eq(lh_correlator_new(*st, co, c), 0);
    ck_assert_int_eq(lh_store_begin(*st), 0);
}

void
fx_writer_close(lh_store_t **st, lh_correlator_t **c)
{
    ck_assert_int_eq(lh_store_commit(*st), 0);
    lh_correlator_destroy(c);
    lh_store_close(st);
}

void
fx_put(lh_store_t *st, lh_correlator_t *c, lh_event_t *ev, int64_t now)
{
    lh_buf_t pb = LH_BUF_INIT;
    int64_t seq = 0;
    ck_assert_int_eq(lh_event_normalize(ev), 0);
    int outcome = lh_correlator_is_outcome(c, ev);
    /* stored as the pipeline stores it: without what the columns hold */
    ck_assert_int_eq(lh_store_event_encode(ev, outcome, &pb), 0);
    int rc = lh_store_insert_event(st, ev, outcome, pb.data, pb.len, &seq);
    ck_assert_msg(rc == 0, "insert %s: %s; log: %s", ev->id, lh_strerror(rc), lh_test_fx.log);
    rc = lh_correlator_add(c, ev, seq, now);
    ck_assert_msg(rc >= 0, "correlate %s: %s; log: %s", ev->id, lh_strerror(rc), lh_test_fx.log);
    lh_buf_free(&pb);
    lh_event_destroy(&ev);
}

fx_cli_t
fx_cli(int (*fn)(int, char **), const char *const *args)
{
    char po[700], pe[700];
    snprintf(po, sizeof(po), "%s/stdout", lh_test_fx.dir);
    snprintf(pe, sizeof(pe), "%s/stderr", lh_test_fx.dir);
    int fo = open(po, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int fe = open(pe, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ck_assert(fo >= 0 && fe >= 0);
    fflush(stdout);
    fflush(stderr);
    int so = dup(1), se = dup(2);
    ck_assert(so >= 0 && se >= 0);
    dup2(fo, 1);
    dup2(fe, 2);
    close(fo);
    close(fe);

    char *argv[32];
    int argc = 0;
    for (; args[argc] && argc < 31; argc++)
        argv[argc] = (char *)args[argc];
    argv[argc] = NULL;
    fx_cli_t r;
    lh_log_set_sink(NULL, NULL); /* the CLI's log lines go where a user would see them */
    r.code = fn(argc, argv);
    lh_log_set_sink(lh_test_capture_log, NULL);

    fflush(stdout);
    fflush(stderr);
    dup2(so, 1);
    dup2(se, 2);
    close(so);
    close(se);
    r.out = lh_test_read_file(po, NULL);
    r.err = lh_test_read_file(pe, NULL);
    ck_assert(r.out && r.err);
    return r;
}

void
fx_cli_free(fx_cli_t *r)
{
    free(r->out);
    free(r->err);
}

int
fx_report(const lh_report_req_t *r, int fmt, char **out)
{
    lh_store_opts_t o;
    lh_store_opts_default(&o);
    o.readonly = 1;
    lh_store_t *st = NULL;
    ck_assert_int_eq(lh_store_open(lh_test_fx.db, &o, &st), 0);
    lh_buf_t b = LH_BUF_INIT;
    int rc = lh_query_report(st, r, (lh_query_format_t)fmt, &b);
    lh_store_close(&st);
    *out = strndup(b.data ? (const char *)b.data : "", b.len);
    lh_buf_free(&b);
    return rc;
}

json_t *
fx_report_json(const lh_report_req_t *r)
{
    char *s = NULL;
    int rc = fx_report(r, LH_QUERY_JSON, &s);
    ck_assert_msg(rc == 0, "report: %s; log: %s", lh_strerror(rc), lh_test_fx.log);
    json_error_t err;
    json_t *doc = json_loads(s, 0, &err);
    ck_assert_msg(doc != NULL, "not JSON (%s): %s", err.text, s);
    free(s);
    return doc;
}

json_t *
fx_report_threads(const lh_report_req_t *r, size_t which)
{
    lh__q_test_threads(1);
    json_t *one = fx_report_json(r);
    for (int mode = 0; mode <= 2; mode += 2) {
        lh__q_test_threads(mode);
        json_t *two = fx_report_json(r);
        char *a = json_dumps(one, JSON_SORT_KEYS), *b = json_dumps(two, JSON_SORT_KEYS);
        ck_assert_msg(json_equal(one, two), "request %zu, mode %d:\n one %.1500s\n two %.1500s",
                      which, mode, a, b);
        free(a);
        free(b);
        json_decref(two);
    }
    lh__q_test_threads(0);
    return one;
}
