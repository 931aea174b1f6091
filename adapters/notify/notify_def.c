/*
 * notify_def.c - the notification sinks' definition for the registry: the [sinks] lines (one
 * sink each, NAME = TYPE URL [KEY=VALUE ...]) and the [notify] limits every sink shares, and
 * the build step that makes one output adapter per line, registered as sink "notify-<NAME>".
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "loophub/error.h"
#include "loophub/registry.h"
#include "notify.h"

#define OFF(f) offsetof(lh_notify_settings_t, f)

/* clang-format off */
static const lh_conf_opt_t notify_opts[] = {
    {"sink", "sinks", "NAME", LH_CONF_LIST, OFF(sinks), NULL, "NAME=TYPE URL [K=V..]", "post correlated alerts to a receiver: TYPE webhook, alertmanager, slack or pagerduty; keys env, service, min_severity, kinds, timeout, format, secret_file, label, routing_key_file (repeatable; in the file: [sinks] NAME = TYPE URL ...; docs/notify.md)"},
    {"notify-hub-url", "notify", "hub_url", LH_CONF_STR, OFF(hub_url), NULL, "URL", "the hub's address as people reach it (http://loophub.internal:7780), for the links in notifications"},
    {"notify-queue", "notify", "queue", LH_CONF_INT, OFF(queue), "1000", "N", "alerts each sink holds, in flight or waiting for a retry; when full the outbox waits"},
    {"notify-retries", "notify", "retries", LH_CONF_INT, OFF(retries), "8", "N", "retries of a post that failed (timeout, 5xx, 429) before the alert is a dead letter"},
    {"notify-timeout", "notify", "timeout", LH_CONF_DUR, OFF(timeout), "10s", "DUR", "one post's time limit (a sink's timeout= overrides it)"},
    {"notify-resend", "notify", "resend", LH_CONF_DUR, OFF(resend), "1m", "DUR", "Alertmanager: how often an open alert is posted again (its endsAt is 4 times this ahead)"},
    {"notify-max-age", "notify", "max_age", LH_CONF_DUR, OFF(max_age), "1h", "DUR", "an alert older than this when a sink first sees it is not sent (a new sink does not page with history)"},
};
/* clang-format on */

static int
notify_check(const void *conf, char *why, size_t whylen)
{
    const lh_notify_settings_t *s = conf;
    for (size_t i = 0; i < s->sinks.n; i++) {
        lh_notify_sink_conf_t c;
        int rc = lh_notify_sink_parse(s->sinks.v[i], &c, why, whylen);
        if (rc < 0)
            return rc == LH_ENOMEM ? rc : LH_EINVAL;
        for (size_t k = 0; k < i; k++) {
            size_t n = strlen(c.name);
            if (!strncmp(s->sinks.v[k], c.name, n) && s->sinks.v[k][n] == '=') {
                snprintf(why, whylen, "sink %s is named twice", c.name);
                lh_notify_sink_conf_free(&c);
                return LH_EINVAL;
            }
        }
        lh_notify_sink_conf_free(&c);
    }
    if (s->hub_url && strncmp(s->hub_url, "http://", 7) && strncmp(s->hub_url, "https://", 8)) {
        snprintf(why, whylen, "--notify-hub-url '%.64s' must be an http:// or https:// URL",
                 s->hub_url);
        return LH_EINVAL;
    }
    return 0;
}

static int
notify_build(lh_hub_t *hub, const void *conf, char *why, size_t whylen)
{
    const lh_notify_settings_t *s = conf;
    if (s->sinks.n == 0)
        return 0;
    static int curl_ready;
    if (!curl_ready && curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK)
        curl_ready = 1;
    lh_notify_group_t *g = lh_notify_group_new();
    if (!g)
        return LH_ENOMEM;
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < s->sinks.n; i++) {
        lh_notify_sink_conf_t c;
        if ((rc = lh_notify_sink_parse(s->sinks.v[i], &c, why, whylen)) < 0)
            break;
        char name[64];
        snprintf(name, sizeof(name), "notify-%s", c.name);
        const lh_adapter_ops_t *ops = NULL;
        void *ctx = NULL;
        if ((rc = lh_notify_sink_new(g, &c, s, &ops, &ctx)) < 0) {
            lh_notify_sink_conf_free(&c);
            snprintf(why, whylen, "sink %s: %s", name + 7, lh_strerror(rc));
            break;
        }
        if ((rc = lh_hub_add_adapter(hub, ops, ctx, name)) < 0)
            snprintf(why, whylen, "sink %s: cannot be registered: %s", name + 7, lh_strerror(rc));
    }
    lh_notify_group_unref(g);
    return rc;
}

const lh_adapter_def_t lh_adapter_def_notify = {
    .name = "notify",
    .opts = notify_opts,
    .n_opts = sizeof(notify_opts) / sizeof(notify_opts[0]),
    .conf_size = sizeof(lh_notify_settings_t),
    .check = notify_check,
    .build = notify_build,
};
