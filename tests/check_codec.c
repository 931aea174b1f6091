/*
 * check_codec.c - the codecs: protobuf and loophub JSON round trips for every kind with every
 * field set, JSON <-> protobuf, correlated alerts, format detection and batches, and every kind
 * of bad input (each answered by exactly one rejection that says why, never a crash).
 */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loophub/error.h"
#include "loophub/format.h"
#include "loophub/log.h"
#include "loophub/timeutil.h"
#include "pbwire.h"
#include "testutil.h"

/* --- helpers --------------------------------------------------------------------------------- */

#define T0 1795687200000000000LL /* 2026-11-26T10:00:00Z */

static void
set(lh_event_t *ev, char **dst, const char *s)
{
    *dst = lh_event_str(ev, s, (size_t)-1);
    ck_assert_ptr_nonnull(*dst);
}

/* An event of kind k with every field set. */
static lh_event_t *
full_event(lh_kind_t k)
{
    lh_event_t *ev = lh_event_new();
    ck_assert_ptr_nonnull(ev);
    set(ev, &ev->id, "ev-1");
    set(ev, &ev->source, "ci/jenkins");
    ev->time_ns = T0 + 123456789;
    set(ev, &ev->service, "api");
    set(ev, &ev->environment, "prod");
    set(ev, &ev->actor, "alice");
    ck_assert_int_eq(lh_event_add_host(ev, "web-1", 5), 0);
    ck_assert_int_eq(lh_event_add_host(ev, "web-2", 5), 0);
    ck_assert_int_eq(lh_event_add_label(ev, "team", 4, "payments", 8), 0);
    ck_assert_int_eq(lh_event_add_label(ev, "tier", 4, "1", 1), 0);
    ev->kind = k;
    switch (k) {
    case LH_KIND_DEPLOY:
        set(ev, &ev->deploy.deploy_id, "D-1");
        ev->deploy.status = LH_DEPLOY_ROLLED_BACK;
        set(ev, &ev->deploy.version, "1.4.2");
        set(ev, &ev->deploy.previous_version, "1.4.1");
        set(ev, &ev->deploy.commit, "9f2c1e0");
        ev->deploy.commit_time_ns = T0 - 3000 * LH_NS_PER_SEC;
        set(ev, &ev->deploy.artifact, "pkg:oci/api@sha256:abc");
        set(ev, &ev->deploy.change_ticket, "CHG-7");
        ev->deploy.previous_version_derived = 1;
        break;
    case LH_KIND_ALERT:
        set(ev, &ev->alert.name, "HighErrorRate");
        set(ev, &ev->alert.fingerprint, "c0ffee");
        ev->alert.state = LH_ALERT_RESOLVED;
        ev->alert.severity = LH_SEV_WARNING;
        set(ev, &ev->alert.summary, "5xx \"spike\" \xc3\xa9");
        set(ev, &ev->alert.artifact, "pkg:oci/api@sha256:abc");
        break;
    case LH_KIND_INCIDENT:
        set(ev, &ev->incident.incident_id, "INC-1");
        ev->incident.state = LH_INCIDENT_REPORTED;
        ev->incident.severity = LH_SEV_CRITICAL;
        set(ev, &ev->incident.title, "5xx spike");
        set(ev, &ev->incident.ticket, "T-9");
        set(ev, &ev->incident.artifact, "pkg:oci/api@sha256:abc");
        break;
    case LH_KIND_TICKET:
        set(ev, &ev->ticket.ticket_id, "CHG-7");
        ev->ticket.type = LH_TICKET_INCIDENT;
        ev->ticket.state = LH_TICKET_CLOSED;
        ck_assert_int_eq(lh_event_add_link(ev, "D-1", 3), 0);
        ck_assert_int_eq(lh_event_add_link(ev, "INC-1", 5), 0);
        set(ev, &ev->ticket.url, "https://tickets.example/CHG-7");
        set(ev, &ev->ticket.summary, "release 1.4.2");
        break;
    default:
        break;
    }
    return ev;
}

static int
starts(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

static void
strv_eq(char **a, size_t na, char **b, size_t nb)
{
    ck_assert_uint_eq(na, nb);
    for (size_t i = 0; i < na; i++)
        ck_assert_str_eq(a[i], b[i]);
}

/* Field-by-field equality of the model (raw is not compared). */
static void
event_eq(const lh_event_t *a, const lh_event_t *b)
{
    ck_assert_pstr_eq(a->id, b->id);
    ck_assert_pstr_eq(a->source, b->source);
    ck_assert_int_eq(a->time_ns, b->time_ns);
    ck_assert_pstr_eq(a->service, b->service);
    ck_assert_pstr_eq(a->environment, b->environment);
    ck_assert_pstr_eq(a->actor, b->actor);
    strv_eq(a->hosts, a->n_hosts, b->hosts, b->n_hosts);
    ck_assert_uint_eq(a->n_labels, b->n_labels);
    for (size_t i = 0; i < a->n_labels; i++) {
        ck_assert_str_eq(a->labels[i].key, b->labels[i].key);
        ck_assert_str_eq(a->labels[i].value, b->labels[i].value);
    }
    ck_assert_int_eq(a->kind, b->kind);
    ck_assert_pstr_eq(a->deploy.deploy_id, b->deploy.deploy_id);
    ck_assert_int_eq(a->deploy.status, b->deploy.status);
    ck_assert_pstr_eq(a->deploy.version, b->deploy.version);
    ck_assert_pstr_eq(a->deploy.previous_version, b->deploy.previous_version);
    ck_assert_pstr_eq(a->deploy.commit, b->deploy.commit);
    ck_assert_int_eq(a->deploy.commit_time_ns, b->deploy.commit_time_ns);
    ck_assert_pstr_eq(a->deploy.artifact, b->deploy.artifact);
    ck_assert_pstr_eq(a->deploy.change_ticket, b->deploy.change_ticket);
    ck_assert_int_eq(a->deploy.previous_version_derived, b->deploy.previous_version_derived);
    ck_assert_pstr_eq(a->alert.name, b->alert.name);
    ck_assert_pstr_eq(a->alert.fingerprint, b->alert.fingerprint);
    ck_assert_int_eq(a->alert.state, b->alert.state);
    ck_assert_int_eq(a->alert.severity, b->alert.severity);
    ck_assert_pstr_eq(a->alert.summary, b->alert.summary);
    ck_assert_pstr_eq(a->alert.artifact, b->alert.artifact);
    ck_assert_pstr_eq(a->incident.incident_id, b->incident.incident_id);
    ck_assert_int_eq(a->incident.state, b->incident.state);
    ck_assert_int_eq(a->incident.severity, b->incident.severity);
    ck_assert_pstr_eq(a->incident.title, b->incident.title);
    ck_assert_pstr_eq(a->incident.ticket, b->incident.ticket);
    ck_assert_pstr_eq(a->incident.artifact, b->incident.artifact);
    ck_assert_pstr_eq(a->ticket.ticket_id, b->ticket.ticket_id);
    ck_assert_int_eq(a->ticket.type, b->ticket.type);
    ck_assert_int_eq(a->ticket.state, b->ticket.state);
    strv_eq(a->ticket.links, a->ticket.n_links, b->ticket.links, b->ticket.n_links);
    ck_assert_pstr_eq(a->ticket.url, b->ticket.url);
    ck_assert_pstr_eq(a->ticket.summary, b->ticket.summary);
}

/* Collects what the sink receives. */
#define MAXR 64
typedef struct {
    int n;
    lh_event_t *ev[MAXR];
    int err[MAXR];
    char id[MAXR][64];
    char why[MAXR][400];
    int stop_after; /* 0: never stop */
} got_t;

static int
collect(lh_event_t *ev, int err, const char *id, const char *why, void *arg)
{
    got_t *g = arg;
    ck_assert_int_lt(g->n, MAXR);
    int i = g->n++;
    g->ev[i] = ev;
    g->err[i] = err;
    if (ev) {
        ck_assert_int_eq(err, 0);
    } else {
        ck_assert_int_lt(err, 0);
        ck_assert_ptr_nonnull(why);
        ck_assert_ptr_null(strchr(why, '\n'));
        snprintf(g->why[i], sizeof g->why[i], "%s", why);
    }
    snprintf(g->id[i], sizeof g->id[i], "%s", id ? id : "");
    return g->stop_after && g->n >= g->stop_after;
}

static void
got_free(got_t *g)
{
    for (int i = 0; i < g->n; i++)
        lh_event_destroy(&g->ev[i]);
}

/* Decodes buf (auto-detected, default options) and expects exactly one rejection. */
static void
expect_reject(const void *buf, size_t len, int err, const char *needle)
{
    got_t g = {0};
    int rc = lh_codec_decode(buf, len, LH_FMT_AUTO, NULL, collect, &g);
    ck_assert_int_eq(rc, 1);
    ck_assert_int_eq(g.n, 1);
    ck_assert_ptr_null(g.ev[0]);
    if (err)
        ck_assert_msg(g.err[0] == err, "error %s, expected %s (%s)", lh_err_name(g.err[0]),
                      lh_err_name(err), g.why[0]);
    if (needle)
        ck_assert_msg(strstr(g.why[0], needle), "'%s' not in '%s'", needle, g.why[0]);
}

static void
expect_reject_str(const char *s, int err, const char *needle)
{
    expect_reject(s, strlen(s), err, needle);
}

static char *
golden(const char *name, size_t *len)
{
    char path[512];
    snprintf(path, sizeof path, "%s/json/%s", LH_TEST_DATA, name);
    char *s = lh_test_read_file(path, len);
    ck_assert_msg(s != NULL, "cannot read %s", path);
    return s;
}

static const lh_kind_t KINDS[] = {LH_KIND_DEPLOY, LH_KIND_ALERT, LH_KIND_INCIDENT, LH_KIND_TICKET};

/* --- round trips ----------------------------------------------------------------------------- */

/* A label set as the store keeps it (lh_pb_labels()): the encoder's map entries read back, an
 * empty value as "", a missing value as ""; anything else in the bytes is refused, and what was
 * refused adds nothing the caller must trust. */
START_TEST(pb_labels_decode_and_refuse)
{
    /* team=pay, note= (value field present, empty), k (no value field) */
    static const uint8_t good[] = {0x42, 0x0b, 0x0a, 0x04, 't',  'e',  'a',  'm', 0x12, 0x03,
                                   'p',  'a',  'y',  0x42, 0x08, 0x0a, 0x04, 'n', 'o',  't',
                                   'e',  0x12, 0x00, 0x42, 0x03, 0x0a, 0x01, 'k'};
    lh_event_t *ev = lh_event_new();
    ck_assert_int_eq(lh_pb_labels(good, sizeof(good), ev), 0);
    ck_assert_uint_eq(ev->n_labels, 3);
    ck_assert_str_eq(ev->labels[0].key, "team");
    ck_assert_str_eq(ev->labels[0].value, "pay");
    ck_assert_str_eq(ev->labels[1].value, "");
    ck_assert_str_eq(ev->labels[2].key, "k");
    ck_assert_str_eq(ev->labels[2].value, "");
    lh_event_destroy(&ev);

    static const uint8_t cut[] = {0x42, 0x0b, 0x0a, 0x04, 't', 'e', 'a', 'm'};
    static const uint8_t other_field[] = {0x0a, 0x01, 'x'}; /* an event id, not a label */
    static const uint8_t nul_key[] = {0x42, 0x05, 0x0a, 0x03, 'a', 0x00, 'b'};
    static const uint8_t varint_inside[] = {0x42, 0x02, 0x08, 0x01}; /* not a string */
    static const uint8_t inner_cut[] = {0x42, 0x03, 0x0a, 0x05, 'a'};
    const struct {
        const uint8_t *p;
        size_t n;
    } bad[] = {{cut, sizeof(cut)},
               {other_field, sizeof(other_field)},
               {nul_key, sizeof(nul_key)},
               {varint_inside, sizeof(varint_inside)},
               {inner_cut, sizeof(inner_cut)}};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ev = lh_event_new();
        ck_assert_msg(lh_pb_labels(bad[i].p, bad[i].n, ev) == LH_EDECODE, "bad set %zu accepted",
                      i);
        lh_event_destroy(&ev);
    }
    ev = lh_event_new(); /* no bytes: no labels */
    ck_assert_int_eq(lh_pb_labels("", 0, ev), 0);
    ck_assert_uint_eq(ev->n_labels, 0);
    lh_event_destroy(&ev);
}
END_TEST

START_TEST(pb_round_trip)
{
    lh_event_t *in = full_event(KINDS[_i]), *out = NULL;
    lh_buf_t b = LH_BUF_INIT;
    char why[256];

    ck_assert_int_eq(lh_codec_pb_encode(in, &b), 0);
    ck_assert_uint_gt(b.len, 0);
    ck_assert_int_eq(lh_codec_pb_decode(b.data, b.len, &out, why, sizeof why), 0);
    event_eq(in, out);
    ck_assert_ptr_null(out->raw);
    lh_event_destroy(&out);

    /* the same through detection: protobuf, no raw kept */
    got_t g = {0};
    ck_assert_int_eq(lh_codec_decode(b.data, b.len, LH_FMT_AUTO, NULL, collect, &g), 1);
    ck_assert_ptr_nonnull(g.ev[0]);
    event_eq(in, g.ev[0]);
    ck_assert_ptr_null(g.ev[0]->raw);
    got_free(&g);

    /* encode appends */
    size_t first = b.len;
    ck_assert_int_eq(lh_codec_pb_encode(in, &b), 0);
    ck_assert_uint_eq(b.len, 2 * first);
    ck_assert_mem_eq(b.data, b.data + first, first);

    lh_buf_free(&b);
    lh_event_destroy(&in);
}
END_TEST

START_TEST(json_round_trip)
{
    lh_event_t *in = full_event(KINDS[_i]), *out = NULL;
    lh_buf_t b = LH_BUF_INIT;
    char why[256];

    ck_assert_int_eq(lh_codec_json_encode(in, &b), 0);
    ck_assert_ptr_null(memchr(b.data, '\n', b.len));
    ck_assert_int_eq(lh_codec_json_decode((char *)b.data, b.len, &out, why, sizeof why), 0);
    event_eq(in, out);
    ck_assert_uint_eq(out->raw_len, b.len);
    ck_assert_mem_eq(out->raw, b.data, b.len);
    ck_assert_int_eq(out->raw_format, LH_FMT_JSON);
    lh_event_destroy(&out);

    got_t g = {0};
    ck_assert_int_eq(lh_codec_decode(b.data, b.len, LH_FMT_AUTO, NULL, collect, &g), 1);
    ck_assert_ptr_nonnull(g.ev[0]);
    event_eq(in, g.ev[0]);
    ck_assert_int_eq(g.ev[0]->raw_format, LH_FMT_JSON);
    ck_assert_uint_eq(g.ev[0]->raw_len, b.len);
    got_free(&g);

    lh_buf_free(&b);
    lh_event_destroy(&in);
}
END_TEST

START_TEST(json_form_matches_design)
{
    /* the encoder writes loophub's JSON form (README.md, Formats): enum names, RFC 3339 times, body
     * named by kind */
    lh_event_t *in = full_event(LH_KIND_DEPLOY);
    lh_buf_t b = LH_BUF_INIT;
    ck_assert_int_eq(lh_codec_json_encode(in, &b), 0);
    ck_assert_int_eq(lh_buf_append(&b, "", 1), 0);
    const char *s = (const char *)b.data;
    ck_assert_msg(
        starts(s,
               "{\"id\":\"ev-1\",\"kind\":\"deploy\",\"time\":\"2026-11-26T10:00:00.123456789Z\","
               "\"service\":\"api\",\"environment\":\"prod\",\"hosts\":"),
        "%s", s);
    ck_assert_ptr_nonnull(strstr(s, "\"status\":\"rolled_back\""));
    ck_assert_ptr_nonnull(strstr(s, "\"commit_time\":\"2026-11-26T09:10:00Z\""));
    ck_assert_ptr_nonnull(strstr(s, "\"labels\":{\"team\":\"payments\",\"tier\":\"1\"}"));
    ck_assert_ptr_nonnull(strstr(s, "\"hosts\":[\"web-1\",\"web-2\"]"));
    ck_assert_ptr_nonnull(
        strstr(s, "\"change_ticket\":\"CHG-7\",\"previous_version_derived\":true}"));
    lh_buf_free(&b);

    /* a previous version the producer sent is not marked */
    in->deploy.previous_version_derived = 0;
    ck_assert_int_eq(lh_codec_json_encode(in, &b), 0);
    ck_assert_int_eq(lh_buf_append(&b, "", 1), 0);
    ck_assert_ptr_null(strstr((const char *)b.data, "previous_version_derived"));
    lh_buf_free(&b);

    /* absent fields are omitted */
    lh_event_t *small = lh_event_new();
    small->kind = LH_KIND_INCIDENT;
    set(small, &small->id, "i-1");
    ck_assert_int_eq(lh_codec_json_encode(small, &b), 0);
    ck_assert_int_eq(lh_buf_append(&b, "", 1), 0);
    ck_assert_str_eq((const char *)b.data,
                     "{\"id\":\"i-1\",\"kind\":\"incident\",\"incident\":{}}");
    lh_buf_free(&b);
    lh_event_destroy(&small);
    lh_event_destroy(&in);
}
END_TEST

START_TEST(golden_json_cross_protobuf)
{
    static const char *files[] = {"deploy.json", "alert.json", "incident.json", "ticket.json"};
    size_t len;
    char *s = golden(files[_i], &len);
    got_t g = {0};
    ck_assert_int_eq(lh_codec_decode(s, len, LH_FMT_AUTO, NULL, collect, &g), 1);
    ck_assert_msg(g.ev[0] != NULL, "%s: %s", files[_i], g.why[0]);
    lh_event_t *ev = g.ev[0];
    ck_assert_int_eq(ev->kind, KINDS[_i]);
    ck_assert_uint_eq(ev->raw_len, len);
    ck_assert_mem_eq(ev->raw, s, len);

    /* every field is set in the golden files */
    ck_assert_ptr_nonnull(ev->id);
    ck_assert_ptr_nonnull(ev->source);
    ck_assert_ptr_nonnull(ev->actor);
    ck_assert_ptr_nonnull(ev->environment);
    ck_assert_uint_gt(ev->n_hosts, 0);
    ck_assert_uint_gt(ev->n_labels, 0);

    lh_buf_t b = LH_BUF_INIT;
    lh_event_t *back = NULL;
    char why[256];
    ck_assert_int_eq(lh_codec_pb_encode(ev, &b), 0);
    ck_assert_int_eq(lh_codec_pb_decode(b.data, b.len, &back, why, sizeof why), 0);
    event_eq(ev, back);
    lh_event_destroy(&back);

    /* and JSON again from the protobuf copy */
    lh_buf_reset(&b);
    ck_assert_int_eq(lh_codec_json_encode(ev, &b), 0);
    ck_assert_int_eq(lh_codec_json_decode((char *)b.data, b.len, &back, why, sizeof why), 0);
    event_eq(ev, back);
    lh_event_destroy(&back);

    lh_buf_free(&b);
    got_free(&g);
    free(s);
}
END_TEST

START_TEST(golden_deploy_values)
{
    size_t len;
    char *s = golden("deploy.json", &len);
    lh_event_t *ev = NULL;
    char why[256];
    ck_assert_int_eq(lh_codec_decode_one(s, len, LH_FMT_AUTO, NULL, &ev, why, sizeof why), 0);
    ck_assert_str_eq(ev->id, "d-1");
    ck_assert_int_eq(ev->time_ns, T0);
    ck_assert_str_eq(ev->deploy.deploy_id, "D-1");
    ck_assert_int_eq(ev->deploy.status, LH_DEPLOY_SUCCEEDED);
    ck_assert_int_eq(ev->deploy.commit_time_ns, T0 - 50 * 60 * LH_NS_PER_SEC);
    ck_assert_str_eq(lh_event_label(ev, "team"), "payments");
    ck_assert_str_eq(ev->hosts[1], "web-2");
    lh_event_destroy(&ev);
    free(s);

    /* kind may be left out when the body says it */
    s = golden("no_kind.json", &len);
    ck_assert_int_eq(lh_codec_decode_one(s, len, LH_FMT_AUTO, NULL, &ev, why, sizeof why), 0);
    ck_assert_int_eq(ev->kind, LH_KIND_DEPLOY);
    ck_assert_str_eq(ev->deploy.version, "2.0.0");
    lh_event_destroy(&ev);
    free(s);
}
END_TEST

/* --- correlated alerts ------------------------------------------------------------------------ */

static lh_correlated_t *
full_alert(void)
{
    lh_correlated_t *ca = lh_correlated_new();
    ca->id = strdup("ca-1");
    ca->seq = 42;
    ca->kind = LH_CA_DEPLOY_PRECEDED_INCIDENT;
    ca->service = strdup("api");
    ca->environment = strdup("prod");
    ca->late = 1;
    ca->created_ns = T0 + 301 * LH_NS_PER_SEC;
    ca->rollback_version = strdup("1.4.1");
    ca->outcome = full_event(LH_KIND_INCIDENT);
    for (int k = 0; k < 2; k++) {
        lh_suspect_t *s = lh_correlated_add_suspect(ca);
        s->deploy_id = strdup(k ? "D-2" : "D-1");
        s->event_id = strdup(k ? "d-2" : "d-1");
        s->service = strdup("api");
        s->environment = strdup("prod");
        s->version = strdup("1.4.2");
        s->previous_version = strdup("1.4.1");
        s->actor = strdup("alice");
        s->commit = strdup("9f2c1e0");
        s->artifact = strdup("pkg:oci/api@sha256:abc");
        ck_assert_int_eq(lh_suspect_add_host(s, "web-1"), 0);
        s->deploy_time_ns = T0 - k * 60 * LH_NS_PER_SEC;
        s->lead_seconds = 300 + k * 60;
        s->score = k ? 0.5 : 0.93;
        ck_assert_int_eq(lh_suspect_add_reason(s, "same service and environment"), 0);
        ck_assert_int_eq(lh_suspect_add_reason(s, "deployed 5m before the incident"), 0);
        s->previous_version_derived = k; /* one of each */
    }
    ca->revision = 3;
    ck_assert_int_eq(lh_correlated_add_change(ca, "a second incident joined"), 0);
    ck_assert_int_eq(lh_correlated_add_change(ca, "every outcome resolved"), 0);
    ca->resolved = 1;
    ca->resolved_ns = T0 + 3600 * LH_NS_PER_SEC;
    for (int k = 0; k < 2; k++) {
        lh_ca_outcome_t *o = lh_correlated_add_outcome(ca);
        ck_assert_ptr_nonnull(o);
        o->kind = k ? LH_KIND_ALERT : LH_KIND_INCIDENT;
        o->ref = strdup(k ? "c0ffee" : "INC-1");
        o->event_id = strdup(k ? "a-1" : "ev-1");
        o->title = strdup(k ? "HighErrorRate" : "5xx spike");
        o->time_ns = T0 + k * 30 * LH_NS_PER_SEC;
        o->resolved_ns = k ? T0 + 3600 * LH_NS_PER_SEC : T0 + 1800 * LH_NS_PER_SEC;
    }
    static const struct {
        const char *service, *version, *deploy_id, *from_version;
        int derived;
    } rb[] = {{"api", "1.4.1", "D-2", "1.4.2", 0},
              {"web", "2.0.0", "W-1", "2.1.0", 1},
              {"db", NULL, "B-1", "3.1", 0}};
    for (size_t k = 0; k < sizeof rb / sizeof rb[0]; k++) {
        lh_rollback_t *r = lh_correlated_add_rollback(ca);
        ck_assert_ptr_nonnull(r);
        r->service = strdup(rb[k].service);
        r->version = rb[k].version ? strdup(rb[k].version) : NULL;
        r->deploy_id = strdup(rb[k].deploy_id);
        r->from_version = strdup(rb[k].from_version);
        r->derived = rb[k].derived;
    }
    return ca;
}

static void
alert_eq(const lh_correlated_t *a, const lh_correlated_t *b)
{
    ck_assert_pstr_eq(a->id, b->id);
    ck_assert_uint_eq(a->seq, b->seq);
    ck_assert_int_eq(a->kind, b->kind);
    ck_assert_pstr_eq(a->service, b->service);
    ck_assert_pstr_eq(a->environment, b->environment);
    ck_assert_int_eq(a->late, b->late);
    ck_assert_int_eq(a->created_ns, b->created_ns);
    ck_assert_pstr_eq(a->rollback_version, b->rollback_version);
    ck_assert_ptr_nonnull(b->outcome);
    event_eq(a->outcome, b->outcome);
    ck_assert_uint_eq(a->n_suspects, b->n_suspects);
    for (size_t i = 0; i < a->n_suspects; i++) {
        const lh_suspect_t *x = &a->suspects[i], *y = &b->suspects[i];
        ck_assert_pstr_eq(x->deploy_id, y->deploy_id);
        ck_assert_pstr_eq(x->event_id, y->event_id);
        ck_assert_pstr_eq(x->service, y->service);
        ck_assert_pstr_eq(x->environment, y->environment);
        ck_assert_pstr_eq(x->version, y->version);
        ck_assert_pstr_eq(x->previous_version, y->previous_version);
        ck_assert_pstr_eq(x->actor, y->actor);
        ck_assert_pstr_eq(x->commit, y->commit);
        ck_assert_pstr_eq(x->artifact, y->artifact);
        strv_eq(x->hosts, x->n_hosts, y->hosts, y->n_hosts);
        ck_assert_int_eq(x->deploy_time_ns, y->deploy_time_ns);
        ck_assert_int_eq(x->lead_seconds, y->lead_seconds);
        ck_assert_double_eq_tol(x->score, y->score, 1e-9);
        strv_eq(x->reasons, x->n_reasons, y->reasons, y->n_reasons);
        ck_assert_int_eq(x->previous_version_derived, y->previous_version_derived);
    }
    ck_assert_uint_eq(a->revision, b->revision);
    strv_eq(a->changes, a->n_changes, b->changes, b->n_changes);
    ck_assert_int_eq(a->resolved, b->resolved);
    ck_assert_int_eq(a->resolved_ns, b->resolved_ns);
    ck_assert_uint_eq(a->n_outcomes, b->n_outcomes);
    for (size_t i = 0; i < a->n_outcomes; i++) {
        const lh_ca_outcome_t *x = &a->outcomes[i], *y = &b->outcomes[i];
        ck_assert_int_eq(x->kind, y->kind);
        ck_assert_pstr_eq(x->ref, y->ref);
        ck_assert_pstr_eq(x->event_id, y->event_id);
        ck_assert_pstr_eq(x->title, y->title);
        ck_assert_int_eq(x->time_ns, y->time_ns);
        ck_assert_int_eq(x->resolved_ns, y->resolved_ns);
    }
    ck_assert_uint_eq(a->n_rollbacks, b->n_rollbacks);
    for (size_t i = 0; i < a->n_rollbacks; i++) {
        const lh_rollback_t *x = &a->rollbacks[i], *y = &b->rollbacks[i];
        ck_assert_pstr_eq(x->service, y->service);
        ck_assert_pstr_eq(x->version, y->version);
        ck_assert_pstr_eq(x->deploy_id, y->deploy_id);
        ck_assert_pstr_eq(x->from_version, y->from_version);
        ck_assert_int_eq(x->derived, y->derived);
    }
}

/* An alert with nothing set but its id: every new field at its zero value. */
static lh_correlated_t *
bare_alert(void)
{
    lh_correlated_t *ca = lh_correlated_new();
    ck_assert_ptr_nonnull(ca);
    ca->id = strdup("ca-0");
    return ca;
}

START_TEST(alert_pb_round_trip)
{
    lh_correlated_t *ca = full_alert(), *back = NULL;
    lh_buf_t b = LH_BUF_INIT;
    ck_assert_int_eq(lh_codec_alert_pb_encode(ca, &b), 0);
    ck_assert_int_eq(lh_codec_alert_pb_decode(b.data, b.len, &back), 0);
    alert_eq(ca, back);
    lh_correlated_destroy(&back);

    /* the dispatcher gives the same bytes */
    lh_buf_t c = LH_BUF_INIT;
    ck_assert_int_eq(lh_codec_alert_encode(ca, LH_ALERTS_PROTOBUF, &c), 0);
    ck_assert_uint_eq(c.len, b.len);
    ck_assert_mem_eq(c.data, b.data, b.len);

    /* truncated or garbage bytes are refused, not half-read */
    ck_assert_int_eq(lh_codec_alert_pb_decode(b.data, b.len - 1, &back), LH_EDECODE);
    ck_assert_ptr_null(back);
    ck_assert_int_eq(lh_codec_alert_pb_decode("\xff\xff\xff", 3, &back), LH_EDECODE);

    /* the zero values (revision 0, not resolved, no lists) come back as zero values */
    lh_correlated_t *bare = bare_alert();
    lh_buf_reset(&b);
    ck_assert_int_eq(lh_codec_alert_pb_encode(bare, &b), 0);
    ck_assert_int_eq(lh_codec_alert_pb_decode(b.data, b.len, &back), 0);
    ck_assert_str_eq(back->id, "ca-0");
    ck_assert_uint_eq(back->revision, 0);
    ck_assert_int_eq(back->resolved, 0);
    ck_assert_uint_eq(back->n_changes + back->n_outcomes + back->n_rollbacks, 0);
    lh_correlated_destroy(&back);
    lh_correlated_destroy(&bare);

    lh_buf_free(&b);
    lh_buf_free(&c);
    lh_correlated_destroy(&ca);
}
END_TEST

/* Captures the first log line of the child process (Check forks each test and loop). */
static char logged[512];

static void
keep_log(lh_log_level_t level, const char *component, const char *msg, void *arg)
{
    (void)level;
    (void)component;
    (void)arg;
    if (!logged[0])
        snprintf(logged, sizeof logged, "%s", msg);
}

START_TEST(alert_pb_bad_outcome_kind)
{
    /* an outcome is an incident or an alert; a deploy (or no kind) is refused, saying which */
    static const lh_kind_t bad[] = {LH_KIND_DEPLOY, LH_KIND_TICKET, LH_KIND_NONE};
    lh_correlated_t *ca = full_alert(), *back = NULL;
    lh_buf_t b = LH_BUF_INIT;
    ca->outcomes[1].kind = bad[_i];
    ck_assert_int_eq(lh_codec_alert_pb_encode(ca, &b), 0);
    lh_log_set_level(LH_LOG_DEBUG);
    lh_log_set_sink(keep_log, NULL);
    ck_assert_int_eq(lh_codec_alert_pb_decode(b.data, b.len, &back), LH_EDECODE);
    lh_log_set_sink(NULL, NULL);
    ck_assert_ptr_null(back);
    ck_assert_msg(strstr(logged, "field 'outcomes[1].kind' must be incident or alert"),
                  "logged: %s", logged);
    lh_buf_free(&b);
    lh_correlated_destroy(&ca);
}
END_TEST

START_TEST(alert_json_round_trip)
{
    lh_correlated_t *ca = full_alert(), *back = NULL;
    lh_buf_t b = LH_BUF_INIT;
    ck_assert_int_eq(lh_codec_alert_json_encode(ca, &b), 0);
    ck_assert_int_eq(lh_codec_alert_json_decode((char *)b.data, b.len, &back), 0);
    alert_eq(ca, back);
    lh_correlated_destroy(&back);

    ck_assert_int_eq(lh_buf_append(&b, "", 1), 0);
    const char *s = (const char *)b.data;
    ck_assert_msg(starts(s, "{\"id\":\"ca-1\",\"seq\":42,\"kind\":\"deploy_preceded_incident\""),
                  "%s", s);
    ck_assert_ptr_nonnull(strstr(s, "\"late\":true"));
    ck_assert_ptr_nonnull(strstr(s, "\"score\":0.93,"));
    ck_assert_ptr_nonnull(strstr(s, "\"outcome\":{\"id\":\"ev-1\",\"kind\":\"incident\""));
    ck_assert_ptr_nonnull(strstr(s, "\"lead_seconds\":300"));
    ck_assert_ptr_nonnull(strstr(s, "\"revision\":3,\"changes\":[\"a second incident joined\","
                                    "\"every outcome resolved\"],\"resolved\":true,"
                                    "\"resolved_time\":\"2026-11-26T11:00:00Z\""));
    ck_assert_ptr_nonnull(strstr(s, "\"outcomes\":[{\"kind\":\"incident\",\"ref\":\"INC-1\","
                                    "\"event_id\":\"ev-1\",\"title\":\"5xx spike\","
                                    "\"time\":\"2026-11-26T10:00:00Z\","
                                    "\"resolved\":\"2026-11-26T10:30:00Z\"},{\"kind\":\"alert\""));
    ck_assert_ptr_nonnull(strstr(s, "\"rollbacks\":[{\"service\":\"api\",\"version\":\"1.4.1\","
                                    "\"deploy_id\":\"D-2\",\"from_version\":\"1.4.2\","
                                    "\"derived\":false},"));
    ck_assert_ptr_nonnull(strstr(s, "\"derived\":true"));
    /* an unknown rollback target is no "version" at all */
    ck_assert_ptr_nonnull(strstr(s, "{\"service\":\"db\",\"deploy_id\":\"B-1\""));
    /* the flag is written for the suspect whose previous version was derived only */
    const char *flag = strstr(s, "\"previous_version_derived\":true");
    ck_assert_ptr_nonnull(flag);
    ck_assert_ptr_null(strstr(flag + 1, "\"previous_version_derived\""));
    ck_assert_ptr_nonnull(strstr(s, "\"deploy_id\":\"D-2\",\"event_id\":\"d-2\""));
    ck_assert(strstr(s, "\"deploy_id\":\"D-2\",\"event_id\":\"d-2\"") < flag);

    /* revision and resolved are always written; absent on input, they are 0 and false */
    lh_correlated_t *bare = bare_alert();
    lh_buf_t z = LH_BUF_INIT;
    ck_assert_int_eq(lh_codec_alert_json_encode(bare, &z), 0);
    ck_assert_int_eq(lh_buf_append(&z, "", 1), 0);
    ck_assert_str_eq((const char *)z.data, "{\"id\":\"ca-0\",\"seq\":0,\"late\":false,"
                                           "\"suspects\":[],\"revision\":0,\"resolved\":false}");
    ck_assert_int_eq(lh_codec_alert_json_decode((char *)z.data, z.len - 1, &back), 0);
    ck_assert_str_eq(back->id, "ca-0");
    ck_assert_uint_eq(back->revision, 0);
    ck_assert_int_eq(back->resolved, 0);
    ck_assert_int_eq(back->resolved_ns, 0);
    ck_assert_uint_eq(back->n_changes + back->n_outcomes + back->n_rollbacks, 0);
    lh_correlated_destroy(&back);
    ck_assert_int_eq(lh_codec_alert_json_decode("{\"id\":\"ca-0\"}", 13, &back), 0);
    ck_assert_uint_eq(back->revision, 0);
    ck_assert_int_eq(back->resolved, 0);
    lh_correlated_destroy(&back);
    lh_buf_free(&z);
    lh_correlated_destroy(&bare);

    lh_buf_t c = LH_BUF_INIT;
    ck_assert_int_eq(lh_codec_alert_encode(ca, LH_ALERTS_JSON, &c), 0);
    ck_assert_uint_eq(c.len + 1, b.len);

    /* bad alert JSON */
    const char *bad[] = {"{\"seq\":\"x\"}",
                         "{\"kind\":\"nope\"}",
                         "{\"suspects\":[1]}",
                         "{\"suspects\":[{\"score\":\"high\"}]}",
                         "{\"outcome\":{\"kind\":1}}",
                         "[1",
                         "{\"late\":1}",
                         "{\"revision\":\"2\"}",
                         "{\"revision\":-1}",
                         "{\"revision\":4294967296}",
                         "{\"revision\":1.5}",
                         "{\"changes\":\"new suspect\"}",
                         "{\"changes\":[1]}",
                         "{\"resolved\":\"yes\"}",
                         "{\"resolved\":0}",
                         "{\"resolved_time\":1795687200}",
                         "{\"resolved_time\":\"soon\"}",
                         "{\"outcomes\":{}}",
                         "{\"outcomes\":[1]}",
                         "{\"outcomes\":[{}]}",
                         "{\"outcomes\":[{\"kind\":\"deploy\"}]}",
                         "{\"outcomes\":[{\"kind\":7}]}",
                         "{\"outcomes\":[{\"kind\":\"incident\",\"ref\":5}]}",
                         "{\"outcomes\":[{\"kind\":\"alert\",\"time\":\"noon\"}]}",
                         "{\"outcomes\":[{\"kind\":\"alert\",\"resolved\":true}]}",
                         "{\"rollbacks\":\"api\"}",
                         "{\"rollbacks\":[[]]}",
                         "{\"rollbacks\":[{\"version\":1.41}]}",
                         "{\"rollbacks\":[{\"derived\":\"true\"}]}",
                         "{\"suspects\":[{\"previous_version_derived\":1}]}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ck_assert_int_eq(lh_codec_alert_json_decode(bad[i], strlen(bad[i]), &back), LH_EDECODE);
        ck_assert_ptr_null(back);
    }
    lh_buf_free(&b);
    lh_buf_free(&c);
    lh_correlated_destroy(&ca);
}
END_TEST

/* A wrong type in a new field is refused with a reason naming the field (logged: the alert
 * decoders return only the code). */
START_TEST(alert_json_reasons)
{
    static const struct {
        const char *json, *reason;
    } cases[] = {
        {"{\"revision\":\"2\"}", "field 'revision' must be an integer"},
        {"{\"changes\":[\"x\",2]}", "field 'changes[1]' must be a string"},
        {"{\"resolved\":1}", "field 'resolved' must be a boolean"},
        {"{\"resolved_time\":\"soon\"}", "field 'resolved_time' is not an RFC 3339 time"},
        {"{\"outcomes\":[{\"kind\":\"ticket\"}]}",
         "field 'outcomes[0].kind' must be incident or alert"},
        {"{\"outcomes\":[{\"kind\":\"alert\"},{\"kind\":\"incident\",\"title\":[]}]}",
         "field 'outcomes[1].title' must be a string"},
        {"{\"rollbacks\":[{\"derived\":\"no\"}]}",
         "field 'rollbacks[0].derived' must be a boolean"},
        {"{\"rollbacks\":[3]}", "rollbacks[0]. must be an object"},
        {"{\"suspects\":[{},{\"previous_version_derived\":\"y\"}]}",
         "field 'suspects[1].previous_version_derived' must be a boolean"},
    };
    lh_correlated_t *back = NULL;
    ck_assert_int_lt(_i, (int)(sizeof cases / sizeof cases[0]));
    lh_log_set_level(LH_LOG_DEBUG);
    lh_log_set_sink(keep_log, NULL);
    ck_assert_int_eq(lh_codec_alert_json_decode(cases[_i].json, strlen(cases[_i].json), &back),
                     LH_EDECODE);
    lh_log_set_sink(NULL, NULL);
    ck_assert_ptr_null(back);
    ck_assert_msg(strstr(logged, cases[_i].reason), "%s: logged '%s'", cases[_i].json, logged);
}
END_TEST

START_TEST(alert_cloudevent)
{
    /* the data is the JSON form, new fields included; each revision is its own CloudEvent id, so
     * a consumer that drops duplicates (same source and id) keeps every revision */
    lh_correlated_t *ca = full_alert();
    lh_buf_t b = LH_BUF_INIT;
    ck_assert_int_eq(lh_codec_alert_encode(ca, LH_ALERTS_CLOUDEVENTS, &b), 0);
    ck_assert_int_eq(lh_buf_append(&b, "", 1), 0);
    const char *s = (const char *)b.data;
    ck_assert_msg(starts(s, "{\"specversion\":\"1.0\",\"id\":\"ca-1-r3\","), "%s", s);
    ck_assert_ptr_nonnull(strstr(s, "\"data\":{\"id\":\"ca-1\","));
    ck_assert_ptr_nonnull(strstr(s, "\"revision\":3,"));
    ck_assert_ptr_nonnull(strstr(s, "\"outcomes\":[{"));
    ck_assert_ptr_nonnull(strstr(s, "\"rollbacks\":[{"));
    lh_buf_free(&b);

    /* the first revision keeps the alert's id */
    ca->revision = 1;
    ck_assert_int_eq(lh_codec_alert_encode(ca, LH_ALERTS_CLOUDEVENTS, &b), 0);
    ck_assert_int_eq(lh_buf_append(&b, "", 1), 0);
    ck_assert_msg(starts((const char *)b.data, "{\"specversion\":\"1.0\",\"id\":\"ca-1\","), "%s",
                  (const char *)b.data);
    lh_buf_free(&b);
    lh_correlated_destroy(&ca);
}
END_TEST

START_TEST(alert_formats)
{
    lh_alerts_format_t f;
    ck_assert_int_eq(lh_alerts_format_parse("protobuf", &f), 0);
    ck_assert_int_eq(f, LH_ALERTS_PROTOBUF);
    ck_assert_int_eq(lh_alerts_format_parse("JSON", &f), 0);
    ck_assert_int_eq(f, LH_ALERTS_JSON);
    ck_assert_int_eq(lh_alerts_format_parse("cloudevents", &f), 0);
    ck_assert_int_eq(f, LH_ALERTS_CLOUDEVENTS);
    ck_assert_int_eq(lh_alerts_format_parse("xml", &f), LH_EINVAL);
    ck_assert_int_eq(lh_alerts_format_parse("", &f), LH_EINVAL);
    ck_assert_int_eq(lh_alerts_format_parse(NULL, &f), LH_EINVAL);

    ck_assert_str_eq(lh_format_name(LH_FMT_PROTOBUF), "protobuf");
    ck_assert_str_eq(lh_format_name(LH_FMT_JSON), "json");
    ck_assert_str_eq(lh_format_name(LH_FMT_CLOUDEVENTS), "cloudevents");
    ck_assert_str_eq(lh_format_name(LH_FMT_ALERTMANAGER), "alertmanager");
    ck_assert_str_eq(lh_format_name((lh_format_t)99), "unknown");

    lh_codec_opts_t o;
    lh_codec_opts_default(&o);
    ck_assert_ptr_null(o.limits);
    ck_assert_str_eq(o.am_service_label, "service");
    ck_assert_str_eq(o.am_env_labels[0], "env");
    ck_assert_str_eq(o.am_env_labels[1], "environment");
    ck_assert_ptr_null(o.am_env_labels[2]);
    ck_assert_str_eq(o.am_severity_label, "severity");
}
END_TEST

/* --- bad input ------------------------------------------------------------------------------- */

START_TEST(broken_json_has_position)
{
    size_t len;
    char *s = golden("broken.json", &len);
    expect_reject(s, len, LH_EDECODE, "invalid JSON at line 3 column");
    free(s);
    expect_reject_str("{\"id\":\"a\",", LH_EDECODE, "invalid JSON at line 1");
    expect_reject_str("{\"id\":\"a\",\"id\":\"b\"}", LH_EDECODE, "duplicate");
    expect_reject_str("{} trailing", LH_EDECODE, "invalid JSON");
    /* JSON forced by the hint on something that is not */
    got_t g = {0};
    ck_assert_int_eq(lh_codec_decode("42", 2, LH_FMT_JSON, NULL, collect, &g), 1);
    ck_assert_ptr_null(g.ev[0]);
    ck_assert_ptr_nonnull(strstr(g.why[0], "invalid JSON"));
}
END_TEST

START_TEST(bad_protobuf)
{
    lh_event_t *in = full_event(LH_KIND_DEPLOY);
    lh_buf_t b = LH_BUF_INIT;
    ck_assert_int_eq(lh_codec_pb_encode(in, &b), 0);

    /* cut inside the last string: the length prefix claims more than is there */
    expect_reject(b.data, b.len - 1, LH_EDECODE, "malformed protobuf");

    /* every prefix: exactly one answer, never a crash */
    for (size_t n = 1; n < b.len; n++) {
        got_t g = {0};
        ck_assert_int_eq(lh_codec_decode(b.data, n, LH_FMT_PROTOBUF, NULL, collect, &g), 1);
        got_free(&g);
    }

    /* garbage */
    expect_reject("\xff\xff\xff\xff\xff", 5, LH_EDECODE, "malformed protobuf");
    expect_reject("\x08\x96", 2, LH_EDECODE, "malformed protobuf");

    /* random bytes, a fixed seed: one sink call each, whatever the detection says */
    uint32_t x = 2463534242u;
    unsigned char r[256];
    for (int round = 0; round < 2000; round++) {
        size_t n = 1 + (size_t)(round % 255);
        for (size_t i = 0; i < n; i++) {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            r[i] = (unsigned char)x;
        }
        got_t g = {0};
        ck_assert_int_eq(lh_codec_decode(r, n, LH_FMT_AUTO, NULL, collect, &g), 1);
        got_free(&g);
    }

    /* a JSON payload forced to protobuf */
    expect_reject("{", 1, 0, NULL);
    got_t g = {0};
    ck_assert_int_eq(lh_codec_decode("{\"id\":\"x\"}", 10, LH_FMT_PROTOBUF, NULL, collect, &g), 1);
    ck_assert_ptr_null(g.ev[0]);
    ck_assert_ptr_nonnull(strstr(g.why[0], "malformed protobuf"));

    lh_buf_free(&b);
    lh_event_destroy(&in);
}
END_TEST

START_TEST(protobuf_without_body_or_bad_enum)
{
    /* no body: decodes with kind NONE, validation rejects it later */
    lh_event_t *in = full_event(LH_KIND_NONE), *out = NULL;
    lh_buf_t b = LH_BUF_INIT;
    char why[256];
    ck_assert_int_eq(lh_codec_pb_encode(in, &b), 0);
    ck_assert_int_eq(lh_codec_pb_decode(b.data, b.len, &out, why, sizeof why), 0);
    ck_assert_int_eq(out->kind, LH_KIND_NONE);
    lh_event_destroy(&out);
    lh_event_destroy(&in);

    /* an enum number outside the proto's list names the field; the last one listed is fine */
    static const struct {
        lh_kind_t kind;
        const char *field;
        int max;
    } enums[] = {
        {LH_KIND_DEPLOY, "deploy.status", LH_DEPLOY_ROLLED_BACK},
        {LH_KIND_ALERT, "alert.state", LH_ALERT_RESOLVED},
        {LH_KIND_ALERT, "alert.severity", LH_SEV_CRITICAL},
        {LH_KIND_INCIDENT, "incident.state", LH_INCIDENT_RESOLVED},
        {LH_KIND_INCIDENT, "incident.severity", LH_SEV_CRITICAL},
        {LH_KIND_TICKET, "ticket.type", LH_TICKET_TASK},
        {LH_KIND_TICKET, "ticket.state", LH_TICKET_CLOSED},
    };
    for (size_t i = 0; i < sizeof(enums) / sizeof(enums[0]); i++)
        for (int v = enums[i].max; v <= enums[i].max + 1; v++) {
            in = full_event(enums[i].kind);
            const char *f = enums[i].field;
            if (!strcmp(f, "deploy.status"))
                in->deploy.status = (lh_deploy_status_t)v;
            else if (!strcmp(f, "alert.state"))
                in->alert.state = (lh_alert_state_t)v;
            else if (!strcmp(f, "alert.severity"))
                in->alert.severity = (lh_severity_t)v;
            else if (!strcmp(f, "incident.state"))
                in->incident.state = (lh_incident_state_t)v;
            else if (!strcmp(f, "incident.severity"))
                in->incident.severity = (lh_severity_t)v;
            else if (!strcmp(f, "ticket.type"))
                in->ticket.type = (lh_ticket_type_t)v;
            else
                in->ticket.state = (lh_ticket_state_t)v;
            lh_buf_reset(&b);
            ck_assert_int_eq(lh_codec_pb_encode(in, &b), 0);
            int rc = lh_codec_pb_decode(b.data, b.len, &out, why, sizeof why);
            if (v == enums[i].max) {
                ck_assert_msg(rc == 0, "%s = %d (the last listed): %s", f, v, why);
                lh_event_destroy(&out);
            } else {
                ck_assert_msg(rc == LH_EDECODE, "%s = %d (past the list) decoded", f, v);
                ck_assert_ptr_null(out);
                ck_assert_msg(strstr(why, f), "%s = %d: '%s'", f, v, why);
            }
            lh_event_destroy(&in);
        }
    lh_buf_free(&b);
}
END_TEST

START_TEST(empty_payload)
{
    expect_reject("", 0, LH_EDECODE, "empty payload");
    expect_reject(NULL, 0, LH_EDECODE, "empty payload");
    expect_reject_str(" \n\t\r\n", LH_EDECODE, "empty payload");
    expect_reject_str("[]", LH_EDECODE, "empty JSON array");
    got_t g = {0};
    ck_assert_int_eq(lh_codec_decode("", 0, LH_FMT_PROTOBUF, NULL, collect, &g), 1);
    ck_assert_ptr_null(g.ev[0]);
}
END_TEST

START_TEST(wrong_types)
{
    size_t len;
    char *s = golden("wrong_type.json", &len);
    got_t g = {0};
    ck_assert_int_eq(lh_codec_decode(s, len, LH_FMT_AUTO, NULL, collect, &g), 1);
    ck_assert_ptr_null(g.ev[0]);
    ck_assert_int_eq(g.err[0], LH_EDECODE);
    ck_assert_str_eq(g.why[0], "field 'deploy.version' must be a string, not a number");
    ck_assert_str_eq(g.id[0], "x-5");
    free(s);

#define B "\"time\":\"2026-11-26T10:00:00Z\",\"service\":\"api\""
    expect_reject_str("{\"id\":7," B ",\"deploy\":{}}", LH_EDECODE, "field 'id' must be a string");
    expect_reject_str("{\"id\":\"a\",\"time\":1795687200,\"deploy\":{}}", LH_EDECODE,
                      "field 'time' must be a string");
    expect_reject_str("{\"id\":\"a\",\"time\":\"yesterday\",\"deploy\":{}}", LH_EDECODE,
                      "field 'time' is not an RFC 3339 time: 'yesterday'");
    expect_reject_str("{\"id\":\"a\"," B ",\"hosts\":\"web-1\",\"deploy\":{}}", LH_EDECODE,
                      "field 'hosts' must be an array");
    expect_reject_str("{\"id\":\"a\"," B ",\"hosts\":[\"web-1\",2],\"deploy\":{}}", LH_EDECODE,
                      "field 'hosts[1]' must be a string");
    expect_reject_str("{\"id\":\"a\"," B ",\"labels\":[],\"deploy\":{}}", LH_EDECODE,
                      "field 'labels' must be an object");
    expect_reject_str("{\"id\":\"a\"," B ",\"labels\":{\"team\":true},\"deploy\":{}}", LH_EDECODE,
                      "field 'labels.team' must be a string");
    expect_reject_str("{\"id\":\"a\"," B ",\"deploy\":{\"status\":\"done\"}}", LH_EDECODE,
                      "field 'deploy.status' has unknown value 'done'");
    expect_reject_str("{\"id\":\"a\"," B ",\"deploy\":{\"previous_version_derived\":\"yes\"}}",
                      LH_EDECODE,
                      "field 'deploy.previous_version_derived' must be a boolean, not a string");
    expect_reject_str("{\"id\":\"a\"," B ",\"deploy\":{\"previous_version_derived\":1}}",
                      LH_EDECODE,
                      "field 'deploy.previous_version_derived' must be a boolean, not a number");
    expect_reject_str("{\"id\":\"a\"," B ",\"deploy\":{\"commit_time\":\"9 am\"}}", LH_EDECODE,
                      "field 'deploy.commit_time' is not an RFC 3339 time");
    expect_reject_str("{\"id\":\"a\"," B ",\"alert\":{\"severity\":3}}", LH_EDECODE,
                      "field 'alert.severity' must be a string");
    expect_reject_str("{\"id\":\"a\"," B ",\"ticket\":{\"links\":[{}]}}", LH_EDECODE,
                      "field 'ticket.links[0]' must be a string");
    expect_reject_str("{\"id\":\"a\"," B ",\"deploy\":[]}", LH_EDECODE,
                      "field 'deploy' must be an object");
    expect_reject_str("{\"id\":\"a\"," B ",\"kind\":4,\"deploy\":{}}", LH_EDECODE,
                      "field 'kind' must be a string");
    /* huge numbers: in a typed field, or beyond what the parser holds */
    expect_reject_str("{\"id\":\"a\"," B ",\"deploy\":{\"version\":1e400}}", LH_EDECODE, NULL);
    expect_reject_str("{\"id\":\"a\"," B
                      ",\"deploy\":{\"version\":123456789012345678901234567890}}",
                      LH_EDECODE, NULL);
    expect_reject_str("{\"id\":\"a\"," B ",\"deploy\":{\"version\":1.5e300}}", LH_EDECODE,
                      "field 'deploy.version' must be a string");
    /* unknown keys and nulls are fine */
    got_t h = {0};
    const char *ok =
        "{\"id\":\"a\"," B ",\"extra\":{\"x\":[1,2]},\"actor\":null,\"deploy\":{\"x\":1}}";
    ck_assert_int_eq(lh_codec_decode(ok, strlen(ok), LH_FMT_AUTO, NULL, collect, &h), 1);
    ck_assert_ptr_nonnull(h.ev[0]);
    ck_assert_ptr_null(h.ev[0]->actor);
    got_free(&h);
#undef B
}
END_TEST

START_TEST(kind_and_body_rules)
{
    size_t len;
    char *s;
    got_t g = {0};

    s = golden("unknown_kind.json", &len);
    ck_assert_int_eq(lh_codec_decode(s, len, LH_FMT_AUTO, NULL, collect, &g), 1);
    ck_assert_int_eq(g.err[0], LH_EUNKNOWN_KIND);
    ck_assert_ptr_nonnull(strstr(g.why[0], "unknown kind 'rollout'"));
    ck_assert_str_eq(g.id[0], "x-4");
    free(s);

    s = golden("two_bodies.json", &len);
    expect_reject(s, len, LH_EDECODE, "two bodies, 'deploy' and 'alert'");
    free(s);
    s = golden("kind_mismatch.json", &len);
    expect_reject(s, len, LH_EDECODE, "kind 'deploy' does not match the body 'incident'");
    free(s);
    s = golden("kind_without_body.json", &len);
    expect_reject(s, len, LH_EMISSING, "kind 'deploy' without a 'deploy' object");
    free(s);
    expect_reject_str("{\"id\":\"a\",\"service\":\"api\"}", LH_EMISSING, "no body");
    expect_reject_str("{\"id\":\"a\",\"kind\":\"none\",\"deploy\":{}}", LH_EUNKNOWN_KIND,
                      "unknown kind 'none'");
    expect_reject_str("{\"id\":\"a\",\"kind\":\"bad\\nkind\",\"deploy\":{}}", LH_EUNKNOWN_KIND,
                      "unknown kind 'bad?kind'");
    /* case-insensitive names */
    lh_event_t *ev = NULL;
    char why[256];
    const char *up = "{\"id\":\"a\",\"kind\":\"Deploy\",\"deploy\":{\"status\":\"FAILED\"}}";
    ck_assert_int_eq(lh_codec_json_decode(up, strlen(up), &ev, why, sizeof why), 0);
    ck_assert_int_eq(ev->deploy.status, LH_DEPLOY_FAILED);
    lh_event_destroy(&ev);
}
END_TEST

START_TEST(batch_with_bad_element)
{
    size_t len;
    char *s = golden("batch.json", &len);
    got_t g = {0};
    ck_assert_int_eq(lh_codec_decode(s, len, LH_FMT_AUTO, NULL, collect, &g), 4);
    ck_assert_ptr_nonnull(g.ev[0]);
    ck_assert_str_eq(g.ev[0]->id, "b-1");
    ck_assert_int_eq(g.ev[0]->raw_format, LH_FMT_JSON);
    /* the element re-serialized compactly */
    ck_assert_uint_lt(g.ev[0]->raw_len, len);
    ck_assert_int_eq(((const char *)g.ev[0]->raw)[0], '{');
    ck_assert_ptr_null(memchr(g.ev[0]->raw, '\n', g.ev[0]->raw_len));
    ck_assert_ptr_null(memchr(g.ev[0]->raw, ' ', g.ev[0]->raw_len));

    ck_assert_ptr_null(g.ev[1]);
    ck_assert_str_eq(g.id[1], "b-2");
    ck_assert_ptr_nonnull(strstr(g.why[1], "item 1: kind 'incident' does not match"));
    ck_assert_ptr_null(g.ev[2]);
    ck_assert_str_eq(g.why[2], "item 2: not a JSON object but a number");
    ck_assert_ptr_nonnull(g.ev[3]);
    ck_assert_int_eq(g.ev[3]->kind, LH_KIND_ALERT);
    ck_assert_int_eq(g.ev[3]->alert.severity, LH_SEV_CRITICAL);

    /* the raw copy decodes to the same event */
    lh_event_t *again = NULL;
    char why[256];
    ck_assert_int_eq(lh_codec_json_decode(g.ev[3]->raw, g.ev[3]->raw_len, &again, why, sizeof why),
                     0);
    event_eq(g.ev[3], again);
    lh_event_destroy(&again);
    got_free(&g);

    /* a sink that says stop is obeyed */
    got_t h = {.stop_after = 1};
    ck_assert_int_eq(lh_codec_decode(s, len, LH_FMT_AUTO, NULL, collect, &h), 1);
    got_free(&h);

    /* decode_one refuses a batch of several */
    lh_event_t *ev = (lh_event_t *)1;
    ck_assert_int_eq(lh_codec_decode_one(s, len, LH_FMT_AUTO, NULL, &ev, why, sizeof why),
                     LH_EINVAL);
    ck_assert_ptr_null(ev);
    ck_assert_ptr_nonnull(strstr(why, "more than one"));
    free(s);

    /* decode_one passes a rejection on */
    ck_assert_int_eq(
        lh_codec_decode_one("{\"kind\":\"x\"}", 12, LH_FMT_AUTO, NULL, &ev, why, sizeof why),
        LH_EUNKNOWN_KIND);
    ck_assert_ptr_nonnull(strstr(why, "unknown kind 'x'"));
}
END_TEST

START_TEST(invalid_utf8_and_nul)
{
    expect_reject_str("{\"id\":\"\xff\xfe\",\"deploy\":{}}", LH_EDECODE, "invalid JSON at line 1");
    expect_reject_str("{\"id\":\"\xc3\",\"deploy\":{}}", LH_EDECODE, "invalid JSON");
    /* overlong encoding of '/' and a lone surrogate escape */
    expect_reject_str("{\"id\":\"\xc0\xaf\",\"deploy\":{}}", LH_EDECODE, "invalid JSON");
    expect_reject_str("{\"id\":\"\\ud800\",\"deploy\":{}}", LH_EDECODE, "invalid JSON");
    /* NUL: escaped and raw */
    expect_reject_str("{\"id\":\"a\\u0000b\",\"deploy\":{}}", LH_EDECODE, "invalid JSON");
    static const char raw_nul[] = "{\"id\":\"a\0b\",\"deploy\":{}}";
    expect_reject(raw_nul, sizeof raw_nul - 1, LH_EDECODE, "invalid JSON");
    static const char nul_after[] = "{\"id\":\"a\",\"deploy\":{}}\0\0";
    expect_reject(nul_after, sizeof nul_after - 1, LH_EDECODE, "invalid JSON");
}
END_TEST

/* Puts a NUL in place of the first "@" of the encoded event: the protobuf string keeps its
 * length, so only a decoder that reads lengths can tell "evt\0first" from "evt\0second". */
static void
expect_pb_nul(lh_event_t *ev, const char *needle)
{
    lh_buf_t b = LH_BUF_INIT;
    ck_assert_int_eq(lh_codec_pb_encode(ev, &b), 0);
    unsigned char *at = memchr(b.data, '@', b.len);
    ck_assert_ptr_nonnull(at);
    *at = '\0';
    lh_event_t *out = NULL;
    char why[200] = "";
    ck_assert_int_eq(lh_codec_pb_decode(b.data, b.len, &out, why, sizeof(why)), LH_EDECODE);
    ck_assert_ptr_null(out);
    ck_assert_msg(strstr(why, needle), "'%s' not in '%s'", needle, why);
    /* and through the auto-detecting entry point, as every transport decodes */
    expect_reject(b.data, b.len, LH_EDECODE, needle);
    lh_buf_free(&b);
    lh_event_destroy(&ev);
}

/* Before: protobuf strings were read up to their first NUL, so ids "evt\0first" and
 * "evt\0second" were stored as "evt" and the second answered duplicate; service, hosts and labels
 * were cut the same way. Now a NUL in any string is a rejection naming the field. */
START_TEST(protobuf_nul_in_string)
{
    lh_event_t *ev = full_event(LH_KIND_DEPLOY);
    set(ev, &ev->id, "evt@first");
    expect_pb_nul(ev, "field 'id' contains a NUL byte");
    ev = full_event(LH_KIND_DEPLOY);
    set(ev, &ev->service, "api@x");
    expect_pb_nul(ev, "field 'service' contains a NUL byte");
    ev = full_event(LH_KIND_DEPLOY);
    ck_assert_int_eq(lh_event_add_host(ev, "web@3", 5), 0);
    expect_pb_nul(ev, "field 'hosts' contains a NUL byte");
    ev = full_event(LH_KIND_DEPLOY);
    ck_assert_int_eq(lh_event_add_label(ev, "ci", 2, "run@1", 5), 0);
    expect_pb_nul(ev, "field 'labels.value' contains a NUL byte");
    ev = full_event(LH_KIND_DEPLOY);
    set(ev, &ev->deploy.deploy_id, "D@1");
    expect_pb_nul(ev, "field 'deploy.deploy_id' contains a NUL byte");
    ev = full_event(LH_KIND_TICKET);
    ck_assert_int_eq(lh_event_add_link(ev, "INC@2", 5), 0);
    expect_pb_nul(ev, "field 'ticket.links' contains a NUL byte");
    /* the rest of the schema still decodes: every kind round-trips (round_trip_pb) */
}
END_TEST

/* The JSON codecs (loophub JSON above in utf8_nul, CloudEvents structured, Alertmanager) read
 * through jansson, which refuses \u0000 in a string: each says so rather than cutting a value. */
START_TEST(json_codecs_nul_in_string)
{
    static const struct {
        lh_format_t fmt;
        const char *text;
    } cases[] = {
        {LH_FMT_CLOUDEVENTS,
         "{\"specversion\":\"1.0\",\"id\":\"evt\\u0000first\",\"source\":\"/ci\","
         "\"type\":\"dev.cdevents.service.deployed.0.3.0\",\"data\":{\"subject\":{\"id\":\"api\","
         "\"content\":{\"environment\":{\"id\":\"prod\"}}}}}"},
        {LH_FMT_ALERTMANAGER,
         "{\"version\":\"4\",\"status\":\"firing\",\"alerts\":[{\"status\":\"firing\","
         "\"labels\":{\"alertname\":\"Hi\\u0000gh\",\"service\":\"api\"},"
         "\"startsAt\":\"2026-11-26T10:00:00Z\",\"fingerprint\":\"c0ffee\"}]}"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        lh_event_t *ev = NULL;
        char why[200] = "";
        int rc = lh_codec_decode_one(cases[i].text, strlen(cases[i].text), cases[i].fmt, NULL, &ev,
                                     why, sizeof(why));
        ck_assert_msg(rc == LH_EDECODE, "case %zu: %s (%s)", i, lh_err_name(rc), why);
        ck_assert_ptr_null(ev);
        ck_assert_msg(strstr(why, "NUL") || strstr(why, "\\u0000") || strstr(why, "invalid JSON"),
                      "case %zu: %s", i, why);
    }
}
END_TEST

START_TEST(deep_nesting)
{
    size_t n = 10000;
    char *s = malloc(2 * n);
    memset(s, '[', n);
    memset(s + n, ']', n);
    expect_reject(s, 2 * n, LH_EDECODE, "invalid JSON");
    /* objects nested in a body */
    char *o = malloc(n * 6 + 64);
    size_t k = (size_t)sprintf(o, "{\"id\":\"a\",\"deploy\":");
    for (size_t i = 0; i < n; i++)
        k += (size_t)sprintf(o + k, "{\"a\":");
    o[k++] = '1';
    memset(o + k, '}', n + 1);
    k += n + 1;
    expect_reject(o, k, LH_EDECODE, "invalid JSON");
    free(o);
    free(s);
}
END_TEST

START_TEST(oversized_payload)
{
    lh_limits_t lim;
    lh_limits_default(&lim);
    lim.max_payload = 64;
    lh_codec_opts_t o;
    lh_codec_opts_default(&o);
    o.limits = &lim;

    char p[200];
    int n = snprintf(p, sizeof p, "{\"id\":\"a\",\"kind\":\"deploy\",\"deploy\":{}}");
    memset(p + n, ' ', sizeof p - (size_t)n);

    got_t g = {0};
    ck_assert_int_eq(lh_codec_decode(p, 64, LH_FMT_AUTO, &o, collect, &g), 1);
    ck_assert_ptr_nonnull(g.ev[0]);
    got_free(&g);

    got_t h = {0};
    ck_assert_int_eq(lh_codec_decode(p, 65, LH_FMT_AUTO, &o, collect, &h), 1);
    ck_assert_ptr_null(h.ev[0]);
    ck_assert_int_eq(h.err[0], LH_ETOOBIG);
    ck_assert_ptr_nonnull(strstr(h.why[0], "65 bytes"));

    /* the default limit is 1 MiB, protobuf too */
    size_t big = 1024 * 1024 + 1;
    char *b = calloc(1, big);
    got_t k = {0};
    ck_assert_int_eq(lh_codec_decode(b, big, LH_FMT_PROTOBUF, NULL, collect, &k), 1);
    ck_assert_int_eq(k.err[0], LH_ETOOBIG);
    free(b);
}
END_TEST

START_TEST(protobuf_that_looks_like_json)
{
    /* an id of 123 bytes makes the second byte '{' */
    lh_event_t *in = full_event(LH_KIND_DEPLOY);
    char id[124];
    memset(id, 'x', 123);
    id[123] = '\0';
    set(in, &in->id, id);
    lh_buf_t b = LH_BUF_INIT;
    ck_assert_int_eq(lh_codec_pb_encode(in, &b), 0);
    ck_assert_int_eq(b.data[0], '\n');
    ck_assert_int_eq(b.data[1], '{');
    got_t g = {0};
    ck_assert_int_eq(lh_codec_decode(b.data, b.len, LH_FMT_AUTO, NULL, collect, &g), 1);
    ck_assert_msg(g.ev[0] != NULL, "%s", g.why[0]);
    event_eq(in, g.ev[0]);
    ck_assert_ptr_null(g.ev[0]->raw);
    got_free(&g);
    lh_buf_free(&b);
    lh_event_destroy(&in);

    /* leading blanks and a BOM before JSON are fine */
    const char *j = "\xef\xbb\xbf \n {\"id\":\"a\",\"deploy\":{}}";
    got_t h = {0};
    ck_assert_int_eq(lh_codec_decode(j, strlen(j), LH_FMT_AUTO, NULL, collect, &h), 1);
    ck_assert_ptr_nonnull(h.ev[0]);
    got_free(&h);
}
END_TEST

/* lh_codec_json_decode() (the public one-event decoder) given JSON that is not an object: named
 * exactly; the hub's own path never hands it one (codec.c refuses a non-object first). */
START_TEST(json_decode_not_an_object)
{
    const struct {
        const char *text, *why;
    } cases[] = {
        {"[1]", "an event must be a JSON object, not an array"},
        {"[]", "an event must be a JSON object, not an array"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        lh_event_t *ev = (lh_event_t *)1;
        char why[256] = "";
        ck_assert_int_eq(
            lh_codec_json_decode(cases[i].text, strlen(cases[i].text), &ev, why, sizeof why),
            LH_EDECODE);
        ck_assert_ptr_null(ev);
        ck_assert_str_eq(why, cases[i].why);
    }
}
END_TEST

static Suite *
codec_suite(void)
{
    Suite *s = suite_create("codec");
    const lh_test_case_t tests[] = {
        {"pb_round_trip", pb_round_trip, 0, 4},
        {"json_round_trip", json_round_trip, 0, 4},
        {"json_form", json_form_matches_design, 0, 1},
        {"json_cross_pb", golden_json_cross_protobuf, 0, 4},
        {"golden_values", golden_deploy_values, 0, 1},
        {"alert_pb", alert_pb_round_trip, 0, 1},
        {"alert_json", alert_json_round_trip, 0, 1},
        {"alert_pb_outcome_kind", alert_pb_bad_outcome_kind, 0, 3},
        {"alert_json_reasons", alert_json_reasons, 0, 9},
        {"alert_cloudevent", alert_cloudevent, 0, 1},
        {"alert_formats", alert_formats, 0, 1},
        {"broken_json", broken_json_has_position, 0, 1},
        {"bad_protobuf", bad_protobuf, 0, 1},
        {"pb_no_body", protobuf_without_body_or_bad_enum, 0, 1},
        {"empty", empty_payload, 0, 1},
        {"wrong_types", wrong_types, 0, 1},
        {"kind_body", kind_and_body_rules, 0, 1},
        {"batch", batch_with_bad_element, 0, 1},
        {"utf8_nul", invalid_utf8_and_nul, 0, 1},
        {"protobuf_nul_in_string", protobuf_nul_in_string, 0, 1},
        {"json_codecs_nul_in_string", json_codecs_nul_in_string, 0, 1},
        {"deep_nesting", deep_nesting, 0, 1},
        {"oversized", oversized_payload, 0, 1},
        {"detection", protobuf_that_looks_like_json, 0, 1},
        {"json_decode_not_an_object", json_decode_not_an_object, 0, 1},
        {"pb_labels", pb_labels_decode_and_refuse, 0, 0},
    };
    lh_test_add_cases(s, tests, LH_TEST_COUNT(tests), 30, NULL, NULL);
    return s;
}

int
main(void)
{
    return lh_test_run_suite(codec_suite());
}
