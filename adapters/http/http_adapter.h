/*
 * http_adapter.h - loophub's HTTP API (libmicrohttpd), run inside the hub's reactor thread.
 *
 * Endpoints (README.md, HTTP):
 *   POST /v1/events        loophub JSON, CloudEvents structured (one, an array, or
 *                          application/cloudevents-batch+json), CloudEvents binary mode (ce-*
 *                          headers, the body is the event data), protobuf (application/protobuf)
 *   POST /v1/alertmanager  Prometheus Alertmanager webhook notifications (version 4)
 *   GET  /healthz          liveness: 200 {"status":"ok"|"degraded"|"starting"[,"reasons":[..]]}
 *   GET  /readyz           readiness: the same body, 200 only when ok, else 503
 *   GET  /metrics          the hub's counters in Prometheus text format
 *   GET  /v1/timeline      a timeline document (hub.h, lh_hub_timeline)
 *
 * Writes are answered after the SQLite commit: 202 {"accepted":[ids],"duplicates":[ids]} when
 * every event was stored or already known; 400 {"error":...,"rejected":[{"index","id","reason"}],
 * "accepted":[...],"duplicates":[...]} when any was rejected (the others are stored all the
 * same); 401 without the write token (when one is set), 403 with the read token, 404, 405, 413
 * over the body limit (lh_limits_t.max_payload), 415 for an unsupported content type (both
 * counted and quarantined like any rejection, with the first --quarantine-sample bytes of the
 * body, lh_hub_opts_t.quarantine_sample), 503 while the store cannot commit (Retry-After) or while
 * shutting down.
 *
 * Tokens: with a write token every POST needs "Authorization: Bearer <write token>"; with a read
 * token every GET but /healthz and /readyz (so /metrics and /v1/timeline too) needs the read
 * token. The two are separate: neither opens the other's endpoints. With a write token and no
 * read token, the write token guards the reads as well (a hub with a token never serves its
 * timeline to anyone without one).
 *
 * Limits: at most LH_HTTP_MAX_CONNECTIONS connections, per_address of them from one client
 * address; a request's headers must be in within header_timeout of the connection (or of the
 * previous answer on a kept-alive one) and its body within body_timeout of the headers, however
 * the bytes trickle in (libmicrohttpd's own timeout, LH_HTTP_TIMEOUT_S, only closes idle ones);
 * request headers are bounded by libmicrohttpd's memory pool, bodies by max_payload (past it the
 * rest is read and dropped, never held). Near the cap the connections waiting longest (1 s at
 * least) for their headers are closed to keep a few places free. A client cannot block the hub:
 * every socket operation is non-blocking.
 */
#ifndef LOOPHUB_HTTP_ADAPTER_H
#define LOOPHUB_HTTP_ADAPTER_H

#include <stdint.h>

#include "loophub/adapter.h"
#include "loophub/secret.h"

#define LH_HTTP_MAX_CONNECTIONS 256
#define LH_HTTP_TIMEOUT_S 30
/* The largest token file (bytes, the trailing newline included). */
#define LH_HTTP_TOKEN_MAX LH_SECRET_MAX
typedef struct lh_http_opts {
    const char *listen;        /* "ADDR:PORT" ("127.0.0.1:7780", "[::1]:7780", "localhost:0") */
    const char *token;         /* write token; NULL or "": writes are open */
    const char *read_token;    /* read token; NULL or "": reads are open */
    int64_t header_timeout_ns; /* headers complete within this (default 10 s) */
    int64_t body_timeout_ns;   /* body complete within this after the headers (default 30 s) */
    unsigned per_address;      /* connections from one client address (default 64) */
} lh_http_opts_t;

void lh_http_opts_default(lh_http_opts_t *o);

/* Creates the HTTP adapter from o (the strings are copied). Nothing is bound until start(),
 * which fails with LH_ETRANSPORT and logs "cannot listen on ADDR:PORT: <reason>". Returns 0
 * with *ops and *ctx for lh_hub_add_adapter(), LH_EINVAL for a malformed listen string or a
 * timeout or cap that is not positive, or LH_ENOMEM. */
int lh_http_new(const lh_http_opts_t *o, const lh_adapter_ops_t **ops, void **ctx);

/* Reads a bearer token from a file: the whole file, its trailing newline (\n or \r\n) stripped.
 * Returns 0 and a malloc'd *out; LH_EIO when the file cannot be read, LH_EINVAL when it is
 * empty, over LH_HTTP_TOKEN_MAX bytes or holds a byte a bearer token cannot have (a blank, a
 * control character, a newline inside); why gets the one-line reason naming the file. */
int lh_http_read_token_file(const char *path, char **out, char *why, size_t whylen);

#endif
