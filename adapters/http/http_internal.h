/*
 * http_internal.h - shared between the HTTP adapter's files: the adapter state, one request's
 * state, and the routing table (http_routes.c) that http.c dispatches on.
 *
 * A route handler sees a complete request (headers and, for POST, the whole body within the
 * limit). It either answers at once (lh__http_reply*) and returns 0, or hands the body to the hub
 * with lh__http_submit*() and returns LH_PENDING: the answer is then built in done() after the
 * commit. New read-only endpoints (GET /v1/timeline, the page at /) are one table row each.
 */
#ifndef LOOPHUB_HTTP_INTERNAL_H
#define LOOPHUB_HTTP_INTERNAL_H

#include <microhttpd.h>
#include <stddef.h>

#include "loophub/adapter.h"
#include "loophub/buf.h"
#include "loophub/hub.h"

typedef struct lh__http lh__http_t;
typedef struct lh__http_req lh__http_req_t;

typedef struct lh__http_route {
    const char *method; /* "GET" (also answers HEAD) or "POST" */
    const char *path;   /* exact match */
    int write;          /* needs the write token when one is set; has a body */
    /* Optional, POST only: looks at the headers before any of the body is read. Returns 0 to go
     * on, or rejects the request (lh__http_reject(), e.g. 415) and returns 1. */
    int (*check)(lh__http_t *h, lh__http_req_t *r);
    /* The whole request is in: 0 when answered, LH_PENDING when submitted to the hub. */
    int (*handle)(lh__http_t *h, lh__http_req_t *r);
    int open;           /* a read anyone may make (health probes): no read token needed */
    const char *source; /* a webhook source's own route: its name (format.h), else NULL */
} lh__http_route_t;

typedef enum {
    LH__REQ_NEW = 0,  /* headers seen, body (if any) being received */
    LH__REQ_WAITING,  /* submitted to the hub, connection suspended until done() */
    LH__REQ_ANSWERED, /* a response is ready in code/resp */
    LH__REQ_QUEUED,   /* handed to libmicrohttpd */
} lh__req_phase_t;

struct lh__http_req {
    lh__http_t *h;
    struct MHD_Connection *conn;
    const lh__http_route_t *route;
    lh__req_phase_t phase;
    lh_buf_t body;
    size_t received; /* body bytes read, kept or not */
    unsigned reject; /* 413 or 415: only a sample of the body is kept, then quarantined */
    char why[320];   /* the rejection's reason */
    int over_limit;  /* the body went past max_payload (reject is 413) */
    int suspended;   /* MHD_suspend_connection() in effect */
    int in_hub;      /* the hub holds this request as a token: done() is still to come */
    int conn_gone;   /* libmicrohttpd is finished with the request */
    int unverified;  /* a webhook source's, let past the token for its signature to be checked */
    int hint;        /* lh_format_t for lh_hub_submit (the headers go along: ce-* binary mode) */
    unsigned code;   /* the answer */
    lh_buf_t resp;
    const char *ctype;
    const char *hdr_name; /* one extra response header (Allow, WWW-Authenticate) */
    const char *hdr_value;
    char origin[80];
    char allow[48];
    lh__http_req_t *prev, *next; /* every live request, for shutdown */
};

/* One connection, for the header and body deadlines (libmicrohttpd's own timeout is reset by
 * every byte; these are not). */
typedef enum {
    LH__CONN_HEADERS = 0, /* waiting for a request's headers (a new or kept-alive connection) */
    LH__CONN_BODY,        /* headers in, the body (or the end of the request) being received */
    LH__CONN_BUSY,        /* the request is in: with the hub or being answered (no deadline) */
} lh__conn_phase_t;

typedef struct lh__http_conn {
    int fd;
    lh__conn_phase_t phase;
    int64_t since; /* monotonic ns the phase began */
    int cut;       /* shut down past its deadline */
    struct lh__http_conn *prev, *next;
} lh__http_conn_t;

struct lh__http {
    char *listen;
    char *token;      /* write token; NULL: writes are open */
    char *read_token; /* NULL: reads are open */
    int64_t header_timeout_ns, body_timeout_ns;
    unsigned per_address;
    lh__http_conn_t *conns; /* every open connection */
    int64_t next_sweep;     /* monotonic ns of the next deadline check */
    lh_hub_t *hub;
    lh_adapter_t *self;
    struct MHD_Daemon *d;
    int listen_fd; /* ours until handed to libmicrohttpd; returned by quiesce */
    int quiesced;
    int epoll_fd;
    int stopping;
    long submitted; /* messages handed to the hub (read()'s return value) */
    lh__http_req_t *reqs;
};

/* The routing table, ended by a row with path NULL. */
extern const lh__http_route_t lh__http_routes[];

/* Answers with a body copied from body/len (ctype "application/json" when NULL). Returns 0 or
 * LH_ENOMEM. */
int lh__http_reply(lh__http_req_t *r, unsigned code, const char *ctype, const void *body,
                   size_t len);
/* Answers {"error":"<msg>"} with code. Returns 0 or LH_ENOMEM. */
int lh__http_reply_error(lh__http_req_t *r, unsigned code, const char *msg);

/* Rejects the request with code (413, 415) and the reason msg: the body is still read, its first
 * --quarantine-sample bytes kept, and once it is in the request is counted and quarantined
 * by the hub like any rejection and answered {"error":msg} with code. */
void lh__http_reject(lh__http_req_t *r, unsigned code, const char *msg);

/* A request header's value, or NULL. */
const char *lh__http_header(const lh__http_req_t *r, const char *name);

/* Builds the answer to a write from the hub's verdicts (202 or 400). Returns 0 or LH_ENOMEM. */
int lh__http_reply_acks(lh__http_req_t *r, const lh_ack_t *acks, size_t n);

#endif
