/*
 * check_reject.c - every rejection reason end to end. One table (REJECTS below) holds one input
 * per rejection message the code can give: the decoders (hub/codec), the model's validation
 * (hub/util/event.c), the pipeline (hub/pipeline.c) and the adapters' own refusals that
 * quarantine (ROUTER's bad envelope, HTTP's 413 and 415). Each input is sent to one real
 * `loophub run` over a DEALER of the test's own (ROUTER) and over HTTP (the route its format
 * uses), and each send is checked three ways: the exact reason in the answer (the ack's
 * "rejected: <reason>", the 400/413/415 body), loophub_rejected_total{reason} up by exactly one
 * (and no other reason moved), and one new quarantine row naming the transport, with the reason
 * and the payload byte for byte (of an input over --max-payload, the first --quarantine-sample
 * bytes, its true size in the reason). The events stored before the rejections are all there
 * after them.
 *
 * The table is derived from the code, so that a new reason without a test fails the suite:
 *   - reason_labels_all_have_inputs walks loophub_rejected_total's own label table
 *     (lh__metrics_reason_name() over 0..LH_REJ__COUNT-1): a label no input produces fails,
 *     unless UNREACHABLE_LABELS says why nothing from outside can produce it;
 *   - error_sites_all_have_entries reads the product sources (SCAN below: the files and the calls
 *     through which each of them reports a reason), takes the format literal of every error site
 *     and fails naming each one no table entry has (file and format, exactly as in the source;
 *     a conversion such as %s or %.64s matches any text in the entry's message), and each entry
 *     whose site is gone. A site is a (file, format) pair: two sites of one file with the same
 *     format (an "out of memory", get_str and extra_str in codec_cloudevents.c) need one row
 *     between them, so where they differ in what reaches them each has a row of its own.
 *
 * How a new reason gets its test: add a row to REJECTS with the file and the format literal of
 * its error site, the exact message the input below gives (a '*' stands for text the test cannot
 * fix, such as a distance to the hub's clock), the reason label, the transports that can carry
 * it and the input (JSON text, or a builder for protobuf and large inputs). A message no input
 * from outside can reach gets a row with via = 0 and `why` saying why (the suite then checks only
 * that it is still there). A new way of reporting (a new macro or sink in a decoder) needs its
 * call in SCAN.
 *
 * Protobuf inputs are written with a small wire-format writer of the test's own (field numbers
 * from proto/loophub.proto): the generated protobuf-c code is the codec's private (the build
 * keeps its header from every other target), and a writer of our own can also write what the
 * generated code would refuse to (unknown enum values, a NUL inside a string).
 */
#include <check.h>
#include <ctype.h>
#include <dirent.h>
#include <jansson.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#include "ithub.h"
#include "loophub/error.h"
#include "loophub/event.h"
#include "loophub/timeutil.h"
#include "metrics.h"
#include "testutil.h"

#define MAX_PAYLOAD 8192
#define QSAMPLE 1000
#define MAX_PAYLOAD_S "8192"
#define QSAMPLE_S "1000"
#define T0 "2026-11-26T10:00:00Z"

/* --- inputs ------------------------------------------------------------------------------------
 */

typedef struct {
    unsigned char *p;
    size_t n, cap;
} bytes_t;

static void
put(bytes_t *b, const void *d, size_t n)
{
    if (b->n + n + 1 > b->cap) {
        b->cap = (b->n + n + 1) * 2;
        b->p = realloc(b->p, b->cap);
        ck_assert_ptr_nonnull(b->p);
    }
    if (n)
        memcpy(b->p + b->n, d, n);
    b->n += n;
    b->p[b->n] = 0;
}

static void
puts_(bytes_t *b, const char *s)
{
    put(b, s, strlen(s));
}

/* protobuf wire format: varints, tags, length-delimited fields */
static void
pb_varint(bytes_t *b, uint64_t v)
{
    unsigned char c;
    do {
        c = (unsigned char)(v & 0x7f);
        v >>= 7;
        if (v)
            c |= 0x80;
        put(b, &c, 1);
    } while (v);
}

static void
pb_uint(bytes_t *b, unsigned field, uint64_t v)
{
    pb_varint(b, (uint64_t)field << 3);
    pb_varint(b, v);
}

static void
pb_bytes(bytes_t *b, unsigned field, const void *d, size_t n)
{
    pb_varint(b, ((uint64_t)field << 3) | 2);
    pb_varint(b, n);
    put(b, d, n);
}

static void
pb_str(bytes_t *b, unsigned field, const char *s)
{
    pb_bytes(b, field, s, strlen(s));
}

static int64_t
t0_ns(void)
{
    int64_t ns = 0;
    ck_assert_int_eq(lh_time_parse(T0, &ns), 0);
    return ns;
}

/* Event envelope fields 1 (id), 3 (time), 4 (service) */
static void
pb_head(bytes_t *b, const char *id, const char *service)
{
    pb_str(b, 1, id);
    pb_uint(b, 3, (uint64_t)t0_ns());
    if (service)
        pb_str(b, 4, service);
}

static void
gen_pb_bad_utf8(bytes_t *b)
{
    pb_head(b, "rej-pb-utf8", "api");
    pb_str(b, 6, "web-\xff\xfe");
    bytes_t d = {0};
    pb_str(&d, 1, "D-utf8");
    pb_uint(&d, 2, 2);
    pb_bytes(b, 10, d.p, d.n);
    free(d.p);
}

static void
gen_pb_no_body(bytes_t *b)
{
    pb_head(b, "rej-pb-nobody", "api");
}

/* a deploy without service, status or deploy_id: what the hub fills in (normalization) must not
 * show in the quarantined bytes */
static void
gen_pb_no_service(bytes_t *b)
{
    pb_head(b, "rej-pb-nosvc", NULL);
    pb_bytes(b, 10, "", 0);
}

static void
gen_pb_bad_enum(bytes_t *b)
{
    pb_head(b, "rej-pb-enum", "api");
    bytes_t d = {0};
    pb_uint(&d, 2, 9);
    pb_bytes(b, 10, d.p, d.n);
    free(d.p);
}

static void
gen_pb_nul_label(bytes_t *b)
{
    pb_head(b, "rej-pb-nul", "api");
    bytes_t l = {0};
    pb_str(&l, 1, "team");
    pb_bytes(&l, 2, "pay\0ments", 9);
    pb_bytes(b, 8, l.p, l.n);
    free(l.p);
    pb_bytes(b, 10, "", 0);
}

static void
gen_pb_cut(bytes_t *b)
{
    /* field 1, length 16, three bytes of it */
    put(b,
        "\x0a\x10"
        "abc",
        5);
}

static void
gen_big_field(bytes_t *b)
{
    puts_(b, "{\"id\":\"rej-bigfield\",\"kind\":\"deploy\",\"time\":\"" T0 "\",\"service\":\"");
    for (int i = 0; i < 4097; i++)
        puts_(b, "s");
    puts_(b, "\",\"deploy\":{\"status\":\"succeeded\"}}");
}

/* head, then n items ("h0", "k0":"v0", ...: one of them per kind), then tail */
enum { LIST_HOSTS, LIST_LABELS, LIST_LINKS };

static void
gen_list(bytes_t *b, const char *head, int kind, int n, const char *tail)
{
    puts_(b, head);
    for (int i = 0; i < n; i++) {
        char item[64];
        const char *sep = i ? "," : "";
        if (kind == LIST_HOSTS)
            snprintf(item, sizeof(item), "%s\"h%d\"", sep, i);
        else if (kind == LIST_LABELS)
            snprintf(item, sizeof(item), "%s\"k%d\":\"v%d\"", sep, i, i);
        else
            snprintf(item, sizeof(item), "%s\"D-%d\"", sep, i);
        puts_(b, item);
    }
    puts_(b, tail);
}

static void
gen_hosts(bytes_t *b)
{
    gen_list(b,
             "{\"id\":\"rej-hosts\",\"kind\":\"deploy\",\"time\":\"" T0 "\",\"service\":\"api\","
             "\"hosts\":[",
             LIST_HOSTS, 257, "],\"deploy\":{}}");
}

static void
gen_labels(bytes_t *b)
{
    gen_list(b,
             "{\"id\":\"rej-labels\",\"kind\":\"deploy\",\"time\":\"" T0 "\",\"service\":\"api\","
             "\"labels\":{",
             LIST_LABELS, 65, "},\"deploy\":{}}");
}

static void
gen_links(bytes_t *b)
{
    gen_list(b,
             "{\"id\":\"rej-links\",\"kind\":\"ticket\",\"time\":\"" T0 "\",\"ticket\":{"
             "\"ticket_id\":\"CHG-9\",\"links\":[",
             LIST_LINKS, 257, "]}}");
}

/* n bytes: '{' then letters, so that a sample is recognisably the start of it */
static void
gen_sized(bytes_t *b, size_t n)
{
    puts_(b, "{");
    for (size_t i = 1; i < n; i++) {
        char c = (char)('a' + i % 26);
        put(b, &c, 1);
    }
}

static void
gen_over_zmq(bytes_t *b)
{
    gen_sized(b, MAX_PAYLOAD + 500);
}

static void
gen_over_http(bytes_t *b)
{
    gen_sized(b, 9000);
}

/* --- the table ---------------------------------------------------------------------------------
 */

enum { VIA_ROUTER = 1, VIA_HTTP = 2, VIA_BOTH = 3 };
/* what the quarantine keeps of the input */
/* what the quarantine keeps of the input: all of it, a sample, a row without it, or no row at all
 * (a webhook whose signature failed: bytes nobody vouched for are not kept) */
enum { KEEP_ALL, KEEP_SAMPLE, KEEP_NONE, KEEP_NOTHING };
/* how an HTTP send goes out */
enum { SEND_PLAIN, SEND_CHUNKED };

typedef struct {
    const char *file;       /* the error site: its source file, from the repository root */
    const char *fmt;        /* the format literal at the site, as written there */
    const char *expect;     /* the exact message ('*': any text); NULL: fmt (via 0 only) */
    int reason;             /* lh_reject_reason_t of the loophub_rejected_total label */
    int via;                /* VIA_*; 0: unreachable from outside (why says why) */
    const char *in;         /* the input as text, or NULL (gen) */
    void (*gen)(bytes_t *); /* the input built */
    const char *route;      /* HTTP route; NULL: /v1/events */
    const char *ctype;      /* HTTP Content-Type; NULL: application/json */
    const char *hdr[5];     /* more HTTP headers */
    int code;               /* HTTP status; 0: 400 */
    int keep;               /* KEEP_* */
    int send;               /* SEND_* */
    const char *why;        /* via 0: why no input reaches it */
} rej_t;

#define EV_C "hub/util/event.c"
#define CODEC_C "hub/codec/codec.c"
#define PB_C "hub/codec/codec_pb.c"
#define JSON_C "hub/codec/codec_json.c"
#define CE_C "hub/codec/codec_cloudevents.c"
#define AM_C "hub/codec/codec_alertmanager.c"
#define PIPE_C "hub/pipeline.c"
#define ZMQ_C "adapters/zmq/zmq_in.c"
#define HTTP_C "adapters/http/http.c"
#define ROUTES_C "adapters/http/http_routes.c"

#define SRC_C "hub/codec/codec_source.c"
#define GH_C "hub/codec/codec_github.c"
#define PD_C "hub/codec/codec_pagerduty.c"
#define GL_C "hub/codec/codec_gitlab.c"
#define JIRA_C "hub/codec/codec_jira.c"
#define GL_TOKEN "X-Gitlab-Token: s3cret" /* the secret the hub of these tests has for GitLab */
#define GL_DEPLOY "X-Gitlab-Event: Deployment Hook"
#define GL_PROJECT "\"project\":{\"id\":1,\"name\":\"api\"}"
#define GL_DEPLOYED "\"status\":\"success\",\"deployment_id\":15,\"environment\":\"production\""
#define JIRA_UPDATED "\"webhookEvent\":\"jira:issue_updated\""
#define JIRA_ISSUE "\"issue\":{\"id\":\"10001\",\"key\":\"CHG-1\"}"
#define FLUX_C "hub/codec/codec_flux.c"
#define TEKTON_C "hub/codec/codec_tekton.c"
#define GF_C "hub/codec/codec_grafana.c"
#define GF "/v1/sources/grafana"
#define GF_V1 "\"version\":\"1\",\"orgId\":1"
#define GF_ALERT "\"labels\":{\"alertname\":\"HighLatency\",\"service\":\"api\"}"
/* the hub of these tests has Tekton off, for the row of a source that is off */
#define TEKTON_OFF                                                                                 \
    "the hub of these tests has Tekton off (the row of a source that is off); check_tekton's "     \
    "tekton_bad_input reaches this site through lh_codec_decode_src"
#define FLUX "/v1/sources/flux"
#define FLUX_KS "\"involvedObject\":{\"kind\":\"Kustomization\",\"name\":\"api\"}"
#define FLUX_OK FLUX_KS ",\"reason\":\"ReconciliationSucceeded\",\"severity\":\"info\""
#define GH_STATUS "X-GitHub-Event: deployment_status"
#define GH_REPO "\"repository\":{\"name\":\"api\",\"full_name\":\"acme/api\"}"
#define PD_TRIGGERED                                                                               \
    "\"id\":\"E1\",\"event_type\":\"incident.triggered\",\"resource_type\":\"incident\""

#define PB "application/protobuf"
#define AM "/v1/alertmanager"
#define CEJ "application/cloudevents+json"
#define OOM_WHY "only when an allocation fails (LH_ENOMEM); nothing a sender does causes it"
/* a CloudEvent with a valid CDEvent around what a row changes */
#define CE_HEAD(id) "{\"specversion\":\"1.0\",\"id\":\"" id "\",\"source\":\"ci\","
#define CE_DEPLOYED "\"type\":\"dev.cdevents.service.deployed.0.2.0\","
#define CE_SUBJ "\"subject\":{\"id\":\"api\",\"content\":{}}"
#define AM_HEAD "{\"version\":\"4\",\"status\":\"firing\",\"alerts\":["
#define AM_LABELS "\"labels\":{\"alertname\":\"HighErrorRate\",\"service\":\"api\"}"
#define AM_STARTS "\"startsAt\":\"" T0 "\""

/* the headers of a binary-mode CloudEvent (HTTP ce-*) */
#define CE_BIN                                                                                     \
    "ce-specversion: 1.0", "ce-id: rej-bin", "ce-source: ci",                                      \
        "ce-type: dev.cdevents.service.deployed.0.2.0"

/* rows name the fields they need in order and leave the rest zero */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
static const rej_t REJECTS[] = {
    /* --- hub/util/event.c: the model's rules (lh_event_validate) ----------------------------- */
    {EV_C, "field '%s' is %zu bytes, over the limit of %zu",
     "field 'service' is 4097 bytes, over the limit of 4096", LH_REJ_TOO_BIG, VIA_BOTH, NULL,
     gen_big_field},
    {EV_C, "field '%s' is not valid UTF-8", "field 'hosts' is not valid UTF-8", LH_REJ_DECODE,
     VIA_BOTH, NULL, gen_pb_bad_utf8, NULL, PB},
    {EV_C, "missing field 'id'", "missing field 'id'", LH_REJ_MISSING_FIELD, VIA_BOTH,
     "{\"kind\":\"deploy\",\"time\":\"" T0 "\",\"service\":\"api\",\"deploy\":{}}"},
    {EV_C, "field 'id' contains a control character", "field 'id' contains a control character",
     LH_REJ_DECODE, VIA_BOTH,
     "{\"id\":\"rej-\\u0007ctl\",\"time\":\"" T0 "\",\"service\":\"api\",\"deploy\":{}}"},
    {EV_C, "unknown event kind: the event has no deploy, alert, incident or ticket body",
     "unknown event kind: the event has no deploy, alert, incident or ticket body",
     LH_REJ_UNKNOWN_KIND, VIA_BOTH, NULL, gen_pb_no_body, NULL, PB},
    {EV_C, "missing field 'time'", "missing field 'time'", LH_REJ_MISSING_FIELD, VIA_BOTH,
     "{\"id\":\"rej-notime\",\"service\":\"api\",\"deploy\":{}}"},
    {EV_C, "field 'time' is before 1970", "field 'time' is before 1970", LH_REJ_OUT_OF_RANGE,
     VIA_BOTH,
     "{\"id\":\"rej-1969\",\"time\":\"1969-07-20T20:17:40Z\",\"service\":\"api\",\"deploy\":{}}"},
    {EV_C, "field 'time' is %lld s ahead of the hub's clock (limit %lld s)",
     "field 'time' is * s ahead of the hub's clock (limit 3600 s)", LH_REJ_OUT_OF_RANGE, VIA_BOTH,
     "{\"id\":\"rej-future\",\"time\":\"2200-01-01T00:00:00Z\",\"service\":\"api\","
     "\"deploy\":{}}"},
    {EV_C, "missing field 'service' (%s %s needs one)",
     "missing field 'service' (a deploy needs one)", LH_REJ_MISSING_FIELD, VIA_BOTH, NULL,
     gen_pb_no_service, NULL, PB},
    {EV_C, "%zu hosts, over the limit of %zu", "257 hosts, over the limit of 256", LH_REJ_TOO_BIG,
     VIA_BOTH, NULL, gen_hosts},
    {EV_C, "%zu labels, over the limit of %zu", "65 labels, over the limit of 64", LH_REJ_TOO_BIG,
     VIA_BOTH, NULL, gen_labels},
    {EV_C, "%zu ticket links, over the limit of %zu", "257 ticket links, over the limit of 256",
     LH_REJ_TOO_BIG, VIA_BOTH, NULL, gen_links},
    {EV_C, "field 'deploy.commit_time' is before 1970", "field 'deploy.commit_time' is before 1970",
     LH_REJ_OUT_OF_RANGE, VIA_BOTH,
     "{\"id\":\"rej-commit1969\",\"time\":\"" T0 "\",\"service\":\"api\","
     "\"deploy\":{\"commit_time\":\"1969-12-31T23:00:00Z\"}}"},
    {EV_C, "field 'deploy.commit_time' is after the deploy's time",
     "field 'deploy.commit_time' is after the deploy's time", LH_REJ_OUT_OF_RANGE, VIA_BOTH,
     "{\"id\":\"rej-commitlate\",\"time\":\"" T0 "\",\"service\":\"api\","
     "\"deploy\":{\"commit_time\":\"2026-11-26T12:00:01Z\"}}"},
    {EV_C, "missing field 'incident.incident_id'", NULL, LH_REJ_MISSING_FIELD, 0,
     .why = "the hub normalizes before it validates (lh_event_normalize): an incident without "
            "incident_id takes its id, and one without id is rejected for that first"},
    {EV_C, "missing field 'ticket.ticket_id'", "missing field 'ticket.ticket_id'",
     LH_REJ_MISSING_FIELD, VIA_BOTH,
     "{\"id\":\"rej-noticket\",\"time\":\"" T0 "\",\"ticket\":{\"state\":\"approved\"}}"},
    {EV_C, "missing field 'alert.name'", "missing field 'alert.name'", LH_REJ_MISSING_FIELD,
     VIA_BOTH,
     "{\"id\":\"rej-noname\",\"time\":\"" T0 "\",\"service\":\"api\","
     "\"alert\":{\"state\":\"firing\"}}"},

    /* --- hub/codec/codec.c: size, detection, JSON syntax, batches ----------------------------- */
    {CODEC_C, "item %ld: %s", "item 0: not a JSON object but a number", LH_REJ_DECODE, VIA_BOTH,
     "[1]"},
    {CODEC_C, "%s payload holds no event", NULL, LH_REJ_DECODE, 0,
     .why = "every format decoder reports each object it is given (accepted or rejected); a "
            "decoder that made no report at all is this guard's case, and none does"},
    {CODEC_C, "a JSON payload must be an object or an array of objects", NULL, LH_REJ_DECODE, 0,
     .why = "jansson parses with a container root only (no JSON_DECODE_ANY): a scalar is refused "
            "as invalid JSON before the codec sees it (that answer has its own row)"},
    {CODEC_C, "empty JSON array: no events", "empty JSON array: no events", LH_REJ_DECODE, VIA_BOTH,
     "[]"},
    {CODEC_C, "not a JSON object but %s", "item 0: not a JSON object but a number", LH_REJ_DECODE,
     VIA_BOTH, "[1]"},
    {CODEC_C, "payload of %zu bytes is over the limit of %zu bytes",
     "payload of 8692 bytes is over the limit of 8192 bytes (quarantined: the first 1000 of 8692 "
     "bytes)",
     LH_REJ_TOO_BIG, VIA_ROUTER, NULL, gen_over_zmq, .keep = KEEP_SAMPLE},
    {CODEC_C, "empty payload", "empty payload", LH_REJ_DECODE, VIA_BOTH, ""},
    {CODEC_C, "empty payload (only blanks)", "empty payload (only blanks)", LH_REJ_DECODE, VIA_BOTH,
     " \t\r\n "},
    {CODEC_C, "invalid JSON at line %d column %d: %s",
     "invalid JSON at line 1 column 6: unexpected token near end of file", LH_REJ_DECODE, VIA_BOTH,
     "{\"id\":"},
    {CODEC_C, "out of memory", NULL, LH_REJ_OTHER, 0, .why = OOM_WHY},
    {CODEC_C, "payload holds more than one event, one was expected", NULL, LH_REJ_OTHER, 0,
     .why = "lh_codec_decode_one() only: `loophub send` checks its own input with it, the hub "
            "never calls it"},

    /* --- hub/codec/codec_pb.c --------------------------------------------------------------- */
    {PB_C, "field '%s' has unknown value %d", "field 'deploy.status' has unknown value 9",
     LH_REJ_DECODE, VIA_BOTH, NULL, gen_pb_bad_enum, NULL, PB},
    {PB_C, "field '%s' contains a NUL byte", "field 'labels.value' contains a NUL byte",
     LH_REJ_DECODE, VIA_BOTH, NULL, gen_pb_nul_label, NULL, PB},
    {PB_C, "malformed protobuf (not a loophub.v1.Event of %zu bytes)",
     "malformed protobuf (not a loophub.v1.Event of 5 bytes)", LH_REJ_DECODE, VIA_BOTH, NULL,
     gen_pb_cut, NULL, PB},
    {PB_C, "out of memory", NULL, LH_REJ_OTHER, 0, .why = OOM_WHY},
    {PB_C, "field 'outcomes[%zu].kind' must be incident or alert", NULL, LH_REJ_DECODE, 0,
     .why = "decoding a CorrelatedAlert (what `loophub tail` reads), not an ingest path"},
    {PB_C, "field 'kind' has unknown value %d", NULL, LH_REJ_DECODE, 0,
     .why = "decoding a CorrelatedAlert (what `loophub tail` reads), not an ingest path"},
    {PB_C, "field 'outcome': %s", NULL, LH_REJ_DECODE, 0,
     .why = "decoding a CorrelatedAlert (what `loophub tail` reads), not an ingest path"},

    /* --- hub/codec/codec_json.c: loophub JSON ----------------------------------------------- */
    {JSON_C, "field '%s%s' must be a boolean, not %s",
     "field 'deploy.previous_version_derived' must be a boolean, not a string", LH_REJ_DECODE,
     VIA_BOTH,
     "{\"id\":\"rej-bool\",\"time\":\"" T0 "\",\"service\":\"api\","
     "\"deploy\":{\"previous_version_derived\":\"yes\"}}"},
    {JSON_C, "field '%s%s' must be a string, not %s",
     "field 'service' must be a string, not a number", LH_REJ_DECODE, VIA_BOTH,
     "{\"id\":\"rej-svcnum\",\"time\":\"" T0 "\",\"service\":42,\"deploy\":{}}"},
    {JSON_C, "out of memory", NULL, LH_REJ_OTHER, 0, .why = OOM_WHY},
    {JSON_C, "field '%s%s' is not an RFC 3339 time: '%s'",
     "field 'time' is not an RFC 3339 time: 'yesterday'", LH_REJ_DECODE, VIA_BOTH,
     "{\"id\":\"rej-time\",\"time\":\"yesterday\",\"service\":\"api\",\"deploy\":{}}"},
    {JSON_C, "field '%s%s' has unknown value '%s' (expected %s)",
     "field 'deploy.status' has unknown value 'done' (expected started, succeeded, failed, "
     "rolled_back)",
     LH_REJ_DECODE, VIA_BOTH,
     "{\"id\":\"rej-status\",\"time\":\"" T0 "\",\"service\":\"api\","
     "\"deploy\":{\"status\":\"done\"}}"},
    {JSON_C, "field '%s' must be an array of strings, not %s",
     "field 'hosts' must be an array of strings, not a string", LH_REJ_DECODE, VIA_BOTH,
     "{\"id\":\"rej-hoststr\",\"time\":\"" T0 "\",\"service\":\"api\",\"hosts\":\"web-1\","
     "\"deploy\":{}}"},
    {JSON_C, "field '%s[%zu]' must be a string, not %s",
     "field 'ticket.links[1]' must be a string, not a number", LH_REJ_DECODE, VIA_BOTH,
     "{\"id\":\"rej-linknum\",\"time\":\"" T0 "\",\"ticket\":{\"ticket_id\":\"CHG-1\","
     "\"links\":[\"D-1\",2]}}"},
    {JSON_C, "field 'labels' must be an object of strings, not %s",
     "field 'labels' must be an object of strings, not an array", LH_REJ_DECODE, VIA_BOTH,
     "{\"id\":\"rej-labarr\",\"time\":\"" T0 "\",\"service\":\"api\",\"labels\":[],"
     "\"deploy\":{}}"},
    {JSON_C, "field 'labels.%s' must be a string, not %s",
     "field 'labels.team' must be a string, not a number", LH_REJ_DECODE, VIA_BOTH,
     "{\"id\":\"rej-labnum\",\"time\":\"" T0 "\",\"service\":\"api\",\"labels\":{\"team\":7},"
     "\"deploy\":{}}"},
    {JSON_C, "field 'kind' must be a string, not %s", "field 'kind' must be a string, not a number",
     LH_REJ_DECODE, VIA_BOTH,
     "{\"id\":\"rej-kindnum\",\"kind\":1,\"time\":\"" T0 "\",\"service\":\"api\","
     "\"deploy\":{}}"},
    {JSON_C, "unknown kind '%s' (expected deploy, alert, incident or ticket)",
     "unknown kind 'build' (expected deploy, alert, incident or ticket)", LH_REJ_UNKNOWN_KIND,
     VIA_BOTH, "{\"id\":\"rej-kind\",\"kind\":\"build\",\"time\":\"" T0 "\",\"service\":\"api\"}"},
    {JSON_C, "field '%s' must be an object, not %s",
     "field 'deploy' must be an object, not an array", LH_REJ_DECODE, VIA_BOTH,
     "{\"id\":\"rej-bodyarr\",\"time\":\"" T0 "\",\"service\":\"api\",\"deploy\":[]}"},
    {JSON_C, "two bodies, '%s' and '%s': an event has exactly one",
     "two bodies, 'deploy' and 'alert': an event has exactly one", LH_REJ_DECODE, VIA_BOTH,
     "{\"id\":\"rej-two\",\"time\":\"" T0 "\",\"service\":\"api\",\"deploy\":{},"
     "\"alert\":{\"name\":\"x\"}}"},
    {JSON_C, "kind '%s' without a '%s' object", "kind 'deploy' without a 'deploy' object",
     LH_REJ_MISSING_FIELD, VIA_BOTH,
     "{\"id\":\"rej-nobody\",\"kind\":\"deploy\",\"time\":\"" T0 "\",\"service\":\"api\"}"},
    {JSON_C, "kind '%s' does not match the body '%s'",
     "kind 'deploy' does not match the body 'alert'", LH_REJ_DECODE, VIA_BOTH,
     "{\"id\":\"rej-mismatch\",\"kind\":\"deploy\",\"time\":\"" T0 "\",\"service\":\"api\","
     "\"alert\":{\"name\":\"x\"}}"},
    {JSON_C, "no body: one of 'deploy', 'alert', 'incident' or 'ticket' is needed",
     "no body: one of 'deploy', 'alert', 'incident' or 'ticket' is needed", LH_REJ_MISSING_FIELD,
     VIA_BOTH, "{\"id\":\"rej-none\",\"time\":\"" T0 "\",\"service\":\"api\"}"},
    {JSON_C, "an event must be a JSON object, not %s", NULL, LH_REJ_DECODE, 0,
     .why = "the hub's decoder hands loophub JSON only objects (a batch element of another type "
            "is codec.c's 'not a JSON object'); only lh_codec_json_decode() of the public API "
            "reaches it (check_codec)"},

    /* --- hub/codec/codec_cloudevents.c: structured mode -------------------------------------- */
    {CE_C, "field '%s%s' must be a string, got %s", "field 'time' must be a string, got a number",
     LH_REJ_DECODE, VIA_BOTH,
     CE_HEAD("rej-ce-timenum") CE_DEPLOYED "\"time\":5,\"data\":{" CE_SUBJ "}}"},
    {CE_C, "missing mandatory field '%s%s'", "missing mandatory field 'source'",
     LH_REJ_MISSING_FIELD, VIA_BOTH,
     "{\"specversion\":\"1.0\",\"id\":\"rej-ce-nosrc\"," CE_DEPLOYED "\"data\":{" CE_SUBJ "}}"},
    {CE_C, "field '%s%s' must be an object, got %s",
     "field 'data.context' must be an object, got a string", LH_REJ_DECODE, VIA_BOTH,
     CE_HEAD("rej-ce-ctx") CE_DEPLOYED "\"data\":{\"context\":\"x\"," CE_SUBJ "}}"},
    {CE_C,
     "unsupported CDEvents type '%.120s' in '%s' (loophub takes service.*, incident.* and ticket.* "
     "events)",
     "unsupported CDEvents type 'dev.cdevents.pipelinerun.started.0.2.0' in 'type' (loophub takes "
     "service.*, incident.* and ticket.* events)",
     LH_REJ_UNKNOWN_KIND, VIA_BOTH,
     CE_HEAD("rej-ce-pipe") "\"type\":\"dev.cdevents.pipelinerun.started.0.2.0\","
                            "\"data\":{" CE_SUBJ "}}"},
    {CE_C, "unknown CloudEvents type '%.120s' in '%s' (loophub takes dev.cdevents.* types)",
     "unknown CloudEvents type 'com.example.build' in 'type' (loophub takes dev.cdevents.* types)",
     LH_REJ_UNKNOWN_KIND, VIA_BOTH,
     CE_HEAD("rej-ce-foreign") "\"type\":\"com.example.build\",\"data\":{" CE_SUBJ "}}"},
    /* extra_str (the same format as get_str above, another site) */
    {CE_C, "field '%s%s' must be a string, got %s", "field 'actor' must be a string, got a number",
     LH_REJ_DECODE, VIA_BOTH,
     CE_HEAD("rej-ce-actor") CE_DEPLOYED "\"actor\":5,\"data\":{" CE_SUBJ "}}"},
    {CE_C, "out of memory", NULL, LH_REJ_OTHER, 0, .why = OOM_WHY},
    {CE_C, "field '%s%s' must be an array of strings, got %s",
     "field 'data.customData.hosts' must be an array of strings, got a number", LH_REJ_DECODE,
     VIA_BOTH,
     CE_HEAD("rej-ce-hosts") CE_DEPLOYED "\"data\":{" CE_SUBJ ",\"customData\":{\"hosts\":5}}}"},
    {CE_C, "field '%s%s[%zu]' must be a string, got %s",
     "field 'data.customData.hosts[0]' must be a string, got a number", LH_REJ_DECODE, VIA_BOTH,
     CE_HEAD("rej-ce-host0") CE_DEPLOYED "\"data\":{" CE_SUBJ ",\"customData\":{\"hosts\":[5]}}}"},
    {CE_C, "field '%slabels' must be an object, got %s",
     "field 'data.customData.labels' must be an object, got an array", LH_REJ_DECODE, VIA_BOTH,
     CE_HEAD("rej-ce-labels") CE_DEPLOYED "\"data\":{" CE_SUBJ ",\"customData\":{\"labels\":[]}}}"},
    {CE_C, "field '%slabels.%.64s' must be a string, got %s",
     "field 'data.customData.labels.team' must be a string, got a number", LH_REJ_DECODE, VIA_BOTH,
     CE_HEAD("rej-ce-label") CE_DEPLOYED "\"data\":{" CE_SUBJ
                                         ",\"customData\":{\"labels\":{\"team\":1}}}}"},
    {CE_C, "field 'commit_time' is not an RFC 3339 time: '%.64s'",
     "field 'commit_time' is not an RFC 3339 time: 'soon'", LH_REJ_DECODE, VIA_BOTH,
     CE_HEAD("rej-ce-commit") CE_DEPLOYED "\"data\":{" CE_SUBJ
                                          ",\"customData\":{\"commit_time\":\"soon\"}}}"},
    {CE_C, "field 'data' must be a CDEvent object, got %s",
     "field 'data' must be a CDEvent object, got a number", LH_REJ_DECODE, VIA_BOTH,
     CE_HEAD("rej-ce-datanum") CE_DEPLOYED "\"data\":5}"},
    {CE_C, "missing mandatory field 'data' (the CDEvent the CloudEvent carries)",
     "missing mandatory field 'data' (the CDEvent the CloudEvent carries)", LH_REJ_MISSING_FIELD,
     VIA_BOTH, CE_HEAD("rej-ce-nodata") "\"type\":\"dev.cdevents.service.deployed.0.2.0\"}"},
    {CE_C, "field 'data_base64' must be a string, got %s",
     "field 'data_base64' must be a string, got a number", LH_REJ_DECODE, VIA_BOTH,
     CE_HEAD("rej-ce-b64num") CE_DEPLOYED "\"data_base64\":5}"},
    {CE_C, "field 'data_base64' is not valid base64", "field 'data_base64' is not valid base64",
     LH_REJ_DECODE, VIA_BOTH, CE_HEAD("rej-ce-b64") CE_DEPLOYED "\"data_base64\":\"!!!\"}"},
    {CE_C, "field '%s' is not valid JSON (line %d, column %d: %s)",
     "field 'data' is not valid JSON (line 1, column 5: string or '}' expected near 'nope')",
     LH_REJ_DECODE, VIA_BOTH, CE_HEAD("rej-ce-datajson") CE_DEPLOYED "\"data\":\"{nope\"}"},
    {CE_C, "field '%s' must hold a CDEvent object", "field 'data' must hold a CDEvent object",
     LH_REJ_DECODE, VIA_BOTH, CE_HEAD("rej-ce-dataarr") CE_DEPLOYED "\"data\":\"[1]\"}"},
    {CE_C, "field 'specversion' is '%.32s': loophub reads CloudEvents 1.0",
     "field 'specversion' is '0.3': loophub reads CloudEvents 1.0", LH_REJ_DECODE, VIA_BOTH,
     "{\"specversion\":\"0.3\",\"id\":\"rej-ce-03\",\"source\":\"ci\"," CE_DEPLOYED
     "\"data\":{" CE_SUBJ "}}"},
    {CE_C, "missing mandatory field 'context'", "missing mandatory field 'context'",
     LH_REJ_MISSING_FIELD, VIA_BOTH, "{\"context\":null," CE_SUBJ "}"},
    {CE_C, "field 'context' must be an object, got %s",
     "field 'context' must be an object, got a number", LH_REJ_DECODE, VIA_BOTH,
     "{\"context\":5," CE_SUBJ "}"},
    {CE_C, "missing mandatory field 'context.id'", "missing mandatory field 'context.id'",
     LH_REJ_MISSING_FIELD, VIA_BOTH, "{\"context\":{\"source\":\"ci\"}," CE_SUBJ "}"},
    {CE_C,
     "missing mandatory field 'context.specversion' (or 'context.version' before CDEvents 0.5)",
     "missing mandatory field 'context.specversion' (or 'context.version' before CDEvents 0.5)",
     LH_REJ_MISSING_FIELD, VIA_BOTH, "{\"context\":{\"id\":\"rej-bare-sv\"}," CE_SUBJ "}"},
    {CE_C, "missing mandatory field '%ssubject'", "missing mandatory field 'data.subject'",
     LH_REJ_MISSING_FIELD, VIA_BOTH, CE_HEAD("rej-ce-nosubj") CE_DEPLOYED "\"data\":{}}"},
    {CE_C, "field '%ssubject' must be an object, got %s",
     "field 'data.subject' must be an object, got a number", LH_REJ_DECODE, VIA_BOTH,
     CE_HEAD("rej-ce-subjnum") CE_DEPLOYED "\"data\":{\"subject\":5}}"},
    {CE_C, "field '%s' is not an RFC 3339 time: '%.64s'",
     "field 'time' is not an RFC 3339 time: 'noon'", LH_REJ_DECODE, VIA_BOTH,
     CE_HEAD("rej-ce-time") CE_DEPLOYED "\"time\":\"noon\",\"data\":{" CE_SUBJ "}}"},
    {CE_C, "a CloudEvent must be a JSON object", NULL, LH_REJ_DECODE, 0,
     .why = "the codec hands the CloudEvents decoder objects only (codec.c decides the format of "
            "an object)"},
    /* binary mode: the ce-* headers of an HTTP request (or Kafka's ce_*) */
    {CE_C, "data is %zu bytes, over the limit of %zu", NULL, LH_REJ_TOO_BIG, 0,
     .why = "over HTTP a body over --max-payload is answered 413 before the codec sees it "
            "(http.c); Kafka's binary mode reaches it (check_cloudevents covers it)"},
    {CE_C, "attribute '%s' contains a NUL byte", NULL, LH_REJ_DECODE, 0,
     .why = "an HTTP header value cannot hold a NUL (libmicrohttpd hands C strings); a Kafka "
            "header can (check_cloudevents covers it)"},
    {CE_C,
     "attribute '%s' is not valid UTF-8",
     "attribute 'source' is not valid UTF-8",
     LH_REJ_DECODE,
     VIA_HTTP,
     "{}",
     NULL,
     NULL,
     NULL,
     {"ce-specversion: 1.0", "ce-id: rej-bin", "ce-source: ci-\xff",
      "ce-type: dev.cdevents.service.deployed.0.2.0"}},
    {CE_C, "missing mandatory attribute 'specversion' (ce_specversion)", NULL, LH_REJ_MISSING_FIELD,
     0,
     .why = "binary mode is told by a ce-specversion header (lh_codec_decode_msg), so a binary "
            "event always has one; only a direct lh_codec_decode_ce_binary() call lacks it "
            "(check_cloudevents)"},
    {CE_C,
     "missing mandatory attribute 'id' (ce_id)",
     "missing mandatory attribute 'id' (ce_id)",
     LH_REJ_MISSING_FIELD,
     VIA_HTTP,
     "{}",
     NULL,
     NULL,
     NULL,
     {"ce-specversion: 1.0"}},
    {CE_C,
     "missing mandatory attribute 'source' (ce_source)",
     "missing mandatory attribute 'source' (ce_source)",
     LH_REJ_MISSING_FIELD,
     VIA_HTTP,
     "{}",
     NULL,
     NULL,
     NULL,
     {"ce-specversion: 1.0", "ce-id: rej-bin"}},
    {CE_C,
     "missing mandatory attribute 'type' (ce_type)",
     "missing mandatory attribute 'type' (ce_type)",
     LH_REJ_MISSING_FIELD,
     VIA_HTTP,
     "{}",
     NULL,
     NULL,
     NULL,
     {"ce-specversion: 1.0", "ce-id: rej-bin", "ce-source: ci"}},
    {CE_C,
     "data content type '%.*s' is not JSON (loophub reads CDEvents JSON)",
     "data content type 'text/plain' is not JSON (loophub reads CDEvents JSON)",
     LH_REJ_DECODE,
     VIA_HTTP,
     "{}",
     NULL,
     NULL,
     "text/plain",
     {CE_BIN}},
    {CE_C,
     "missing mandatory field 'data' (the CDEvent, as the value)",
     "missing mandatory field 'data' (the CDEvent, as the value)",
     LH_REJ_MISSING_FIELD,
     VIA_HTTP,
     "",
     NULL,
     NULL,
     NULL,
     {CE_BIN}},
    {CE_C,
     "data is not valid JSON (line %d, column %d: %s)",
     "data is not valid JSON (line 1, column 4: '[' or '{' expected near 'nope')",
     LH_REJ_DECODE,
     VIA_HTTP,
     "nope",
     NULL,
     NULL,
     NULL,
     {CE_BIN}},
    {CE_C,
     "data must be a CDEvent object",
     "data must be a CDEvent object",
     LH_REJ_DECODE,
     VIA_HTTP,
     "[1]",
     NULL,
     NULL,
     NULL,
     {CE_BIN}},

    /* --- hub/codec/codec_alertmanager.c ------------------------------------------------------ */
    {AM_C, "field 'alerts[%zu]' must be an object, got %s",
     "field 'alerts[0]' must be an object, got a number", LH_REJ_DECODE, VIA_BOTH, AM_HEAD "1]}",
     NULL, AM},
    {AM_C, "field 'alerts[%zu].%s' must be a string, got %s",
     "field 'alerts[0].startsAt' must be a string, got a number", LH_REJ_DECODE, VIA_BOTH,
     AM_HEAD "{" AM_LABELS ",\"startsAt\":5}]}", NULL, AM},
    {AM_C, "missing mandatory field 'alerts[%zu].status'",
     "missing mandatory field 'alerts[0].status'", LH_REJ_MISSING_FIELD, VIA_BOTH,
     "{\"version\":\"4\",\"alerts\":[{" AM_LABELS "," AM_STARTS "}]}", NULL, AM},
    {AM_C, "field 'alerts[%zu].status' is '%.32s', expected 'firing' or 'resolved'",
     "field 'alerts[0].status' is 'pending', expected 'firing' or 'resolved'", LH_REJ_DECODE,
     VIA_BOTH, AM_HEAD "{\"status\":\"pending\"," AM_LABELS "," AM_STARTS "}]}", NULL, AM},
    {AM_C, "missing mandatory field 'alerts[%zu].labels'",
     "missing mandatory field 'alerts[0].labels'", LH_REJ_MISSING_FIELD, VIA_BOTH,
     AM_HEAD "{" AM_STARTS "}]}", NULL, AM},
    {AM_C, "field 'alerts[%zu].labels' must be an object, got %s",
     "field 'alerts[0].labels' must be an object, got an array", LH_REJ_DECODE, VIA_BOTH,
     AM_HEAD "{\"labels\":[]," AM_STARTS "}]}", NULL, AM},
    {AM_C, "field 'alerts[%zu].labels.%.64s' must be a string, got %s",
     "field 'alerts[0].labels.alertname' must be a string, got a number", LH_REJ_DECODE, VIA_BOTH,
     AM_HEAD "{\"labels\":{\"alertname\":1}," AM_STARTS "}]}", NULL, AM},
    {AM_C, "field 'alerts[%zu].annotations' must be an object, got %s",
     "field 'alerts[0].annotations' must be an object, got a string", LH_REJ_DECODE, VIA_BOTH,
     AM_HEAD "{" AM_LABELS ",\"annotations\":\"x\"," AM_STARTS "}]}", NULL, AM},
    {AM_C, "missing mandatory field 'alerts[%zu].startsAt'",
     "missing mandatory field 'alerts[0].startsAt'", LH_REJ_MISSING_FIELD, VIA_BOTH,
     AM_HEAD "{" AM_LABELS "}]}", NULL, AM},
    {AM_C, "field 'alerts[%zu].startsAt' is not an RFC 3339 time: '%.64s'",
     "field 'alerts[0].startsAt' is not an RFC 3339 time: 'later'", LH_REJ_DECODE, VIA_BOTH,
     AM_HEAD "{" AM_LABELS ",\"startsAt\":\"later\"}]}", NULL, AM},
    {AM_C, "missing field 'alerts[%zu].endsAt' (a resolved alert needs it)",
     "missing field 'alerts[0].endsAt' (a resolved alert needs it)", LH_REJ_MISSING_FIELD, VIA_BOTH,
     "{\"version\":\"4\",\"status\":\"resolved\",\"alerts\":[{" AM_LABELS "," AM_STARTS "}]}", NULL,
     AM},
    {AM_C, "field 'alerts[%zu].endsAt' is not an RFC 3339 time after 1970: '%.64s'",
     "field 'alerts[0].endsAt' is not an RFC 3339 time after 1970: '0001-01-01T00:00:00Z'",
     LH_REJ_DECODE, VIA_BOTH,
     "{\"version\":\"4\",\"status\":\"resolved\",\"alerts\":[{" AM_LABELS "," AM_STARTS
     ",\"endsAt\":\"0001-01-01T00:00:00Z\"}]}",
     NULL, AM},
    {AM_C, "out of memory", NULL, LH_REJ_OTHER, 0, .why = OOM_WHY},
    {AM_C, "missing mandatory field 'alerts[%zu].labels.alertname'",
     "missing mandatory field 'alerts[0].labels.alertname'", LH_REJ_MISSING_FIELD, VIA_BOTH,
     AM_HEAD "{\"labels\":{\"service\":\"api\"}," AM_STARTS "}]}", NULL, AM},
    {AM_C, "an Alertmanager notification must be a JSON object", NULL, LH_REJ_DECODE, 0,
     .why = "the codec hands the Alertmanager decoder objects only (a non-object on "
            "/v1/alertmanager is codec.c's 'must be an object or an array')"},
    {AM_C, "missing mandatory field 'version'", "missing mandatory field 'version'",
     LH_REJ_MISSING_FIELD, VIA_HTTP, "{\"alerts\":[]}", NULL, AM},
    {AM_C, "field 'version' is '%.16s': loophub reads Alertmanager webhook version 4",
     "field 'version' is '3': loophub reads Alertmanager webhook version 4", LH_REJ_DECODE,
     VIA_BOTH, "{\"version\":\"3\",\"alerts\":[]}", NULL, AM},
    {AM_C, "field 'version' must be the string \"4\", got %s",
     "field 'version' must be the string \"4\", got a number", LH_REJ_DECODE, VIA_BOTH,
     "{\"version\":4,\"alerts\":[]}", NULL, AM},
    {AM_C, "field 'alerts' must be an array, got %s",
     "field 'alerts' must be an array, got a number", LH_REJ_DECODE, VIA_HTTP,
     "{\"version\":\"4\",\"alerts\":5}", NULL, AM},
    {AM_C, "field 'alerts' must be an array, got %s",
     "field 'alerts' must be an array, got nothing", LH_REJ_MISSING_FIELD, VIA_HTTP,
     "{\"version\":\"4\"}", NULL, AM},
    {AM_C, "field 'alerts' is empty: the notification holds no alert",
     "field 'alerts' is empty: the notification holds no alert", LH_REJ_MISSING_FIELD, VIA_BOTH,
     "{\"version\":\"4\",\"alerts\":[]}", NULL, AM},

    /* --- hub/pipeline.c --------------------------------------------------------------------- */
    {PIPE_C, "%s (quarantined: the first %zu of %zu bytes)",
     "payload of 8692 bytes is over the limit of 8192 bytes (quarantined: the first 1000 of 8692 "
     "bytes)",
     LH_REJ_TOO_BIG, VIA_ROUTER, NULL, gen_over_zmq, .keep = KEEP_SAMPLE},
    {PIPE_C, "cannot decode", NULL, LH_REJ_DECODE, 0,
     .why = "the fallback of a rejection without a reason; every decoder and adapter gives one"},

    /* --- the webhook sources (docs/sources.md) --------------------------------------------- */
    {SRC_C, "no %s header, and [source.%s] has a secret: set the same secret at the sender",
     "no X-Gitlab-Token header, and [source.gitlab] has a secret: set the same secret at the "
     "sender",
     LH_REJ_AUTH, VIA_HTTP, "{\"object_kind\":\"push\"}", NULL, "/v1/sources/gitlab", .code = 401,
     .keep = KEEP_NOTHING},
    {SRC_C,
     "the %s header does not match the secret of [source.%s]",
     "the X-Gitlab-Token header does not match the secret of [source.gitlab]",
     LH_REJ_AUTH,
     VIA_HTTP,
     "{\"object_kind\":\"push\"}",
     NULL,
     "/v1/sources/gitlab",
     NULL,
     {"X-Gitlab-Token: guess"},
     .code = 401,
     .keep = KEEP_NOTHING},
    {SRC_C, "the %s source is off ([source.%s] enabled = off)",
     "the Tekton source is off ([source.tekton] enabled = off)", LH_REJ_AUTH, VIA_HTTP, "{}", NULL,
     "/v1/sources/tekton", .code = 401, .keep = KEEP_NOTHING},
    {CODEC_C, "a %s payload must be a JSON object, not %s",
     "a GitHub payload must be a JSON object, not an array", LH_REJ_DECODE, VIA_HTTP, "[{}]", NULL,
     "/v1/sources/github"},
    {ROUTES_C,
     "unsupported content type '%.80s': the %s source takes application/json (set the "
     "webhook's content type to JSON)",
     "unsupported content type 'application/x-www-form-urlencoded': the github source takes "
     "application/json (set the webhook's content type to JSON)",
     LH_REJ_DECODE, VIA_HTTP, "payload=%7B%7D", NULL, "/v1/sources/github",
     "application/x-www-form-urlencoded", .code = 415},
    {PIPE_C, "ignored", NULL, LH_REJ_OTHER, 0,
     .why = "not a rejection: the reason of an ignored payload when a decoder gave none (every "
            "decoder gives one: it_sources checks the answers)"},
    {GH_C,
     "field '%s' is missing: it names the service",
     "field 'repository.name' is missing: it names the service",
     LH_REJ_MISSING_FIELD,
     VIA_HTTP,
     "{\"deployment_status\":{\"state\":\"success\"},\"deployment\":{},\"repository\":{}}",
     NULL,
     "/v1/sources/github",
     NULL,
     {GH_STATUS}},
    {GH_C,
     "field '%s' is missing or not an RFC 3339 time",
     "field 'deployment_status.created_at' is missing or not an RFC 3339 time",
     LH_REJ_DECODE,
     VIA_HTTP,
     "{\"deployment_status\":{\"state\":\"success\",\"created_at\":\"soon\"},"
     "\"deployment\":{}," GH_REPO "}",
     NULL,
     "/v1/sources/github",
     NULL,
     {GH_STATUS}},
    {GH_C,
     "field '%s' is missing or not a number",
     "field 'deployment.id' is missing or not a number",
     LH_REJ_MISSING_FIELD,
     VIA_HTTP,
     "{\"deployment_status\":{\"state\":\"success\",\"created_at\":\"" T0 "\"},"
     "\"deployment\":{\"id\":\"7\"}," GH_REPO "}",
     NULL,
     "/v1/sources/github",
     NULL,
     {GH_STATUS}},
    {GH_C,
     "field '%s' is missing",
     "field 'deployment_status.state' is missing",
     LH_REJ_MISSING_FIELD,
     VIA_HTTP,
     "{\"deployment_status\":{},\"deployment\":{}," GH_REPO "}",
     NULL,
     "/v1/sources/github",
     NULL,
     {GH_STATUS}},
    {GH_C,
     "deployment_status.state '%s' is not one GitHub documents",
     "deployment_status.state 'exploded' is not one GitHub documents",
     LH_REJ_DECODE,
     VIA_HTTP,
     "{\"deployment_status\":{\"state\":\"exploded\"},\"deployment\":{}," GH_REPO "}",
     NULL,
     "/v1/sources/github",
     NULL,
     {GH_STATUS}},
    {GH_C,
     "a %s event without its object of that name",
     "a workflow_run event without its object of that name",
     LH_REJ_MISSING_FIELD,
     VIA_HTTP,
     "{" GH_REPO "}",
     NULL,
     "/v1/sources/github",
     NULL,
     {"X-GitHub-Event: workflow_run"}},
    {PD_C, "field 'event' is missing: not a PagerDuty v3 webhook",
     "field 'event' is missing: not a PagerDuty v3 webhook", LH_REJ_MISSING_FIELD, VIA_HTTP,
     "{\"messages\":[]}", NULL, "/v1/sources/pagerduty"},
    {PD_C, "field 'event.event_type' is missing", "field 'event.event_type' is missing",
     LH_REJ_MISSING_FIELD, VIA_HTTP, "{\"event\":{\"id\":\"E1\"}}", NULL, "/v1/sources/pagerduty"},
    {PD_C, "field 'event.id' is missing (and no X-Webhook-Id header)",
     "field 'event.id' is missing (and no X-Webhook-Id header)", LH_REJ_MISSING_FIELD, VIA_HTTP,
     "{\"event\":{\"event_type\":\"incident.triggered\",\"resource_type\":\"incident\"}}", NULL,
     "/v1/sources/pagerduty"},
    {PD_C, "field 'event.data.id' is missing: the incident is not named",
     "field 'event.data.id' is missing: the incident is not named", LH_REJ_MISSING_FIELD, VIA_HTTP,
     "{\"event\":{" PD_TRIGGERED ",\"data\":{}}}", NULL, "/v1/sources/pagerduty"},
    {PD_C, "field 'event.occurred_at' is missing or not an RFC 3339 time",
     "field 'event.occurred_at' is missing or not an RFC 3339 time", LH_REJ_DECODE, VIA_HTTP,
     "{\"event\":{" PD_TRIGGERED ",\"data\":{\"id\":\"Q1\"}}}", NULL, "/v1/sources/pagerduty"},
    {PD_C, "field 'event.data.service.summary' is missing: it names the service",
     "field 'event.data.service.summary' is missing: it names the service", LH_REJ_MISSING_FIELD,
     VIA_HTTP, "{\"event\":{" PD_TRIGGERED ",\"occurred_at\":\"" T0 "\",\"data\":{\"id\":\"Q1\"}}}",
     NULL, "/v1/sources/pagerduty"},
    {GL_C,
     "field 'object_kind' is missing%s%s%s",
     "field 'object_kind' is missing (X-Gitlab-Event: Push Hook)",
     LH_REJ_MISSING_FIELD,
     VIA_HTTP,
     "{\"project\":{\"name\":\"api\"}}",
     NULL,
     "/v1/sources/gitlab",
     NULL,
     {"X-Gitlab-Event: Push Hook", GL_TOKEN}},
    {GL_C,
     "field '%s' is missing",
     "field 'status' is missing",
     LH_REJ_MISSING_FIELD,
     VIA_HTTP,
     "{\"object_kind\":\"deployment\"," GL_PROJECT "}",
     NULL,
     "/v1/sources/gitlab",
     NULL,
     {GL_DEPLOY, GL_TOKEN}},
    {GL_C,
     "deployment status '%s' is not one GitLab documents",
     "deployment status 'exploded' is not one GitLab documents",
     LH_REJ_DECODE,
     VIA_HTTP,
     "{\"object_kind\":\"deployment\",\"status\":\"exploded\"," GL_PROJECT "}",
     NULL,
     "/v1/sources/gitlab",
     NULL,
     {GL_DEPLOY, GL_TOKEN}},
    {GL_C,
     "field '%s' is missing or not a number",
     "field 'deployment_id' is missing or not a number",
     LH_REJ_MISSING_FIELD,
     VIA_HTTP,
     "{\"object_kind\":\"deployment\",\"status\":\"success\"," GL_PROJECT "}",
     NULL,
     "/v1/sources/gitlab",
     NULL,
     {GL_DEPLOY, GL_TOKEN}},
    {GL_C,
     "field '%s' is missing: it names the service",
     "field 'project.name' is missing: it names the service",
     LH_REJ_MISSING_FIELD,
     VIA_HTTP,
     "{\"object_kind\":\"deployment\"," GL_DEPLOYED ",\"project\":{}}",
     NULL,
     "/v1/sources/gitlab",
     NULL,
     {GL_DEPLOY, GL_TOKEN}},
    {GL_C,
     "field '%s' is missing or not a time",
     "field 'status_changed_at' is missing or not a time",
     LH_REJ_DECODE,
     VIA_HTTP,
     "{\"object_kind\":\"deployment\"," GL_DEPLOYED ",\"status_changed_at\":\"soon\"," GL_PROJECT
     "}",
     NULL,
     "/v1/sources/gitlab",
     NULL,
     {GL_DEPLOY, GL_TOKEN}},
    {GL_C,
     "field '%s' is missing (job %s)",
     "field 'builds[].environment.name' is missing (job 5)",
     LH_REJ_MISSING_FIELD,
     VIA_HTTP,
     "{\"object_kind\":\"pipeline\",\"object_attributes\":{\"id\":9},"
     "\"builds\":[{\"id\":5,\"status\":\"success\",\"environment\":{}}]," GL_PROJECT "}",
     NULL,
     "/v1/sources/gitlab",
     NULL,
     {"X-Gitlab-Event: Pipeline Hook", GL_TOKEN}},
    {JIRA_C, "field 'webhookEvent' is missing: not a Jira webhook",
     "field 'webhookEvent' is missing: not a Jira webhook", LH_REJ_MISSING_FIELD, VIA_HTTP,
     "{\"issue\":{\"key\":\"CHG-1\"}}", NULL, "/v1/sources/jira"},
    {JIRA_C, "field 'issue' is missing", "field 'issue' is missing", LH_REJ_MISSING_FIELD, VIA_HTTP,
     "{" JIRA_UPDATED "}", NULL, "/v1/sources/jira"},
    {JIRA_C, "field 'issue.key' is missing: it names the ticket",
     "field 'issue.key' is missing: it names the ticket", LH_REJ_MISSING_FIELD, VIA_HTTP,
     "{" JIRA_UPDATED ",\"issue\":{\"id\":\"10001\"}}", NULL, "/v1/sources/jira"},
    {JIRA_C, "field 'timestamp' is missing or not a number (ms since the epoch)",
     "field 'timestamp' is missing or not a number (ms since the epoch)", LH_REJ_DECODE, VIA_HTTP,
     "{" JIRA_UPDATED ",\"timestamp\":\"today\"," JIRA_ISSUE "}", NULL, "/v1/sources/jira"},
    {JIRA_C, "field 'timestamp' %g is out of range (ms since the epoch)",
     "field 'timestamp' 1e+13 is out of range (ms since the epoch)", LH_REJ_DECODE, VIA_HTTP,
     "{" JIRA_UPDATED ",\"timestamp\":1e13," JIRA_ISSUE "}", NULL, "/v1/sources/jira"},
    {JIRA_C, "field 'issue.id' is missing (and no X-Atlassian-Webhook-Identifier header)",
     "field 'issue.id' is missing (and no X-Atlassian-Webhook-Identifier header)",
     LH_REJ_MISSING_FIELD, VIA_HTTP,
     "{" JIRA_UPDATED ",\"timestamp\":1764158400000,\"issue\":{\"key\":\"CHG-1\"}}", NULL,
     "/v1/sources/jira"},

    {FLUX_C, "field 'involvedObject' is missing or not an object: not a Flux event",
     "field 'involvedObject' is missing or not an object: not a Flux event", LH_REJ_MISSING_FIELD,
     VIA_HTTP, "{\"involvedObject\":[],\"reason\":\"Progressing\"}", NULL, FLUX},
    {FLUX_C, "field 'metadata' must be an object, got %s",
     "field 'metadata' must be an object, got a string", LH_REJ_DECODE, VIA_HTTP,
     "{" FLUX_OK ",\"metadata\":\"v1\"}", NULL, FLUX},
    {FLUX_C, "field 'metadata.%s' must be a string, got %s",
     "field 'metadata.revision' must be a string, got an array", LH_REJ_DECODE, VIA_HTTP,
     "{" FLUX_OK ",\"metadata\":{\"revision\":[1]}}", NULL, FLUX},
    {FLUX_C, "field 'involvedObject.kind' is missing", "field 'involvedObject.kind' is missing",
     LH_REJ_MISSING_FIELD, VIA_HTTP, "{\"involvedObject\":{\"name\":\"api\"}}", NULL, FLUX},
    {FLUX_C, "field 'involvedObject.name' is missing: it names the service",
     "field 'involvedObject.name' is missing: it names the service", LH_REJ_MISSING_FIELD, VIA_HTTP,
     "{\"involvedObject\":{\"kind\":\"Kustomization\"}}", NULL, FLUX},
    {FLUX_C, "field 'reason' is missing", "field 'reason' is missing", LH_REJ_MISSING_FIELD,
     VIA_HTTP, "{" FLUX_KS "}", NULL, FLUX},
    {FLUX_C, "field 'severity' is missing", "field 'severity' is missing", LH_REJ_MISSING_FIELD,
     VIA_HTTP, "{" FLUX_KS ",\"reason\":\"Progressing\"}", NULL, FLUX},
    {FLUX_C, "severity '%s' is not one Flux sends (info, error, trace)",
     "severity 'fatal' is not one Flux sends (info, error, trace)", LH_REJ_DECODE, VIA_HTTP,
     "{" FLUX_KS ",\"reason\":\"Progressing\",\"severity\":\"fatal\"}", NULL, FLUX},
    {FLUX_C, "field 'timestamp' is missing or not an RFC 3339 time",
     "field 'timestamp' is missing or not an RFC 3339 time", LH_REJ_DECODE, VIA_HTTP,
     "{" FLUX_OK ",\"timestamp\":\"yesterday\"}", NULL, FLUX},

    {GF_C, "grafana notification: ", NULL, LH_REJ_DECODE, 0,
     .why = "the prefix of the notification's rejections (the FAIL macro): each has its row"},
    {GF_C, "version: missing: not a Grafana Alerting webhook (version \"1\")",
     "grafana notification: version: missing: not a Grafana Alerting webhook (version \"1\")",
     LH_REJ_MISSING_FIELD, VIA_HTTP, "{\"orgId\":1,\"alerts\":[]}", NULL, GF},
    {GF_C, "version: '%.16s': loophub reads Grafana Alerting webhook version \"1\"",
     "grafana notification: version: '0': loophub reads Grafana Alerting webhook version \"1\"",
     LH_REJ_DECODE, VIA_HTTP, "{\"version\":\"0\",\"orgId\":1,\"alerts\":[]}", NULL, GF},
    {GF_C, "version: must be the string \"1\", got %s",
     "grafana notification: version: must be the string \"1\", got a number", LH_REJ_DECODE,
     VIA_HTTP, "{\"version\":1,\"orgId\":1,\"alerts\":[]}", NULL, GF},
    {GF_C, "orgId: must be an integer, got %s",
     "grafana notification: orgId: must be an integer, got a string", LH_REJ_DECODE, VIA_HTTP,
     "{\"version\":\"1\",\"orgId\":\"1\",\"alerts\":[]}", NULL, GF},
    {GF_C, "alerts: missing", "grafana notification: alerts: missing", LH_REJ_MISSING_FIELD,
     VIA_HTTP, "{" GF_V1 "}", NULL, GF},
    {GF_C, "alerts: must be an array, got %s",
     "grafana notification: alerts: must be an array, got an object", LH_REJ_DECODE, VIA_HTTP,
     "{" GF_V1 ",\"alerts\":{}}", NULL, GF},
    {GF_C, "grafana alert %zu: %s: %s", "grafana alert 0: startsAt: missing", LH_REJ_MISSING_FIELD,
     VIA_HTTP, "{" GF_V1 ",\"alerts\":[{\"status\":\"firing\"," GF_ALERT "}]}", NULL, GF},
    {TEKTON_C, "field 'pipelineRun.metadata.name' is missing (%s)", NULL, LH_REJ_MISSING_FIELD, 0,
     .why = TEKTON_OFF},
    {TEKTON_C, "pipelinerun %s has no time: field 'pipelineRun.status.%s' is missing", NULL,
     LH_REJ_MISSING_FIELD, 0, .why = TEKTON_OFF},
    {TEKTON_C, "field '%s' of pipelinerun %s: '%s' is not an RFC 3339 time", NULL, LH_REJ_DECODE, 0,
     .why = TEKTON_OFF},
    {TEKTON_C,
     "field 'data' of the structured CloudEvent must be an object (the pipelineRun or taskRun), "
     "got %s",
     NULL, LH_REJ_DECODE, 0, .why = TEKTON_OFF},
    {TEKTON_C,
     "%s '%s' is not a Tekton event type "
     "(dev.tekton.event.<pipelinerun|taskrun|run|customrun>.<started|running|successful|failed|"
     "unknown>.v1)",
     NULL, LH_REJ_DECODE, 0, .why = TEKTON_OFF},
    {TEKTON_C,
     "no ce-type header and no 'pipelineRun' or 'taskRun' object in the body: not a Tekton event",
     NULL, LH_REJ_MISSING_FIELD, 0, .why = TEKTON_OFF},
    {TEKTON_C, "field 'pipelineRun' is missing or not an object (%s)", NULL, LH_REJ_MISSING_FIELD,
     0, .why = TEKTON_OFF},

    /* --- the adapters' own refusals that quarantine ----------------------------------------- */
    {ZMQ_C,
     "bad envelope: %d frames%s after the identity; expected [tag] payload (after an empty "
     "delimiter for REQ peers)",
     "bad envelope: 3 frames after the identity; expected [tag] payload (after an empty delimiter "
     "for REQ peers)",
     LH_REJ_DECODE, VIA_ROUTER, "{\"id\":\"rej-envelope\"}"},
    {ROUTES_C,
     "unsupported content type '%.80s': use application/json, application/cloudevents+json, "
     "application/cloudevents-batch+json, application/protobuf, or ce-* headers",
     "unsupported content type 'text/csv': use application/json, application/cloudevents+json, "
     "application/cloudevents-batch+json, application/protobuf, or ce-* headers",
     LH_REJ_DECODE, VIA_HTTP, "a,b,c\n", NULL, NULL, "text/csv", .code = 415},
    {ROUTES_C, "unsupported content type '%.80s': use application/json",
     "unsupported content type 'text/plain': use application/json", LH_REJ_DECODE, VIA_HTTP,
     "{\"version\":\"4\"}", NULL, AM, "text/plain", .code = 415},
    {HTTP_C, "body of %zu bytes is over the limit of %zu bytes",
     "body of 9000 bytes is over the limit of 8192 bytes (quarantined: the first 1000 of 9000 "
     "bytes)",
     LH_REJ_TOO_BIG, VIA_HTTP, NULL, gen_over_http, .code = 413, .keep = KEEP_SAMPLE,
     .send = SEND_CHUNKED},
    {HTTP_C, " (quarantined: the first %zu of %zu bytes)",
     "body of 9000 bytes is over the limit of 8192 bytes (quarantined: the first 1000 of 9000 "
     "bytes)",
     LH_REJ_TOO_BIG, VIA_HTTP, NULL, gen_over_http, .code = 413, .keep = KEEP_SAMPLE,
     .send = SEND_CHUNKED},
    {HTTP_C, "body of %llu bytes is over the limit of %zu bytes",
     "body of 9000 bytes is over the limit of 8192 bytes", LH_REJ_TOO_BIG, VIA_HTTP, NULL,
     gen_over_http, .code = 413, .keep = KEEP_NONE},
    /* HTTP answers that are not rejections (nothing reaches the hub, nothing is quarantined) */
    {HTTP_C, "no such endpoint: %.100s", NULL, LH_REJ_OTHER, 0,
     .why = "a 404: no write endpoint was named, nothing was sent to the hub"},
    {HTTP_C, "method %.16s not allowed on %.80s (allowed: %s)", NULL, LH_REJ_OTHER, 0,
     .why = "a 405: no write was made, nothing was sent to the hub"},
    {ROUTES_C, "%zu of %zu events rejected; the other %zu were stored (%zu new, %zu duplicates)",
     NULL, LH_REJ_OTHER, 0,
     .why = "not a reason: the summary of a body of several events, each rejected with its own "
            "(every_rejection_end_to_end sends one: send_batch_http)"},
    {ROUTES_C, "all %zu events rejected; nothing was stored", NULL, LH_REJ_OTHER, 0,
     .why = "not a reason: the summary of a body of several events, each rejected with its own "
            "(every_rejection_end_to_end sends one: send_batch_http)"},
};
#pragma GCC diagnostic pop

#define N_REJECTS (sizeof(REJECTS) / sizeof(REJECTS[0]))

/* Reason labels no input from outside can produce, and why. */
static const struct {
    int reason;
    const char *why;
} UNREACHABLE_LABELS[] = {
    {LH_REJ_OTHER, "only LH_ENOMEM is counted as other (lh__metrics_reason()): every decoder and "
                   "adapter names one of the five other codes for every input"},
};

/* --- matching a format against a message ------------------------------------------------------
 */

/* Length of the conversion at f ('%' ...), 0 for "%%". */
static size_t
conv_len(const char *f)
{
    size_t i = 1;
    if (f[i] == '%')
        return 0;
    while (f[i] && strchr("-+ #0123456789.*", f[i]))
        i++;
    while (f[i] && strchr("hlLqjzt", f[i]))
        i++;
    return f[i] ? i + 1 : i;
}

/* 1 when s matches the format f from here: each conversion of f matches any run of s, "%%" a '%',
 * everything else itself; in s, a '*' (pattern_s) also matches any run. */
static int
fmt_match(const char *f, const char *s)
{
    if (!*f)
        return !*s;
    if (*f == '%') {
        size_t n = conv_len(f);
        if (n == 0) {
            return *s == '%' && fmt_match(f + 2, s + 1);
        }
        for (const char *t = s;; t++) {
            if (fmt_match(f + n, t))
                return 1;
            if (!*t)
                return 0;
        }
    }
    if (*s == '*') { /* a wildcard of the expected message takes any run of f's text */
        for (const char *g = f;; g++) {
            if (fmt_match(g, s + 1))
                return 1;
            if (!*g)
                return 0;
        }
    }
    return *f == *s && fmt_match(f + 1, s + 1);
}

/* 1 when the format f matches some part of the message s (a message may wrap a site's text: an
 * "item N: " before it, a note on the sample after it). */
static int
fmt_in(const char *f, const char *s)
{
    size_t n = strlen(f) + 3;
    char *g = malloc(n);
    ck_assert_ptr_nonnull(g);
    snprintf(g, n, "%%s%s", f);
    /* "%s" + f + any tail: try every end */
    size_t sl = strlen(s);
    char *t = malloc(sl + 1);
    ck_assert_ptr_nonnull(t);
    int ok = 0;
    for (size_t end = sl + 1; end-- > 0 && !ok;) {
        memcpy(t, s, end);
        t[end] = 0;
        ok = fmt_match(g, t);
    }
    free(t);
    free(g);
    return ok;
}

/* 1 when actual is the expected message (its '*' matching any run). */
static int
msg_match(const char *expect, const char *actual)
{
    if (!*expect)
        return !*actual;
    if (*expect == '*') {
        for (const char *t = actual;; t++) {
            if (msg_match(expect + 1, t))
                return 1;
            if (!*t)
                return 0;
        }
    }
    return *expect == *actual && msg_match(expect + 1, actual + 1);
}

/* --- the source scan ---------------------------------------------------------------------------
 */

/* The product files that report rejections and the calls each reports through. A call without a
 * string literal in its arguments passes a reason on (it is not a site). */
static const struct {
    const char *path; /* a file, or a folder ending in '/' (every .c in it) */
    const char *calls[10];
} SCAN[] = {
    {"hub/util/event.c", {"fail("}},
    /* codec_alert.c is left out: it encodes and decodes correlated alerts, the hub's output */
    {"hub/codec/",
     {"LH__FAIL(", "FAIL(", "lh__failf(", "REJECT(", "sink(", "deliver(", "snprintf(why",
      "snprintf(msg", "fail("}},
    {"hub/pipeline.c", {"asprintf(&why", "strdup(why", "reject(it"}},
    {"adapters/zmq/zmq_in.c", {"snprintf(why"}},
    {"adapters/http/http.c", {"snprintf(msg", "snprintf(r->why", "snprintf(note"}},
    {"adapters/http/http_routes.c", {"snprintf(msg"}},
};
static const char *const SCAN_SKIP[] = {"hub/codec/codec_alert.c"};

typedef struct {
    char file[128];
    char fmt[400];
    int line;
} site_t;

/* Blanks out comments (keeping newlines and string literals). */
static void
strip_comments(char *s)
{
    for (char *p = s; *p; p++) {
        if (*p == '"' || *p == '\'') {
            char q = *p;
            for (p++; *p && *p != q; p++)
                if (*p == '\\' && p[1])
                    p++;
            if (!*p)
                return;
        } else if (p[0] == '/' && p[1] == '*') {
            char *e = strstr(p + 2, "*/");
            char *end = e ? e + 2 : p + strlen(p);
            for (; p < end; p++)
                if (*p != '\n')
                    *p = ' ';
            p--;
        } else if (p[0] == '/' && p[1] == '/') {
            for (; *p && *p != '\n'; p++)
                *p = ' ';
            if (!*p)
                return;
        }
    }
}

/* Reads one C string literal at *pp (at its opening quote), unescaped, appended to out. */
static void
read_literal(const char **pp, char *out, size_t cap)
{
    const char *p = *pp + 1;
    size_t n = strlen(out);
    for (; *p && *p != '"'; p++) {
        char c = *p;
        if (c == '\\') {
            p++;
            c = *p == 'n' ? '\n' : *p == 't' ? '\t' : *p == 'r' ? '\r' : *p;
        }
        if (n + 1 < cap)
            out[n++] = c;
    }
    out[n] = 0;
    *pp = *p ? p + 1 : p;
}

/* The format of the call whose '(' is at open: its first string literal and the ones adjacent to
 * it, "" when it has none. */
static void
call_format(const char *open, char *out, size_t cap)
{
    out[0] = 0;
    int depth = 0;
    for (const char *p = open; *p; p++) {
        if (*p == '\'') {
            for (p++; *p && *p != '\''; p++)
                if (*p == '\\')
                    p++;
        } else if (*p == '(') {
            depth++;
        } else if (*p == ')') {
            if (--depth == 0)
                return;
        } else if (*p == '"') {
            while (*p == '"') {
                read_literal(&p, out, cap);
                while (isspace((unsigned char)*p))
                    p++;
            }
            return;
        }
    }
}

/* 1 when fmt has text of its own (not only conversions: "%s" passes a reason on). */
static int
has_text(const char *fmt)
{
    for (const char *f = fmt; *f;) {
        if (*f == '%') {
            size_t n = conv_len(f);
            if (n == 0)
                return 1;
            f += n;
        } else {
            return 1;
        }
    }
    return 0;
}

static void
scan_file(const char *rel, const char *const *calls, site_t **sites, size_t *n)
{
    char path[700];
    snprintf(path, sizeof(path), "%s/%s", LH_SOURCE_DIR, rel);
    char *src = lh_test_must_read(path);
    strip_comments(src);
    for (size_t c = 0; c < sizeof(SCAN[0].calls) / sizeof(SCAN[0].calls[0]) && calls[c]; c++) {
        size_t cl = strlen(calls[c]);
        for (const char *p = strstr(src, calls[c]); p; p = strstr(p + 1, calls[c])) {
            if (p > src && (isalnum((unsigned char)p[-1]) || p[-1] == '_'))
                continue; /* part of a longer name */
            const char *open = strchr(p, '(');
            if (!open || open >= p + cl)
                continue;
            char fmt[400];
            call_format(open, fmt, sizeof(fmt));
            if (!has_text(fmt))
                continue;
            *sites = realloc(*sites, (*n + 1) * sizeof(site_t));
            ck_assert_ptr_nonnull(*sites);
            site_t *s = &(*sites)[(*n)++];
            snprintf(s->file, sizeof(s->file), "%s", rel);
            snprintf(s->fmt, sizeof(s->fmt), "%s", fmt);
            s->line = 1;
            for (const char *q = src; q < p; q++)
                s->line += *q == '\n';
        }
    }
    free(src);
}

/* Every error site of the files in SCAN. */
static site_t *
scan_sites(size_t *n)
{
    site_t *sites = NULL;
    *n = 0;
    for (size_t i = 0; i < sizeof(SCAN) / sizeof(SCAN[0]); i++) {
        size_t pl = strlen(SCAN[i].path);
        if (SCAN[i].path[pl - 1] != '/') {
            scan_file(SCAN[i].path, SCAN[i].calls, &sites, n);
            continue;
        }
        char dir[700];
        snprintf(dir, sizeof(dir), "%s/%s", LH_SOURCE_DIR, SCAN[i].path);
        DIR *d = opendir(dir);
        ck_assert_msg(d != NULL, "cannot read %s", dir);
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            size_t el = strlen(e->d_name);
            if (el < 3 || strcmp(e->d_name + el - 2, ".c") != 0)
                continue;
            char rel[300];
            snprintf(rel, sizeof(rel), "%s%s", SCAN[i].path, e->d_name);
            int skip = 0;
            for (size_t k = 0; k < sizeof(SCAN_SKIP) / sizeof(SCAN_SKIP[0]); k++)
                skip |= strcmp(rel, SCAN_SKIP[k]) == 0;
            if (!skip)
                scan_file(rel, SCAN[i].calls, &sites, n);
        }
        closedir(d);
    }
    return sites;
}

/* --- tests without a hub -----------------------------------------------------------------------
 */

/* Every label of loophub_rejected_total (the code's own table) has an input that produces it,
 * or a documented reason why none can. */
START_TEST(test_reason_labels_all_have_inputs)
{
    char missing[2000] = "";
    for (int r = 0; r < LH_REJ__COUNT; r++) {
        const char *name = lh__metrics_reason_name((lh_reject_reason_t)r);
        ck_assert_ptr_nonnull(name);
        int inputs = 0, documented = 0;
        for (size_t i = 0; i < N_REJECTS; i++)
            inputs += REJECTS[i].via && REJECTS[i].reason == r;
        for (size_t i = 0; i < sizeof(UNREACHABLE_LABELS) / sizeof(UNREACHABLE_LABELS[0]); i++)
            documented |= UNREACHABLE_LABELS[i].reason == r;
        ck_assert_msg(!(inputs && documented),
                      "reason '%s' is listed as unreachable but %d inputs produce it", name,
                      inputs);
        if (!inputs && !documented) {
            size_t n = strlen(missing);
            snprintf(missing + n, sizeof(missing) - n, " %s", name);
        }
    }
    ck_assert_msg(!missing[0], "reason labels without an input in REJECTS:%s", missing);
    /* and the one label documented unreachable is what the code gives for an allocation failure,
     * and for nothing a sender can cause */
    ck_assert_int_eq(lh__metrics_reason(LH_ENOMEM), LH_REJ_OTHER);
    const int codes[] = {LH_EDECODE, LH_ETOOBIG, LH_EMISSING, LH_EUNKNOWN_KIND, LH_ERANGE};
    for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
        ck_assert_int_ne(lh__metrics_reason(codes[i]), LH_REJ_OTHER);
    for (size_t i = 0; i < N_REJECTS; i++)
        ck_assert_msg(!REJECTS[i].via || REJECTS[i].reason != LH_REJ_OTHER,
                      "row %zu (%s) is sent and expects 'other'", i, REJECTS[i].fmt);
}
END_TEST

/* Every error site in the product's sources has a row, and every row's site is still there. */
START_TEST(test_error_sites_all_have_entries)
{
    size_t n = 0;
    site_t *sites = scan_sites(&n);
    ck_assert_msg(n > 60, "the scan found only %zu error sites: is SCAN still right?", n);
    char *report = calloc(1, 16384);
    ck_assert_ptr_nonnull(report);
    size_t rl = 0, uncovered = 0;
    for (size_t i = 0; i < n; i++) {
        int covered = 0;
        for (size_t k = 0; k < N_REJECTS && !covered; k++)
            covered = strcmp(REJECTS[k].file, sites[i].file) == 0 &&
                      strcmp(REJECTS[k].fmt, sites[i].fmt) == 0;
        if (!covered) {
            uncovered++;
            rl += (size_t)snprintf(report + rl, 16384 - rl > 0 ? 16384 - rl : 0,
                                   "\n  %s:%d: \"%s\"", sites[i].file, sites[i].line, sites[i].fmt);
            if (rl >= 16384)
                rl = 16383;
        }
    }
    size_t stale = 0;
    for (size_t k = 0; k < N_REJECTS; k++) {
        const rej_t *r = &REJECTS[k];
        int found = 0;
        for (size_t i = 0; i < n && !found; i++)
            found = strcmp(r->file, sites[i].file) == 0 && strcmp(r->fmt, sites[i].fmt) == 0;
        if (!found) {
            stale++;
            rl += (size_t)snprintf(report + rl, 16384 - rl > 0 ? 16384 - rl : 0,
                                   "\n  row %zu: %s: \"%s\" is no longer in the source", k, r->file,
                                   r->fmt);
            if (rl >= 16384)
                rl = 16383;
        }
        /* the row's message is what its site's format writes */
        const char *msg = r->expect ? r->expect : r->fmt;
        ck_assert_msg(fmt_in(r->fmt, msg), "row %zu: the message '%s' is not what '%s' writes", k,
                      msg, r->fmt);
        ck_assert_msg(r->via || r->why, "row %zu (%s) is neither sent nor says why not", k, r->fmt);
        ck_assert_msg(!r->via || r->expect, "row %zu (%s) is sent without an expected message", k,
                      r->fmt);
        ck_assert_msg(!r->via || r->in || r->gen, "row %zu (%s) has no input", k, r->fmt);
    }
    ck_assert_msg(uncovered == 0 && stale == 0,
                  "%zu error sites have no row in REJECTS, %zu rows have no site:%s", uncovered,
                  stale, report);
    free(report);
    free(sites);
}
END_TEST

/* The scan itself: it finds a site in each way a file reports, including formats split over
 * lines, and skips pass-throughs and comments (a scan that finds nothing would pass anything). */
START_TEST(test_scan_finds_known_sites)
{
    size_t n = 0;
    site_t *sites = scan_sites(&n);
    const struct {
        const char *file, *fmt;
    } known[] = {
        {EV_C, "missing field 'id'"},
        {CODEC_C, "empty JSON array: no events"},
        {CE_C,
         "unsupported CDEvents type '%.120s' in '%s' (loophub takes service.*, incident.* and "
         "ticket.* events)"},
        {AM_C, "field 'version' must be the string \"4\", got %s"},
        {AM_C, "missing mandatory field 'version'"},
        {PIPE_C, "%s (quarantined: the first %zu of %zu bytes)"},
        {HTTP_C, "body of %llu bytes is over the limit of %zu bytes"},
    };
    for (size_t k = 0; k < sizeof(known) / sizeof(known[0]); k++) {
        int found = 0;
        for (size_t i = 0; i < n && !found; i++)
            found = strcmp(sites[i].file, known[k].file) == 0 &&
                    strcmp(sites[i].fmt, known[k].fmt) == 0;
        ck_assert_msg(found, "the scan missed %s: \"%s\"", known[k].file, known[k].fmt);
    }
    for (size_t i = 0; i < n; i++)
        ck_assert_msg(has_text(sites[i].fmt) && strcmp(sites[i].fmt, "%s") != 0,
                      "a pass-through counted as a site: %s:%d", sites[i].file, sites[i].line);
    /* the matcher: conversions match any text, '*' in a message any text, the rest exactly */
    ck_assert(fmt_match("field '%s' is %zu bytes", "field 'id' is 12 bytes"));
    ck_assert(!fmt_match("field '%s' is %zu bytes", "field 'id' is 12 byte"));
    ck_assert(fmt_match("a %.64s b %%", "a xy b %"));
    ck_assert(fmt_in("not a JSON object but %s", "item 3: not a JSON object but a number"));
    ck_assert(!fmt_in("missing field 'id'", "missing field 'time'"));
    ck_assert(msg_match("is * s ahead", "is 5 s ahead"));
    ck_assert(!msg_match("is * s ahead", "is 5 s behind"));
    free(sites);
}
END_TEST

/* --- the hub ----------------------------------------------------------------------------------
 */

typedef struct {
    lh_it_hub_t h;
    void *ctx, *dealer;
    char failures[16384];
    size_t fl;
    int sends;
    int rejected; /* rejections the sends should have counted */
} run_t;

static void failf(run_t *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
failf(run_t *r, const char *fmt, ...)
{
    if (r->fl + 2 >= sizeof(r->failures))
        return;
    va_list ap;
    va_start(ap, fmt);
    r->failures[r->fl++] = '\n';
    int n = vsnprintf(r->failures + r->fl, sizeof(r->failures) - r->fl, fmt, ap);
    va_end(ap);
    if (n > 0)
        r->fl += (size_t)n;
    if (r->fl >= sizeof(r->failures))
        r->fl = sizeof(r->failures) - 1;
}

/* All six loophub_rejected_total series from one scrape; 0 when /metrics could not be read. */
static int
rejected_counts(const lh_it_hub_t *h, long long v[LH_REJ__COUNT])
{
    char url[128];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/metrics", h->http_port);
    const char *argv[] = {"curl", "-sS", url, NULL};
    char *out = NULL;
    int rc = lh_test_run(argv, NULL, &out, NULL, lh_test_ms(10000));
    int ok = rc == 0 && out;
    for (int r = 0; ok && r < LH_REJ__COUNT; r++) {
        char pat[128];
        snprintf(pat, sizeof(pat), "\nloophub_rejected_total{reason=\"%s\"} ",
                 lh__metrics_reason_name((lh_reject_reason_t)r));
        const char *p = strstr(out, pat);
        ok = p != NULL;
        v[r] = p ? atoll(p + strlen(pat)) : -1;
    }
    free(out);
    return ok;
}

typedef struct {
    const lh_it_hub_t *h;
    const long long *want;
    long long got[LH_REJ__COUNT];
} counts_wait_t;

static int
counts_reached(void *arg)
{
    counts_wait_t *w = arg;
    if (!rejected_counts(w->h, w->got))
        return 0;
    for (int r = 0; r < LH_REJ__COUNT; r++)
        if (w->got[r] < w->want[r])
            return 0;
    return 1;
}

/* The newest quarantine row after seq `after`: its count, and the first row's fields. */
typedef struct {
    const char *db;
    int64_t after;
    int rows;
    int64_t seq;
    char *origin, *reason;
    unsigned char *payload;
    int payload_null;
    size_t plen;
} qrow_t;

static void
qrow_clear(qrow_t *q)
{
    free(q->origin);
    free(q->reason);
    free(q->payload);
    q->origin = q->reason = NULL;
    q->payload = NULL;
}

static int
qrow_read(void *arg)
{
    qrow_t *q = arg;
    qrow_clear(q);
    q->rows = 0;
    sqlite3 *c = NULL;
    if (sqlite3_open_v2(q->db, &c, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        sqlite3_close(c);
        return 0;
    }
    sqlite3_busy_timeout(c, 1000);
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(c,
                           "SELECT seq, origin, reason, payload FROM quarantine WHERE seq > ? "
                           "ORDER BY seq",
                           -1, &st, NULL) != SQLITE_OK) {
        sqlite3_close(c);
        return 0;
    }
    sqlite3_bind_int64(st, 1, q->after);
    while (sqlite3_step(st) == SQLITE_ROW) {
        if (q->rows++ == 0) {
            q->seq = sqlite3_column_int64(st, 0);
            q->origin = strdup((const char *)sqlite3_column_text(st, 1));
            q->reason = strdup((const char *)sqlite3_column_text(st, 2));
            q->payload_null = sqlite3_column_type(st, 3) == SQLITE_NULL;
            q->plen = (size_t)sqlite3_column_bytes(st, 3);
            q->payload = malloc(q->plen + 1);
            if (q->plen)
                memcpy(q->payload, sqlite3_column_blob(st, 3), q->plen);
            q->payload[q->plen] = 0;
        }
    }
    sqlite3_finalize(st);
    sqlite3_close(c);
    return q->rows > 0;
}

static int64_t
db_int(const char *db, const char *sql)
{
    sqlite3 *c = NULL;
    ck_assert_int_eq(sqlite3_open_v2(db, &c, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_busy_timeout(c, 1000);
    sqlite3_stmt *st = NULL;
    ck_assert_msg(sqlite3_prepare_v2(c, sql, -1, &st, NULL) == SQLITE_OK, "%s: %s", sql,
                  sqlite3_errmsg(c));
    int64_t v = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
    sqlite3_finalize(st);
    sqlite3_close(c);
    return v;
}

/* Sends [tag][payload] on the DEALER (or the frames given) and reads the ack: its frames into
 * fr (malloc'd, NUL-terminated), their count returned (0 on timeout). */
static int
router_exchange(run_t *r, const void *const *frames, const size_t *lens, int nf, char **fr, int max)
{
    for (int i = 0; i < nf; i++)
        ck_assert_int_ge(zmq_send(r->dealer, frames[i], lens[i], i + 1 < nf ? ZMQ_SNDMORE : 0), 0);
    zmq_pollitem_t it = {r->dealer, 0, ZMQ_POLLIN, 0};
    if (zmq_poll(&it, 1, lh_test_ms(15000)) <= 0)
        return 0;
    int n = 0, more = 1;
    while (more) {
        zmq_msg_t m;
        zmq_msg_init(&m);
        ck_assert_int_ge(zmq_msg_recv(&m, r->dealer, 0), 0);
        more = zmq_msg_more(&m);
        if (n < max) {
            fr[n] = malloc(zmq_msg_size(&m) + 1);
            memcpy(fr[n], zmq_msg_data(&m), zmq_msg_size(&m));
            fr[n][zmq_msg_size(&m)] = 0;
            n++;
        }
        zmq_msg_close(&m);
    }
    return n;
}

/* POSTs body to route with the row's headers; the status, and the body in *resp. */
static int
http_post(run_t *r, const rej_t *e, const bytes_t *body, char **resp)
{
    char url[256], bodyf[700], outf[700], ct[128];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", r->h.http_port,
             e->route ? e->route : "/v1/events");
    snprintf(bodyf, sizeof(bodyf), "%s/body", r->h.dir);
    snprintf(outf, sizeof(outf), "%s/resp", r->h.dir);
    ck_assert_int_eq(lh_test_write_file(bodyf, body->p ? (const char *)body->p : "", body->n), 0);
    unlink(outf);
    snprintf(ct, sizeof(ct), "Content-Type: %s", e->ctype ? e->ctype : "application/json");
    char data[720];
    snprintf(data, sizeof(data), "@%s", bodyf);
    const char *argv[32] = {"curl",         "-sS", "-o",   outf, "-w",
                            "%{http_code}", "-X",  "POST", "-H", ct};
    int n = 10;
    if (e->send == SEND_CHUNKED) {
        argv[n++] = "-H";
        argv[n++] = "Transfer-Encoding: chunked";
    }
    for (int i = 0; i < 5 && e->hdr[i]; i++) {
        argv[n++] = "-H";
        argv[n++] = e->hdr[i];
    }
    argv[n++] = "--data-binary";
    argv[n++] = data;
    argv[n++] = url;
    argv[n] = NULL;
    char *out = NULL;
    int rc = lh_test_run(argv, NULL, &out, NULL, lh_test_ms(15000));
    int code = rc == 0 && out ? atoi(out) : -1;
    free(out);
    *resp = lh_test_read_file(outf, NULL);
    return code;
}

static void
make_input(const rej_t *e, bytes_t *b)
{
    memset(b, 0, sizeof(*b));
    put(b, "", 0);
    if (e->gen)
        e->gen(b);
    else
        puts_(b, e->in);
}

/* Checks the quarantine row the send left (waited for) and the counters (waited for). */
static void
check_after(run_t *r, const rej_t *e, size_t row, const char *via, const bytes_t *in,
            const long long *before, int64_t after_seq, int64_t *last_seq)
{
    long long want[LH_REJ__COUNT];
    memcpy(want, before, sizeof(want));
    want[e->reason]++;
    counts_wait_t cw = {&r->h, want, {0}};
    int reached = lh_test_wait_for(counts_reached, &cw, lh_test_ms(10000));
    for (int k = 0; k < LH_REJ__COUNT; k++)
        if (cw.got[k] != want[k])
            failf(r,
                  "row %zu over %s: loophub_rejected_total{reason=\"%s\"} is %lld, expected %lld%s",
                  row, via, lh__metrics_reason_name((lh_reject_reason_t)k), cw.got[k], want[k],
                  reached ? "" : " (waited)");
    if (e->keep == KEEP_NOTHING) {
        /* counted (waited for above, so its batch committed), and no quarantine row */
        char q[160];
        snprintf(q, sizeof(q), "SELECT count(*) FROM quarantine WHERE seq > %lld",
                 (long long)after_seq);
        long n = lh_it_sql_long(&r->h, q);
        if (n != 0)
            failf(r, "row %zu over %s: %ld quarantine rows, expected none", row, via, n);
        return;
    }
    qrow_t q = {.db = r->h.db, .after = after_seq};
    if (!lh_test_wait_for(qrow_read, &q, lh_test_ms(10000))) {
        failf(r, "row %zu over %s: no quarantine row", row, via);
        qrow_clear(&q);
        return;
    }
    *last_seq = q.seq;
    if (q.rows != 1)
        failf(r, "row %zu over %s: %d quarantine rows, expected 1", row, via, q.rows);
    int router = strcmp(via, "ROUTER") == 0;
    if (router ? strcmp(q.origin, "zmq-router") != 0
               : strncmp(q.origin, "http:127.0.0.1:", 15) != 0)
        failf(r, "row %zu over %s: quarantine origin '%s'", row, via, q.origin);
    if (!msg_match(e->expect, q.reason))
        failf(r, "row %zu over %s: quarantine reason '%s', expected '%s'", row, via, q.reason,
              e->expect);
    size_t keep = in->n;
    if (e->keep == KEEP_SAMPLE)
        keep = QSAMPLE;
    else if (e->keep == KEEP_NONE)
        keep = 0;
    if (keep == 0 ? q.plen != 0
                  : (q.payload_null || q.plen != keep || memcmp(q.payload, in->p, keep) != 0))
        failf(r,
              "row %zu over %s: quarantine payload of %zu bytes%s is not the first %zu of the "
              "%zu bytes sent (its start: '%.60s')",
              row, via, q.plen, q.payload_null ? " (NULL)" : "", keep, in->n,
              q.payload ? (const char *)q.payload : "");
    qrow_clear(&q);
}

static void
send_router(run_t *r, const rej_t *e, size_t row, int64_t *last_seq)
{
    bytes_t in;
    make_input(e, &in);
    long long before[LH_REJ__COUNT];
    ck_assert(rejected_counts(&r->h, before));
    char tag[32];
    snprintf(tag, sizeof(tag), "t%zu", row);
    r->rejected++;
    char *fr[8] = {0};
    int n;
    const char *expect_tag = tag;
    if (strcmp(e->file, ZMQ_C) == 0) {
        /* a bad envelope: [tag][payload][one frame too many] */
        const void *f[] = {tag, "x", in.p};
        size_t l[] = {strlen(tag), 1, in.n};
        n = router_exchange(r, f, l, 3, fr, 8);
        expect_tag = ""; /* the hub cannot tell a tag from a payload in it */
    } else {
        const void *f[] = {tag, in.p};
        size_t l[] = {strlen(tag), in.n};
        n = router_exchange(r, f, l, 2, fr, 8);
    }
    r->sends++;
    char want[1200];
    snprintf(want, sizeof(want), "rejected: %s", e->expect);
    if (n != 3)
        failf(r, "row %zu over ROUTER: an ack of %d frames, expected [tag][id][status]", row, n);
    else if (strcmp(fr[0], expect_tag) != 0 || !msg_match(want, fr[2]))
        failf(r, "row %zu over ROUTER: ack [%s][%s][%s], expected [%s][..][%s]", row, fr[0], fr[1],
              fr[2], expect_tag, want);
    for (int i = 0; i < 8; i++)
        free(fr[i]);
    check_after(r, e, row, "ROUTER", &in, before, *last_seq, last_seq);
    free(in.p);
}

static void
send_http(run_t *r, const rej_t *e, size_t row, int64_t *last_seq)
{
    bytes_t in;
    make_input(e, &in);
    long long before[LH_REJ__COUNT];
    ck_assert(rejected_counts(&r->h, before));
    char *resp = NULL;
    int code = http_post(r, e, &in, &resp);
    r->sends++;
    r->rejected += e->keep != KEEP_NOTHING; /* (the quarantine rows the run expects) */
    int want_code = e->code ? e->code : 400;
    json_error_t je;
    json_t *j = resp ? json_loads(resp, 0, &je) : NULL;
    const char *err = json_string_value(json_object_get(j, "error"));
    if (code != want_code || !err || !msg_match(e->expect, err))
        failf(r, "row %zu over HTTP: %d %s, expected %d with error '%s'", row, code,
              resp ? resp : "(no body)", want_code, e->expect);
    if (want_code == 400) {
        /* the event's own verdict says the same */
        json_t *rej = json_array_get(json_object_get(j, "rejected"), 0);
        const char *why = json_string_value(json_object_get(rej, "reason"));
        if (json_array_size(json_object_get(j, "rejected")) != 1 || !why ||
            !msg_match(e->expect, why) || json_array_size(json_object_get(j, "accepted")) != 0)
            failf(r, "row %zu over HTTP: verdicts %s", row, resp ? resp : "(none)");
    }
    json_decref(j);
    free(resp);
    check_after(r, e, row, "HTTP", &in, before, *last_seq, last_seq);
    free(in.p);
}

/* A good event over ROUTER, answered ok. */
static void
send_good_router(run_t *r, const char *id)
{
    char ev[300];
    snprintf(ev, sizeof(ev),
             "{\"id\":\"%s\",\"kind\":\"deploy\",\"time\":\"" T0 "\",\"service\":\"api\","
             "\"environment\":\"prod\",\"deploy\":{\"status\":\"succeeded\",\"version\":\"1\"}}",
             id);
    const void *f[] = {"good", ev};
    size_t l[] = {4, strlen(ev)};
    char *fr[8] = {0};
    int n = router_exchange(r, f, l, 2, fr, 8);
    ck_assert_msg(n == 3 && strcmp(fr[1], id) == 0 && strcmp(fr[2], "ok") == 0,
                  "good event %s: %d frames, status %s", id, n, n == 3 ? fr[2] : "-");
    for (int i = 0; i < 8; i++)
        free(fr[i]);
}

static void
send_good_http(run_t *r, const char *id)
{
    rej_t e = {0};
    char ev[300];
    snprintf(ev, sizeof(ev),
             "{\"id\":\"%s\",\"kind\":\"incident\",\"time\":\"" T0 "\",\"service\":\"web\","
             "\"environment\":\"prod\",\"incident\":{\"incident_id\":\"INC-%s\"}}",
             id, id);
    bytes_t b = {0};
    puts_(&b, ev);
    char *resp = NULL;
    int code = http_post(r, &e, &b, &resp);
    ck_assert_msg(code == 202 && resp && strstr(resp, id), "good event %s: %d %s", id, code,
                  resp ? resp : "");
    free(resp);
    free(b.p);
}

/* A JSON array over HTTP of which n_rej elements are numbers (the rest good events): 400 with the
 * summary error, each number counted as decode and quarantined with the whole body. */
static void
send_batch_http(run_t *r, const char *body, const char *summary, int n_rej, int64_t *last_seq)
{
    rej_t e = {0};
    bytes_t b = {0};
    puts_(&b, body);
    long long want[LH_REJ__COUNT];
    ck_assert(rejected_counts(&r->h, want));
    char *resp = NULL;
    int code = http_post(r, &e, &b, &resp);
    r->rejected += n_rej;
    json_t *j = resp ? json_loads(resp, 0, NULL) : NULL;
    const char *err = json_string_value(json_object_get(j, "error"));
    ck_assert_msg(code == 400 && err && strcmp(err, summary) == 0 &&
                      json_array_size(json_object_get(j, "rejected")) == (size_t)n_rej,
                  "batch %s: %d %s, expected 400 with '%s'", body, code, resp ? resp : "", summary);
    json_decref(j);
    free(resp);
    want[LH_REJ_DECODE] += n_rej;
    counts_wait_t cw = {&r->h, want, {0}};
    ck_assert_msg(lh_test_wait_for(counts_reached, &cw, lh_test_ms(10000)),
                  "batch %s: decode rejections %lld, expected %lld", body, cw.got[LH_REJ_DECODE],
                  want[LH_REJ_DECODE]);
    for (int k = 0; k < LH_REJ__COUNT; k++)
        ck_assert_int_eq(cw.got[k], want[k]);
    char sql[700];
    snprintf(sql, sizeof(sql),
             "SELECT count(*) FROM quarantine WHERE seq > %lld AND CAST(payload AS TEXT) = '%s' "
             "AND origin LIKE 'http:127.0.0.1:%%' AND reason LIKE 'item _: not a JSON object but "
             "a number'",
             (long long)*last_seq, body);
    ck_assert_int_eq(db_int(r->h.db, sql), n_rej);
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM quarantine WHERE seq > %lld",
             (long long)*last_seq);
    ck_assert_int_eq(db_int(r->h.db, sql), n_rej);
    *last_seq = db_int(r->h.db, "SELECT max(seq) FROM quarantine");
    free(b.p);
}

START_TEST(test_every_rejection_end_to_end)
{
    run_t *r = calloc(1, sizeof(*r));
    ck_assert_ptr_nonnull(r);
    /* GitLab checks its token (static in a row's headers: GL_TOKEN); Tekton is off */
    lh_it_hub_init(&r->h, 1);
    char gl_secret[700];
    snprintf(gl_secret, sizeof(gl_secret), "%s/gitlab.secret", r->h.dir);
    ck_assert_int_eq(lh_test_write_file(gl_secret, "s3cret\n", 7), 0);
    const char *extra[] = {"--max-payload",
                           MAX_PAYLOAD_S,
                           "--quarantine-sample",
                           QSAMPLE_S,
                           "--gitlab-secret-file",
                           gl_secret,
                           "--tekton-enabled",
                           "off",
                           NULL};
    lh_it_hub_run(&r->h, extra);
    r->ctx = zmq_ctx_new();
    r->dealer = zmq_socket(r->ctx, ZMQ_DEALER);
    int zero = 0;
    zmq_setsockopt(r->dealer, ZMQ_LINGER, &zero, sizeof(zero));
    ck_assert_int_eq(zmq_connect(r->dealer, r->h.router), 0);

    /* what is stored before the rejections */
    send_good_router(r, "good-1");
    send_good_router(r, "good-2");
    send_good_http(r, "good-3");
    ck_assert_int_eq(db_int(r->h.db, "SELECT count(*) FROM events"), 3);
    ck_assert_int_eq(db_int(r->h.db, "SELECT count(*) FROM quarantine"), 0);

    int64_t last_seq = 0;
    int sent_rows = 0;
    for (size_t i = 0; i < N_REJECTS; i++) {
        const rej_t *e = &REJECTS[i];
        if (e->via & VIA_ROUTER)
            send_router(r, e, i, &last_seq);
        if (e->via & VIA_HTTP)
            send_http(r, e, i, &last_seq);
        sent_rows += e->via != 0;
    }
    ck_assert_msg(r->fl == 0, "%d sends of %d rows, failures:%s", r->sends, sent_rows, r->failures);

    /* bodies of several events over HTTP: the answer sums up, each rejection is its own */
    send_batch_http(r, "[1,2]", "all 2 events rejected; nothing was stored", 2, &last_seq);
    send_batch_http(r,
                    "[{\"id\":\"good-5\",\"kind\":\"alert\",\"time\":\"" T0
                    "\",\"service\":\"api\",\"alert\":{\"name\":\"HighErrorRate\"}},3]",
                    "1 of 2 events rejected; the other 1 were stored (1 new, 0 duplicates)", 1,
                    &last_seq);

    /* nothing stored was lost, and the hub still stores */
    ck_assert_int_eq(db_int(r->h.db, "SELECT count(*) FROM events WHERE id IN "
                                     "('good-1','good-2','good-3')"),
                     3);
    send_good_router(r, "good-4");
    ck_assert_int_eq(db_int(r->h.db, "SELECT count(*) FROM events"), 5);
    ck_assert_int_eq(db_int(r->h.db, "SELECT count(*) FROM events WHERE id = 'good-5'"), 1);
    ck_assert_int_eq(db_int(r->h.db, "SELECT count(*) FROM quarantine"), r->rejected);
    long long total = 0;
    for (int k = 0; k < LH_REJ__COUNT; k++) {
        char s[96];
        snprintf(s, sizeof(s), "loophub_rejected_total{reason=\"%s\"}",
                 lh__metrics_reason_name((lh_reject_reason_t)k));
        total += lh_it_metric(&r->h, s);
    }
    /* every rejection counted, the quarantined ones and the unauthenticated, which are not */
    ck_assert_int_eq(total,
                     r->rejected + lh_it_metric(&r->h, "loophub_rejected_total{reason=\"auth\"}"));
    ck_assert_int_eq(lh_it_metric(&r->h, "loophub_rejected_total{reason=\"auth\"}"), 3);

    zmq_close(r->dealer);
    zmq_ctx_term(r->ctx);
    lh_it_hub_stop(&r->h);
    free(r);
}
END_TEST

static Suite *
reject_suite(void)
{
    Suite *s = suite_create("reject");
    const lh_test_case_t cases[] = {
        {"reason_labels_all_have_inputs", test_reason_labels_all_have_inputs, 10, 0},
        {"error_sites_all_have_entries", test_error_sites_all_have_entries, 10, 0},
        {"scan_finds_known_sites", test_scan_finds_known_sites, 10, 0},
        {"every_rejection_end_to_end", test_every_rejection_end_to_end, 240, 0},
    };
    lh_test_add_cases(s, cases, LH_TEST_COUNT(cases), 60, NULL, NULL);
    return s;
}

int
main(void)
{
    return lh_test_run_suite(reject_suite());
}
