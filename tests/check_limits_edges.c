/*
 * check_limits_edges.c - the limits users set (--max-payload, --max-field, the host count) at
 * their exact edge: a value AT the limit is accepted, one past it is rejected with LH_ETOOBIG.
 * Written against mutations of tests/mutations.txt that turned a '>' into '>=' and survived.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loophub/error.h"
#include "loophub/event.h"
#include "loophub/format.h"
#include "loophub/timeutil.h"
#include "testutil.h"

#define NOW (1795687200LL * LH_NS_PER_SEC)

static lh_event_t *
deploy(void)
{
    lh_event_t *ev = lh_event_new();
    ck_assert_ptr_nonnull(ev);
    ev->kind = LH_KIND_DEPLOY;
    ev->id = lh_event_str(ev, "d-edge", (size_t)-1);
    ev->service = lh_event_str(ev, "api", (size_t)-1);
    ev->time_ns = NOW;
    return ev;
}

/* lh_event_validate() of ev against lim at NOW; frees ev. */
static int
validate(lh_event_t *ev, const lh_limits_t *lim, char *why, size_t whylen)
{
    int rc = lh_event_validate(ev, lim, NOW, why, whylen);
    lh_event_destroy(&ev);
    return rc;
}

START_TEST(test_hosts_at_the_limit)
{
    lh_limits_t lim;
    lh_limits_default(&lim);
    lim.max_hosts = 3;
    for (size_t n = 2; n <= 4; n++) {
        lh_event_t *ev = deploy();
        char host[16];
        for (size_t i = 0; i < n; i++) {
            snprintf(host, sizeof(host), "h%zu", i);
            ck_assert_int_eq(lh_event_add_host(ev, host, (size_t)-1), 0);
        }
        char why[256] = "";
        int rc = validate(ev, &lim, why, sizeof(why));
        if (n <= lim.max_hosts)
            ck_assert_msg(rc == 0, "%zu hosts (limit %zu) rejected: %s", n, lim.max_hosts, why);
        else
            ck_assert_msg(rc == LH_ETOOBIG && strstr(why, "hosts"),
                          "%zu hosts (limit %zu): rc %s '%s'", n, lim.max_hosts, lh_err_name(rc),
                          why);
    }
}
END_TEST

/* Every kind but a ticket needs a service (an event without one can correlate with nothing);
 * the message names the kind with its article. */
START_TEST(test_service_per_kind)
{
    static const struct {
        lh_kind_t kind;
        const char *why; /* NULL: accepted */
    } rows[] = {
        {LH_KIND_DEPLOY, "missing field 'service' (a deploy needs one)"},
        {LH_KIND_ALERT, "missing field 'service' (an alert needs one)"},
        {LH_KIND_INCIDENT, "missing field 'service' (an incident needs one)"},
        {LH_KIND_TICKET, NULL},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        lh_event_t *ev = deploy();
        ev->kind = rows[i].kind;
        ev->service = NULL;
        ev->alert.name = lh_event_str(ev, "HighErrorRate", (size_t)-1);
        ev->incident.incident_id = lh_event_str(ev, "INC-1", (size_t)-1);
        ev->ticket.ticket_id = lh_event_str(ev, "CHG-1", (size_t)-1);
        char why[256] = "";
        int rc = validate(ev, NULL, why, sizeof(why));
        if (!rows[i].why) {
            ck_assert_msg(rc == 0, "%s without a service: %s", lh_kind_name(rows[i].kind), why);
        } else {
            ck_assert_msg(rc == LH_EMISSING, "%s without a service: rc %s '%s'",
                          lh_kind_name(rows[i].kind), lh_err_name(rc), why);
            ck_assert_str_eq(why, rows[i].why);
        }
    }
}
END_TEST

START_TEST(test_field_at_the_limit)
{
    lh_limits_t lim;
    lh_limits_default(&lim);
    lim.max_field = 64;
    for (size_t len = lim.max_field - 1; len <= lim.max_field + 1; len++) {
        lh_event_t *ev = deploy();
        char v[128];
        memset(v, 'v', len);
        v[len] = 0;
        ev->deploy.version = lh_event_str(ev, v, len);
        char why[256] = "";
        int rc = validate(ev, &lim, why, sizeof(why));
        if (len <= lim.max_field)
            ck_assert_msg(rc == 0, "a %zu-byte field (limit %zu) rejected: %s", len, lim.max_field,
                          why);
        else
            ck_assert_msg(rc == LH_ETOOBIG && strstr(why, "version'"),
                          "a %zu-byte field (limit %zu): rc %s '%s'", len, lim.max_field,
                          lh_err_name(rc), why);
    }
}
END_TEST

typedef struct {
    int events, rejects, last_err;
    char why[256];
} sink_t;

static int
sink(lh_event_t *ev, int err, const char *id, const char *why, void *arg)
{
    (void)id;
    sink_t *s = arg;
    if (ev) {
        s->events++;
        lh_event_destroy(&ev);
    } else {
        s->rejects++;
        s->last_err = err;
        snprintf(s->why, sizeof(s->why), "%s", why ? why : "");
    }
    return 0;
}

/* A loophub JSON deploy padded with blanks to exactly len bytes. */
static char *
json_of_len(size_t len)
{
    const char *body = "{\"id\":\"d-edge\",\"kind\":\"deploy\",\"time\":\"2026-11-26T10:00:00Z\","
                       "\"service\":\"api\",\"deploy\":{\"status\":\"succeeded\"}}";
    size_t n = strlen(body);
    ck_assert_uint_ge(len, n);
    char *p = malloc(len + 1);
    ck_assert_ptr_nonnull(p);
    memcpy(p, body, n);
    memset(p + n, ' ', len - n);
    p[len] = 0;
    return p;
}

START_TEST(test_payload_at_the_limit)
{
    lh_limits_t lim;
    lh_limits_default(&lim);
    lim.max_payload = 200;
    lh_codec_opts_t o;
    lh_codec_opts_default(&o);
    o.limits = &lim;
    for (size_t len = lim.max_payload - 1; len <= lim.max_payload + 1; len++) {
        char *p = json_of_len(len);
        sink_t s = {0};
        ck_assert_int_eq(lh_codec_decode(p, len, LH_FMT_AUTO, &o, sink, &s), 1);
        free(p);
        if (len <= lim.max_payload)
            ck_assert_msg(s.events == 1, "a %zu-byte payload (limit %zu) rejected: %s", len,
                          lim.max_payload, s.why);
        else
            ck_assert_msg(s.rejects == 1 && s.last_err == LH_ETOOBIG,
                          "a %zu-byte payload (limit %zu): %d events, err %s '%s'", len,
                          lim.max_payload, s.events, lh_err_name(s.last_err), s.why);
    }
}
END_TEST

int
main(void)
{
    Suite *s = suite_create("limits_edges");
    const lh_test_case_t cases[] = {
        {"hosts", test_hosts_at_the_limit, 0, 0},
        {"service_per_kind", test_service_per_kind, 0, 0},
        {"field", test_field_at_the_limit, 0, 0},
        {"payload", test_payload_at_the_limit, 0, 0},
    };
    lh_test_add_cases(s, cases, LH_TEST_COUNT(cases), 30, NULL, NULL);
    return lh_test_run_suite(s);
}
