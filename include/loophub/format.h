/*
 * format.h - payloads in and out: protobuf, loophub JSON, CloudEvents/CDEvents, Alertmanager.
 *
 * Decoding: lh_codec_decode() takes one message as it arrived on any transport, detects its
 * format (unless hinted) and reports every event it holds through the sink callback: one call
 * per event, accepted (ev != NULL, ownership passes to the sink) or rejected (ev == NULL, why
 * says why in one line naming the field, id is the event id when it could be read). A payload
 * can hold several events (a JSON array, a CloudEvents batch, an Alertmanager notification).
 * Decoding checks syntax and types; the model's rules (ids, times, sizes) are checked
 * afterwards by lh_event_validate().
 *
 * Detection: first non-blank byte '{' or '[' means JSON, anything else protobuf. A JSON object
 * with "specversion" (or a CDEvents "context") is CloudEvents, with "alerts" and "version" an
 * Alertmanager notification, otherwise loophub's own JSON form (README.md, Formats).
 *
 * Encoding writes into a caller's lh_buf_t (appending), so a buffer is reused across events.
 */
#ifndef LOOPHUB_FORMAT_H
#define LOOPHUB_FORMAT_H

#include <stddef.h>
#include <stdint.h>

#include "loophub/buf.h"
#include "loophub/correlated.h"
#include "loophub/event.h"

typedef enum {
    LH_FMT_AUTO = 0,
    LH_FMT_PROTOBUF = 1,
    LH_FMT_JSON = 2,         /* loophub's own JSON form */
    LH_FMT_CLOUDEVENTS = 3,  /* CloudEvents 1.0 JSON (structured), CDEvents data */
    LH_FMT_ALERTMANAGER = 4, /* Prometheus Alertmanager webhook, version 4 */
    /* the webhook senders read natively (lh_source_id_t below, docs/sources.md): the format of
     * source s is LH_FMT_GITHUB + s */
    LH_FMT_GITHUB = 5,
    LH_FMT_GITLAB = 6,
    LH_FMT_GRAFANA = 7,
    LH_FMT_PAGERDUTY = 8,
    LH_FMT_JIRA = 9,
    LH_FMT_FLUX = 10,
    LH_FMT_TEKTON = 11,
} lh_format_t;

const char *lh_format_name(lh_format_t f);

/* A header of a message, or an attribute: name/value pairs (value_len bytes; a NULL value for a
 * header without one). */
typedef struct lh_kv {
    const char *key;
    const char *value;
    size_t value_len;
} lh_kv_t;

/* --- webhook sources ---------------------------------------------------------------------------
 * Senders whose own webhooks the hub reads with no glue in between. A request is told to be a
 * source's by its headers (X-GitHub-Event, X-Gitlab-Event, X-PagerDuty-Signature,
 * X-Atlassian-Webhook-Identifier, a ce-type of Tekton's), by its shape (Grafana, Flux, and the
 * others' bodies when a proxy dropped the headers), or by the route it came to
 * (POST /v1/sources/<name>, the hint LH_FMT_GITHUB + id). With a secret set for a source, a
 * payload of it is taken only when its signature (or token) matches, and rejected with
 * LH_EAUTH otherwise (never stored, not even in the quarantine). Payloads a source sends that
 * say nothing loophub records (a GitHub ping, a Jira comment) are reported as LH_IGNORED with a
 * reason. Redeliveries get the id of the first delivery (the sender's delivery id), so the store
 * dedupes them. */
typedef enum {
    LH_SRC_NONE = -1,
    LH_SRC_GITHUB = 0,
    LH_SRC_GITLAB,
    LH_SRC_GRAFANA,
    LH_SRC_PAGERDUTY,
    LH_SRC_JIRA,
    LH_SRC_FLUX,
    LH_SRC_TEKTON,
    LH_SRC_COUNT
} lh_source_id_t;

typedef struct lh_source_info {
    const char *name;     /* "github": the route /v1/sources/<name>, the section [source.<name>] */
    const char *title;    /* "GitHub" */
    const char *detect;   /* how a request is told to be its, for people */
    const char *auth;     /* what a secret checks, for people */
    const char *delivery; /* the header holding the delivery id (dedupe), NULL: from the body */
} lh_source_info_t;

/* The table's row of source id (NULL out of range), the id of a name (LH_SRC_NONE: none). */
const lh_source_info_t *lh_source_info(int id);
int lh_source_by_name(const char *name);
/* The source the headers name (an event header of its own, a Tekton ce-type), else LH_SRC_NONE. */
int lh_source_of_headers(const lh_kv_t *headers, size_t n);

/* Each source's settings ([source.<name>] in the config; docs/sources.md). Strings are borrowed
 * and must outlive the decoding; NULL is the default named. */
typedef struct lh_sources_conf {
    const char *secret[LH_SRC_COUNT]; /* the shared secret or token; NULL: no check */
    unsigned char off[LH_SRC_COUNT];  /* 1: the source's payloads are refused */
    const char *default_env;          /* for events whose source names none: "production" */
    const char *github_service;       /* "name" (repository name, default) or "full_name" */
    const char *github_workflows;     /* globs (comma-separated) of workflows whose completed runs
                                         are deploys; NULL: workflow runs are ignored */
    const char *gitlab_service;       /* "name" (default) or "path" (path_with_namespace) */
    const char *pagerduty_services;   /* "PID=name,PID2=name2": PagerDuty service ids to names */
    const char *jira_change_types;    /* issue types that are change tickets: "Change" */
    const char *jira_approved;        /* statuses that approve: "Approved" */
    const char *jira_rejected;        /* statuses that reject: "Rejected,Declined" */
    const char *jira_deploy_field;    /* field holding the deploy id the ticket is for: none */
    const char *jira_service_field;   /* field holding the service: none (the project key) */
    const char *tekton_pipelines;     /* globs of pipelines that deploy: "*deploy*" */
} lh_sources_conf_t;

/* Options the decoders need; lh_codec_opts_default() fills the embedded defaults. */
typedef struct lh_codec_opts {
    const lh_limits_t *limits; /* NULL: defaults */
    /* Alertmanager label names */
    const char *am_service_label;  /* default "service" */
    const char *am_env_labels[4];  /* default "env", "environment" */
    const char *am_severity_label; /* default "severity" */
    lh_sources_conf_t src;         /* the webhook sources' settings */
} lh_codec_opts_t;

void lh_codec_opts_default(lh_codec_opts_t *o);

/* Receives each decoded event (ev, owned by the sink from now on) or rejection (ev == NULL,
 * err < 0, why set; id may be NULL). Return 0 to go on, non-zero to stop decoding. */
typedef int (*lh_decode_sink_fn)(lh_event_t *ev, int err, const char *id, const char *why,
                                 void *arg);

/* Decodes one message. Returns the number of sink calls made (>= 1: a payload that cannot be
 * read at all is one rejection), or LH_ENOMEM. Never returns without telling the sink why. */
int lh_codec_decode(const void *buf, size_t len, lh_format_t hint, const lh_codec_opts_t *o,
                    lh_decode_sink_fn sink, void *arg);

/* Convenience for a payload that must hold exactly one event: returns 0 and *out, or a negative
 * LH_E* with why filled. */
int lh_codec_decode_one(const void *buf, size_t len, lh_format_t hint, const lh_codec_opts_t *o,
                        lh_event_t **out, char *why, size_t whylen);

/* CloudEvents binary mode, once the attributes are known: they come as name/value pairs (names
 * without the "ce_"/"ce-" prefix, any case; "content-type" as is), the data is the event data (a
 * CDEvent's JSON). Reports one event or rejection through sink. Transports go through
 * lh_codec_decode_msg() below, which picks the attributes out of their headers. */
int lh_codec_decode_ce_binary(const lh_kv_t *attrs, size_t n_attrs, const void *data, size_t len,
                              const lh_codec_opts_t *o, lh_decode_sink_fn sink, void *arg);

/* The one entry point for a message as a transport delivered it: its bytes and, when the
 * transport has them, its headers (HTTP request headers, Kafka message headers; NULL/0 for none;
 * names as they came, values value_len bytes, a NULL value for a header without one). The hub
 * calls it for every lh_hub_submit(); an adapter never decodes.
 *
 * CloudEvents binary mode, the same rule for HTTP and Kafka: with hint LH_FMT_AUTO or
 * LH_FMT_CLOUDEVENTS, a "ce-specversion" (HTTP) or "ce_specversion" (Kafka) header - names
 * case-insensitive - makes the message binary mode, unless a content-type header names a
 * structured CloudEvent (application/cloudevents+json, application/cloudevents-batch+json: the
 * bytes are the whole CloudEvent then). In binary mode every "ce-<name>" / "ce_<name>" header is
 * attribute <name>, content-type is datacontenttype, other headers are ignored, and the bytes are
 * the data: as lh_codec_decode_ce_binary(). Otherwise the headers are ignored and this is
 * lh_codec_decode(buf, len, hint, ...). Returns as lh_codec_decode(). */
int lh_codec_decode_msg(const void *buf, size_t len, lh_format_t hint, const lh_kv_t *headers,
                        size_t n_headers, const lh_codec_opts_t *o, lh_decode_sink_fn sink,
                        void *arg);
/* As lh_codec_decode_msg(), and *source (when not NULL) is the webhook source that read the
 * message, LH_SRC_NONE when none did: the hub counts each source's verdicts. */
int lh_codec_decode_src(const void *buf, size_t len, lh_format_t hint, const lh_kv_t *headers,
                        size_t n_headers, const lh_codec_opts_t *o, lh_decode_sink_fn sink,
                        void *arg, int *source);

/* Protobuf (loophub.v1.Event). decode: 0 and *out, or LH_EDECODE with why. */
int lh_codec_pb_decode(const void *buf, size_t len, lh_event_t **out, char *why, size_t whylen);
int lh_codec_pb_encode(const lh_event_t *ev, lh_buf_t *out);

/* loophub JSON (one object). decode: 0 and *out, or LH_EDECODE with why (with the line/column
 * of a syntax error, or the field of a type error). encode: one line, no trailing newline. */
int lh_codec_json_decode(const char *buf, size_t len, lh_event_t **out, char *why, size_t whylen);
int lh_codec_json_encode(const lh_event_t *ev, lh_buf_t *out);

/* Correlated alerts: protobuf (the outbox format and the default on PUB), loophub JSON. */
int lh_codec_alert_pb_encode(const lh_correlated_t *ca, lh_buf_t *out);
int lh_codec_alert_pb_decode(const void *buf, size_t len, lh_correlated_t **out);
int lh_codec_alert_json_encode(const lh_correlated_t *ca, lh_buf_t *out);
int lh_codec_alert_json_decode(const char *buf, size_t len, lh_correlated_t **out);

/* Alert encodings a subscriber can choose. */
typedef enum {
    LH_ALERTS_PROTOBUF = 0,
    LH_ALERTS_JSON = 1,
    LH_ALERTS_CLOUDEVENTS = 2,
} lh_alerts_format_t;
int lh_alerts_format_parse(const char *s, lh_alerts_format_t *out);
int lh_codec_alert_encode(const lh_correlated_t *ca, lh_alerts_format_t f, lh_buf_t *out);

#endif
