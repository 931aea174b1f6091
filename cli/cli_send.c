/*
 * cli_send.c - `loophub send`: publish events from a pipeline script.
 *
 * One event from flags (encoded as protobuf), or JSON lines (--json FILE|-, each line sent as it
 * is: loophub JSON, CloudEvents, Alertmanager; the hub detects the format). Fire and forget over
 * PUSH by default; --reliable talks to the ROUTER endpoint, keeps a bounded window of messages in
 * flight, and reports the hub's verdict per event (see zmq_adapter.h for the ack frames); --to
 * http://... posts each message to the hub's POST /v1/events (libcurl) and reports its verdicts.
 *
 * As a pipeline step it must never get in the way: the settings a step repeats come from the
 * environment (LOOPHUB_URL, LOOPHUB_TOKEN_FILE, LOOPHUB_SERVICE, LOOPHUB_ENV), and --spool DIR
 * keeps what the hub could not take (not there, a timeout, 503) in DIR, sent first on the next
 * run, so the step exits 0 while the hub is away.
 */
#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "cli.h"
#include "config.h"
#include "hash.h"
#include "kafka/kafka.h"
#include "loophub/error.h"
#include "loophub/format.h"
#include "loophub/registry.h"
#include "loophub/secret.h"
#include "loophub/timeutil.h"

#define DEFAULT_PULL "tcp://127.0.0.1:7701"
#define DEFAULT_ROUTER "tcp://127.0.0.1:7702"
/* messages in flight with --reliable at most: the socket's queue holds them all, so a send never
 * blocks (the hub's ROUTER queues as many) */
#define MAX_WINDOW 100000

typedef struct {
    const char *to;
    const char *kafka_brokers;
    const char *kafka_topic;
    const char *kafka_changes_topic;
    const char *config;
    int reliable;
    int64_t timeout_ns;
    long window;
    int quiet;
    const char *json;
    const char *curve_server_key; /* --curve-server-key FILE */
    const char *curve_key;        /* --curve-key FILE */
    const char *token_file;       /* --token-file FILE: the hub's HTTP write token */
    const char *spool;            /* --spool DIR */
    int http;                     /* --to is an http:// or https:// address */
} send_opts_t;

typedef struct {
    char *tag; /* line number as text */
    char *data;
    size_t len;
    int done;    /* the hub gave its verdict (ok, duplicate or rejected) */
    char *spool; /* the spool file it was read from, removed once done (malloc'd) */
} outmsg_t;

typedef struct {
    long ok, dup, rejected, lines, events;
    int timed_out;
    int refused;    /* the hub refused the token: a step to fix, its events kept */
    outmsg_t *msgs; /* what is being sent: a verdict marks its message done */
    size_t n;
} tally_t;

static void
usage(FILE *out)
{
    fprintf(
        out,
        "Usage: loophub send deploy|alert|incident|ticket [FIELDS] [OPTIONS]\n"
        "       loophub send --json FILE|- [OPTIONS]\n\n"
        "Publish events to the hub. Without --reliable the event is sent fire-and-forget\n"
        "to the PULL endpoint; with --reliable the hub acknowledges each event after it\n"
        "is stored, and send reports ok, duplicate or the reason of a rejection.\n\n"
        "Common fields:\n"
        "  --id ID               event id, the dedupe key (default: derived from kind, service,\n"
        "                        env, deploy/incident/alert/ticket id, status or state and\n"
        "                        --time, so a re-sent step is answered duplicate)\n"
        "  --time RFC3339        when it happened (default now)\n"
        "  --service S           service (deploy, alert and incident need one; default\n"
        "                        $LOOPHUB_SERVICE)\n"
        "  --env E               environment (alias --environment; deploy, alert and\n"
        "                        incident need one; default $LOOPHUB_ENV)\n"
        "  --host H[,H...]       hosts it concerns (repeatable, or comma-separated)\n"
        "  --actor WHO           who made the change or raised it\n"
        "  --source SRC          producer (default loophub-send)\n"
        "  --label K=V           label (repeatable)\n"
        "deploy:   --deploy-id ID --status started|succeeded|failed|rolled_back --version V\n"
        "          --previous-version V --commit SHA --commit-time RFC3339 --artifact A\n"
        "          --change-ticket T\n"
        "alert:    --name N --fingerprint F --state firing|resolved --severity SEV\n"
        "          --summary TEXT --artifact A\n"
        "incident: --incident-id ID --state detected|reported|resolved --severity SEV\n"
        "          --title TEXT --ticket T --artifact A\n"
        "ticket:   --ticket-id ID --type change|incident|task\n"
        "          --state created|approved|rejected|updated|closed --link ID (repeatable)\n"
        "          --url URL --summary TEXT\n"
        "          (SEV: info, warning, error, critical)\n\n"
        "Options:\n"
        "  --json FILE|-         send JSON lines instead (loophub JSON, CloudEvents, ...)\n"
        "  --to EP               hub endpoint (default $LOOPHUB_URL, else %s, or %s with\n"
        "                        --reliable); http://HOST:PORT posts to the hub's HTTP API\n"
        "                        and waits for its verdicts\n"
        "  --token-file FILE     the hub's HTTP write token (default $LOOPHUB_TOKEN_FILE)\n"
        "  --spool DIR           keep what the hub could not take (not there, a timeout) in\n"
        "                        DIR and exit 0; sent first on the next run (with --reliable\n"
        "                        or an http:// address: only then is delivery known)\n"
        "  --reliable            wait for the hub's acknowledgements\n"
        "  --timeout DUR         give up waiting after DUR without an answer (default 10s)\n"
        "  --window N            events in flight at most with --reliable (default 1000)\n"
        "  --kafka-brokers LIST  produce to Kafka instead (keyed by service; deploys and\n"
        "                        tickets also to the changes topic); waits for the brokers\n"
        "  --kafka-topic T       events topic (default loophub.events)\n"
        "  --kafka-changes-topic T  changes topic (default loophub.changes; 'off')\n"
        "  --config FILE         take Kafka settings from FILE ([kafka_hub], [kafka])\n"
        "  --curve-server-key FILE  the hub's CURVE public key (loophub keygen): talk CURVE\n"
        "  --curve-key FILE      your CURVE secret key; its public key must be in the hub's\n"
        "                        --curve-allow file\n"
        "  -q, --quiet           print nothing on success\n"
        "  -h, --help            show this help\n\n"
        "Exit: 0 all stored (or duplicate), 1 a rejection, a timeout or an error, 2 bad usage.\n",
        DEFAULT_PULL, DEFAULT_ROUTER);
}

enum {
    O_ID = 1000,
    O_TIME,
    O_SERVICE,
    O_ENV,
    O_HOST,
    O_ACTOR,
    O_SOURCE,
    O_LABEL,
    O_DEPLOY_ID,
    O_STATUS,
    O_VERSION,
    O_PREV,
    O_COMMIT,
    O_COMMIT_TIME,
    O_ARTIFACT,
    O_CHANGE_TICKET,
    O_NAME,
    O_FINGERPRINT,
    O_STATE,
    O_SEVERITY,
    O_SUMMARY,
    O_INCIDENT_ID,
    O_TITLE,
    O_TICKET,
    O_TICKET_ID,
    O_TYPE,
    O_LINK,
    O_URL,
    O_JSON,
    O_TO,
    O_RELIABLE,
    O_TIMEOUT,
    O_WINDOW,
    O_KAFKA_BROKERS,
    O_KAFKA_TOPIC,
    O_KAFKA_CHANGES,
    O_CONFIG,
    O_CURVE_SERVER_KEY,
    O_CURVE_KEY,
    O_TOKEN_FILE,
    O_SPOOL,
};

static const struct option lopts[] = {
    {"id", required_argument, NULL, O_ID},
    {"time", required_argument, NULL, O_TIME},
    {"service", required_argument, NULL, O_SERVICE},
    {"env", required_argument, NULL, O_ENV},
    {"environment", required_argument, NULL, O_ENV},
    {"host", required_argument, NULL, O_HOST},
    {"actor", required_argument, NULL, O_ACTOR},
    {"source", required_argument, NULL, O_SOURCE},
    {"label", required_argument, NULL, O_LABEL},
    {"deploy-id", required_argument, NULL, O_DEPLOY_ID},
    {"status", required_argument, NULL, O_STATUS},
    {"version", required_argument, NULL, O_VERSION},
    {"previous-version", required_argument, NULL, O_PREV},
    {"commit", required_argument, NULL, O_COMMIT},
    {"commit-time", required_argument, NULL, O_COMMIT_TIME},
    {"artifact", required_argument, NULL, O_ARTIFACT},
    {"change-ticket", required_argument, NULL, O_CHANGE_TICKET},
    {"name", required_argument, NULL, O_NAME},
    {"fingerprint", required_argument, NULL, O_FINGERPRINT},
    {"state", required_argument, NULL, O_STATE},
    {"severity", required_argument, NULL, O_SEVERITY},
    {"summary", required_argument, NULL, O_SUMMARY},
    {"incident-id", required_argument, NULL, O_INCIDENT_ID},
    {"title", required_argument, NULL, O_TITLE},
    {"ticket", required_argument, NULL, O_TICKET},
    {"ticket-id", required_argument, NULL, O_TICKET_ID},
    {"type", required_argument, NULL, O_TYPE},
    {"link", required_argument, NULL, O_LINK},
    {"url", required_argument, NULL, O_URL},
    {"json", required_argument, NULL, O_JSON},
    {"to", required_argument, NULL, O_TO},
    {"reliable", no_argument, NULL, O_RELIABLE},
    {"timeout", required_argument, NULL, O_TIMEOUT},
    {"window", required_argument, NULL, O_WINDOW},
    {"kafka-brokers", required_argument, NULL, O_KAFKA_BROKERS},
    {"kafka-topic", required_argument, NULL, O_KAFKA_TOPIC},
    {"kafka-changes-topic", required_argument, NULL, O_KAFKA_CHANGES},
    {"config", required_argument, NULL, O_CONFIG},
    {"curve-server-key", required_argument, NULL, O_CURVE_SERVER_KEY},
    {"curve-key", required_argument, NULL, O_CURVE_KEY},
    {"token-file", required_argument, NULL, O_TOKEN_FILE},
    {"spool", required_argument, NULL, O_SPOOL},
    {"quiet", no_argument, NULL, 'q'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

/* Which options make sense for which kind (a wrong one is a usage error, not silently ignored). */
static int
option_fits(int opt, lh_kind_t k)
{
    switch (opt) {
    case O_DEPLOY_ID:
    case O_STATUS:
    case O_VERSION:
    case O_PREV:
    case O_COMMIT:
    case O_COMMIT_TIME:
    case O_CHANGE_TICKET:
        return k == LH_KIND_DEPLOY;
    case O_ARTIFACT:
        return k != LH_KIND_TICKET;
    case O_NAME:
    case O_FINGERPRINT:
        return k == LH_KIND_ALERT;
    case O_SEVERITY:
        return k == LH_KIND_ALERT || k == LH_KIND_INCIDENT;
    case O_STATE:
        return k != LH_KIND_DEPLOY;
    case O_SUMMARY:
        return k == LH_KIND_ALERT || k == LH_KIND_TICKET;
    case O_INCIDENT_ID:
    case O_TITLE:
    case O_TICKET:
        return k == LH_KIND_INCIDENT;
    case O_TICKET_ID:
    case O_TYPE:
    case O_LINK:
    case O_URL:
        return k == LH_KIND_TICKET;
    default:
        return 1;
    }
}

static uint64_t
hash_field(uint64_t h, const char *s)
{
    if (s)
        h = lh__hash64_update(h, s, strlen(s));
    return lh__hash64_update(h, "\x1f", 1); /* a separator: ("ab","c") is not ("a","bc") */
}

/* The id of an event sent without --id, derived from what identifies it: kind, service,
 * environment, the deploy, incident, alert or ticket it is about, its status or state, and its
 * time when --time was given. The same step sent twice (a retried pipeline job) gets the same
 * id, so the hub answers `duplicate` instead of storing it twice; a new status or state is a new
 * event. "<kind letter>-<16 hex digits>", like the ids loophub has always generated. */
static void
derive_id(const lh_event_t *ev, char *buf, size_t len)
{
    uint64_t h = LH__HASH64_SEED;
    h = hash_field(h, lh_kind_name(ev->kind));
    h = hash_field(h, ev->service);
    h = hash_field(h, ev->environment);
    switch (ev->kind) {
    case LH_KIND_DEPLOY:
        h = hash_field(h, ev->deploy.deploy_id);
        h = hash_field(h, ev->deploy.deploy_id ? NULL : ev->deploy.version);
        h = hash_field(h, lh_deploy_status_name(ev->deploy.status));
        break;
    case LH_KIND_INCIDENT:
        h = hash_field(h, ev->incident.incident_id);
        h = hash_field(h, lh_incident_state_name(ev->incident.state));
        break;
    case LH_KIND_ALERT:
        h = hash_field(h, ev->alert.fingerprint ? ev->alert.fingerprint : ev->alert.name);
        h = hash_field(h, lh_alert_state_name(ev->alert.state));
        break;
    case LH_KIND_TICKET:
        h = hash_field(h, ev->ticket.ticket_id);
        h = hash_field(h, lh_ticket_state_name(ev->ticket.state));
        break;
    default:
        break;
    }
    char t[40] = "";
    if (ev->time_ns)
        snprintf(t, sizeof(t), "%lld", (long long)ev->time_ns);
    h = lh__hash64_final(hash_field(h, t));
    snprintf(buf, len, "%c-%016llx", lh_kind_name(ev->kind)[0], (unsigned long long)h);
}

/* Applies one field option to ev. Returns 0 or an exit code (usage error printed). */
static int
apply(lh_event_t *ev, int opt, const char *v)
{
    lh_kind_t k = ev->kind;
    if (!option_fits(opt, k)) {
        for (const struct option *o = lopts; o->name; o++)
            if (o->val == opt)
                return lh_cli_usage_error("send", "--%s does not apply to a %s", o->name,
                                          lh_kind_name(k));
    }
    int64_t t;
    char *s = lh_event_str(ev, v, (size_t)-1);
    switch (opt) {
    case O_ID:
        ev->id = s;
        break;
    case O_TIME:
        if (lh_time_parse(v, &t) < 0)
            return lh_cli_usage_error("send", "--time: '%s' is not an RFC 3339 time", v);
        ev->time_ns = t;
        break;
    case O_SERVICE:
        ev->service = s;
        break;
    case O_ENV:
        ev->environment = s;
        break;
    case O_HOST: /* "a,b" is two hosts */
        for (const char *h = v; *h;) {
            size_t n = strcspn(h, ",");
            size_t a = 0, b = n;
            while (a < b && h[a] == ' ')
                a++;
            while (b > a && h[b - 1] == ' ')
                b--;
            if (b > a)
                lh_event_add_host(ev, h + a, b - a);
            h += n + (h[n] == ',');
        }
        break;
    case O_ACTOR:
        ev->actor = s;
        break;
    case O_SOURCE:
        ev->source = s;
        break;
    case O_LABEL: {
        const char *eq = strchr(v, '=');
        if (!eq || eq == v)
            return lh_cli_usage_error("send", "--label: '%s' is not KEY=VALUE", v);
        lh_event_add_label(ev, v, (size_t)(eq - v), eq + 1, (size_t)-1);
        break;
    }
    case O_DEPLOY_ID:
        ev->deploy.deploy_id = s;
        break;
    case O_STATUS:
        if (lh_deploy_status_parse(v, &ev->deploy.status) < 0)
            return lh_cli_usage_error(
                "send", "--status: '%s' is not started, succeeded, failed or rolled_back", v);
        break;
    case O_VERSION:
        ev->deploy.version = s;
        break;
    case O_PREV:
        ev->deploy.previous_version = s;
        break;
    case O_COMMIT:
        ev->deploy.commit = s;
        break;
    case O_COMMIT_TIME:
        if (lh_time_parse(v, &t) < 0)
            return lh_cli_usage_error("send", "--commit-time: '%s' is not an RFC 3339 time", v);
        ev->deploy.commit_time_ns = t;
        break;
    case O_ARTIFACT:
        if (k == LH_KIND_DEPLOY)
            ev->deploy.artifact = s;
        else if (k == LH_KIND_ALERT)
            ev->alert.artifact = s;
        else
            ev->incident.artifact = s;
        break;
    case O_CHANGE_TICKET:
        ev->deploy.change_ticket = s;
        break;
    case O_NAME:
        ev->alert.name = s;
        break;
    case O_FINGERPRINT:
        ev->alert.fingerprint = s;
        break;
    case O_STATE: {
        int bad = 0;
        if (k == LH_KIND_ALERT)
            bad = lh_alert_state_parse(v, &ev->alert.state) < 0;
        else if (k == LH_KIND_INCIDENT)
            bad = lh_incident_state_parse(v, &ev->incident.state) < 0;
        else
            bad = lh_ticket_state_parse(v, &ev->ticket.state) < 0;
        if (bad)
            return lh_cli_usage_error("send", "--state: '%s' is not a %s state (see --help)", v,
                                      lh_kind_name(k));
        break;
    }
    case O_SEVERITY: {
        lh_severity_t sev;
        if (lh_severity_parse(v, &sev) < 0)
            return lh_cli_usage_error(
                "send", "--severity: '%s' is not info, warning, error or critical", v);
        if (k == LH_KIND_ALERT)
            ev->alert.severity = sev;
        else
            ev->incident.severity = sev;
        break;
    }
    case O_SUMMARY:
        if (k == LH_KIND_ALERT)
            ev->alert.summary = s;
        else
            ev->ticket.summary = s;
        break;
    case O_INCIDENT_ID:
        ev->incident.incident_id = s;
        break;
    case O_TITLE:
        ev->incident.title = s;
        break;
    case O_TICKET:
        ev->incident.ticket = s;
        break;
    case O_TICKET_ID:
        ev->ticket.ticket_id = s;
        break;
    case O_TYPE:
        if (lh_ticket_type_parse(v, &ev->ticket.type) < 0)
            return lh_cli_usage_error("send", "--type: '%s' is not change, incident or task", v);
        break;
    case O_LINK:
        lh_event_add_link(ev, v, (size_t)-1);
        break;
    case O_URL:
        ev->ticket.url = s;
        break;
    }
    return 0;
}

/* --- transport --------------------------------------------------------------------------- */

/* --timeout in ms for ZeroMQ and librdkafka, which take an int (a negative one means forever) */
static int
timeout_ms_of(const send_opts_t *so)
{
    int64_t ms = so->timeout_ns / LH_NS_PER_MS;
    return ms > INT_MAX ? INT_MAX : ms < 1 ? 1 : (int)ms;
}

/* A CURVE client the hub refuses looks like no hub at all: say so. */
static const char *
no_hub_hint(const send_opts_t *so)
{
    if (so->curve_key)
        return " is your public key in its --curve-allow file, and --curve-server-key its key?";
    return " does it want CURVE: --curve-server-key, --curve-key?";
}

static int
no_hub(const send_opts_t *so)
{
    char d[32];
    lh_duration_format(so->timeout_ns, d, sizeof(d));
    lh_cli_error("send", "no hub reachable at %s within %s (is 'loophub run' running?%s)", so->to,
                 d, no_hub_hint(so));
    return LH_EXIT_ERROR;
}

static void
no_answer(const send_opts_t *so, size_t missing, size_t n)
{
    char d[32];
    lh_duration_format(so->timeout_ns, d, sizeof(d));
    lh_cli_error("send",
                 "no answer from %s for %zu of %zu messages after %s (is 'loophub run' running "
                 "there?%s)",
                 so->to, missing, n, d, no_hub_hint(so));
}

/* Connects s to the hub and waits for the handshake, so that a hub that refuses this client
 * (CURVE) is said at once and plainly, not as a timeout. 0, -1 when no handshake ended within
 * the timeout (no hub there: the caller says so), or an exit code (said why). */
static int
connect_checked(void *zctx, void *s, const send_opts_t *so)
{
    void *watch = lh_cli_handshake_watch(zctx, s);
    if (zmq_connect(s, so->to) != 0) {
        lh_cli_error("send", "cannot connect to %s: %s", so->to, zmq_strerror(zmq_errno()));
        if (watch) {
            zmq_socket_monitor(s, NULL, 0);
            zmq_close(watch);
        }
        return LH_EXIT_ERROR;
    }
    return lh_cli_handshake_check("send", watch, s, so->to, timeout_ms_of(so),
                                  so->curve_key != NULL);
}

static int
send_fire_and_forget(const send_opts_t *so, outmsg_t *msgs, size_t n)
{
    void *zctx = zmq_ctx_new();
    void *s = zmq_socket(zctx, ZMQ_PUSH);
    int one = 1;
    int ms = timeout_ms_of(so);
    int rc = LH_EXIT_OK;
    if (!s || zmq_setsockopt(s, ZMQ_IMMEDIATE, &one, sizeof(one)) != 0 ||
        zmq_setsockopt(s, ZMQ_SNDTIMEO, &ms, sizeof(ms)) != 0 ||
        zmq_setsockopt(s, ZMQ_LINGER, &ms, sizeof(ms)) != 0) {
        lh_cli_error("send", "cannot set up a ZeroMQ socket: %s", zmq_strerror(zmq_errno()));
        rc = LH_EXIT_ERROR;
    } else if ((rc = lh_cli_curve_client("send", s, so->curve_server_key, so->curve_key)) != 0) {
        /* said why */
    } else if ((rc = connect_checked(zctx, s, so)) < 0) {
        rc = no_hub(so);
    }
    for (size_t i = 0; rc == 0 && i < n; i++) {
        if (zmq_send(s, msgs[i].data, msgs[i].len, 0) < 0)
            rc = no_hub(so);
    }
    if (s)
        zmq_close(s);
    zmq_ctx_term(zctx);
    return rc;
}

/* One verdict: status "ok", "duplicate" or "rejected: why" for the message at index idx. */
static void
report_ack(const send_opts_t *so, size_t idx, const char *id, const char *status, tally_t *t,
           int single)
{
    const char *tag = idx < t->n ? t->msgs[idx].tag : "?";
    if (idx < t->n)
        t->msgs[idx].done = 1;
    t->events++;
    if (strcmp(status, "ok") == 0) {
        t->ok++;
        if (single && !so->quiet)
            printf("ok %s\n", id);
    } else if (strcmp(status, "duplicate") == 0) {
        t->dup++;
        if (single && !so->quiet)
            printf("duplicate %s (already stored)\n", id);
    } else if (strncmp(status, "ignored: ", 9) == 0) {
        t->ok++; /* read by a webhook source, recording nothing: not a failure */
        if (!so->quiet)
            printf("ignored %s: %s\n", id, status + 9);
    } else {
        t->rejected++;
        const char *why = strncmp(status, "rejected: ", 10) == 0 ? status + 10 : status;
        if (single)
            lh_cli_error("send", "rejected%s%s: %s", *id ? " " : "", id, why);
        else
            lh_cli_error("send", "%s %s: rejected%s%s: %s",
                         t->msgs && idx < t->n && t->msgs[idx].spool ? "spooled" : "line", tag,
                         *id ? " " : "", id, why);
    }
}

/* Receives one ack message; returns 1 when one was handled, 0 on timeout, LH_ETRANSPORT when
 * zmq fails (zmq_errno() says why; the caller reports it once, with the endpoint). */
static int
recv_ack(void *s, const send_opts_t *so, tally_t *t, int single, int timeout_ms)
{
    zmq_pollitem_t it = {s, 0, ZMQ_POLLIN, 0};
    int rc = zmq_poll(&it, 1, timeout_ms);
    if (rc <= 0)
        return rc < 0 ? LH_ETRANSPORT : 0;
    char tag[64] = "", id[1024] = "", status[1024] = "";
    int more = 1, frame = 0;
    while (more) {
        zmq_msg_t m;
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, s, 0) < 0) {
            zmq_msg_close(&m);
            return LH_ETRANSPORT;
        }
        more = zmq_msg_more(&m);
        size_t len = zmq_msg_size(&m);
        char *dst = frame == 0 ? tag : (frame % 2 == 1 ? id : status);
        size_t cap = frame == 0 ? sizeof(tag) : sizeof(id);
        if (len >= cap)
            len = cap - 1;
        memcpy(dst, zmq_msg_data(&m), len);
        dst[len] = 0;
        if (frame >= 2 && frame % 2 == 0)
            report_ack(so, (size_t)strtoul(tag, NULL, 10), id, status, t, single);
        zmq_msg_close(&m);
        frame++;
    }
    t->lines++;
    return 1;
}

static int
send_reliable(const send_opts_t *so, outmsg_t *msgs, size_t n, tally_t *t)
{
    void *zctx = zmq_ctx_new();
    void *s = zmq_socket(zctx, ZMQ_DEALER);
    int zero = 0, hwm = (int)so->window + 16;
    int timeout_ms = timeout_ms_of(so);
    /* the window keeps sends below the high-water mark; should one block anyway, give up */
    int rc = LH_EXIT_OK;
    if (!s || zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof(zero)) != 0 ||
        zmq_setsockopt(s, ZMQ_SNDHWM, &hwm, sizeof(hwm)) != 0 ||
        zmq_setsockopt(s, ZMQ_RCVHWM, &hwm, sizeof(hwm)) != 0 ||
        zmq_setsockopt(s, ZMQ_SNDTIMEO, &timeout_ms, sizeof(timeout_ms)) != 0) {
        lh_cli_error("send", "cannot set up a ZeroMQ socket: %s", zmq_strerror(zmq_errno()));
        if (s)
            zmq_close(s);
        zmq_ctx_term(zctx);
        return LH_EXIT_ERROR;
    }
    if ((rc = lh_cli_curve_client("send", s, so->curve_server_key, so->curve_key)) != 0 ||
        (rc = connect_checked(zctx, s, so)) > 0) {
        zmq_close(s);
        zmq_ctx_term(zctx);
        return rc;
    }
    if (rc < 0) { /* the whole timeout passed without a hub: nothing will be answered */
        no_answer(so, n, n);
        t->timed_out = 1;
        zmq_close(s);
        zmq_ctx_term(zctx);
        return LH_EXIT_ERROR;
    }
    int single = n == 1;
    size_t sent = 0;
    while (t->lines < (long)n) {
        while (sent < n && (long)(sent - (size_t)t->lines) < so->window) {
            char idx[24]; /* the tag the hub echoes: the message's index */
            snprintf(idx, sizeof(idx), "%zu", sent);
            if (zmq_send(s, idx, strlen(idx), ZMQ_SNDMORE) < 0 ||
                zmq_send(s, msgs[sent].data, msgs[sent].len, 0) < 0) {
                lh_cli_error("send", "cannot send to %s: %s", so->to, zmq_strerror(zmq_errno()));
                rc = LH_EXIT_ERROR;
                goto out;
            }
            sent++;
        }
        int r = recv_ack(s, so, t, single, timeout_ms);
        if (r < 0) {
            lh_cli_error("send", "receive from %s: %s", so->to, zmq_strerror(zmq_errno()));
            rc = LH_EXIT_ERROR;
            goto out;
        }
        if (r == 0) {
            no_answer(so, (size_t)((long)n - t->lines), n);
            t->timed_out = 1;
            rc = LH_EXIT_ERROR;
            goto out;
        }
    }
out:
    zmq_close(s);
    zmq_ctx_term(zctx);
    return rc;
}

/* Produces each message to Kafka through lh_kafka_send (which picks the topics by kind). */
static int
send_kafka(const send_opts_t *so, outmsg_t *msgs, size_t n)
{
    lh_run_conf_t c;
    char why[600] = "";
    const lh_adapter_def_t *def = lh_registry_find("kafka");
    if (!def || lh_run_conf_init(&c, &def, 1) < 0)
        return LH_EXIT_ERROR;
    int rc = so->config ? lh_run_conf_load(&c, so->config, why, sizeof(why)) : 0;
    lh_kafka_settings_t *ks = lh_run_conf_adapter(&c, "kafka");
    lh_kafka_conf_t k;
    int have_k = 0;
    if (rc == 0) {
        free(ks->brokers);
        ks->brokers = strdup(so->kafka_brokers);
        if (so->kafka_topic) {
            lh_strlist_free(&ks->topics);
            rc = lh_strlist_add(&ks->topics, so->kafka_topic);
        }
        if (rc == 0 && so->kafka_changes_topic) {
            free(ks->changes_topic);
            ks->changes_topic = strdup(so->kafka_changes_topic);
        }
        if (rc == 0 && (!ks->brokers || (so->kafka_changes_topic && !ks->changes_topic)))
            rc = LH_ENOMEM;
        if (rc == 0)
            rc = lh_kafka_settings_conf(ks, &k, why, sizeof(why));
        else
            snprintf(why, sizeof(why), "%s", lh_strerror(rc));
        have_k = rc == 0;
    }
    int exit_rc = rc == 0 ? LH_EXIT_OK : LH_EXIT_ERROR;
    if (rc < 0)
        lh_cli_error("send", "%s", why);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        lh_event_t *ev = NULL;
        char dwhy[256];
        if (lh_codec_decode_one(msgs[i].data, msgs[i].len, LH_FMT_AUTO, NULL, &ev, dwhy,
                                sizeof(dwhy)) < 0) {
            lh_cli_error("send", "line %s: %s", msgs[i].tag, dwhy);
            exit_rc = LH_EXIT_ERROR;
            continue;
        }
        rc = lh_kafka_send(&k, ev, msgs[i].data, msgs[i].len, timeout_ms_of(so), why, sizeof(why));
        if (rc < 0) {
            lh_cli_error("send", "%s", why);
            exit_rc = LH_EXIT_ERROR;
        } else if (!so->quiet && n == 1) {
            printf("sent %s to Kafka (acknowledged by the brokers)\n", ev->id);
        }
        lh_event_destroy(&ev);
    }
    if (exit_rc == LH_EXIT_OK && !so->quiet && n > 1)
        printf("sent %zu messages to Kafka (acknowledged by the brokers)\n", n);
    if (have_k)
        lh_kafka_conf_free(&k);
    lh_run_conf_free(&c);
    return exit_rc;
}

/* --- HTTP ------------------------------------------------------------------------------- */

static size_t
http_take(char *p, size_t size, size_t n, void *arg)
{
    lh_buf_t *b = arg;
    return lh_buf_append(b, p, size * n) == 0 ? size * n : 0;
}

/* The verdicts of one answer of POST /v1/events for the message at idx. 1 when they were read. */
static int
http_verdicts(const send_opts_t *so, size_t idx, const char *body, tally_t *t, int single)
{
    json_t *doc = json_loads(body, 0, NULL);
    if (!json_is_object(doc)) {
        json_decref(doc);
        return 0;
    }
    static const char *const lists[] = {"accepted", "duplicates", "ignored", "rejected"};
    int any = 0;
    for (int l = 0; l < 4; l++) {
        size_t i;
        json_t *v;
        json_array_foreach(json_object_get(doc, lists[l]), i, v)
        {
            const char *id = json_is_string(v) ? json_string_value(v)
                                               : json_string_value(json_object_get(v, "id"));
            const char *reason = json_string_value(json_object_get(v, "reason"));
            char status[600];
            if (l >= 2)
                snprintf(status, sizeof(status), "%s: %s", l == 2 ? "ignored" : "rejected",
                         reason ? reason : "?");
            else
                snprintf(status, sizeof(status), "%s", l == 1 ? "duplicate" : "ok");
            report_ack(so, idx, id ? id : "", status, t, single);
            any = 1;
        }
    }
    json_decref(doc);
    if (any)
        t->lines++;
    return any;
}

/* Posts every message not yet done to the hub's POST /v1/events. Stops at the first one the hub
 * could not take (no answer, a timeout, 503, another 5xx): LH_EXIT_ERROR after saying so, the
 * rest left for the spool. */
static int
send_http(const send_opts_t *so, outmsg_t *msgs, size_t n, tally_t *t)
{
    char url[600], auth[LH_SECRET_MAX + 32];
    size_t bl = strlen(so->to);
    while (bl && so->to[bl - 1] == '/')
        bl--;
    snprintf(url, sizeof(url), "%.*s/v1/events", (int)bl, so->to);
    char *token = NULL, why[400];
    if (so->token_file &&
        lh_secret_file_read(so->token_file, "token", &token, why, sizeof(why)) < 0) {
        lh_cli_error("send", "%s", why);
        return LH_EXIT_ERROR;
    }
    CURL *c = curl_easy_init();
    if (!c) {
        free(token);
        lh_cli_error("send", "cannot start libcurl");
        return LH_EXIT_ERROR;
    }
    struct curl_slist *base = curl_slist_append(NULL, "Expect:");
    if (token) {
        snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
        base = curl_slist_append(base, auth);
    }
    struct curl_slist *json =
        curl_slist_append(curl_slist_append(NULL, "Expect:"), "Content-Type: application/json");
    struct curl_slist *pb =
        curl_slist_append(curl_slist_append(NULL, "Expect:"), "Content-Type: application/protobuf");
    if (token) {
        json = curl_slist_append(json, auth);
        pb = curl_slist_append(pb, auth);
    }
    free(token);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)timeout_ms_of(so));
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, http_take);
    int rc = LH_EXIT_OK, single = n == 1;
    lh_buf_t b = LH_BUF_INIT;
    for (size_t i = 0; i < n && rc == LH_EXIT_OK; i++) {
        if (msgs[i].done)
            continue;
        int is_json = msgs[i].len && (msgs[i].data[0] == '{' || msgs[i].data[0] == '[');
        lh_buf_reset(&b);
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, is_json ? json : pb);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, msgs[i].data);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)msgs[i].len);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
        CURLcode cr = curl_easy_perform(c);
        long code = 0;
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
        if (lh_buf_append(&b, "", 1) < 0) {
            rc = LH_EXIT_ERROR;
            break;
        }
        const char *body = (const char *)b.data;
        if (cr != CURLE_OK) {
            lh_cli_error("send", "no answer from %s: %s (is 'loophub run' running there?)", url,
                         curl_easy_strerror(cr));
            t->timed_out = 1;
            rc = LH_EXIT_ERROR;
        } else if (code == 401 || code == 403) {
            lh_cli_error("send", "%s refused the request (%ld): %s%s", url, code, body,
                         so->token_file ? "" : " (give its token: --token-file)");
            rc = LH_EXIT_ERROR; /* the hub is there and refuses: say so, keep the message */
            t->refused = 1;
            break;
        } else if (code >= 500 || code == 0) {
            lh_cli_error("send", "%s cannot take it now (%ld): %s", url, code, body);
            t->timed_out = 1;
            rc = LH_EXIT_ERROR;
        } else if (!http_verdicts(so, i, body, t, single)) {
            /* 413, 415, or an answer without verdicts: rejected, never to be accepted */
            char status[600];
            snprintf(status, sizeof(status), "rejected: %ld %s", code, body);
            report_ack(so, i, "", status, t, single);
            t->lines++;
        }
    }
    lh_buf_free(&b);
    curl_slist_free_all(base);
    curl_slist_free_all(json);
    curl_slist_free_all(pb);
    curl_easy_cleanup(c);
    return rc;
}

/* --- the spool --------------------------------------------------------------------------- */

/* Writes each message not done to dir as its own file (named so they sort in sending order),
 * atomically (a temporary name, then rename). Returns how many, or -1 after saying why. */
static long
spool_write(const char *dir, const outmsg_t *msgs, size_t n)
{
    if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
        lh_cli_error("send", "cannot create the spool %s: %s", dir, strerror(errno));
        return -1;
    }
    long k = 0;
    int64_t now = lh_now_ns();
    for (size_t i = 0; i < n; i++) {
        if (msgs[i].done || msgs[i].spool)
            continue; /* a spooled one not sent stays where it is */
        char path[1200], tmp[1220];
        snprintf(path, sizeof(path), "%s/%019lld-%06d-%06zu.event", dir, (long long)now,
                 (int)getpid() % 1000000, i);
        snprintf(tmp, sizeof(tmp), "%s.tmp", path);
        FILE *f = fopen(tmp, "wb");
        int ok = f && fwrite(msgs[i].data, 1, msgs[i].len, f) == msgs[i].len;
        ok = f && fflush(f) == 0 && fsync(fileno(f)) == 0 && ok;
        if (f)
            fclose(f);
        if (!ok || rename(tmp, path) < 0) {
            lh_cli_error("send", "cannot write to the spool %s: %s", dir, strerror(errno));
            unlink(tmp);
            return -1;
        }
        k++;
    }
    return k;
}

static int
name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Reads dir's spooled events (oldest first) into *out, before the n messages of this run. */
static int
spool_read(const char *dir, outmsg_t **out, size_t *n)
{
    DIR *d = opendir(dir);
    if (!d)
        return errno == ENOENT
                   ? 0
                   : (lh_cli_error("send", "cannot read the spool %s: %s", dir, strerror(errno)),
                      LH_EXIT_ERROR);
    char **names = NULL;
    size_t k = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t l = strlen(e->d_name);
        if (l < 7 || strcmp(e->d_name + l - 6, ".event"))
            continue;
        if (k == cap) {
            cap = cap ? cap * 2 : 16;
            char **v = realloc(names, cap * sizeof(*v));
            if (!v)
                exit(LH_EXIT_ERROR);
            names = v;
        }
        if (!(names[k++] = strdup(e->d_name)))
            exit(LH_EXIT_ERROR);
    }
    closedir(d);
    if (!k) {
        free(names);
        return 0;
    }
    qsort(names, k, sizeof(*names), name_cmp);
    outmsg_t *v = calloc(k + *n, sizeof(*v));
    if (!v)
        exit(LH_EXIT_ERROR);
    size_t m = 0;
    for (size_t i = 0; i < k; i++) {
        char path[1200];
        snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
        size_t len = 0;
        char *data = NULL;
        FILE *f = fopen(path, "rb");
        if (f) {
            fseek(f, 0, SEEK_END);
            long sz = ftell(f);
            fseek(f, 0, SEEK_SET);
            data = sz > 0 ? malloc((size_t)sz + 1) : NULL;
            len = data ? fread(data, 1, (size_t)sz, f) : 0;
            fclose(f);
        }
        if (!data || !len) {
            free(data);
            lh_cli_error("send", "spooled %s cannot be read; left in place", path);
            free(names[i]);
            continue;
        }
        v[m].data = data;
        v[m].len = len;
        v[m].tag = names[i];
        v[m].spool = strdup(path);
        m++;
    }
    free(names);
    memcpy(v + m, *out, *n * sizeof(*v));
    free(*out);
    *out = v;
    *n += m;
    return 0;
}

/* Removes the spool files of the messages the hub gave a verdict on. */
static void
spool_clean(const outmsg_t *msgs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (msgs[i].spool && msgs[i].done)
            unlink(msgs[i].spool);
}

/* --- inputs ------------------------------------------------------------------------------ */

static int
read_lines(const char *path, outmsg_t **out, size_t *n)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
    if (!f) {
        lh_cli_error("send", "cannot open %s: %s", path, strerror(errno));
        return LH_EXIT_ERROR;
    }
    char *line = NULL;
    size_t cap = 0, cnt = 0, vcap = 0;
    ssize_t len;
    long lineno = 0, bad = 0;
    outmsg_t *v = NULL;
    while ((len = getline(&line, &cap, f)) >= 0) {
        lineno++;
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            line[--len] = 0;
        size_t skip = strspn(line, " \t");
        if (lineno == 1 && strncmp(line, "\xEF\xBB\xBF", 3) == 0)
            skip = 3 + strspn(line + 3, " \t"); /* a UTF-8 byte order mark */
        if ((size_t)len == skip)
            continue;
        if (line[skip] != '{' && line[skip] != '[') {
            /* caught here: sent on, it would be read as protobuf and rejected as such */
            lh_cli_error("send", "line %ld: not JSON (each line holds one JSON object or array)",
                         lineno);
            bad++;
            continue;
        }
        if (cnt == vcap) {
            vcap = vcap ? vcap * 2 : 64;
            v = realloc(v, vcap * sizeof(*v));
            if (!v)
                exit(LH_EXIT_ERROR);
        }
        char tag[32];
        snprintf(tag, sizeof(tag), "%ld", lineno);
        memset(&v[cnt], 0, sizeof(v[cnt]));
        v[cnt].tag = strdup(tag);
        v[cnt].data = malloc((size_t)len + 1);
        if (!v[cnt].tag || !v[cnt].data)
            exit(LH_EXIT_ERROR);
        memcpy(v[cnt].data, line, (size_t)len + 1);
        v[cnt].len = (size_t)len;
        cnt++;
    }
    free(line);
    if (f != stdin)
        fclose(f);
    *out = v;
    *n = cnt;
    return bad ? LH_EXIT_ERROR : 0; /* nothing is sent when a line is not JSON */
}

typedef struct {
    const char *tag;
    int bad;
} precheck_t;

static int
precheck_sink(lh_event_t *ev, int err, const char *id, const char *why, void *arg)
{
    precheck_t *p = arg;
    char buf[256];
    if (ev) {
        lh_event_normalize(ev);
        err = lh_event_validate(ev, NULL, lh_now_ns(), buf, sizeof(buf));
        why = buf;
        id = ev->id;
    }
    if (err < 0) {
        lh_cli_error("send", "line %s: %s%s%s", p->tag, id ? id : "", id ? ": " : "", why);
        p->bad = 1;
    }
    lh_event_destroy(&ev);
    return 0;
}

int
lh_cli_send(int argc, char **argv)
{
    send_opts_t so = {.timeout_ns = 10 * LH_NS_PER_SEC, .window = 1000};
    /* what a CI step would repeat on every call comes from its environment */
    const char *env_url = getenv("LOOPHUB_URL"), *env_token = getenv("LOOPHUB_TOKEN_FILE");
    if (env_url && *env_url)
        so.to = env_url;
    if (env_token && *env_token)
        so.token_file = env_token;
    lh_kind_t kind = LH_KIND_NONE;
    int argi = 1;
    if (argc > 1 && argv[1][0] != '-') {
        if (lh_kind_parse(argv[1], &kind) < 0)
            return lh_cli_usage_error("send", "unknown kind '%s' (deploy, alert, incident, ticket)",
                                      argv[1]);
        argi = 2;
    }
    lh_event_t *ev = lh_event_new();
    if (!ev)
        return LH_EXIT_ERROR;
    ev->kind = kind;
    int rc = 0, ch;
    optind = argi;
    opterr = 0;
    /* getopt_long permutes argv; parse from the kind onwards */
    while ((ch = getopt_long(argc, argv, "qh", lopts, NULL)) != -1) {
        switch (ch) {
        case 'h':
            usage(stdout);
            lh_event_destroy(&ev);
            return LH_EXIT_OK;
        case 'q':
            so.quiet = 1;
            break;
        case O_JSON:
            so.json = optarg;
            break;
        case O_TO:
            so.to = optarg;
            break;
        case O_KAFKA_BROKERS:
            so.kafka_brokers = optarg;
            break;
        case O_KAFKA_TOPIC:
            so.kafka_topic = optarg;
            break;
        case O_KAFKA_CHANGES:
            so.kafka_changes_topic = optarg;
            break;
        case O_CONFIG:
            so.config = optarg;
            break;
        case O_CURVE_SERVER_KEY:
            so.curve_server_key = optarg;
            break;
        case O_CURVE_KEY:
            so.curve_key = optarg;
            break;
        case O_TOKEN_FILE:
            so.token_file = optarg;
            break;
        case O_SPOOL:
            so.spool = optarg;
            break;
        case O_RELIABLE:
            so.reliable = 1;
            break;
        case O_TIMEOUT:
            if (lh_duration_parse(optarg, &so.timeout_ns) < 0 || so.timeout_ns <= 0)
                rc = lh_cli_usage_error("send", "--timeout: '%s' is not a duration", optarg);
            break;
        case O_WINDOW: {
            char *end;
            errno = 0;
            so.window = strtol(optarg, &end, 10);
            if (*end || !*optarg || errno || so.window < 1 || so.window > MAX_WINDOW)
                rc = lh_cli_usage_error("send", "--window: '%s' is not a number from 1 to %d",
                                        optarg, MAX_WINDOW);
            break;
        }
        case '?':
            rc = lh_cli_usage_error("send", "unknown option or missing value: '%s'",
                                    argv[optind - 1]);
            break;
        default:
            if (kind == LH_KIND_NONE)
                rc = lh_cli_usage_error("send", "field options need a kind first: loophub send "
                                                "deploy|alert|incident|ticket ...");
            else
                rc = apply(ev, ch, optarg);
        }
        if (rc)
            break;
    }
    if (!rc && optind < argc)
        rc = lh_cli_usage_error("send", "unexpected argument '%s'", argv[optind]);
    if (!rc && kind == LH_KIND_NONE && !so.json)
        rc = lh_cli_usage_error("send", "say what to send: a kind (deploy, alert, incident, "
                                        "ticket) or --json FILE");
    if (!rc && kind != LH_KIND_NONE && so.json)
        rc = lh_cli_usage_error("send", "--json and a kind exclude each other");
    if (!rc && so.kafka_brokers && (so.reliable || so.to))
        rc = lh_cli_usage_error("send", "--kafka-brokers excludes --to and --reliable (Kafka "
                                        "sends wait for the brokers anyway)");
    if (!rc && so.kafka_brokers && (so.curve_key || so.curve_server_key))
        rc = lh_cli_usage_error("send", "--curve-key and --curve-server-key are for ZeroMQ, not "
                                        "--kafka-brokers");
    if (!rc && !so.curve_key != !so.curve_server_key)
        rc = lh_cli_usage_error("send", "CURVE needs both --curve-server-key FILE (the hub's "
                                        "public key) and --curve-key FILE (your secret key)");
    so.http = so.to && (!strncmp(so.to, "http://", 7) || !strncmp(so.to, "https://", 8));
    if (!rc && so.http && (so.kafka_brokers || so.curve_key))
        rc = lh_cli_usage_error("send", "an http:// --to excludes --kafka-brokers and CURVE");
    if (!rc && so.spool && (so.kafka_brokers || (!so.reliable && !so.http)))
        rc = lh_cli_usage_error("send", "--spool needs --reliable or an http:// --to: only then "
                                        "is it known what the hub took");
    if (!rc && kind != LH_KIND_NONE) {
        const char *svc = getenv("LOOPHUB_SERVICE"), *env = getenv("LOOPHUB_ENV");
        if (!ev->service && svc && *svc)
            ev->service = lh_event_str(ev, svc, (size_t)-1);
        if (!ev->environment && env && *env)
            ev->environment = lh_event_str(ev, env, (size_t)-1);
        /* an event without one can never be asked for by `timeline --service S --env E` */
        if (!ev->environment && kind != LH_KIND_TICKET)
            rc = lh_cli_usage_error("send", "%s %s needs an environment: --env E (or LOOPHUB_ENV)",
                                    kind == LH_KIND_DEPLOY ? "a" : "an", lh_kind_name(kind));
    }
    if (rc) {
        lh_event_destroy(&ev);
        return rc;
    }
    if (!so.to)
        so.to = so.reliable ? DEFAULT_ROUTER : DEFAULT_PULL;

    outmsg_t *msgs = NULL;
    size_t n = 0;
    lh_buf_t buf = LH_BUF_INIT;
    if (so.json) {
        lh_event_destroy(&ev);
        if ((rc = read_lines(so.json, &msgs, &n)) != 0) {
            for (size_t i = 0; i < n; i++) {
                free(msgs[i].tag);
                free(msgs[i].data);
            }
            free(msgs);
            return rc;
        }
        if (n == 0) {
            lh_cli_error("send", "%s holds no events", so.json);
            free(msgs);
            return LH_EXIT_ERROR;
        }
        if (!so.reliable) {
            int bad = 0;
            for (size_t i = 0; i < n; i++) {
                precheck_t p = {msgs[i].tag, 0};
                lh_codec_decode(msgs[i].data, msgs[i].len, LH_FMT_AUTO, NULL, precheck_sink, &p);
                bad |= p.bad;
            }
            if (bad)
                rc = LH_EXIT_ERROR; /* nothing is sent when any line is bad */
        }
    } else {
        char id[64], why[256];
        if (!ev->id) {
            derive_id(ev, id, sizeof(id)); /* before the time defaults to now */
            ev->id = lh_event_str(ev, id, (size_t)-1);
        }
        if (!ev->time_ns)
            ev->time_ns = lh_now_ns();
        if (!ev->source)
            ev->source = lh_event_str(ev, "loophub-send", (size_t)-1);
        lh_event_normalize(ev);
        if (lh_event_validate(ev, NULL, lh_now_ns(), why, sizeof(why)) < 0) {
            rc = lh_cli_usage_error("send", "%s", why);
        } else if (lh_codec_pb_encode(ev, &buf) < 0) {
            lh_cli_error("send", "cannot encode the event");
            rc = LH_EXIT_ERROR;
        } else {
            msgs = calloc(1, sizeof(*msgs));
            msgs[0].tag = strdup("1");
            msgs[0].data = (char *)buf.data;
            msgs[0].len = buf.len;
            buf.data = NULL;
            n = 1;
        }
    }
    tally_t t = {0};
    if (rc == 0 && so.spool)
        rc = spool_read(so.spool, &msgs, &n);
    t.msgs = msgs;
    t.n = n;
    if (rc == 0) {
        if (so.kafka_brokers) {
            rc = send_kafka(&so, msgs, n);
        } else if (so.http || so.reliable) {
            rc = so.http ? send_http(&so, msgs, n, &t) : send_reliable(&so, msgs, n, &t);
            if (rc == 0 && t.rejected)
                rc = LH_EXIT_ERROR;
            if (n > 1 && !so.quiet)
                printf("sent %zu messages: %ld ok, %ld duplicate, %ld rejected\n", n, t.ok, t.dup,
                       t.rejected);
        } else {
            rc = send_fire_and_forget(&so, msgs, n);
            if (rc == 0 && !so.quiet && ev)
                printf("sent %s (not acknowledged; use --reliable to wait for the hub)\n", ev->id);
            else if (rc == 0 && !so.quiet)
                printf("sent %zu messages (not acknowledged; use --reliable to wait for the "
                       "hub)\n",
                       n);
        }
    }
    if (so.spool && t.msgs) {
        spool_clean(msgs, n);
        size_t left = 0;
        for (size_t i = 0; i < n; i++)
            left += !msgs[i].done;
        if (left && (t.timed_out || t.refused)) {
            long k = spool_write(so.spool, msgs, n);
            if (k >= 0) {
                lh_cli_error("send",
                             "the hub did not take %zu event%s: kept in %s, sent first "
                             "next time",
                             left, left == 1 ? "" : "s", so.spool);
                /* the hub away is no failure of the step; a refused token or a rejection is */
                rc = t.refused || t.rejected ? LH_EXIT_ERROR : LH_EXIT_OK;
            }
        }
    }
    for (size_t i = 0; i < n; i++) {
        free(msgs[i].tag);
        free(msgs[i].data);
        free(msgs[i].spool);
    }
    free(msgs);
    lh_buf_free(&buf);
    lh_event_destroy(&ev);
    return rc;
}
