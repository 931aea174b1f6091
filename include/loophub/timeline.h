/*
 * timeline.h - what a postmortem timeline request says (DESIGN §3 "change-to-outcome timeline",
 * §5 `loophub timeline`, GET /v1/timeline): the selector, its arguments, and the document format.
 *
 * A request is plain data owned by the caller; the strings it points to are only read, and only
 * during the call that takes it (lh_hub_timeline() in hub.h, or the core's query module over a
 * store opened read-only). Nothing is cut silently: a limit caps the events shown and the
 * document then says how many were left out.
 *
 * Three selectors:
 *  - incident: one outcome, opened by an incident id, the id of any of its events, or its
 *    correlated alert's id: its events (all states, time order), each suspect with its change
 *    events, details and tickets, the other alerts on the service and its hosts in the window,
 *    every revision of the correlated alert as published, and the resolution;
 *  - deploy: the change (all events of one deploy_id), its outcomes, linked tickets and the
 *    change's outcome class (pending, healthy, suspect, failed, rolled_back);
 *  - service: every event of one service and environment in a period (from a moment, until
 *    another: each a duration back from now or an RFC 3339 time), with the correlated alerts of
 *    those outcomes.
 *
 * A limit keeps the newest events and says how many older ones it left out.
 */
#ifndef LOOPHUB_TIMELINE_H
#define LOOPHUB_TIMELINE_H

#include <stdint.h>

typedef enum {
    LH_TIMELINE_NONE = 0,
    LH_TIMELINE_INCIDENT = 1,
    LH_TIMELINE_DEPLOY = 2,
    LH_TIMELINE_SERVICE = 3,
} lh_timeline_mode_t;

typedef enum {
    LH_QUERY_TEXT = 0, /* aligned human lines, ending with a newline */
    LH_QUERY_JSON = 1, /* one JSON document, compact, no trailing newline */
    LH_QUERY_MD = 2,   /* Markdown for a postmortem document: a summary, lists, tables */
    LH_QUERY_HTML = 3, /* one standalone HTML page (inline CSS and SVG, no script) */
    LH_QUERY_PAGE = 4, /* the hub's web page: HTML with the links and forms of GET / */
} lh_query_format_t;

/* "text", "json", "md", "html", "page" (a static string). The parser takes the first four
 * (the page is the HTTP server's) and returns 0 and *out, or LH_EINVAL. */
const char *lh_query_format_name(lh_query_format_t f);
int lh_query_format_parse(const char *s, lh_query_format_t *out);

typedef struct lh_timeline_req {
    lh_timeline_mode_t mode;
    const char *incident_id; /* LH_TIMELINE_INCIDENT */
    const char *deploy_id;   /* LH_TIMELINE_DEPLOY */
    const char *service;     /* LH_TIMELINE_SERVICE, with environment */
    const char *environment;
    int64_t since_ns;       /* service: the period starts this long before now (default 24h) */
    int64_t from_ns;        /* service: the period starts at this time instead (ns since the
                             * epoch; 0: now - since_ns) */
    int64_t until_ns;       /* service: the period ends at this time, inclusive (ns since the
                             * epoch; 0: now - until_ago_ns) */
    int64_t until_ago_ns;   /* service: the period ends this long before now (default 0: now) */
    int64_t window_ns;      /* the correlation window (default 2h; a hub's own timeline uses the
                             * hub's window instead): deploy, deciding "pending"; incident, how
                             * long before the outcome other alerts are shown from */
    int64_t now_ns;         /* 0: the wall clock */
    int64_t limit;          /* max events shown, the newest; 0: all */
    const char *store_name; /* how the store is named in text ("loophub.db"); NULL: none */
    int color;              /* text: ANSI colour for a terminal (classes, headings); 0: none */
} lh_timeline_req_t;

/* Fills the defaults above (mode NONE, no ids, since 24h, until now, window 2h, now 0,
 * limit 0). */
void lh_timeline_req_default(lh_timeline_req_t *r);

/* Parses a --since / --until value (since= / until= over HTTP): a duration back from now ("90s",
 * "30m", "2h", "7d": *ago_ns set, *at_ns 0) or an RFC 3339 time ("2026-11-30T10:00:00Z": *at_ns
 * set, *ago_ns 0). Returns 0, or LH_EINVAL (neither; nothing written). */
int lh_timeline_moment_parse(const char *s, int64_t *at_ns, int64_t *ago_ns);

/* The service period of r at now_ns (0: the wall clock, as r->now_ns 0 is): *from and *to,
 * both inclusive. Returns 0, or LH_EINVAL when the period ends before it starts (or r has a
 * negative duration). */
int lh_timeline_period(const lh_timeline_req_t *r, int64_t now_ns, int64_t *from, int64_t *to);

#endif
