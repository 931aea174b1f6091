/*
 * check_approval.c - whether tickets approved a change: lh_change_approval() on its own (each
 * state, hand-made ticket histories), and the correlator's require_approved_ticket rule on a
 * real store (storefix.h): one unapproved_change alert per change that fails it, through the
 * outbox, naming the rule; none for a change approved in time or outside the rule's
 * environments; none again for a replay or a later event of the same change.
 *
 * T0 = 2025-11-26T10:00:00Z; times below are minutes after it.
 */
#include <check.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "approval.h"
#include "correlator.h"
#include "loophub/correlated.h"
#include "loophub/error.h"
#include "loophub/format.h"
#include "loophub/timeutil.h"
#include "storefix.h"
#include "testutil.h"

#define T0 (1764151200LL * LH_NS_PER_SEC)
#define MIN (60LL * LH_NS_PER_SEC)

/* --- lh_change_approval() ------------------------------------------------------------------- */

typedef struct {
    const char *tid;
    lh_ticket_type_t type;
    lh_ticket_state_t st;
    int64_t m;
} tk_t;

static lh_approval_t
approval(const tk_t *t, size_t n, int64_t started_m, const char **by)
{
    lh_event_t *ev[8];
    for (size_t i = 0; i < n; i++) {
        char id[32];
        snprintf(id, sizeof(id), "t-%zu", i);
        ev[i] = fx_ticket(id, t[i].tid, t[i].type, t[i].st, T0 + t[i].m * MIN, NULL);
    }
    lh_approval_t a = lh_change_approval(ev, n, T0 + started_m * MIN, by);
    static char keep[32];
    if (*by) {
        snprintf(keep, sizeof(keep), "%s", *by);
        *by = keep;
    }
    for (size_t i = 0; i < n; i++)
        lh_event_destroy(&ev[i]);
    return a;
}

START_TEST(approval_states)
{
    const char *by = NULL;
    ck_assert_int_eq(approval(NULL, 0, 0, &by), LH_APPROVAL_NO_TICKET);
    ck_assert_ptr_null(by);
    ck_assert_str_eq(lh_approval_name(LH_APPROVAL_NO_TICKET), "no ticket");

    const tk_t before[] = {{"C-1", LH_TICKET_CHANGE, LH_TICKET_CREATED, -20},
                           {"C-1", LH_TICKET_CHANGE, LH_TICKET_APPROVED, -10}};
    ck_assert_int_eq(approval(before, 2, 0, &by), LH_APPROVED);
    ck_assert_str_eq(by, "C-1");
    /* approved at the very moment it started counts as before */
    ck_assert_int_eq(approval(before, 2, -10, &by), LH_APPROVED);
    ck_assert_int_eq(approval(before, 2, -11, &by), LH_APPROVED_AFTER);
    ck_assert_str_eq(lh_approval_name(LH_APPROVED_AFTER), "approved after the deploy");

    /* the decision at the start counts: approved, then rejected after it started */
    const tk_t flip[] = {{"C-2", LH_TICKET_CHANGE, LH_TICKET_APPROVED, -10},
                         {"C-2", LH_TICKET_TYPE_UNSPECIFIED, LH_TICKET_REJECTED, 10}};
    ck_assert_int_eq(approval(flip, 2, 0, &by), LH_APPROVED);
    /* rejected before it started, approved later: approved after the deploy */
    const tk_t late[] = {{"C-3", LH_TICKET_CHANGE, LH_TICKET_REJECTED, -10},
                         {"C-3", LH_TICKET_CHANGE, LH_TICKET_APPROVED, 10}};
    ck_assert_int_eq(approval(late, 2, 0, &by), LH_APPROVED_AFTER);
    const tk_t rej[] = {{"C-4", LH_TICKET_CHANGE, LH_TICKET_APPROVED, -10},
                        {"C-4", LH_TICKET_CHANGE, LH_TICKET_REJECTED, -5}};
    ck_assert_int_eq(approval(rej, 2, 0, &by), LH_APPROVAL_REJECTED);
    ck_assert_str_eq(by, "C-4");
    const tk_t open[] = {{"C-5", LH_TICKET_TASK, LH_TICKET_CREATED, -10},
                         {"C-5", LH_TICKET_TASK, LH_TICKET_UPDATED, -5}};
    ck_assert_int_eq(approval(open, 2, 0, &by), LH_APPROVAL_UNDECIDED);
    ck_assert_str_eq(lh_approval_name(LH_APPROVAL_UNDECIDED), "not approved");
    /* an incident ticket approves nothing, whichever of its events says what it is */
    const tk_t inc[] = {{"I-1", LH_TICKET_TYPE_UNSPECIFIED, LH_TICKET_APPROVED, -10},
                        {"I-1", LH_TICKET_INCIDENT, LH_TICKET_UPDATED, -5}};
    ck_assert_int_eq(approval(inc, 2, 0, &by), LH_APPROVAL_NO_TICKET);
    ck_assert_ptr_null(by);
    /* the best ticket wins, whatever the order */
    const tk_t mix[] = {{"C-6", LH_TICKET_CHANGE, LH_TICKET_REJECTED, -30},
                        {"C-7", LH_TICKET_CHANGE, LH_TICKET_CREATED, -20},
                        {"C-8", LH_TICKET_CHANGE, LH_TICKET_APPROVED, -10}};
    ck_assert_int_eq(approval(mix, 3, 0, &by), LH_APPROVED);
    ck_assert_str_eq(by, "C-8");
    ck_assert_int_eq(approval(mix, 2, 0, &by), LH_APPROVAL_REJECTED);
    ck_assert_str_eq(by, "C-6");
}
END_TEST

/* --- the rule ------------------------------------------------------------------------------- */

static lh_correlator_opts_t
rule(const char *envs)
{
    lh_correlator_opts_t co;
    lh_correlator_opts_default(&co);
    co.require_approved_ticket = envs;
    return co;
}

static void
dep(lh_store_t *st, lh_correlator_t *c, const char *id, const char *did, lh_deploy_status_t s,
    int64_t m, const char *env)
{
    lh_event_t *ev = fx_deploy(id, did, s, T0 + m * MIN, "api", env, "2.0", "1.9", "alice");
    fx_put(st, c, ev, T0 + 300 * MIN);
}

static void
tick(lh_store_t *st, lh_correlator_t *c, const char *id, const char *tid, lh_ticket_state_t s,
     int64_t m, const char *link)
{
    fx_put(st, c, fx_ticket(id, tid, LH_TICKET_CHANGE, s, T0 + m * MIN, link), T0 + 300 * MIN);
}

/* The unapproved_change alerts of the store: "deploy_id=reason2" of each, sorted by seq. */
static char *
alerts(void)
{
    static char out[1024];
    out[0] = 0;
    sqlite3 *db = NULL;
    ck_assert_int_eq(sqlite3_open_v2(lh_test_fx.db, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    lh_store_opts_t o;
    lh_store_opts_default(&o);
    o.readonly = 1;
    lh_store_t *ro = NULL;
    ck_assert_int_eq(lh_store_open(lh_test_fx.db, &o, &ro), 0);
    sqlite3_stmt *s = NULL;
    ck_assert_int_eq(sqlite3_prepare_v2(db,
                                        "SELECT a.kind, a.revision, a.service, a.environment,"
                                        " a.payload, a.id, e.kind, e.id = a.outcome_id, a.seq"
                                        " FROM alerts a LEFT JOIN events e"
                                        " ON e.seq = a.event_seq ORDER BY a.seq",
                                        -1, &s, NULL),
                     SQLITE_OK);
    while (sqlite3_step(s) == SQLITE_ROW) {
        ck_assert_int_eq(sqlite3_column_int(s, 0), LH_CA_UNAPPROVED_CHANGE);
        ck_assert_int_eq(sqlite3_column_int(s, 1), 1);
        /* stored: neither the outcome (the deploy, by reference) nor the row's own facts */
        lh_correlated_t *ca = NULL;
        ck_assert_int_eq(lh_codec_alert_pb_decode(sqlite3_column_blob(s, 4),
                                                  (size_t)sqlite3_column_bytes(s, 4), &ca),
                         0);
        ck_assert_ptr_null(ca->outcome);
        ck_assert_ptr_null(ca->id);
        ck_assert_int_eq(sqlite3_column_int(s, 6), LH_KIND_DEPLOY);
        ck_assert_int_eq(sqlite3_column_int(s, 7), 1);
        lh_correlated_destroy(&ca);
        /* read whole, as a sink gets it */
        lh_buf_t whole = LH_BUF_INIT;
        ck_assert_int_eq(lh_store_alert_payload(ro, sqlite3_column_int64(s, 8), 1, &whole), 0);
        ck_assert_int_eq(lh_codec_alert_pb_decode(whole.data, whole.len, &ca), 0);
        lh_buf_free(&whole);
        ck_assert_int_eq(ca->kind, LH_CA_UNAPPROVED_CHANGE);
        ck_assert_str_eq(ca->id, (const char *)sqlite3_column_text(s, 5));
        ck_assert_int_eq(strncmp(ca->id, "ua-", 3), 0);
        ck_assert_str_eq(ca->environment, (const char *)sqlite3_column_text(s, 3));
        ck_assert_uint_eq(ca->n_suspects, 1);
        const lh_suspect_t *sp = &ca->suspects[0];
        ck_assert_str_eq(sp->version, "2.0");
        ck_assert_str_eq(sp->actor, "alice");
        ck_assert_uint_eq(sp->n_reasons, 2);
        /* the rule, by its name and setting */
        ck_assert_msg(strstr(sp->reasons[0], "require_approved_ticket = prod,staging: a change "
                                             "in "),
                      "%s", sp->reasons[0]);
        ck_assert_ptr_nonnull(ca->outcome);
        ck_assert_int_eq(ca->outcome->kind, LH_KIND_DEPLOY);
        size_t n = strlen(out);
        snprintf(out + n, sizeof(out) - n, "%s%s/%s=%s", n ? "; " : "", sp->deploy_id,
                 ca->environment, sp->reasons[1]);
        lh_correlated_destroy(&ca);
    }
    sqlite3_finalize(s);
    sqlite3_close(db);
    lh_store_close(&ro);
    return out;
}

START_TEST(rule_raises_once_per_unapproved_change)
{
    lh_store_t *st = NULL;
    lh_correlator_t *c = NULL;
    lh_correlator_opts_t co = rule("prod,staging");
    fx_writer_open(&st, &c, &co);
    tick(st, c, "t-1", "CHG-1", LH_TICKET_APPROVED, -30, "D-1");
    dep(st, c, "d-1a", "D-1", LH_DEPLOY_STARTED, 0, "prod"); /* approved: nothing */
    dep(st, c, "d-1b", "D-1", LH_DEPLOY_SUCCEEDED, 5, "prod");
    dep(st, c, "d-2a", "D-2", LH_DEPLOY_STARTED, 10, "prod");   /* no ticket */
    dep(st, c, "d-2b", "D-2", LH_DEPLOY_SUCCEEDED, 15, "prod"); /* the same change: no more */
    tick(st, c, "t-3", "CHG-3", LH_TICKET_REJECTED, 15, "D-3");
    dep(st, c, "d-3", "D-3", LH_DEPLOY_STARTED, 20, "staging"); /* rejected */
    tick(st, c, "t-4a", "CHG-4", LH_TICKET_CREATED, 25, "D-4");
    dep(st, c, "d-4", "D-4", LH_DEPLOY_STARTED, 30, "prod");    /* a ticket that decided nothing */
    tick(st, c, "t-4b", "CHG-4", LH_TICKET_APPROVED, 35, NULL); /* too late: the alert stays */
    dep(st, c, "d-4b", "D-4", LH_DEPLOY_SUCCEEDED, 40, "prod");
    dep(st, c, "d-5", "D-5", LH_DEPLOY_STARTED, 40, "dev"); /* not an environment of the rule */
    /* an approval stored with a time after the start it is checked against: approved after */
    tick(st, c, "t-6", "CHG-6", LH_TICKET_APPROVED, 55, "D-6");
    dep(st, c, "d-6", "D-6", LH_DEPLOY_STARTED, 50, "prod");
    /* the change ticket the deploy names, approved in time */
    tick(st, c, "t-7", "CHG-7", LH_TICKET_APPROVED, 50, NULL);
    lh_event_t *ev = fx_deploy("d-7", "D-7", LH_DEPLOY_STARTED, T0 + 60 * MIN, "api", "prod", "2.0",
                               "1.9", "alice");
    ev->deploy.change_ticket = FX_S(ev, "CHG-7");
    fx_put(st, c, ev, T0 + 300 * MIN);
    fx_writer_close(&st, &c);
    ck_assert_str_eq(alerts(), "D-2/prod=no ticket links D-2 and it names no change ticket; "
                               "D-3/staging=CHG-3 rejected it; "
                               "D-4/prod=CHG-4 has not approved it; "
                               "D-6/prod=CHG-6 approved it only after it started");

    /* a replay of every event, by a new correlator on the same store: nothing new */
    fx_writer_open(&st, &c, &co);
    dep(st, c, "d-2c", "D-2", LH_DEPLOY_SUCCEEDED, 16, "prod");
    fx_writer_close(&st, &c);
    ck_assert_str_eq(alerts(), "D-2/prod=no ticket links D-2 and it names no change ticket; "
                               "D-3/staging=CHG-3 rejected it; "
                               "D-4/prod=CHG-4 has not approved it; "
                               "D-6/prod=CHG-6 approved it only after it started");
}
END_TEST

START_TEST(rule_off_by_default)
{
    lh_store_t *st = NULL;
    lh_correlator_t *c = NULL;
    fx_writer_open(&st, &c, NULL);
    dep(st, c, "d-2a", "D-2", LH_DEPLOY_STARTED, 10, "prod");
    fx_writer_close(&st, &c);
    ck_assert_str_eq(alerts(), "");
    /* an environment is matched whole, not by prefix */
    lh_correlator_opts_t co = rule("prod,staging");
    fx_writer_open(&st, &c, &co);
    dep(st, c, "d-8", "D-8", LH_DEPLOY_STARTED, 10, "pro");
    dep(st, c, "d-9", "D-9", LH_DEPLOY_STARTED, 10, "production");
    lh_event_t *ev =
        fx_deploy("d-10", "D-10", LH_DEPLOY_STARTED, T0, "api", NULL, "2.0", "1.9", "alice");
    fx_put(st, c, ev, T0 + 300 * MIN);
    fx_writer_close(&st, &c);
    ck_assert_str_eq(alerts(), "");
}
END_TEST

static Suite *
approval_suite(void)
{
    Suite *s = suite_create("approval");
    const lh_test_case_t tests[] = {
        {"states", approval_states, 0, 0},
        {"rule", rule_raises_once_per_unapproved_change, 0, 0},
        {"rule_off", rule_off_by_default, 0, 0},
    };
    lh_test_add_cases(s, tests, LH_TEST_COUNT(tests), 30, lh_test_store_setup,
                      lh_test_store_teardown);
    return s;
}

int
main(void)
{
    return lh_test_run_suite(approval_suite());
}
