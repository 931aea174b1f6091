/*
 * ithub.h - what the integration suites share: the real `loophub run` binary on free loopback
 * ports with a store in a temporary dir (started, waited for, stopped with SIGTERM), and a SUB
 * socket of the test's own on the hub's alert endpoint.
 *
 * Every helper fails the running test (ck_abort) rather than returning an error the caller could
 * forget to check; a failed start or unclean stop names the hub's log.
 */
#ifndef LOOPHUB_ITHUB_H
#define LOOPHUB_ITHUB_H

#include <stddef.h>
#include <sys/types.h>

#include "loophub/correlated.h"

/* One hub under test. Everything but the readiness condition is set by lh_it_hub_init(). */
typedef struct {
    char *dir;                 /* the temporary dir: store, log, anything else a test writes */
    char db[600];              /* <dir>/hub.db */
    char log[600];             /* <dir>/hub.log (the hub's stdout and stderr, appended) */
    int http_port;             /* HTTP listener on 127.0.0.1, 0 for --http off */
    char *pull, *router, *pub; /* free ZMQ endpoints, tcp://127.0.0.1:<port> */
    pid_t pid;                 /* 0 when not running */
    int dead;                  /* exited before it was ready */
    /* Ready when this returns non-zero (arg is the lh_it_hub_t); NULL: a new "hub: running" line
     * in the log. */
    int (*ready)(void *hub);
} lh_it_hub_t;

/* Fills h: a new temporary dir, the store and log paths inside it, three free ZMQ endpoints and,
 * with_http, a free HTTP port (else 0: the hub runs with --http off). Starts nothing. */
void lh_it_hub_init(lh_it_hub_t *h, int with_http);
/* Starts `loophub run` on h's store and ports plus extra (NULL-terminated options, may be NULL)
 * and waits up to 15 s until it is ready; a hub that exits or never gets ready fails the test
 * with its log. May be called again after lh_it_hub_term() (same store, same ports). */
void lh_it_hub_run(lh_it_hub_t *h, const char *const *extra);
/* lh_it_hub_init(h, with_http) then lh_it_hub_run(h, extra). */
void lh_it_hub_start(lh_it_hub_t *h, int with_http, const char *const *extra);
/* SIGTERM, waiting up to 15 s. Returns the exit status as a shell shows it (-1 on timeout, the
 * hub then SIGKILLed); h->pid is 0 after. */
int lh_it_hub_term(lh_it_hub_t *h);
/* Kills a hub still running (SIGKILL), removes the temporary dir and frees what init allocated. */
void lh_it_hub_fini(lh_it_hub_t *h);
/* lh_it_hub_term() expecting a clean exit 0 (else the test fails with the log), then
 * lh_it_hub_fini(). */
void lh_it_hub_stop(lh_it_hub_t *h);

/* One sample of the hub's GET /metrics (name{labels} exactly as written), -1 when absent. Needs
 * the hub started with_http. */
long long lh_it_metric(const lh_it_hub_t *h, const char *sample);

/* The first value of sqlite3's answer to q on h's store, read-only beside the hub (WAL), as a
 * number; fails the test when sqlite3 fails. */
long lh_it_sql_long(const lh_it_hub_t *h, const char *q);
/* Whether lh_it_sql_long(h, q) reaches at least want within timeout_ms (scaled by lh_test_ms). */
int lh_it_sql_reaches(const lh_it_hub_t *h, const char *q, long want, int timeout_ms);
/* lh_it_sql_reaches(), failing the test with the value seen and the hub's log when it does not. */
void lh_it_wait_sql(const lh_it_hub_t *h, const char *q, long want, int timeout_ms);
/* An HTTP answer: the status code and the body (malloc'd; with the headers first when asked). */
typedef struct {
    int code;
    char *body;
} lh_it_resp_t;
/* Runs curl against h's HTTP port: method on path, extra headers (NULL-terminated, may be NULL),
 * the body from a string (NULL: none), chunked when asked; with_headers puts the response headers
 * before the body. A curl that cannot run fails the test. */
lh_it_resp_t lh_it_curl(const lh_it_hub_t *h, const char *method, const char *path,
                        const char *const *headers, const char *body, int chunked,
                        int with_headers);
/* The same with the body read from a file, byte for byte (a fixture as a sender posts it). */
lh_it_resp_t lh_it_curl_file(const lh_it_hub_t *h, const char *method, const char *path,
                             const char *const *headers, const char *body_file);

/* A webhook source's fixture (tests/data/sources) with its own times moved to ago_s seconds
 * before now, so it falls in the hub's correlation window and retention: GitHub's deployment and
 * status created_at and workflow run updated_at, PagerDuty's occurred_at. Written compactly to
 * h's dir as name; returns that path (static: the next call overwrites it). */
const char *lh_it_fresh_fixture(const lh_it_hub_t *h, const char *path, const char *name,
                                int ago_s);

/* A SUB socket of the test's own, subscribed to prefix on the hub's alert endpoint ep. */
typedef struct {
    void *ctx, *sock;
} lh_it_sub_t;

void lh_it_sub_open(lh_it_sub_t *s, const char *ep, const char *prefix);
void lh_it_sub_close(lh_it_sub_t *s);
/* Receives one alert's two frames within timeout_ms: the topic into topic (NUL-terminated,
 * truncated to tlen - 1), the payload malloc'd and NUL-terminated with *len set. NULL on timeout;
 * a message of other than two frames fails the test. */
char *lh_it_sub_recv_raw(lh_it_sub_t *s, char *topic, size_t tlen, size_t *len, int timeout_ms);
/* One protobuf alert (the hub's default encoding) within timeout_ms, decoded (the caller
 * destroys it), or NULL on timeout. A payload that does not decode fails the test. */
lh_correlated_t *lh_it_sub_recv_pb(lh_it_sub_t *s, char *topic, size_t tlen, int timeout_ms);

#endif
