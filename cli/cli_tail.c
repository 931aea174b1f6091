/*
 * cli_tail.c - `loophub tail`: subscribe to correlated alerts and print one line each (or the
 * JSON form). Alerts arrive as [topic][payload]; the payload may be protobuf, JSON or a
 * CloudEvent depending on the hub's --alerts-format, and tail reads all three. Without --service
 * or --env, a jump in seq means alerts were dropped on the way (PUB is lossy by design): tail says
 * so on stderr. With a filter the hub-wide seq has gaps by nature, so none is reported.
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
                 "  --from EP        the hub's alerts endpoint (default tcp://127.0.0.1:7703)\n"
                 "  --service S      only alerts for service S\n"
                 "  --env E          only alerts for environment E\n"
                 "  --json           print each alert as one JSON line\n"
                 "  --count N        exit after N alerts\n"
                 "  --timeout DUR    exit 1 when no alert came for DUR (default: wait forever)\n"
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
    }
    /* the alert id: what `loophub timeline --incident` opens */
    fprintf(out, "%s #%llu %s ", t, (unsigned long long)ca->seq, ca->id ? ca->id : "?");
    print_revision(out, ca);
    fprintf(out, "%s/%s %s %s%s%s%s%s%s\n", ca->service ? ca->service : "?",
            ca->environment ? ca->environment : "?", what, oid ? oid : "", sev ? " (" : "",
            sev ? sev : "", sev ? ")" : "", title ? ": " : "", title ? title : "");
    print_changes(out, ca);
    for (size_t i = 0; i < ca->n_suspects; i++) {
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

int
lh_cli_tail(int argc, char **argv)
{
    const char *from = "tcp://127.0.0.1:7703", *service = NULL, *env = NULL;
    int json = 0;
    long count = 0;
    int64_t timeout_ns = 0;
    static const struct option lopts[] = {{"from", required_argument, NULL, 'f'},
                                          {"service", required_argument, NULL, 's'},
                                          {"env", required_argument, NULL, 'e'},
                                          {"environment", required_argument, NULL, 'e'},
                                          {"json", no_argument, NULL, 'j'},
                                          {"count", required_argument, NULL, 'n'},
                                          {"timeout", required_argument, NULL, 't'},
                                          {"help", no_argument, NULL, 'h'},
                                          {NULL, 0, NULL, 0}};
    int ch;
    optind = 1;
    opterr = 0;
    while ((ch = getopt_long(argc, argv, "h", lopts, NULL)) != -1) {
        switch (ch) {
        case 'f':
            from = optarg;
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

    void *zctx = zmq_ctx_new();
    void *s = zmq_socket(zctx, ZMQ_SUB);
    int zero = 0;
    char prefix[512];
    if (env && service)
        snprintf(prefix, sizeof(prefix), "alert.%s.%s", env, service);
    else if (env)
        snprintf(prefix, sizeof(prefix), "alert.%s.", env);
    else
        snprintf(prefix, sizeof(prefix), "alert.");
    if (!s || zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof(zero)) != 0 ||
        zmq_setsockopt(s, ZMQ_SUBSCRIBE, prefix, strlen(prefix)) != 0) {
        lh_cli_error("tail", "cannot set up a ZeroMQ socket: %s", zmq_strerror(zmq_errno()));
        if (s)
            zmq_close(s);
        zmq_ctx_term(zctx);
        return LH_EXIT_ERROR;
    }
    if (zmq_connect(s, from) != 0) {
        lh_cli_error("tail", "cannot connect to %s: %s", from, zmq_strerror(zmq_errno()));
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
    long got = 0;
    uint64_t last_seq = 0;
    lh_buf_t out = LH_BUF_INIT;
    int64_t idle_since = lh_mono_ns();
    while (!g_stop && (count == 0 || got < count)) {
        zmq_pollitem_t it = {s, 0, ZMQ_POLLIN, 0};
        int pr = zmq_poll(&it, 1, 200);
        if (pr < 0)
            break;
        if (pr == 0) {
            if (timeout_ns && lh_mono_ns() - idle_since > timeout_ns) {
                lh_cli_error("tail", "no alert within the timeout");
                rc = LH_EXIT_ERROR;
                break;
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
        idle_since = lh_mono_ns();
        lh_correlated_t *ca = NULL;
        if (decode_alert(zmq_msg_data(&body), zmq_msg_size(&body), &ca) < 0) {
            lh_cli_error("tail", "an alert on topic '%.*s' could not be decoded",
                         (int)zmq_msg_size(&topic), (char *)zmq_msg_data(&topic));
        } else if ((!service || (ca->service && strcmp(ca->service, service) == 0)) &&
                   (!env || (ca->environment && strcmp(ca->environment, env) == 0))) {
            /* seq counts every alert of the hub: with a filter, the alerts of other services
             * and environments make gaps that are no loss */
            if (!service && !env && last_seq && ca->seq > last_seq + 1)
                lh_cli_error("tail",
                             "missed %llu alerts (seq %llu..%llu): the subscriber was "
                             "too slow; the store and Kafka keep them",
                             (unsigned long long)(ca->seq - last_seq - 1),
                             (unsigned long long)last_seq + 1, (unsigned long long)ca->seq - 1);
            if (ca->seq)
                last_seq = ca->seq;
            if (json) {
                lh_buf_reset(&out);
                if (lh_codec_alert_json_encode(ca, &out) == 0) {
                    fwrite(out.data, 1, out.len, stdout);
                    fputc('\n', stdout);
                    fflush(stdout);
                }
            } else {
                lh_cli_tail_print(stdout, ca);
            }
            got++;
        }
        lh_correlated_destroy(&ca);
        zmq_msg_close(&topic);
        zmq_msg_close(&body);
    }
    lh_buf_free(&out);
    zmq_close(s);
    zmq_ctx_term(zctx);
    return rc;
}
