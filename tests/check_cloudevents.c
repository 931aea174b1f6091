/*
 * check_cloudevents.c - CloudEvents 1.0 / CDEvents decoding (structured, bare, binary mode) and
 * correlated alerts encoded as CloudEvents.
 *
 * Inputs: the CDEvents specification's own conformance files (tests/data/conformance),
 * loophub's golden inputs under tests/data/cdevents, and bad input
 * built in the tests. Every path goes through lh__cloudevents_decode() and, where it matters, the
 * public lh_codec_decode().
 */
#include <dirent.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec_internal.h"
#include "loophub/correlated.h"
#include "loophub/error.h"
#include "loophub/timeutil.h"
#include "testutil.h"

/* --- a sink that keeps everything ------------------------------------------------------- */

#define MAX_CALLS 64

typedef struct {
    int n;
    lh_event_t *ev[MAX_CALLS];
    int err[MAX_CALLS];
    char id[MAX_CALLS][128];
    char why[MAX_CALLS][512];
    int stop_after; /* 0: never */
} sink_t;

static int
collect(lh_event_t *ev, int err, const char *id, const char *why, void *arg)
{
    sink_t *s = arg;
    ck_assert_int_lt(s->n, MAX_CALLS);
    int i = s->n++;
    s->ev[i] = ev;
    s->err[i] = err;
    snprintf(s->id[i], sizeof(s->id[i]), "%s", id ? id : "");
    snprintf(s->why[i], sizeof(s->why[i]), "%s", why ? why : "");
    if (ev) {
        ck_assert_int_eq(err, 0);
        ck_assert_ptr_null(why);
    } else {
        ck_assert_int_lt(err, 0);
        ck_assert_msg(why && *why, "a rejection without a reason");
    }
    return s->stop_after && s->n >= s->stop_after;
}

static void
sink_free(sink_t *s)
{
    for (int i = 0; i < s->n; i++)
        lh_event_destroy(&s->ev[i]);
    s->n = 0;
}

/* Decodes text directly (lh__cloudevents_decode). */
static void
decode_direct(const char *text, sink_t *s)
{
    json_error_t jerr;
    json_t *o = json_loads(text, 0, &jerr);
    ck_assert_msg(o != NULL, "test input is not JSON: %s", jerr.text);
    int rc = lh__cloudevents_decode(o, NULL, collect, s);
    json_decref(o);
    ck_assert_int_eq(rc, 1);
}

/* Decodes text through the public entry (format detection). */
static void
decode_public(const char *text, sink_t *s)
{
    lh_codec_opts_t o;
    lh_codec_opts_default(&o);
    int rc = lh_codec_decode(text, strlen(text), LH_FMT_AUTO, &o, collect, s);
    ck_assert_int_ge(rc, 1);
    ck_assert_int_eq(rc, s->n);
}

/* Expects exactly one rejection with err and a reason containing needle. */
static void
expect_reject(const char *text, int err, const char *needle)
{
    sink_t s = {0};
    decode_direct(text, &s);
    ck_assert_int_eq(s.n, 1);
    ck_assert_msg(s.ev[0] == NULL, "accepted, expected %s: %s", lh_err_name(err), text);
    ck_assert_msg(s.err[0] == err, "got %s (%s), expected %s", lh_err_name(s.err[0]), s.why[0],
                  lh_err_name(err));
    ck_assert_msg(strstr(s.why[0], needle), "reason '%s' does not name '%s'", s.why[0], needle);
    /* the public entry says the same */
    sink_t p = {0};
    decode_public(text, &p);
    ck_assert_int_eq(p.n, 1);
    ck_assert_ptr_null(p.ev[0]);
    ck_assert_int_eq(p.err[0], err);
    ck_assert_msg(strstr(p.why[0], needle), "public reason '%s' does not name '%s'", p.why[0],
                  needle);
}

static lh_event_t *
expect_one(sink_t *s)
{
    ck_assert_int_eq(s->n, 1);
    ck_assert_msg(s->ev[0] != NULL, "rejected: %s (%s)", s->why[0], lh_err_name(s->err[0]));
    return s->ev[0];
}

static void
assert_valid(const lh_event_t *ev)
{
    char why[256] = "";
    int rc = lh_event_validate(ev, NULL, lh_now_ns(), why, sizeof(why));
    ck_assert_msg(rc == 0, "event %s fails validation: %s", ev->id, why);
}

static void
str_eq(const char *got, const char *want, const char *what)
{
    if (!want) {
        ck_assert_msg(got == NULL, "%s: expected none, got '%s'", what, got);
        return;
    }
    ck_assert_msg(got && strcmp(got, want) == 0, "%s: expected '%s', got '%s'", what, want,
                  got ? got : "(null)");
}

static int
has_host(const lh_event_t *ev, const char *h)
{
    for (size_t i = 0; i < ev->n_hosts; i++)
        if (strcmp(ev->hosts[i], h) == 0)
            return 1;
    return 0;
}

/* --- the CDEvents specification's own files --------------------------------------------- */

static const char *
jstr(json_t *o, const char *a, const char *b, const char *c)
{
    json_t *v = json_object_get(o, a);
    if (b)
        v = json_object_get(v, b);
    if (c)
        v = json_object_get(v, c);
    return json_string_value(v);
}

/* Checks one decoded CDEvent against the mapping, reading what to expect from the input. */
static void
check_mapping(const char *file, json_t *cde, const lh_event_t *ev)
{
    const char *type = jstr(cde, "context", "type", NULL);
    json_t *content = json_object_get(json_object_get(cde, "subject"), "content");
    const char *subject_id = jstr(cde, "subject", "id", NULL);
    const char *env_id = jstr(content, "environment", "id", NULL);
    const char *artifact = jstr(content, "artifactId", NULL, NULL);

    str_eq(ev->id, jstr(cde, "context", "id", NULL), "id");
    str_eq(ev->source, jstr(cde, "context", "source", NULL), "source");
    int64_t t;
    ck_assert_int_eq(lh_time_parse(jstr(cde, "context", "timestamp", NULL), &t), 0);
    ck_assert_int_eq(ev->time_ns, t);
    str_eq(ev->environment, env_id, "environment");

    if (strstr(type, ".service.")) {
        ck_assert_msg(ev->kind == LH_KIND_DEPLOY, "%s: kind %d", file, ev->kind);
        str_eq(ev->service, subject_id, "service");
        str_eq(ev->deploy.artifact, artifact, "artifact");
        if (strstr(type, ".rolledback.") || strstr(type, ".removed."))
            ck_assert_int_eq(ev->deploy.status, LH_DEPLOY_ROLLED_BACK);
        else
            ck_assert_int_eq(ev->deploy.status, LH_DEPLOY_SUCCEEDED);
        if (strstr(type, ".removed."))
            str_eq(lh_event_label(ev, "cdevents.event"), "service.removed", "removed label");
        if (artifact) /* pkg:oci/myapp@sha256%3A... */
            ck_assert_msg(ev->deploy.version && strncmp(ev->deploy.version, "sha256:", 7) == 0,
                          "%s: version from the purl: %s", file, ev->deploy.version);
    } else if (strstr(type, ".incident.")) {
        ck_assert_int_eq(ev->kind, LH_KIND_INCIDENT);
        str_eq(ev->incident.incident_id, subject_id, "incident_id");
        str_eq(ev->service, jstr(content, "service", "id", NULL), "service");
        str_eq(ev->incident.artifact, artifact, "artifact");
        str_eq(ev->incident.title, jstr(content, "description", NULL, NULL), "title");
        str_eq(ev->incident.ticket, jstr(content, "ticketURI", NULL, NULL), "ticket");
        lh_incident_state_t want = strstr(type, ".detected.")   ? LH_INCIDENT_DETECTED
                                   : strstr(type, ".reported.") ? LH_INCIDENT_REPORTED
                                                                : LH_INCIDENT_RESOLVED;
        ck_assert_int_eq(ev->incident.state, want);
        ck_assert_int_ne(ev->incident.severity, LH_SEV_UNSPECIFIED);
    } else {
        ck_assert_int_eq(ev->kind, LH_KIND_TICKET);
        str_eq(ev->ticket.ticket_id, subject_id, "ticket_id");
        str_eq(ev->ticket.url, jstr(content, "uri", NULL, NULL), "url");
        str_eq(ev->ticket.summary, jstr(content, "summary", NULL, NULL), "summary");
        str_eq(ev->service, NULL, "service");
        lh_ticket_state_t want = strstr(type, ".created.")   ? LH_TICKET_CREATED
                                 : strstr(type, ".updated.") ? LH_TICKET_UPDATED
                                                             : LH_TICKET_CLOSED;
        ck_assert_int_eq(ev->ticket.state, want);
        ck_assert_int_eq(ev->ticket.type, LH_TICKET_TASK); /* "ticketType": "task" */
    }
}

START_TEST(conformance_files_decode)
{
    const char *base = lh_test_conformance_dir();
    const char *versions[] = {"v0.3.0", "v0.4.1", "v0.5.1"};
    int files = 0, kinds[5] = {0};
    for (size_t v = 0; v < 3; v++) {
        char dir[1200];
        snprintf(dir, sizeof(dir), "%s/cdevents/%s", base, versions[v]);
        DIR *d = opendir(dir);
        ck_assert_msg(d != NULL, "missing %s", dir);
        struct dirent *de;
        while ((de = readdir(d))) {
            size_t n = strlen(de->d_name);
            if (n < 6 || strcmp(de->d_name + n - 5, ".json") != 0)
                continue;
            char path[1500];
            snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
            char *text = lh_test_must_read(path);
            json_t *cde = json_loads(text, 0, NULL);
            ck_assert_ptr_nonnull(cde);

            /* bare, directly and through the public entry */
            sink_t s = {0};
            decode_direct(text, &s);
            lh_event_t *ev = expect_one(&s);
            check_mapping(path, cde, ev);
            assert_valid(ev);
            kinds[ev->kind]++;
            sink_free(&s);

            decode_public(text, &s);
            ev = expect_one(&s);
            check_mapping(path, cde, ev);
            ck_assert_int_eq(ev->raw_format, LH_FMT_CLOUDEVENTS);
            ck_assert_uint_eq(ev->raw_len, strlen(text));
            ck_assert_int_eq(memcmp(ev->raw, text, ev->raw_len), 0);
            sink_free(&s);

            /* the same CDEvent as the data of a structured CloudEvent */
            json_t *ce = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:O}", "specversion", "1.0",
                                   "id", jstr(cde, "context", "id", NULL), "source",
                                   jstr(cde, "context", "source", NULL), "type",
                                   jstr(cde, "context", "type", NULL), "time",
                                   jstr(cde, "context", "timestamp", NULL), "datacontenttype",
                                   "application/json", "data", cde);
            ck_assert_ptr_nonnull(ce);
            char *cetext = json_dumps(ce, 0);
            decode_public(cetext, &s);
            ev = expect_one(&s);
            check_mapping(path, cde, ev);
            sink_free(&s);
            free(cetext);
            json_decref(ce);
            json_decref(cde);
            free(text);
            files++;
        }
        closedir(d);
    }
    ck_assert_msg(files >= 27, "only %d conformance files found", files);
    ck_assert_int_gt(kinds[LH_KIND_DEPLOY], 0);
    ck_assert_int_gt(kinds[LH_KIND_INCIDENT], 0);
    ck_assert_int_gt(kinds[LH_KIND_TICKET], 0);
}
END_TEST

/* Spot checks a reader can verify against the files by eye. */
START_TEST(conformance_spot_checks)
{
    char path[1200];
    sink_t s = {0};
    snprintf(path, sizeof(path), "%s/cdevents/v0.5.1/service_deployed.json",
             lh_test_conformance_dir());
    char *text = lh_test_must_read(path);
    decode_direct(text, &s);
    lh_event_t *ev = expect_one(&s);
    str_eq(ev->id, "271069a8-fc18-44f1-b38f-9d70a1695819", "id");
    str_eq(ev->service, "mySubject123", "service");
    str_eq(ev->environment, "test123", "environment");
    str_eq(ev->deploy.version,
           "sha256:0b31b1c02ff458ad9b7b81cbdf8f028bd54699fa151f221d1e8de6817db93427", "version");
    ck_assert_int_eq(ev->time_ns, 1679322425315384000LL);
    sink_free(&s);
    free(text);

    snprintf(path, sizeof(path), "%s/cdevents/v0.3.0/incident_reported.json",
             lh_test_conformance_dir());
    text = lh_test_must_read(path);
    decode_direct(text, &s);
    ev = expect_one(&s);
    str_eq(ev->service, "myApp", "service");
    str_eq(ev->environment, "prod1", "environment");
    str_eq(ev->incident.incident_id, "incident-123", "incident_id");
    str_eq(ev->incident.ticket, "https://my-issues.example/incidents/ticket-345", "ticket");
    ck_assert_int_eq(ev->incident.severity, LH_SEV_WARNING); /* customData.severity "medium" */
    str_eq(lh_event_label(ev, "priority"), "critical", "customData string -> label");
    str_eq(lh_event_label(ev, "severity"), NULL, "severity is not a label");
    sink_free(&s);
    free(text);

    snprintf(path, sizeof(path), "%s/cdevents/v0.4.1/ticket_updated.json",
             lh_test_conformance_dir());
    text = lh_test_must_read(path);
    decode_direct(text, &s);
    ev = expect_one(&s);
    str_eq(ev->ticket.ticket_id, "ticket-123", "ticket_id");
    str_eq(ev->ticket.url, "https://example.issues.com/ticket123", "url");
    str_eq(ev->actor, "Bob", "actor (updatedBy)");
    assert_valid(ev);
    sink_free(&s);
    free(text);
}
END_TEST

/* --- golden structured CloudEvents ------------------------------------------------------ */

START_TEST(golden_structured)
{
    const char *versions[] = {"v0.3.0", "v0.4.1", "v0.5.1"};
    int files = 0;
    for (size_t v = 0; v < 3; v++) {
        char dir[1024];
        snprintf(dir, sizeof(dir), "%s/cdevents/%s", LH_TEST_DATA, versions[v]);
        DIR *d = opendir(dir);
        ck_assert_msg(d != NULL, "missing %s", dir);
        struct dirent *de;
        while ((de = readdir(d))) {
            size_t n = strlen(de->d_name);
            if (n < 6 || strcmp(de->d_name + n - 5, ".json") != 0)
                continue;
            char path[1400], want_id[128], subj[16], pred[16];
            snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
            ck_assert_int_eq(sscanf(de->d_name, "%15[a-z]_%15[a-z].json", subj, pred), 2);
            snprintf(want_id, sizeof(want_id), "golden-%s-%s-%s", versions[v] + 1, subj, pred);
            char *text = lh_test_must_read(path);
            sink_t s = {0};
            decode_public(text, &s);
            lh_event_t *ev = expect_one(&s);
            assert_valid(ev);
            str_eq(ev->id, want_id, "id");
            ck_assert_int_eq(ev->raw_format, LH_FMT_CLOUDEVENTS);
            if (strcmp(subj, "service") == 0) {
                ck_assert_int_eq(ev->kind, LH_KIND_DEPLOY);
                str_eq(ev->service, "checkout", "service");
                str_eq(ev->environment, "prod", "environment");
                str_eq(ev->actor, "alice", "actor");
                ck_assert_int_eq(ev->time_ns, 1795168800123456000LL);
                if (strcmp(pred, "removed") == 0) {
                    ck_assert_int_eq(ev->deploy.status, LH_DEPLOY_ROLLED_BACK);
                    str_eq(ev->deploy.artifact, NULL, "artifact");
                    str_eq(ev->deploy.version, NULL, "version");
                } else {
                    str_eq(ev->deploy.artifact,
                           "pkg:oci/checkout@sha256%3A3f6a1c2b9d?repository_url=ghcr.io/acme/"
                           "checkout",
                           "artifact");
                    str_eq(ev->deploy.deploy_id, "D-42", "deploy_id");
                    str_eq(ev->deploy.commit, "9f2c1e0", "commit");
                    str_eq(ev->deploy.change_ticket, "CHG-7", "change_ticket");
                    ck_assert_uint_eq(ev->n_hosts, 2);
                    ck_assert(has_host(ev, "web-1") && has_host(ev, "web-2"));
                    str_eq(lh_event_label(ev, "team"), "payments", "label team");
                    ck_assert_uint_eq(ev->n_labels, 1);
                    if (strcmp(pred, "rolledback") == 0) {
                        ck_assert_int_eq(ev->deploy.status, LH_DEPLOY_ROLLED_BACK);
                        str_eq(ev->deploy.version, "1.4.1", "version");
                        str_eq(ev->deploy.previous_version, "1.4.2", "previous_version");
                    } else {
                        ck_assert_int_eq(ev->deploy.status, LH_DEPLOY_SUCCEEDED);
                        str_eq(ev->deploy.version, "1.4.2", "version (customData wins)");
                        str_eq(ev->deploy.previous_version, "1.4.1", "previous_version");
                    }
                }
            } else if (strcmp(subj, "incident") == 0) {
                ck_assert_int_eq(ev->kind, LH_KIND_INCIDENT);
                str_eq(ev->service, "checkout", "service");
                str_eq(ev->environment, "prod", "environment");
                str_eq(ev->incident.incident_id, "INC-9", "incident_id");
                str_eq(ev->incident.title, "checkout 5xx ratio above 5%", "title");
                ck_assert(has_host(ev, "web-1"));
                str_eq(lh_event_label(ev, "runbook"), "https://runbooks.example/checkout", "label");
                ck_assert_int_eq(ev->incident.severity,
                                 strcmp(pred, "resolved") == 0 ? LH_SEV_WARNING : LH_SEV_ERROR);
                str_eq(ev->incident.ticket,
                       strcmp(pred, "reported") == 0 ? "https://jira.example/browse/INC-9" : NULL,
                       "ticket");
            } else {
                ck_assert_int_eq(ev->kind, LH_KIND_TICKET);
                str_eq(ev->ticket.ticket_id, "CHG-7", "ticket_id");
                ck_assert_int_eq(ev->ticket.type, LH_TICKET_CHANGE);
                ck_assert_uint_eq(ev->ticket.n_links, 1);
                str_eq(ev->ticket.links[0], "D-42", "link");
                str_eq(ev->actor, strcmp(pred, "created") == 0 ? "alice" : "bob", "actor");
                ck_assert_int_eq(ev->time_ns, 1795163400000000000LL); /* +01:00 honoured */
            }
            sink_free(&s);
            free(text);
            files++;
        }
        closedir(d);
    }
    ck_assert_int_eq(files, 7 + 10 + 10);
}
END_TEST

/* Several events in one payload (a JSON array batch) through the public entry. */
START_TEST(golden_batch_public)
{
    char p1[1024], p2[1024];
    snprintf(p1, sizeof(p1), "%s/cdevents/v0.5.1/service_deployed.json", LH_TEST_DATA);
    snprintf(p2, sizeof(p2), "%s/cdevents/v0.5.1/incident_detected.json", LH_TEST_DATA);
    char *a = lh_test_must_read(p1), *b = lh_test_must_read(p2);
    size_t n = strlen(a) + strlen(b) + 8;
    char *batch = malloc(n);
    snprintf(batch, n, "[%s,%s]", a, b);
    sink_t s = {0};
    decode_public(batch, &s);
    ck_assert_int_eq(s.n, 2);
    ck_assert(s.ev[0] && s.ev[0]->kind == LH_KIND_DEPLOY);
    ck_assert(s.ev[1] && s.ev[1]->kind == LH_KIND_INCIDENT);
    sink_free(&s);
    free(batch);
    free(a);
    free(b);
}
END_TEST

/* --- binary mode ------------------------------------------------------------------------ */

typedef struct {
    lh_kv_t kv[32];
    char *text;
    size_t n;
} headers_t;

/* Reads "ce_name: value" lines; the ce_ prefix is stripped as the adapters do. */
static void
headers_load(const char *path, headers_t *h)
{
    h->text = lh_test_must_read(path);
    h->n = 0;
    char *save = NULL;
    for (char *line = strtok_r(h->text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char *colon = strchr(line, ':');
        ck_assert_ptr_nonnull(colon);
        *colon = 0;
        char *val = colon + 1;
        while (*val == ' ')
            val++;
        const char *key = strncmp(line, "ce_", 3) == 0 ? line + 3 : line;
        ck_assert_uint_lt(h->n, 32);
        h->kv[h->n++] = (lh_kv_t){key, val, strlen(val)};
    }
}

START_TEST(binary_golden)
{
    char path[1024];
    headers_t h;
    sink_t s = {0};

    snprintf(path, sizeof(path), "%s/cdevents/binary/incident_detected.headers", LH_TEST_DATA);
    headers_load(path, &h);
    snprintf(path, sizeof(path), "%s/cdevents/binary/incident_detected.json", LH_TEST_DATA);
    char *data = lh_test_must_read(path);
    ck_assert_int_eq(lh_codec_decode_ce_binary(h.kv, h.n, data, strlen(data), NULL, collect, &s),
                     1);
    lh_event_t *ev = expect_one(&s);
    assert_valid(ev);
    ck_assert_int_eq(ev->kind, LH_KIND_INCIDENT);
    str_eq(ev->id, "bin-incident-1", "id");
    str_eq(ev->service, "checkout", "service");
    str_eq(ev->environment, "prod", "environment");
    str_eq(ev->incident.incident_id, "INC-10", "incident_id");
    ck_assert_int_eq(ev->incident.severity, LH_SEV_WARNING); /* ce_severity */
    ck_assert_uint_eq(ev->n_hosts, 2);                       /* ce_hosts: "web-1, web-2" */
    ck_assert(has_host(ev, "web-1") && has_host(ev, "web-2"));
    /* raw keeps the attributes and the data */
    ck_assert_int_eq(ev->raw_format, LH_FMT_CLOUDEVENTS);
    json_t *raw = json_loadb(ev->raw, ev->raw_len, 0, NULL);
    ck_assert_ptr_nonnull(raw);
    str_eq(jstr(raw, "id", NULL, NULL), "bin-incident-1", "raw id");
    str_eq(jstr(raw, "data", "subject", "id"), "INC-10", "raw data");
    json_decref(raw);
    sink_free(&s);
    free(data);
    free(h.text);

    snprintf(path, sizeof(path), "%s/cdevents/binary/service_upgraded.headers", LH_TEST_DATA);
    headers_load(path, &h);
    snprintf(path, sizeof(path), "%s/cdevents/binary/service_upgraded.json", LH_TEST_DATA);
    data = lh_test_must_read(path);
    lh_codec_decode_ce_binary(h.kv, h.n, data, strlen(data), NULL, collect, &s);
    ev = expect_one(&s);
    assert_valid(ev);
    ck_assert_int_eq(ev->kind, LH_KIND_DEPLOY);
    str_eq(ev->service, "checkout", "service");
    str_eq(ev->environment, "staging", "environment");
    str_eq(ev->deploy.version, "1.5.0", "version from purl");
    str_eq(ev->deploy.deploy_id, "D-77", "ce_deployid");
    str_eq(ev->deploy.previous_version, "1.4.2", "ce_previousversion");
    str_eq(ev->deploy.change_ticket, "CHG-8", "ce_changeticket");
    str_eq(ev->actor, "carol", "customData actor");
    sink_free(&s);
    free(data);
    free(h.text);
}
END_TEST

static const char *bin_data =
    "{\"subject\":{\"id\":\"checkout\",\"content\":{\"environment\":{\"id\":\"prod\"}}}}";

static void
binary_expect(const lh_kv_t *kv, size_t n, const char *data, int err, const char *needle)
{
    sink_t s = {0};
    ck_assert_int_eq(
        lh_codec_decode_ce_binary(kv, n, data, data ? strlen(data) : 0, NULL, collect, &s), 1);
    ck_assert_int_eq(s.n, 1);
    if (err == 0) {
        ck_assert_msg(s.ev[0] != NULL, "rejected: %s", s.why[0]);
        sink_free(&s);
        return;
    }
    ck_assert_msg(s.ev[0] == NULL, "accepted, expected %s", needle);
    ck_assert_msg(s.err[0] == err, "got %s (%s)", lh_err_name(s.err[0]), s.why[0]);
    ck_assert_msg(strstr(s.why[0], needle), "reason '%s' does not name '%s'", s.why[0], needle);
}

START_TEST(binary_bad)
{
    const char *names[] = {"specversion", "id", "source", "type"};
    const char *vals[] = {"1.0", "b-1", "/ci", "dev.cdevents.service.deployed.0.3.0"};
    lh_kv_t kv[6];
    /* all present (with a time and mixed-case names): accepted */
    for (int i = 0; i < 4; i++)
        kv[i] = (lh_kv_t){names[i], vals[i], strlen(vals[i])};
    kv[4] = (lh_kv_t){"Time", "2026-11-20T10:00:00Z", 20};
    binary_expect(kv, 5, bin_data, 0, NULL);
    /* each mandatory attribute missing in turn */
    for (int miss = 0; miss < 4; miss++) {
        size_t n = 0;
        for (int i = 0; i < 4; i++)
            if (i != miss)
                kv[n++] = (lh_kv_t){names[i], vals[i], strlen(vals[i])};
        binary_expect(kv, n, bin_data, LH_EMISSING, names[miss]);
    }
    for (int i = 0; i < 4; i++)
        kv[i] = (lh_kv_t){names[i], vals[i], strlen(vals[i])};
    binary_expect(kv, 4, NULL, LH_EMISSING, "data");
    binary_expect(kv, 4, "{\"subject\": ", LH_EDECODE, "not valid JSON");
    binary_expect(kv, 4, "[1,2]", LH_EDECODE, "CDEvent object");
    kv[4] = (lh_kv_t){"content-type", "application/xml", 15};
    binary_expect(kv, 5, bin_data, LH_EDECODE, "application/xml");
    kv[4] = (lh_kv_t){"datacontenttype", "application/cloudevents+json", 28};
    binary_expect(kv, 5, bin_data, 0, NULL);
    kv[4] = (lh_kv_t){"actor", "\xff\xfe", 2};
    binary_expect(kv, 5, bin_data, LH_EDECODE, "UTF-8");
    /* a NUL inside a header value: rejected, not read as "b" (the id would collide) */
    kv[4] = (lh_kv_t){"actor", "alice", 5};
    kv[1] = (lh_kv_t){"id", "b\0-1", 4};
    binary_expect(kv, 5, bin_data, LH_EDECODE, "attribute 'id' contains a NUL byte");
    kv[1] = (lh_kv_t){names[1], vals[1], strlen(vals[1])};
    kv[1] = (lh_kv_t){"type", "dev.cdevents.pipelinerun.started.0.2.0", 38};
    kv[3] = (lh_kv_t){"id", "b-1", 3};
    binary_expect(kv, 4, bin_data, LH_EUNKNOWN_KIND, "dev.cdevents.pipelinerun.started.0.2.0");
    /* over the payload limit */
    lh_limits_t lim;
    lh_limits_default(&lim);
    lim.max_payload = 10;
    lh_codec_opts_t o;
    lh_codec_opts_default(&o);
    o.limits = &lim;
    for (int i = 0; i < 4; i++)
        kv[i] = (lh_kv_t){names[i], vals[i], strlen(vals[i])};
    sink_t s = {0};
    lh_codec_decode_ce_binary(kv, 4, bin_data, strlen(bin_data), &o, collect, &s);
    ck_assert_int_eq(s.n, 1);
    ck_assert_int_eq(s.err[0], LH_ETOOBIG);
}
END_TEST

/* --- binary mode from transport headers: one entry point for HTTP and Kafka ---------------- */

/* Transport headers built from a golden .headers file ("ce_name: value" lines), spelled as one
 * transport sends them: "ce_" (Kafka) or "Ce-" / "ce-" alternating (HTTP, any case), with the
 * content-type spelled as given and other headers of that transport mixed in. */
typedef struct {
    lh_kv_t kv[48];
    char names[48][64];
    size_t n;
} transport_t;

static void
transport_add(transport_t *t, const char *name, const char *value)
{
    ck_assert_uint_lt(t->n, 48);
    snprintf(t->names[t->n], sizeof(t->names[t->n]), "%s", name);
    t->kv[t->n] = (lh_kv_t){t->names[t->n], value, value ? strlen(value) : 0};
    t->n++;
}

static void
transport_from(const headers_t *h, int http, const char *ctype_name, transport_t *t)
{
    t->n = 0;
    if (http) {
        transport_add(t, "Host", "127.0.0.1:7780");
        transport_add(t, "Authorization", "Bearer secret");
    } else {
        transport_add(t, "traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
    }
    for (size_t i = 0; i < h->n; i++) {
        char name[64];
        snprintf(name, sizeof(name), "%s%s", http ? (i % 2 ? "Ce-" : "ce-") : "ce_", h->kv[i].key);
        transport_add(t, name, h->kv[i].value);
    }
    transport_add(t, ctype_name, "application/json");
    if (http)
        transport_add(t, "User-Agent", "curl/8.5.0");
}

/* Decodes through lh_codec_decode_msg() and returns the one event, its protobuf in pb. */
static lh_event_t *
decode_msg_one(const lh_kv_t *kv, size_t n, const char *data, lh_format_t hint, lh_buf_t *pb)
{
    sink_t s = {0};
    ck_assert_int_eq(lh_codec_decode_msg(data, strlen(data), hint, kv, n, NULL, collect, &s), 1);
    lh_event_t *ev = expect_one(&s);
    assert_valid(ev);
    lh_buf_reset(pb);
    ck_assert_int_eq(lh_codec_pb_encode(ev, pb), 0);
    return ev;
}

START_TEST(binary_http_and_kafka_headers_agree)
{
    char path[1024];
    headers_t h;
    const char *golden[] = {"service_upgraded", "incident_detected"};
    for (size_t g = 0; g < 2; g++) {
        snprintf(path, sizeof(path), "%s/cdevents/binary/%s.headers", LH_TEST_DATA, golden[g]);
        headers_load(path, &h);
        snprintf(path, sizeof(path), "%s/cdevents/binary/%s.json", LH_TEST_DATA, golden[g]);
        char *data = lh_test_must_read(path);

        transport_t http, kafka;
        transport_from(&h, 1, "Content-Type", &http);
        transport_from(&h, 0, "content-type", &kafka);
        lh_buf_t pb_http = LH_BUF_INIT, pb_kafka = LH_BUF_INIT, pb_attrs = LH_BUF_INIT;
        lh_event_t *eh = decode_msg_one(http.kv, http.n, data, LH_FMT_AUTO, &pb_http);
        lh_event_t *ek = decode_msg_one(kafka.kv, kafka.n, data, LH_FMT_AUTO, &pb_kafka);

        /* the same event, field for field (its protobuf), with the same raw CloudEvent */
        ck_assert_uint_eq(pb_http.len, pb_kafka.len);
        ck_assert_msg(memcmp(pb_http.data, pb_kafka.data, pb_http.len) == 0,
                      "%s: HTTP and Kafka headers decode to different events", golden[g]);
        ck_assert_int_eq(eh->raw_format, LH_FMT_CLOUDEVENTS);
        ck_assert_uint_eq(eh->raw_len, ek->raw_len);
        ck_assert(memcmp(eh->raw, ek->raw, eh->raw_len) == 0);
        /* the transports' other headers are no attributes */
        ck_assert_ptr_null(memmem(eh->raw, eh->raw_len, "Bearer", 6));
        ck_assert_ptr_null(memmem(ek->raw, ek->raw_len, "traceparent", 11));

        /* and the same as the attributes given directly (the ce_binary entry point) */
        transport_t attrs;
        attrs.n = 0;
        for (size_t i = 0; i < h.n; i++)
            transport_add(&attrs, h.kv[i].key, h.kv[i].value);
        transport_add(&attrs, "content-type", "application/json");
        sink_t s = {0};
        ck_assert_int_eq(
            lh_codec_decode_ce_binary(attrs.kv, attrs.n, data, strlen(data), NULL, collect, &s), 1);
        lh_event_t *ea = expect_one(&s);
        ck_assert_int_eq(lh_codec_pb_encode(ea, &pb_attrs), 0);
        ck_assert_uint_eq(pb_attrs.len, pb_http.len);
        ck_assert(memcmp(pb_attrs.data, pb_http.data, pb_http.len) == 0);

        /* a hint of CLOUDEVENTS is binary mode all the same */
        lh_event_t *ec = decode_msg_one(kafka.kv, kafka.n, data, LH_FMT_CLOUDEVENTS, &pb_attrs);
        ck_assert_uint_eq(pb_attrs.len, pb_http.len);
        ck_assert(memcmp(pb_attrs.data, pb_http.data, pb_http.len) == 0);

        lh_event_destroy(&eh);
        lh_event_destroy(&ek);
        lh_event_destroy(&ea);
        lh_event_destroy(&ec);
        lh_buf_free(&pb_http);
        lh_buf_free(&pb_kafka);
        lh_buf_free(&pb_attrs);
        free(data);
        free(h.text);
    }
}
END_TEST

/* When the headers make binary mode, and when they are ignored. */
START_TEST(binary_mode_rule)
{
    lh_buf_t pb = LH_BUF_INIT;
    const char *loophub_json =
        "{\"id\":\"j-1\",\"kind\":\"deploy\",\"time\":\"2026-11-20T10:00:00Z\","
        "\"service\":\"api\",\"environment\":\"prod\","
        "\"deploy\":{\"deploy_id\":\"D-1\",\"status\":\"succeeded\"}}";
    char structured[512];
    snprintf(structured, sizeof(structured),
             "{\"specversion\":\"1.0\",\"id\":\"s-1\",\"source\":\"/ci\","
             "\"type\":\"dev.cdevents.service.deployed.0.3.0\",\"time\":\"2026-11-20T10:00:00Z\","
             "\"data\":%s}",
             bin_data);
    transport_t t;

    /* no ce specversion header: not binary mode, the other headers change nothing */
    t.n = 0;
    transport_add(&t, "ce_id", "b-1");
    transport_add(&t, "content-type", "application/json");
    lh_event_t *ev = decode_msg_one(t.kv, t.n, loophub_json, LH_FMT_AUTO, &pb);
    str_eq(ev->id, "j-1", "id");
    lh_event_destroy(&ev);

    /* a structured content type wins over ce headers (both bindings say so) */
    t.n = 0;
    transport_add(&t, "ce_specversion", "1.0");
    transport_add(&t, "ce_id", "b-1");
    transport_add(&t, "Content-Type", "application/cloudevents+json; charset=utf-8");
    ev = decode_msg_one(t.kv, t.n, structured, LH_FMT_AUTO, &pb);
    str_eq(ev->id, "s-1", "structured id");
    lh_event_destroy(&ev);

    /* a hint for another format ignores the headers */
    t.n = 0;
    transport_add(&t, "ce-specversion", "1.0");
    ev = decode_msg_one(t.kv, t.n, loophub_json, LH_FMT_JSON, &pb);
    str_eq(ev->id, "j-1", "hinted id");
    lh_event_destroy(&ev);

    /* binary mode without an id: one rejection naming it, whatever the spelling */
    const char *spellings[] = {"ce-specversion", "CE_SPECVERSION", "Ce_SpecVersion"};
    for (int i = 0; i < 3; i++) {
        t.n = 0;
        transport_add(&t, spellings[i], "1.0");
        transport_add(&t, "ce-source", "/ci");
        transport_add(&t, "ce_type", "dev.cdevents.service.deployed.0.3.0");
        sink_t s = {0};
        ck_assert_int_eq(lh_codec_decode_msg(bin_data, strlen(bin_data), LH_FMT_AUTO, t.kv, t.n,
                                             NULL, collect, &s),
                         1);
        ck_assert_int_eq(s.n, 1);
        ck_assert_ptr_null(s.ev[0]);
        ck_assert_int_eq(s.err[0], LH_EMISSING);
        ck_assert_msg(strstr(s.why[0], "'id'"), "%s", s.why[0]);
    }

    /* a header without a value is no attribute; more headers than fit on the stack are read */
    t.n = 0;
    transport_add(&t, "ce_specversion", "1.0");
    transport_add(&t, "ce_id", "b-many");
    transport_add(&t, "ce_source", "/ci");
    transport_add(&t, "ce_type", "dev.cdevents.service.deployed.0.3.0");
    transport_add(&t, "ce_actor", NULL);
    while (t.n < 44)
        transport_add(&t, "x-filler", "x");
    lh_kv_t many[100];
    for (size_t i = 0; i < 100; i++)
        many[i] = i < t.n ? t.kv[i] : (lh_kv_t){"x-more", "y", 1};
    many[99] = (lh_kv_t){"ce_time", "2026-11-20T10:00:00Z", 20};
    ev = decode_msg_one(many, 100, bin_data, LH_FMT_AUTO, &pb);
    str_eq(ev->id, "b-many", "id past 64 headers");
    ck_assert_int_eq(ev->time_ns, 1795168800LL * LH_NS_PER_SEC); /* ce_time, the 100th header */
    ck_assert_ptr_null(ev->actor);
    lh_event_destroy(&ev);
    lh_buf_free(&pb);
}
END_TEST

/* --- bad input ---------------------------------------------------------------------------- */

#define CE_HEAD                                                                                    \
    "{\"specversion\":\"1.0\",\"id\":\"e-1\",\"source\":\"/"                                       \
    "ci\",\"time\":\"2026-11-20T10:00:00Z\","
#define DEPLOYED "\"type\":\"dev.cdevents.service.deployed.0.3.0\","
#define SUBJ "{\"subject\":{\"id\":\"checkout\",\"content\":{\"environment\":{\"id\":\"prod\"}}}}"

START_TEST(unknown_types)
{
    expect_reject(CE_HEAD "\"type\":\"dev.cdevents.pipelinerun.started.0.2.0\",\"data\":" SUBJ "}",
                  LH_EUNKNOWN_KIND, "dev.cdevents.pipelinerun.started.0.2.0");
    expect_reject(CE_HEAD "\"type\":\"com.example.thing.happened\",\"data\":{}}", LH_EUNKNOWN_KIND,
                  "com.example.thing.happened");
    expect_reject(CE_HEAD "\"type\":\"dev.cdevents.service\",\"data\":" SUBJ "}", LH_EUNKNOWN_KIND,
                  "dev.cdevents.service");
    /* a prefix of a known predicate is not that predicate */
    expect_reject(CE_HEAD "\"type\":\"dev.cdevents.service.deployedx.0.1.0\",\"data\":" SUBJ "}",
                  LH_EUNKNOWN_KIND, "deployedx");
    expect_reject("{\"context\":{\"version\":\"0.4.1\",\"id\":\"x\",\"source\":\"/s\","
                  "\"type\":\"dev.cdevents.artifact.published.0.1.1\"},\"subject\":{\"id\":\"a\"}}",
                  LH_EUNKNOWN_KIND, "dev.cdevents.artifact.published.0.1.1");
    /* a type without a version suffix is accepted */
    sink_t s = {0};
    decode_direct(CE_HEAD "\"type\":\"dev.cdevents.service.deployed\",\"data\":" SUBJ "}", &s);
    expect_one(&s);
    sink_free(&s);
}
END_TEST

START_TEST(missing_fields)
{
    /* structured */
    expect_reject("{\"specversion\":\"1.0\",\"source\":\"/ci\"," DEPLOYED "\"data\":" SUBJ "}",
                  LH_EMISSING, "'id'");
    expect_reject("{\"specversion\":\"1.0\",\"id\":\"e\"," DEPLOYED "\"data\":" SUBJ "}",
                  LH_EMISSING, "'source'");
    expect_reject("{\"specversion\":\"1.0\",\"id\":\"e\",\"source\":\"/ci\",\"data\":" SUBJ "}",
                  LH_EMISSING, "'type'");
    expect_reject("{\"specversion\":\"\",\"id\":\"e\",\"source\":\"/ci\"," DEPLOYED "\"data\":" SUBJ
                  "}",
                  LH_EMISSING, "'specversion'");
    expect_reject(CE_HEAD DEPLOYED "\"datacontenttype\":\"application/json\"}", LH_EMISSING,
                  "'data'");
    expect_reject(CE_HEAD DEPLOYED "\"data\":{\"context\":{}}}", LH_EMISSING, "'data.subject'");
    expect_reject(CE_HEAD DEPLOYED "\"data\":{\"subject\":{\"content\":{}}}}", LH_EMISSING,
                  "'data.subject.id'");
    /* bare CDEvent */
    const char *ctx_ok = "\"id\":\"c-1\",\"source\":\"/s\","
                         "\"type\":\"dev.cdevents.incident.detected.0.2.0\","
                         "\"timestamp\":\"2026-11-20T10:00:00Z\"";
    char buf[512];
    snprintf(buf, sizeof(buf), "{\"context\":{%s},\"subject\":{\"id\":\"i\"}}", ctx_ok);
    expect_reject(buf, LH_EMISSING, "'context.specversion' (or 'context.version'");
    snprintf(buf, sizeof(buf), "{\"context\":{\"version\":\"0.4.1\",%s}}", ctx_ok);
    expect_reject(buf, LH_EMISSING, "'subject'");
    expect_reject("{\"context\":{\"version\":\"0.4.1\",\"source\":\"/s\",\"type\":\"dev.cdevents."
                  "incident.detected.0.2.0\"},\"subject\":{\"id\":\"i\"}}",
                  LH_EMISSING, "'context.id'");
    expect_reject("{\"context\":{\"version\":\"0.4.1\",\"id\":\"c\",\"type\":\"dev.cdevents."
                  "incident.detected.0.2.0\"},\"subject\":{\"id\":\"i\"}}",
                  LH_EMISSING, "'context.source'");
    expect_reject("{\"context\":{\"version\":\"0.4.1\",\"id\":\"c\",\"source\":\"/s\"},"
                  "\"subject\":{\"id\":\"i\"}}",
                  LH_EMISSING, "'context.type'");
    /* a rejection carries the id when it was read */
    sink_t s = {0};
    decode_direct(CE_HEAD DEPLOYED "\"data\":{\"context\":{}}}", &s);
    ck_assert_str_eq(s.id[0], "e-1");
    /* a bare CDEvent without a timestamp decodes; validation then names the time */
    sink_free(&s);
    decode_direct("{\"context\":{\"version\":\"0.4.1\",\"id\":\"c\",\"source\":\"/s\",\"type\":"
                  "\"dev.cdevents.ticket.created.0.1.0\"},\"subject\":{\"id\":\"T-1\"}}",
                  &s);
    lh_event_t *ev = expect_one(&s);
    char why[256];
    ck_assert_int_eq(lh_event_validate(ev, NULL, lh_now_ns(), why, sizeof(why)), LH_EMISSING);
    ck_assert_ptr_nonnull(strstr(why, "time"));
    sink_free(&s);
}
END_TEST

START_TEST(wrong_types)
{
    expect_reject("{\"specversion\":\"1.0\",\"id\":42,\"source\":\"/ci\"," DEPLOYED "\"data\":" SUBJ
                  "}",
                  LH_EDECODE, "'id' must be a string, got a number");
    expect_reject("{\"specversion\":1.0,\"id\":\"e\",\"source\":\"/ci\"," DEPLOYED "\"data\":" SUBJ
                  "}",
                  LH_EDECODE, "'specversion' must be a string");
    expect_reject("{\"specversion\":\"0.3\",\"id\":\"e\",\"source\":\"/ci\"," DEPLOYED
                  "\"data\":" SUBJ "}",
                  LH_EDECODE, "CloudEvents 1.0");
    expect_reject(CE_HEAD DEPLOYED "\"data\":[1]}", LH_EDECODE, "'data' must be a CDEvent");
    expect_reject(CE_HEAD DEPLOYED "\"data\":{\"subject\":\"checkout\"}}", LH_EDECODE,
                  "'data.subject' must be an object, got a string");
    expect_reject(CE_HEAD DEPLOYED "\"data\":{\"subject\":{\"id\":[\"a\"]}}}", LH_EDECODE,
                  "'data.subject.id' must be a string, got an array");
    expect_reject(CE_HEAD DEPLOYED "\"data\":{\"subject\":{\"id\":\"a\",\"content\":{"
                                   "\"environment\":\"prod\"}}}}",
                  LH_EDECODE, "'data.subject.content.environment' must be an object");
    expect_reject(CE_HEAD DEPLOYED "\"data\":{\"subject\":{\"id\":\"a\",\"content\":{"
                                   "\"artifactId\":7}}}}",
                  LH_EDECODE, "'data.subject.content.artifactId' must be a string");
    expect_reject(CE_HEAD DEPLOYED "\"data\":{\"subject\":{\"id\":\"a\"},\"customData\":{"
                                   "\"hosts\":5}}}",
                  LH_EDECODE, "'data.customData.hosts' must be an array of strings");
    expect_reject(CE_HEAD DEPLOYED "\"data\":{\"subject\":{\"id\":\"a\"},\"customData\":{"
                                   "\"hosts\":[\"a\",1]}}}",
                  LH_EDECODE, "'data.customData.hosts[1]' must be a string");
    expect_reject(CE_HEAD DEPLOYED "\"data\":{\"subject\":{\"id\":\"a\"},\"customData\":{"
                                   "\"actor\":{\"name\":\"x\"}}}}",
                  LH_EDECODE, "'data.customData.actor' must be a string, got an object");
    expect_reject(CE_HEAD DEPLOYED "\"data\":{\"subject\":{\"id\":\"a\"},\"customData\":{"
                                   "\"labels\":{\"team\":1}}}}",
                  LH_EDECODE, "'data.customData.labels.team' must be a string");
    expect_reject(
        "{\"specversion\":\"1.0\",\"id\":\"e\",\"source\":\"/ci\",\"time\":\"yesterday\"," DEPLOYED
        "\"data\":" SUBJ "}",
        LH_EDECODE, "'time' is not an RFC 3339 time");
    expect_reject("{\"context\":{\"version\":\"0.4.1\",\"id\":\"c\",\"source\":\"/s\",\"type\":"
                  "\"dev.cdevents.ticket.created.0.1.0\",\"timestamp\":\"2026-13-01T00:00:00Z\"},"
                  "\"subject\":{\"id\":\"T-1\"}}",
                  LH_EDECODE, "'context.timestamp' is not an RFC 3339 time");
    expect_reject("{\"context\":\"x\",\"subject\":{}}", LH_EDECODE, "'context' must be an object");
}
END_TEST

START_TEST(data_encodings)
{
    /* data as a JSON string and as data_base64 both carry the CDEvent */
    sink_t s = {0};
    decode_direct(CE_HEAD DEPLOYED "\"data\":\"{\\\"subject\\\":{\\\"id\\\":\\\"checkout\\\"}}\"}",
                  &s);
    str_eq(expect_one(&s)->service, "checkout", "service (data as a string)");
    sink_free(&s);
    /* base64 of {"subject":{"id":"cart"}} */
    decode_direct(CE_HEAD DEPLOYED "\"data_base64\":\"eyJzdWJqZWN0Ijp7ImlkIjoiY2FydCJ9fQ==\"}", &s);
    str_eq(expect_one(&s)->service, "cart", "service (data_base64)");
    sink_free(&s);
    /* malformed JSON inside data */
    expect_reject(CE_HEAD DEPLOYED "\"data\":\"{\\\"subject\\\":{\\\"id\\\":}\"}", LH_EDECODE,
                  "'data' is not valid JSON (line 1, column");
    expect_reject(CE_HEAD DEPLOYED "\"data\":\"\"}", LH_EDECODE, "'data' is not valid JSON");
    expect_reject(CE_HEAD DEPLOYED "\"data_base64\":\"!!notbase64\"}", LH_EDECODE,
                  "'data_base64' is not valid base64");
    expect_reject(CE_HEAD DEPLOYED "\"data_base64\":\"bm90IGpzb24=\"}", LH_EDECODE,
                  "'data_base64' is not valid JSON");
    expect_reject(CE_HEAD DEPLOYED "\"data\":\"[1,2]\"}", LH_EDECODE, "CDEvent object");
}
END_TEST

START_TEST(extras_precedence)
{
    /* extension attributes beat customData, customData beats the CDEvent's own fields */
    sink_t s = {0};
    decode_direct(CE_HEAD DEPLOYED
                  "\"service\":\"from-ext\",\"hosts\":\"h1,h2 , ,h3\",\"deployid\":\"D-ext\","
                  "\"data\":{\"subject\":{\"id\":\"subj\",\"content\":{\"environment\":{\"id\":"
                  "\"prod\"},\"artifactId\":\"pkg:npm/%40acme/web@2.0.1#dist\"}},"
                  "\"customData\":{\"service\":\"from-custom\",\"environment\":\"canary\","
                  "\"hosts\":[\"c1\"],\"deploy_id\":\"D-custom\",\"previous_version\":\"2.0.0\","
                  "\"commit_time\":\"2026-11-20T09:00:00Z\",\"owner\":\"team-a\",\"n\":5,"
                  "\"labels\":{\"tier\":\"web\"}}}}",
                  &s);
    lh_event_t *ev = expect_one(&s);
    str_eq(ev->service, "from-ext", "service");
    str_eq(ev->environment, "canary", "environment (customData beats content)");
    ck_assert_uint_eq(ev->n_hosts, 3);
    ck_assert(has_host(ev, "h1") && has_host(ev, "h2") && has_host(ev, "h3"));
    ck_assert(!has_host(ev, "c1"));
    str_eq(ev->deploy.deploy_id, "D-ext", "deploy_id");
    str_eq(ev->deploy.previous_version, "2.0.0", "previous_version");
    str_eq(ev->deploy.version, "2.0.1", "purl version without subpath");
    ck_assert_int_eq(ev->deploy.commit_time_ns, 1795165200000000000LL);
    str_eq(lh_event_label(ev, "owner"), "team-a", "string customData -> label");
    str_eq(lh_event_label(ev, "tier"), "web", "customData.labels -> label");
    str_eq(lh_event_label(ev, "n"), NULL, "non-string customData is not a label");
    str_eq(lh_event_label(ev, "service"), NULL, "extras are not labels");
    ck_assert_uint_eq(ev->n_labels, 2);
    assert_valid(ev);
    sink_free(&s);

    /* a bare CDEvent with customData overrides; a ticket may name a service */
    decode_direct("{\"context\":{\"specversion\":\"0.5.0\",\"id\":\"t\",\"source\":\"/s\","
                  "\"type\":\"dev.cdevents.ticket.closed.0.2.0\",\"timestamp\":"
                  "\"2026-11-20T10:00:00Z\"},\"subject\":{\"id\":\"CHG-1\",\"content\":{"
                  "\"ticketType\":\"bug\"}},\"customData\":{\"service\":\"api\",\"links\":"
                  "\"D-1, INC-2\"}}",
                  &s);
    ev = expect_one(&s);
    str_eq(ev->service, "api", "service");
    ck_assert_int_eq(ev->ticket.type, LH_TICKET_TYPE_UNSPECIFIED);
    str_eq(lh_event_label(ev, "ticket_type"), "bug", "unknown ticketType kept");
    ck_assert_uint_eq(ev->ticket.n_links, 2);
    str_eq(ev->ticket.links[1], "INC-2", "link");
    sink_free(&s);
}
END_TEST

START_TEST(incident_severity)
{
#define INCIDENT_FMT                                                                               \
    "{\"context\":{\"version\":\"0.4.1\",\"id\":\"i\",\"source\":\"/s\","                          \
    "\"type\":\"dev.cdevents.incident.detected.0.2.0\",\"timestamp\":"                             \
    "\"2026-11-20T10:00:00Z\"},\"subject\":{\"id\":\"INC\",\"content\":{"                          \
    "\"service\":{\"id\":\"api\"}}}%s}"
    struct {
        const char *custom;
        lh_severity_t want;
    } cases[] = {
        {"", LH_SEV_CRITICAL}, /* documented default */
        {",\"customData\":{\"severity\":\"medium\"}", LH_SEV_WARNING},
        {",\"customData\":{\"severity\":\"INFO\"}", LH_SEV_INFO},
        {",\"customData\":{\"severity\":\"err\"}", LH_SEV_ERROR},
        {",\"customData\":{\"severity\":\"sev-zero\"}", LH_SEV_CRITICAL},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char buf[1024];
        snprintf(buf, sizeof(buf), INCIDENT_FMT, cases[i].custom);
        sink_t s = {0};
        decode_direct(buf, &s);
        lh_event_t *ev = expect_one(&s);
        ck_assert_msg(ev->incident.severity == cases[i].want, "case %zu: severity %d", i,
                      ev->incident.severity);
        if (i == 4)
            str_eq(lh_event_label(ev, "severity"), "sev-zero", "unknown word kept as label");
        sink_free(&s);
    }
}
END_TEST

START_TEST(huge_and_deep)
{
    /* a 2 MiB description decodes; validation refuses it naming the field */
    size_t big = 2u << 20;
    char *desc = malloc(big + 1);
    memset(desc, 'x', big);
    desc[big] = 0;
    json_t *o =
        json_pack("{s:{s:s,s:s,s:s,s:s,s:s},s:{s:s,s:{s:s,s:{s:s}}}}", "context", "version",
                  "0.4.1", "id", "huge", "source", "/s", "type",
                  "dev.cdevents.incident.detected.0.2.0", "timestamp", "2026-11-20T10:00:00Z",
                  "subject", "id", "INC", "content", "description", desc, "service", "id", "api");
    ck_assert_ptr_nonnull(o);
    sink_t s = {0};
    ck_assert_int_eq(lh__cloudevents_decode(o, NULL, collect, &s), 1);
    lh_event_t *ev = expect_one(&s);
    ck_assert_uint_eq(strlen(ev->incident.title), big);
    char why[256];
    ck_assert_int_eq(lh_event_validate(ev, NULL, lh_now_ns(), why, sizeof(why)), LH_ETOOBIG);
    ck_assert_ptr_nonnull(strstr(why, "incident.title"));
    sink_free(&s);
    /* the public entry refuses the payload over its size limit */
    char *text = json_dumps(o, JSON_COMPACT);
    decode_public(text, &s);
    ck_assert_int_eq(s.n, 1);
    ck_assert_ptr_null(s.ev[0]);
    ck_assert_int_eq(s.err[0], LH_ETOOBIG);
    sink_free(&s);
    free(text);
    json_decref(o);
    free(desc);

    /* a huge unknown type is named, truncated, in a short reason */
    size_t tl = 100000;
    char *type = malloc(tl + 1);
    memset(type, 'a', tl);
    memcpy(type, "dev.cdevents.", 13);
    type[tl] = 0;
    o = json_pack("{s:s,s:s,s:s,s:s,s:{}}", "specversion", "1.0", "id", "t", "source", "/s", "type",
                  type, "data");
    ck_assert_int_eq(lh__cloudevents_decode(o, NULL, collect, &s), 1);
    ck_assert_int_eq(s.err[0], LH_EUNKNOWN_KIND);
    ck_assert_uint_lt(strlen(s.why[0]), 400);
    sink_free(&s);
    json_decref(o);
    free(type);

    /* deep nesting: past the parser's depth limit the payload is rejected, below it the extra
     * structure is ignored */
    for (int depth = 500; depth <= 5000; depth += 4500) {
        size_t n = strlen(CE_HEAD DEPLOYED) + 2 * (size_t)depth + 256;
        char *deep = malloc(n);
        int off = snprintf(deep, n, "%s",
                           CE_HEAD DEPLOYED "\"data\":{\"subject\":{\"id\":\"a\"},"
                                            "\"customData\":{\"x\":");
        for (int i = 0; i < depth; i++)
            deep[off++] = '[';
        for (int i = 0; i < depth; i++)
            deep[off++] = ']';
        snprintf(deep + off, n - (size_t)off, "}}}");
        decode_public(deep, &s);
        ck_assert_int_eq(s.n, 1);
        if (depth == 500)
            ck_assert_msg(s.ev[0] != NULL, "depth 500 rejected: %s", s.why[0]);
        else
            ck_assert_msg(s.ev[0] == NULL && s.err[0] == LH_EDECODE, "depth %d accepted", depth);
        sink_free(&s);
        free(deep);
    }
}
END_TEST

START_TEST(detection)
{
    json_t *ce = json_loads(CE_HEAD DEPLOYED "\"data\":" SUBJ "}", 0, NULL);
    json_t *bare = json_loads("{\"context\":{},\"subject\":{}}", 0, NULL);
    json_t *own = json_loads("{\"id\":\"d-1\",\"kind\":\"deploy\",\"deploy\":{}}", 0, NULL);
    json_t *ctx_only = json_loads("{\"context\":{\"a\":1}}", 0, NULL);
    ck_assert_int_eq(lh__is_cloudevent(ce), 1);
    ck_assert_int_eq(lh__is_cloudevent(bare), 1);
    ck_assert_int_eq(lh__is_cloudevent(own), 0);
    ck_assert_int_eq(lh__is_cloudevent(ctx_only), 1); /* then told what is missing */
    ck_assert_int_eq(lh__is_cloudevent(NULL), 0);
    json_decref(ce);
    json_decref(bare);
    json_decref(own);
    json_decref(ctx_only);
    /* a non-object reaching the decoder is one rejection */
    json_t *arr = json_array();
    sink_t s = {0};
    ck_assert_int_eq(lh__cloudevents_decode(arr, NULL, collect, &s), 1);
    ck_assert_int_eq(s.err[0], LH_EDECODE);
    json_decref(arr);
}
END_TEST

/* --- correlated alerts as CloudEvents ---------------------------------------------------- */

START_TEST(alert_encode)
{
    lh_correlated_t *ca = lh_correlated_new();
    ca->id = strdup("ca-0123456789abcdef");
    ca->seq = 42;
    ca->kind = LH_CA_DEPLOY_PRECEDED_INCIDENT;
    ca->service = strdup("checkout");
    ca->environment = strdup("prod");
    ck_assert_int_eq(lh_time_parse("2026-11-20T10:08:00Z", &ca->created_ns), 0);
    lh_suspect_t *sp = lh_correlated_add_suspect(ca);
    sp->deploy_id = strdup("D-42");
    sp->version = strdup("1.4.2");
    sp->previous_version = strdup("1.4.1");
    sp->score = 0.93;
    lh_suspect_add_reason(sp, "same service and environment");

    lh_buf_t b = LH_BUF_INIT;
    ck_assert_int_eq(lh_buf_append(&b, "x", 1), 0); /* appends, keeps what was there */
    ck_assert_int_eq(lh__alert_cloudevent_encode(ca, &b), 0);
    ck_assert_int_eq(b.data[0], 'x');
    json_error_t jerr;
    json_t *o = json_loadb((const char *)b.data + 1, b.len - 1, 0, &jerr);
    ck_assert_msg(o != NULL, "not JSON: %s", jerr.text);
    str_eq(jstr(o, "specversion", NULL, NULL), "1.0", "specversion");
    str_eq(jstr(o, "id", NULL, NULL), "ca-0123456789abcdef", "id");
    str_eq(jstr(o, "source", NULL, NULL), "loophub", "source");
    str_eq(jstr(o, "type", NULL, NULL), "dev.loophub.alert.correlated.0.1.0", "type");
    str_eq(jstr(o, "time", NULL, NULL), "2026-11-20T10:08:00Z", "time");
    str_eq(jstr(o, "subject", NULL, NULL), "checkout", "subject");
    str_eq(jstr(o, "datacontenttype", NULL, NULL), "application/json", "datacontenttype");
    json_t *data = json_object_get(o, "data");
    ck_assert(json_is_object(data));
    str_eq(jstr(data, "id", NULL, NULL), "ca-0123456789abcdef", "data.id");
    ck_assert_int_eq(json_integer_value(json_object_get(data, "seq")), 42);
    json_t *sus = json_array_get(json_object_get(data, "suspects"), 0);
    str_eq(jstr(sus, "deploy_id", NULL, NULL), "D-42", "suspect");
    json_decref(o);

    /* through the public selector too */
    lh_buf_reset(&b);
    ck_assert_int_eq(lh_codec_alert_encode(ca, LH_ALERTS_CLOUDEVENTS, &b), 0);
    o = json_loadb((const char *)b.data, b.len, 0, NULL);
    ck_assert_ptr_nonnull(o);
    str_eq(jstr(o, "type", NULL, NULL), "dev.loophub.alert.correlated.0.1.0", "type");
    json_decref(o);

    /* an alert without an id cannot be encoded; the buffer is left as it was */
    free(ca->id);
    ca->id = NULL;
    size_t len = b.len;
    ck_assert_int_eq(lh__alert_cloudevent_encode(ca, &b), LH_EINVAL);
    ck_assert_uint_eq(b.len, len);
    lh_buf_free(&b);
    lh_correlated_destroy(&ca);
}
END_TEST

/* Rejections no test reached before (tests/integration/check_reject.c sends them end to end):
 * the exact reason of each, and its code. */
START_TEST(rejections_named_exactly)
{
    const struct {
        const char *text;
        int err;
        const char *why;
    } cases[] = {
        {CE_HEAD DEPLOYED "\"data\":{\"subject\":{\"id\":\"api\"},\"customData\":{\"labels\":[]}}}",
         LH_EDECODE, "field 'data.customData.labels' must be an object, got an array"},
        {CE_HEAD DEPLOYED "\"data\":{\"subject\":{\"id\":\"api\"},\"customData\":{\"labels\":"
                          "{\"team\":true}}}}",
         LH_EDECODE, "field 'data.customData.labels.team' must be a string, got a boolean"},
        {CE_HEAD DEPLOYED "\"data\":{\"subject\":{\"id\":\"api\"},\"customData\":{"
                          "\"commit_time\":\"soon\"}}}",
         LH_EDECODE, "field 'commit_time' is not an RFC 3339 time: 'soon'"},
        {CE_HEAD DEPLOYED "\"committime\":\"2026-13-01T00:00:00Z\",\"data\":" SUBJ "}", LH_EDECODE,
         "field 'commit_time' is not an RFC 3339 time: '2026-13-01T00:00:00Z'"},
        {CE_HEAD DEPLOYED "\"data_base64\":5}", LH_EDECODE,
         "field 'data_base64' must be a string, got a number"},
        {CE_HEAD DEPLOYED "\"data_base64\":[\"e30=\"]}", LH_EDECODE,
         "field 'data_base64' must be a string, got an array"},
        {CE_HEAD DEPLOYED "\"data\":null,\"data_base64\":null}", LH_EMISSING,
         "missing mandatory field 'data' (the CDEvent the CloudEvent carries)"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        expect_reject(cases[i].text, cases[i].err, cases[i].why);
        sink_t s = {0};
        decode_direct(cases[i].text, &s);
        ck_assert_str_eq(s.why[0], cases[i].why);
        sink_free(&s);
    }
    /* the decoder given something other than an object (the codec never does) says so */
    sink_t s = {0};
    json_t *a = json_array();
    ck_assert_int_eq(lh__cloudevents_decode(a, NULL, collect, &s), 1);
    json_decref(a);
    ck_assert_int_eq(s.n, 1);
    ck_assert_int_eq(s.err[0], LH_EDECODE);
    ck_assert_str_eq(s.why[0], "a CloudEvent must be a JSON object");
    sink_free(&s);
    /* binary mode over the payload limit (Kafka's ce_* headers reach it; HTTP answers 413 first)
     */
    lh_limits_t lim;
    lh_limits_default(&lim);
    lim.max_payload = 10;
    lh_codec_opts_t o;
    lh_codec_opts_default(&o);
    o.limits = &lim;
    const lh_kv_t kv[] = {{"specversion", "1.0", 3},
                          {"id", "b-1", 3},
                          {"source", "/ci", 3},
                          {"type", "dev.cdevents.service.deployed.0.3.0", 35}};
    const char *data = "{\"subject\":{\"id\":\"api\"}}";
    ck_assert_int_eq(lh_codec_decode_ce_binary(kv, 4, data, strlen(data), &o, collect, &s), 1);
    ck_assert_int_eq(s.err[0], LH_ETOOBIG);
    char want[64];
    snprintf(want, sizeof(want), "data is %zu bytes, over the limit of 10", strlen(data));
    ck_assert_str_eq(s.why[0], want);
    sink_free(&s);
    /* without ce_specversion (the transports never hand such headers over: binary mode is told
     * by it) */
    ck_assert_int_eq(lh_codec_decode_ce_binary(kv + 1, 3, data, strlen(data), NULL, collect, &s),
                     1);
    ck_assert_int_eq(s.err[0], LH_EMISSING);
    ck_assert_str_eq(s.why[0], "missing mandatory attribute 'specversion' (ce_specversion)");
    sink_free(&s);
}
END_TEST

static Suite *
suite(void)
{
    Suite *s = suite_create("cloudevents");
    const lh_test_case_t tests[] = {
        {"conformance_files", conformance_files_decode, 0, 0},
        {"conformance_spot_checks", conformance_spot_checks, 0, 0},
        {"golden_structured", golden_structured, 0, 0},
        {"golden_batch_public", golden_batch_public, 0, 0},
        {"binary_golden", binary_golden, 0, 0},
        {"binary_bad", binary_bad, 0, 0},
        {"binary_http_and_kafka_headers_agree", binary_http_and_kafka_headers_agree, 0, 0},
        {"binary_mode_rule", binary_mode_rule, 0, 0},
        {"unknown_types", unknown_types, 0, 0},
        {"missing_fields", missing_fields, 0, 0},
        {"wrong_types", wrong_types, 0, 0},
        {"data_encodings", data_encodings, 0, 0},
        {"extras_precedence", extras_precedence, 0, 0},
        {"incident_severity", incident_severity, 0, 0},
        {"huge_and_deep", huge_and_deep, 0, 0},
        {"detection", detection, 0, 0},
        {"alert_encode", alert_encode, 0, 0},
        {"rejections_named_exactly", rejections_named_exactly, 0, 0},
    };
    lh_test_add_cases(s, tests, LH_TEST_COUNT(tests), 30, NULL, NULL);
    return s;
}

int
main(void)
{
    return lh_test_run_suite(suite());
}
