/*
 * notify.h - the notification sinks (adapters/notify/): each correlated alert posted over HTTP to
 * a receiver people already look at (Alertmanager, Slack, PagerDuty, any webhook), with libcurl's
 * multi interface on the hub's reactor. One sink per [sinks] line; each is an output adapter of
 * its own, with its own done marks in the store ("notify-<name>"), so one sink down never holds
 * back another or the intake.
 */
#ifndef LOOPHUB_NOTIFY_H
#define LOOPHUB_NOTIFY_H

#include <stddef.h>
#include <stdint.h>

#include "loophub/adapter.h"
#include "loophub/registry.h"
#include "notify_body.h"

/* The settings of the whole definition, filled by the registry from notify_def.c's map. */
typedef struct lh_notify_settings {
    lh_strlist_t sinks; /* "NAME=TYPE URL [KEY=VALUE ...]" */
    char *hub_url;      /* links in the messages */
    int64_t queue;      /* alerts a sink holds (in flight, waiting for a retry) */
    int64_t retries;    /* attempts after the first before an alert is dead */
    int64_t timeout;    /* ns, one request */
    int64_t resend;     /* ns, Alertmanager: an open alert posted again this often */
    int64_t max_age;    /* ns, an alert older than this when first offered is not sent */
} lh_notify_settings_t;

/* One sink, parsed from its line. Strings are owned. */
typedef struct lh_notify_sink_conf {
    char *name;
    lh_notify_kind_t kind;
    char *url;             /* as posted to (Alertmanager: .../api/v2/alerts appended) */
    int cloudevents;       /* webhook: format=cloudevents */
    char *secret;          /* webhook: X-Loophub-Signature key; NULL: unsigned */
    char *routing_key;     /* pagerduty */
    char *change_url;      /* pagerduty: change events; NULL: none (changes=off) */
    char *envs, *services; /* comma-separated globs; NULL: any */
    int min_severity;      /* lh_severity_t; 0: any */
    unsigned kinds;        /* bit (1 << lh_ca_kind_t); 0: any */
    lh_strlist_t labels;   /* alertmanager: "name=value" */
    int64_t timeout;       /* ns; 0: the definition's */
} lh_notify_sink_conf_t;

/* Parses one sink line ("NAME=TYPE URL [KEY=VALUE ...]"). Returns 0, or LH_EINVAL / LH_EIO (a
 * secret file) with why naming the sink and what is wrong; c is then freed. */
int lh_notify_sink_parse(const char *line, lh_notify_sink_conf_t *c, char *why, size_t whylen);
void lh_notify_sink_conf_free(lh_notify_sink_conf_t *c);

/* 1 when the sink's routing takes alert ca (environment, service, severity, kind). */
int lh_notify_routes(const lh_notify_sink_conf_t *c, const lh_correlated_t *ca);
/* 1 when the sink's environment and service routing takes deploy event ev. */
int lh_notify_routes_change(const lh_notify_sink_conf_t *c, const lh_event_t *ev);

/* PagerDuty change events (notify_change.c): 1 for a deploy that finished (succeeded, failed,
 * rolled back); its body appended to out: 0, LH_EINVAL or LH_ENOMEM. */
int lh_notify_change_wanted(const lh_event_t *ev);
int lh_notify_change_body(const lh_event_t *ev, const char *routing_key, const char *hub_url,
                          lh_buf_t *out);

/* The sinks of one hub (their metrics are written together). Each sink holds a reference; the
 * builder drops its own with lh_notify_group_unref() once every sink is made. */
typedef struct lh_notify_group lh_notify_group_t;
lh_notify_group_t *lh_notify_group_new(void); /* one reference, the builder's */
void lh_notify_group_unref(lh_notify_group_t *g);

/* A sink adapter for c in group g (the sink takes ownership of c's contents, c is zeroed) with
 * the definition's limits s. Returns 0 with *ops and *ctx, or LH_ENOMEM. */
int lh_notify_sink_new(lh_notify_group_t *g, lh_notify_sink_conf_t *c,
                       const lh_notify_settings_t *s, const lh_adapter_ops_t **ops, void **ctx);

/* "X-Loophub-Signature: sha256=<hex>" of body with secret, into out (at least 90 bytes). */
void lh_notify_signature(const char *secret, const void *body, size_t len, char *out,
                         size_t outlen);

#endif
