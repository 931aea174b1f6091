/*
 * http_adapter.h - loophub's HTTP API (libmicrohttpd), run inside the hub's reactor thread.
 *
 * Endpoints (README.md, HTTP):
 *   POST /v1/events        loophub JSON, CloudEvents structured (one, an array, or
 *                          application/cloudevents-batch+json), CloudEvents binary mode (ce-*
 *                          headers, the body is the event data), protobuf (application/protobuf)
 *   POST /v1/alertmanager  Prometheus Alertmanager webhook notifications (version 4)
 *   GET  /healthz          {"status":"ok"}
 *   GET  /metrics          the hub's counters in Prometheus text format
 *
 * Writes are answered after the SQLite commit: 202 {"accepted":[ids],"duplicates":[ids]} when
 * every event was stored or already known; 400 {"error":...,"rejected":[{"index","id","reason"}],
 * "accepted":[...],"duplicates":[...]} when any was rejected (the others are stored all the
 * same); 401 without the bearer token (when one is set), 404, 405, 413 over the body limit
 * (lh_limits_t.max_payload), 415 for an unsupported content type, 503 while shutting down.
 *
 * Limits: at most LH_HTTP_MAX_CONNECTIONS connections, idle/slow connections closed after
 * LH_HTTP_TIMEOUT_S seconds, request headers bounded by libmicrohttpd's memory pool, bodies by
 * max_payload. A client cannot block the hub: every socket operation is non-blocking.
 */
#ifndef LOOPHUB_HTTP_ADAPTER_H
#define LOOPHUB_HTTP_ADAPTER_H

#include "loophub/adapter.h"

#define LH_HTTP_MAX_CONNECTIONS 256
#define LH_HTTP_TIMEOUT_S 30

/* Creates the HTTP adapter. listen is "ADDR:PORT" ("127.0.0.1:7780", "[::1]:7780",
 * "localhost:0"); token, when non-NULL and non-empty, is the bearer token every POST must carry
 * (GETs stay open); it is copied. Nothing is bound until start(), which fails with LH_ETRANSPORT
 * and logs "cannot listen on ADDR:PORT: <reason>". Returns 0 with *ops and *ctx for
 * lh_hub_add_adapter(), LH_EINVAL for a malformed listen string, or LH_ENOMEM. */
int lh_http_new(const char *listen, const char *token, const lh_adapter_ops_t **ops, void **ctx);

/* Reads a bearer token from a file (first line, surrounding blanks trimmed). Returns 0 and a
 * malloc'd *out, LH_EIO when the file cannot be read (the reason is logged) or LH_EINVAL when it
 * holds no token. */
int lh_http_read_token_file(const char *path, char **out);

#endif
