/*
 * cli_tail.c - `loophub tail`: subscribe to correlated alerts and print one line each (or the
 * JSON form). Alerts arrive as [topic][payload]; the payload may be protobuf, JSON or a
 * CloudEvent depending on the hub's --alerts-format, and tail reads all three. Without --service
 * or --env, a jump in seq means alerts were dropped on the way (PUB is lossy by design): tail says
 * so on stderr. With a filter the hub-wide seq has gaps by nature, so none is reported.
 *
 * With --subs EP tail is a client of the hub's subscription endpoint instead (a DEALER; the
 * protocol is in adapters/zmq/zmq_subs.c): it sends SUB with its prefix, PINGs well within the
 * hub's idle limit, subscribes again when the hub says it does not know it (a restarted hub), and
 * prints the hub's LOST notices on stderr: the exact count of alerts this subscriber lost, with
 * or without a filter. A refusal (the hub's table of subscribers is full) ends it with exit 1.
 */
#include <getopt.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "cli.h"
#include "cli_tail.h"
#include "loophub/error.h"
#include "loophub/format.h"
#include "loophub/timeutil.h"

static volatile sig_atomic_t g_stop;

static void
on_signal(int sig)
{
    (void)sig;
    g_stop = 1;
}

static void
usage(FILE *out)
{
    fprintf(out, "Usage: loophub tail [OPTIONS]\n\n"
                 "Print correlated alerts as the hub publishes them.\n\n"
                 "Options:\n"
                 "  --from EP        the hub's alerts PUB endpoint (default tcp://127.0.0.1:7703)\n"
                 "  --subs EP        use the hub's subscription endpoint instead (its --zmq-subs,\n"
                 "                   e.g. tcp://127.0.0.1:7704): alerts this subscriber loses\n"
                 "                   are counted by the hub and said exactly on stderr\n"
                 "  --service S      only alerts for service S\n"
                 "  --env E          only alerts for environment E\n"
                 "  --json           print each alert as one JSON line\n"
                 "  --count N        exit after N alerts\n"
                 "  --timeout DUR    exit 1 when no alert came for DUR (default: wait forever)\n"
                 "  --curve-server-key FILE  the hub's CURVE public key: talk CURVE\n"
                 "  --curve-key FILE  your CURVE secret key (its public key in the hub's\n"
                 "                   --curve-allow file)\n"
                 "  -h, --help       show this help\n");
}

/* Decodes an alert in any of the hub's formats. A CloudEvent (an object with "specversion")
 * carries the alert's JSON form as its "data" object. */
static int
decode_alert(const void *data, size_t len, lh_correlated_t **out)
{
    const char *p = data;
    size_t i = 0;
    while (i < len && (p[i] == ' ' || p[i] == '\n' || p[i] == '\t' || p[i] == '\r'))
        i++;
    if (i < len && p[i] == '{') {
        json_t *root = json_loadb(p, len, 0, NULL);
        if (!root || !json_object_get(root, "specversion")) {
            json_decref(root);
            return lh_codec_alert_json_decode(p, len, out);
        }
        json_t *ce_data = json_object_get(root, "data");
        char *text = json_is_object(ce_data) ? json_dumps(ce_data, JSON_COMPACT) : NULL;
        json_decref(root);
        if (!text)
            return LH_EDECODE;
        int rc = lh_codec_alert_json_decode(text, strlen(text), out);
        free(text);
        return rc;
    }
    return lh_codec_alert_pb_decode(data, len, out);
}

/* "rev 2 " from the second revision on, "RESOLVED " for the final one: what tells a reader that
 * this line revises an alert printed before. */
static void
print_revision(FILE *out, const lh_correlated_t *ca)
{
    if (ca->revision > 1)
        fprintf(out, "rev %lu ", (unsigned long)ca->revision);
    if (ca->resolved)
        fputs("RESOLVED ", out);
}

static void
print_changes(FILE *out, const lh_correlated_t *ca)
{
    if (!ca->n_changes)
        return;
    fputs("  changed:", out);
    for (size_t i = 0; i < ca->n_changes; i++)
        fprintf(out, "%s %s", i ? ";" : "", ca->changes[i] ? ca->changes[i] : "");
    fputc('\n', out);
}

/* One line per suspect service: the version to go back to, or that none is known. */
static void
print_rollbacks(FILE *out, const lh_correlated_t *ca)
{
    for (size_t i = 0; i < ca->n_rollbacks; i++) {
        const lh_rollback_t *r = &ca->rollbacks[i];
        const char *svc = r->service ? r->service : "?";
        if (r->version)
            fprintf(out, "  roll back %s to %s%s\n", svc, r->version,
                    r->derived ? " (from history)" : "");
        else
            fprintf(out, "  no known good version of %s%s%s\n", svc,
                    r->from_version ? " before " : "", r->from_version ? r->from_version : "");
    }
}

void
lh_cli_tail_print(FILE *out, const lh_correlated_t *ca)
{
    char t[40] = "", lead[32];
    const lh_event_t *o = ca->outcome;
    if (o)
        lh_time_format(o->time_ns, t, sizeof(t));
    const char *what = "outcome", *oid = "", *sev = NULL, *title = NULL;
    if (o && o->kind == LH_KIND_INCIDENT) {
        what = "incident";
        oid = o->incident.incident_id ? o->incident.incident_id : o->id;
        sev = lh_severity_name(o->incident.severity);
        title = o->incident.title;
    } else if (o && o->kind == LH_KIND_ALERT) {
        what = "alert";
        oid = o->alert.name ? o->alert.name : o->id;
        sev = lh_severity_name(o->alert.severity);
        title = o->alert.summary;
    } else if (ca->kind == LH_CA_UNAPPROVED_CHANGE) {
        what = "unapproved change";
        oid = o && o->deploy.deploy_id ? o->deploy.deploy_id : "";
    }
    /* the alert id: what `loophub timeline --incident` opens */
    fprintf(out, "%s #%llu %s ", t, (unsigned long long)ca->seq, ca->id ? ca->id : "?");
    print_revision(out, ca);
    fprintf(out, "%s/%s %s %s%s%s%s%s%s\n", ca->service ? ca->service : "?",
            ca->environment ? ca->environment : "?", what, oid ? oid : "", sev ? " (" : "",
            sev ? sev : "", sev ? ")" : "", title ? ": " : "", title ? title : "");
    print_changes(out, ca);
    for (size_t i = 0; ca->kind == LH_CA_UNAPPROVED_CHANGE && i < ca->n_suspects; i++) {
        /* the change itself, and the rule it fails: no lead, no score */
        const lh_suspect_t *s = &ca->suspects[i];
        fprintf(out, "  change %s %s%s%s%s%s\n", s->deploy_id ? s->deploy_id : "?",
                s->service ? s->service : "", s->version ? " " : "", s->version ? s->version : "",
                s->actor ? " by " : "", s->actor ? s->actor : "");
        for (size_t r = 0; r < s->n_reasons; r++)
            fprintf(out, "       - %s\n", s->reasons[r]);
    }
    for (size_t i = 0; ca->kind != LH_CA_UNAPPROVED_CHANGE && i < ca->n_suspects; i++) {
        const lh_suspect_t *s = &ca->suspects[i];
        /* with rollback targets, a suspect's previous version is only what it replaced: the
         * target of its service is on the rollback line (the earliest change's predecessor) */
        const char *prev = !s->previous_version ? ""
                           : ca->n_rollbacks    ? "; replaced "
                                                : "; roll back to ";
        lh_duration_human(s->lead_seconds * LH_NS_PER_SEC, lead, sizeof(lead));
        fprintf(out, "  %zu. deploy %s %s%s%s%s%s, %s before, score %.2f%s%s%s\n", i + 1,
                s->deploy_id ? s->deploy_id : "?", s->service ? s->service : "",
                s->version ? " " : "", s->version ? s->version : "", s->actor ? " by " : "",
                s->actor ? s->actor : "", lead, s->score, prev,
                s->previous_version ? s->previous_version : "",
                s->previous_version && s->previous_version_derived ? " (from history)" : "");
        for (size_t r = 0; r < s->n_reasons; r++)
            fprintf(out, "       - %s\n", s->reasons[r]);
    }
    if (ca->more_suspects)
        fprintf(out, "  and %lu more change%s in the window\n", (unsigned long)ca->more_suspects,
                ca->more_suspects == 1 ? "" : "s");
    print_rollbacks(out, ca);
    if (ca->late)
        fprintf(out, "  (late: the deploy arrived after the %s)\n", what);
    fflush(out);
}

typedef struct {
    const char *service, *env;
    int json;
    long got;
    uint64_t last_seq;
    lh_buf_t out;
} tail_t;

/* One alert received: printed when it passes the filters. gaps: say a jump in seq (PUB, where
 * seq is the only record of a loss). */
static void
show_alert(tail_t *t, zmq_msg_t *topic, zmq_msg_t *body, int gaps)
{
    lh_correlated_t *ca = NULL;
    if (decode_alert(zmq_msg_data(body), zmq_msg_size(body), &ca) < 0) {
        lh_cli_error("tail", "an alert on topic '%.*s' could not be decoded",
                     (int)zmq_msg_size(topic), (char *)zmq_msg_data(topic));
    } else if ((!t->service || (ca->service && strcmp(ca->service, t->service) == 0)) &&
               (!t->env || (ca->environment && strcmp(ca->environment, t->env) == 0))) {
        /* seq counts every alert of the hub: with a filter, the alerts of other services
         * and environments make gaps that are no loss */
        if (gaps && !t->service && !t->env && t->last_seq && ca->seq > t->last_seq + 1)
            lh_cli_error("tail",
                         "missed %llu alerts (seq %llu..%llu): the subscriber was "
                         "too slow; the store and Kafka keep them",
                         (unsigned long long)(ca->seq - t->last_seq - 1),
                         (unsigned long long)t->last_seq + 1, (unsigned long long)ca->seq - 1);
        if (ca->seq)
            t->last_seq = ca->seq;
        if (t->json) {
            lh_buf_reset(&t->out);
            if (lh_codec_alert_json_encode(ca, &t->out) == 0) {
                fwrite(t->out.data, 1, t->out.len, stdout);
                fputc('\n', stdout);
                fflush(stdout);
            }
        } else {
            lh_cli_tail_print(stdout, ca);
        }
        t->got++;
    }
    lh_correlated_destroy(&ca);
}

/* A request to the subscription endpoint: [cmd] or [cmd][arg]. 0, or -1 (errno set). */
static int
subs_request(void *s, const char *cmd, const char *arg)
{
    if (zmq_send(s, cmd, strlen(cmd), arg ? ZMQ_SNDMORE | ZMQ_DONTWAIT : ZMQ_DONTWAIT) < 0)
        return -1;
    return arg && zmq_send(s, arg, strlen(arg), ZMQ_DONTWAIT) < 0 ? -1 : 0;
}

/* A control message of the subscription endpoint ([word][text]). Returns the PING interval its
 * OK asks for (a third of the hub's idle limit), else 0; sets *rc on a refusal. */
static int64_t
subs_control(void *s, const char *prefix, zmq_msg_t *word, zmq_msg_t *text, int *rc)
{
    char w[16] = "", x[400] = "";
    size_t wl = zmq_msg_size(word) < sizeof(w) - 1 ? zmq_msg_size(word) : sizeof(w) - 1;
    size_t xl = zmq_msg_size(text) < sizeof(x) - 1 ? zmq_msg_size(text) : sizeof(x) - 1;
    memcpy(w, zmq_msg_data(word), wl);
    memcpy(x, zmq_msg_data(text), xl);
    if (strcmp(w, "LOST") == 0) {
        unsigned long long n = 0, first = 0, last = 0;
        if (sscanf(x, "%llu %llu %llu", &n, &first, &last) == 3)
            lh_cli_error("tail",
                         "lost %llu alerts (seq %llu..%llu): this subscriber's queue on the hub "
                         "was full; the store and Kafka keep them",
                         n, first, last);
        return 0;
    }
    if (strcmp(w, "OK") == 0) {
        const char *p = strstr(x, "idle_ms=");
        long long ms = p ? atoll(p + 8) : 0;
        return ms > 0 ? ms * 1000000 / 3 : 0;
    }
    if (strcmp(w, "ERR") == 0) {
        if (strstr(x, "not subscribed")) { /* a hub that restarted forgot this subscriber */
            lh_cli_error("tail", "the hub did not know this subscriber (restarted?): subscribing "
                                 "again");
            if (subs_request(s, "SUB", prefix) < 0)
                *rc = LH_EXIT_ERROR;
            return 0;
        }
        lh_cli_error("tail", "the hub refused: %s", x);
        *rc = LH_EXIT_ERROR;
    }
    return 0; /* PONG, or a word of a newer hub */
}

int
lh_cli_tail(int argc, char **argv)
{
    const char *from = "tcp://127.0.0.1:7703", *service = NULL, *env = NULL;
    const char *curve_server_key = NULL, *curve_key = NULL;
    int json = 0, from_set = 0;
    long count = 0;
    int64_t timeout_ns = 0;
    const char *subs = NULL;
    static const struct option lopts[] = {{"from", required_argument, NULL, 'f'},
                                          {"subs", required_argument, NULL, 'u'},
                                          {"service", required_argument, NULL, 's'},
                                          {"env", required_argument, NULL, 'e'},
                                          {"environment", required_argument, NULL, 'e'},
                                          {"json", no_argument, NULL, 'j'},
                                          {"count", required_argument, NULL, 'n'},
                                          {"timeout", required_argument, NULL, 't'},
                                          {"curve-server-key", required_argument, NULL, 'S'},
                                          {"curve-key", required_argument, NULL, 'K'},
                                          {"help", no_argument, NULL, 'h'},
                                          {NULL, 0, NULL, 0}};
    int ch;
    optind = 1;
    opterr = 0;
    while ((ch = getopt_long(argc, argv, "h", lopts, NULL)) != -1) {
        switch (ch) {
        case 'f':
            from = optarg;
            from_set = 1;
            break;
        case 'u':
            subs = optarg;
            break;
        case 's':
            service = optarg;
            break;
        case 'e':
            env = optarg;
            break;
        case 'j':
            json = 1;
            break;
        case 'n': {
            char *end;
            count = strtol(optarg, &end, 10);
            if (*end || count < 1)
                return lh_cli_usage_error("tail", "--count: '%s' is not a positive number", optarg);
            break;
        }
        case 't':
            if (lh_duration_parse(optarg, &timeout_ns) < 0)
                return lh_cli_usage_error("tail", "--timeout: '%s' is not a duration", optarg);
            break;
        case 'S':
            curve_server_key = optarg;
            break;
        case 'K':
            curve_key = optarg;
            break;
        case 'h':
            usage(stdout);
            return LH_EXIT_OK;
        default:
            return lh_cli_usage_error("tail", "unknown option or missing value: '%s'",
                                      argv[optind - 1]);
        }
    }
    if (optind < argc)
        return lh_cli_usage_error("tail", "unexpected argument '%s'", argv[optind]);
    if (subs && from_set)
        return lh_cli_usage_error("tail", "--from and --subs name two endpoints: give one");
    if (subs)
        from = subs;
    if (!curve_key != !curve_server_key)
        return lh_cli_usage_error("tail", "CURVE needs both --curve-server-key FILE (the hub's "
                                          "public key) and --curve-key FILE (your secret key)");

    void *zctx = zmq_ctx_new();
    void *s = zmq_socket(zctx, subs ? ZMQ_DEALER : ZMQ_SUB);
    int zero = 0;
    char prefix[512];
    if (env && service)
        snprintf(prefix, sizeof(prefix), "alert.%s.%s", env, service);
    else if (env)
        snprintf(prefix, sizeof(prefix), "alert.%s.", env);
    else
        snprintf(prefix, sizeof(prefix), "alert.");
    if (!s || zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof(zero)) != 0 ||
        (!subs && zmq_setsockopt(s, ZMQ_SUBSCRIBE, prefix, strlen(prefix)) != 0)) {
        lh_cli_error("tail", "cannot set up a ZeroMQ socket: %s", zmq_strerror(zmq_errno()));
        if (s)
            zmq_close(s);
        zmq_ctx_term(zctx);
        return LH_EXIT_ERROR;
    }
    int crc = lh_cli_curve_client("tail", s, curve_server_key, curve_key);
    if (crc != 0) {
        zmq_close(s);
        zmq_ctx_term(zctx);
        return crc;
    }
    void *watch = lh_cli_handshake_watch(zctx, s);
    if (zmq_connect(s, from) != 0) {
        lh_cli_error("tail", "cannot connect to %s: %s", from, zmq_strerror(zmq_errno()));
        lh_cli_handshake_check("tail", watch, s, from, 0, 0); /* closes the watch */
        zmq_close(s);
        zmq_ctx_term(zctx);
        return LH_EXIT_ERROR;
    }
    /* a hub that refuses this client is said at once; one not up yet is waited for as ever */
    if (lh_cli_handshake_check("tail", watch, s, from, 2000, curve_key != NULL) > 0) {
        zmq_close(s);
        zmq_ctx_term(zctx);
        return LH_EXIT_ERROR;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    int rc = LH_EXIT_OK;
    tail_t t = {service, env, json, 0, 0, LH_BUF_INIT};
    int64_t idle_since = lh_mono_ns();
    /* the subscription endpoint: SUB now, PING a third of the hub's idle limit apart (10 s until
     * its OK says the limit) */
    int64_t ping_every = 10 * LH_NS_PER_SEC, ping_at = lh_mono_ns() + ping_every;
    if (subs && subs_request(s, "SUB", prefix) < 0) {
        lh_cli_error("tail", "cannot send the subscription: %s", zmq_strerror(zmq_errno()));
        rc = LH_EXIT_ERROR;
    }
    while (rc == LH_EXIT_OK && !g_stop && (count == 0 || t.got < count)) {
        zmq_pollitem_t it = {s, 0, ZMQ_POLLIN, 0};
        int pr = zmq_poll(&it, 1, 200);
        if (pr < 0)
            break;
        if (subs && lh_mono_ns() >= ping_at) {
            subs_request(s, "PING", NULL); /* a full queue misses one: the next goes later */
            ping_at = lh_mono_ns() + ping_every;
        }
        if (pr == 0) {
            if (timeout_ns && lh_mono_ns() - idle_since > timeout_ns) {
                lh_cli_error("tail", "no alert within the timeout");
                rc = LH_EXIT_ERROR;
            }
            continue;
        }
        zmq_msg_t topic, body;
        zmq_msg_init(&topic);
        zmq_msg_init(&body);
        if (zmq_msg_recv(&topic, s, 0) < 0 || !zmq_msg_more(&topic) ||
            zmq_msg_recv(&body, s, 0) < 0) {
            zmq_msg_close(&topic);
            zmq_msg_close(&body);
            continue;
        }
        while (zmq_msg_more(&body)) { /* tolerate extra frames */
            zmq_msg_close(&body);
            zmq_msg_init(&body);
            if (zmq_msg_recv(&body, s, 0) < 0)
                break;
        }
        const char *tp = zmq_msg_data(&topic);
        size_t tl = zmq_msg_size(&topic);
        if (!subs || (tl >= 6 && memcmp(tp, "alert.", 6) == 0)) {
            idle_since = lh_mono_ns();
            show_alert(&t, &topic, &body, !subs);
        } else {
            int64_t every = subs_control(s, prefix, &topic, &body, &rc);
            if (every > 0) {
                ping_every = every;
                ping_at = lh_mono_ns() + every;
            }
        }
        zmq_msg_close(&topic);
        zmq_msg_close(&body);
    }
    lh_buf_free(&t.out);
    if (subs) { /* the hub forgets this subscriber now rather than at its idle limit */
        int linger = 200;
        zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof(linger));
        subs_request(s, "UNSUB", prefix);
    }
    zmq_close(s);
    zmq_ctx_term(zctx);
    return rc;
}
