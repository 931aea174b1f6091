/*
 * cli_sinks.c - `loophub sinks`: the sinks of a running hub (its GET /v1/sinks): every output the
 * outbox feeds (ZeroMQ PUB, the subscription endpoint, Kafka, each notification sink), its
 * backlog of alerts not yet delivered, and what a notification sink says of itself: its
 * receiver, routing, deliveries, failures, dead letters and last error.
 */
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

#define CMD "sinks"

static const char usage_text[] =
    "Usage: loophub sinks [--url URL] [--token-file FILE] [--format text|json]\n"
    "\n"
    "Lists the sinks of a running hub: every output its outbox feeds (zmq-pub, the\n"
    "subscription endpoint, kafka, and each notification sink of [sinks] as notify-NAME), the\n"
    "alerts not yet delivered to it, and for a notification sink its receiver (scheme and host:\n"
    "the rest of a webhook URL is often its secret), routing, alerts delivered, failed posts,\n"
    "dead letters and its last error. docs/notify.md says what each sink posts.\n"
    "\n"
    "Options:\n"
    "  --url URL          the hub's HTTP address (default $LOOPHUB_URL, else "
    "http://127.0.0.1:7780)\n"
    "  --token-file FILE  its bearer token, when it has one (default $LOOPHUB_TOKEN_FILE)\n"
    "  --format FMT       text (default) or json (the hub's document as it is)\n"
    "  -h, --help         show this help\n"
    "\n"
    "Exit status: 0 ok, 1 error (no hub at the address, a refused token), 2 bad usage.\n";

static long long
num(json_t *o, const char *k)
{
    return (long long)json_integer_value(json_object_get(o, k));
}

static const char *
str_or(json_t *v, const char *dflt)
{
    const char *s = json_string_value(v);
    return s ? s : dflt;
}

static int
print_text(const char *cmd, FILE *out, const char *text)
{
    json_error_t e;
    json_t *doc = json_loads(text, 0, &e);
    json_t *list = json_object_get(doc, "sinks");
    if (!json_is_array(list)) {
        json_decref(doc);
        lh_cli_error(cmd, "the hub's answer is not a sinks document");
        return LH_EXIT_ERROR;
    }
    fprintf(out, "%-20s %8s %10s %7s %5s  %s\n", "sink", "pending", "delivered", "failed", "dead",
            "receiver / last error");
    size_t i;
    json_t *s;
    json_array_foreach(list, i, s)
    {
        json_t *st = json_object_get(s, "state");
        const char *name = json_string_value(json_object_get(s, "name"));
        if (!json_is_object(st)) {
            fprintf(out, "%-20s %8lld %10s %7s %5s\n", name ? name : "?", num(s, "pending"), "-",
                    "-", "-");
            continue;
        }
        const char *err = json_string_value(json_object_get(st, "last_error"));
        fprintf(out, "%-20s %8lld %10lld %7lld %5lld  %s %s%s%s\n", name ? name : "?",
                num(s, "pending"), num(st, "delivered"), num(st, "failed_posts"),
                num(st, "dead_letters"), str_or(json_object_get(st, "type"), "?"),
                str_or(json_object_get(st, "receiver"), "?"), err ? "; last error: " : "",
                err ? err : "");
    }
    if (json_array_size(list) == 0)
        fprintf(out, "no sinks\n");
    json_decref(doc);
    return LH_EXIT_OK;
}

int
lh_cli_sinks(int argc, char **argv)
{
    return lh_cli_ask_hub(CMD, usage_text, "/v1/sinks", print_text, argc, argv);
}
