/*
 * notify_body.h - the bodies the notification sinks post (adapters/notify/): one correlated
 * alert as each receiver's API documents its input. Pure functions of the alert and the sink's
 * settings (no I/O, no clock but the one passed in), so each is tested against the receiver's
 * schema on its own.
 */
#ifndef LOOPHUB_NOTIFY_BODY_H
#define LOOPHUB_NOTIFY_BODY_H

#include <stddef.h>
#include <stdint.h>

#include "loophub/buf.h"
#include "loophub/correlated.h"

typedef enum {
    LH_NOTIFY_WEBHOOK = 0,      /* the alert as loophub JSON, or a CloudEvent (cloudevents) */
    LH_NOTIFY_ALERTMANAGER = 1, /* POST /api/v2/alerts: an array of one postable alert */
    LH_NOTIFY_SLACK = 2,        /* a Slack incoming webhook: Block Kit message */
    LH_NOTIFY_PAGERDUTY = 3,    /* PagerDuty Events API v2: POST /v2/enqueue (an alert event) */
} lh_notify_kind_t;

/* "webhook", "alertmanager", "slack", "pagerduty"; parse returns 0 or LH_EINVAL. */
const char *lh_notify_kind_name(lh_notify_kind_t k);
int lh_notify_kind_parse(const char *s, lh_notify_kind_t *out);

typedef struct lh_notify_body_opts {
    const char *hub_url;    /* the hub's base URL for links ("http://hub:7780"), or NULL: none */
    int cloudevents;        /* webhook: a structured CloudEvent instead of loophub JSON */
    const char *const *labels; /* alertmanager: static "name=value" labels added */
    size_t n_labels;
    const char *routing_key; /* pagerduty: the integration's routing key (required there) */
    int64_t now_ns;          /* the time of the post */
    int64_t resend_ns;       /* alertmanager: endsAt = now + 4 x resend of an open alert */
} lh_notify_body_opts_t;

/* Appends the body of kind for alert ca to out (out is not reset). Returns 0, LH_EINVAL (with
 * why: a setting the kind needs is missing, e.g. no routing key) or LH_ENOMEM. */
int lh_notify_body(lh_notify_kind_t kind, const lh_correlated_t *ca,
                   const lh_notify_body_opts_t *o, lh_buf_t *out, char *why, size_t whylen);

/* The Content-Type of kind's body ("application/json", "application/cloudevents+json"). */
const char *lh_notify_content_type(lh_notify_kind_t kind, int cloudevents);

#endif
