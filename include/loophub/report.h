/*
 * report.h - what a report request over the timeline store says (DESIGN §5 `loophub deployed`,
 * `loophub audit`; GET /v1/deployed, /v1/audit): the report, its filters, and one parser the
 * command line and the HTTP API share, so the same words mean the same request on both.
 *
 * Three reports:
 *  - deployed: the version running per service, environment and host at a moment (now, or a
 *    time in the past), when and by whom it got there and from which change;
 *  - audit: every change of a period, who made it, what (service, from and to version, commit,
 *    artifact), where (environment, hosts), when (started, finished, status), its tickets and
 *    whether one approved it before it started;
 *  - dora: the DORA figures of a period (deployment frequency, change lead time, change failure
 *    rate, failed deployment recovery time, incident time to restore, rework rate), each with
 *    its sample and its performance band, per group (service or a label) and per day or week
 *    (docs/dora.md).
 *
 * A request is plain data owned by the caller; its strings are only read, during the call that
 * takes it (lh_hub_report() in hub.h, or the core's query module over a store opened read-only).
 */
#ifndef LOOPHUB_REPORT_H
#define LOOPHUB_REPORT_H

#include <stddef.h>
#include <stdint.h>

typedef enum {
    LH_REPORT_NONE = 0,
    LH_REPORT_DEPLOYED = 1,
    LH_REPORT_AUDIT = 2,
    LH_REPORT_DORA = 3,
} lh_report_kind_t;

typedef enum {
    LH_REPORT_EVERY_NONE = 0,
    LH_REPORT_EVERY_DAY = 1,  /* UTC days */
    LH_REPORT_EVERY_WEEK = 2, /* UTC weeks from Monday 00:00 */
} lh_report_every_t;

typedef struct lh_report_req {
    lh_report_kind_t kind;
    const char *service;     /* only this service (NULL: every one) */
    const char *environment; /* only this environment (NULL: every one) */
    const char *host;        /* deployed: only this host */
    const char *actor;       /* audit: only changes by this actor */
    int64_t at_ns;           /* deployed: the moment (ns since the epoch; 0: now - at_ago_ns) */
    int64_t at_ago_ns;       /* deployed: the moment, this long before now (default 0: now) */
    int64_t from_ns;         /* audit: the period starts at this time (0: now - since_ns) */
    int64_t since_ns;        /* audit, dora: the period starts this long before now (default
                              * 7d for audit, 30d for dora) */
    int64_t until_ns;        /* audit: the period ends at this time, inclusive (0: now - ago) */
    int64_t until_ago_ns;    /* audit: the period ends this long before now (default 0) */
    int unapproved;          /* audit: only changes not approved before they started */
    const char *by;          /* dora: NULL (all together), "service", or "label:NAME" */
    lh_report_every_t every; /* dora: a trend row per day or week of the period */
    int min_severity;        /* dora: incidents below this lh_severity_t do not count (default
                              * LH_SEV_ERROR; an incident without a severity always counts) */
    int64_t limit;           /* audit: the newest changes shown (default 200; 0: all) */
    int64_t now_ns;          /* 0: the wall clock */
    const char *store_name;  /* how the store is named in text; NULL: none */
} lh_report_req_t;

/* Fills the defaults above for kind. */
void lh_report_req_default(lh_report_req_t *r, lh_report_kind_t kind);

/* Sets one parameter of r by its name, as `loophub <report> --NAME VALUE` and
 * GET /v1/<report>?NAME=VALUE spell it: service, env (or environment), host and at for deployed;
 * service, env, actor, since, until, unapproved (VALUE NULL, "", "1", "true", "yes": on; "0",
 * "false", "no": off) and limit for audit; service, env, since, until, by (service, label:NAME),
 * every (day, week) and min_severity (info, warning, error, critical) for dora. Times are a duration back from now (90s, 30m, 2h, 7d)
 * or an RFC 3339 time. value is kept by pointer, not copied. Returns 0, or LH_EINVAL with a
 * one-line reason in err (an unknown name for this report, an empty or bad value). */
int lh_report_req_set(lh_report_req_t *r, const char *name, const char *value, char *err,
                      size_t errlen);

/* The period of an audit request at now_ns (0: r->now_ns, else the wall clock): *from and *to,
 * both inclusive; and for deployed, *to the moment (from = to). Returns 0, or LH_EINVAL when the
 * period ends before it starts. */
int lh_report_period(const lh_report_req_t *r, int64_t now_ns, int64_t *from, int64_t *to);

#endif
