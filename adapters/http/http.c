/*
 * http.c - the HTTP adapter: libmicrohttpd run inside the hub's reactor thread.
 *
 * libmicrohttpd runs in "external polling" epoll mode: it owns no thread, its sockets sit in one
 * epoll fd that the hub polls with everything else (pollitems()), and MHD_run() does the
 * non-blocking work when that fd is ready (read()) and every loop turn (tick(): timeouts and
 * resumed connections). The listening socket is ours (bound in start(), so a bind failure is one
 * clear line) and handed to libmicrohttpd.
 *
 * A request's life: the first call of the access handler sees the headers only; routing,
 * the tokens and a declared Content-Length over the limit are answered there, before any of the
 * body is read. The body is accumulated up to max_payload; past it (chunked uploads) or with an
 * unsupported content type only the first --quarantine-sample bytes are kept, the rest is
 * read and dropped, and once the request is in the sample goes to the hub as a rejection (counted
 * and quarantined; no done() for it) and the answer is 413 or 415. A complete write is submitted
 * to the hub with the request as token and the connection is suspended; done() (after the
 * commit) builds the answer and resumes it; the handler, called again, queues the answer. While
 * the store cannot commit the hub keeps serving this adapter (serves_while_paused) for /healthz
 * and /metrics, and writes are answered 503 with Retry-After instead of being taken.
 *
 * Deadlines: every connection is tracked from libmicrohttpd's connection notification; its
 * request headers must be in within header_timeout of the connection (or of the previous
 * request's end) and its body within body_timeout of the headers. tick() shuts down the socket
 * of a connection past its deadline (libmicrohttpd then closes it), so a client trickling a byte
 * at a time cannot hold a connection for longer; libmicrohttpd's own timeout only ends idle ones.
 *
 * Invariants: only the hub thread touches anything here. A request lives until both
 * libmicrohttpd is finished with it (conn_gone) and the hub has answered it (!in_hub); every live
 * request is on h->reqs, so destroy() can answer the suspended ones (503) and free the rest.
 * Suspended connections never time out in libmicrohttpd, but the hub answers each after its
 * batch commits; while the store is stalled they wait, which is the contract (nothing is
 * acknowledged before it is durable).
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <netdb.h>
#include <poll.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "http_adapter.h"
#include "http_internal.h"
#include "loophub/error.h"
#include "loophub/format.h"
#include "loophub/log.h"
#include "loophub/secret.h"
#include "loophub/timeutil.h"

/* How long destroy() keeps serving in-flight answers before closing the daemon. */
#define DRAIN_MS 2000
/* MHD_run() rounds per read()/tick() while libmicrohttpd reports work already pending. */
#define MAX_RUN_ROUNDS 8
/* How often tick() looks for connections past their deadline. */
#define SWEEP_MS 100
/* Places kept free near the connection cap, and how long a connection may wait for its headers
 * before it is closed to make them. */
#define CAP_RESERVE 16
#define EVICT_AFTER_MS 1000
/* Retry-After (seconds) of a write refused while the store cannot commit. */
#define PAUSED_RETRY_S "5"

/* --- requests ----------------------------------------------------------------------------- */

static lh__http_req_t *
req_new(lh__http_t *h, struct MHD_Connection *conn)
{
    lh__http_req_t *r = calloc(1, sizeof(*r));
    if (!r)
        return NULL;
    r->h = h;
    r->conn = conn;
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    char host[64] = "?", port[16] = "?";
    if (ci && ci->client_addr) {
        socklen_t len = ci->client_addr->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
                                                               : sizeof(struct sockaddr_in);
        getnameinfo(ci->client_addr, len, host, sizeof(host), port, sizeof(port),
                    NI_NUMERICHOST | NI_NUMERICSERV);
    }
    snprintf(r->origin, sizeof(r->origin), "http:%.50s:%.8s", host, port);
    r->next = h->reqs;
    if (h->reqs)
        h->reqs->prev = r;
    h->reqs = r;
    return r;
}

static void
req_free(lh__http_req_t *r)
{
    lh__http_t *h = r->h;
    if (r->prev)
        r->prev->next = r->next;
    else
        h->reqs = r->next;
    if (r->next)
        r->next->prev = r->prev;
    lh_buf_free(&r->body);
    lh_buf_free(&r->resp);
    free(r);
}

int
lh__http_reply(lh__http_req_t *r, unsigned code, const char *ctype, const void *body, size_t len)
{
    lh_buf_reset(&r->resp);
    r->code = code;
    r->ctype = ctype ? ctype : "application/json";
    r->phase = LH__REQ_ANSWERED;
    return lh_buf_append(&r->resp, body, len);
}

int
lh__http_reply_error(lh__http_req_t *r, unsigned code, const char *msg)
{
    json_t *o = json_pack("{s:s}", "error", msg);
    if (!o) /* msg quoted something that is not UTF-8 */
        o = json_pack("{s:s}", "error", "the request cannot be processed (invalid UTF-8)");
    char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    int rc;
    if (text)
        rc = lh__http_reply(r, code, NULL, text, strlen(text));
    else
        rc = lh__http_reply(r, MHD_HTTP_INTERNAL_SERVER_ERROR, NULL, "{}", 2);
    free(text);
    return rc;
}

void
lh__http_reject(lh__http_req_t *r, unsigned code, const char *msg)
{
    r->reject = code;
    snprintf(r->why, sizeof(r->why), "%s", msg);
}

const char *
lh__http_header(const lh__http_req_t *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

/* Hands the answer in r to libmicrohttpd. */
static enum MHD_Result
queue(lh__http_t *h, lh__http_req_t *r)
{
    struct MHD_Response *resp = MHD_create_response_from_buffer(
        r->resp.len, r->resp.len ? r->resp.data : (void *)"", MHD_RESPMEM_MUST_COPY);
    if (!resp)
        return MHD_NO;
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, r->ctype);
    if (r->hdr_name)
        MHD_add_response_header(resp, r->hdr_name, r->hdr_value);
    if (h->stopping)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
    enum MHD_Result ok = MHD_queue_response(r->conn, r->code, resp);
    MHD_destroy_response(resp);
    r->phase = LH__REQ_QUEUED;
    lh_hub_count_http_response(h->hub, r->code);
    return ok;
}

/* --- routing and the request state machine ------------------------------------------------ */

/* Finds the route for method and url; sets *path_known when some route has this path. */
static const lh__http_route_t *
route_find(const char *method, const char *url, int *path_known)
{
    *path_known = 0;
    for (const lh__http_route_t *rt = lh__http_routes; rt->path; rt++) {
        if (strcmp(rt->path, url) != 0)
            continue;
        *path_known = 1;
        if (strcmp(rt->method, method) == 0 ||
            (strcmp(rt->method, "GET") == 0 && strcmp(method, "HEAD") == 0))
            return rt;
    }
    return NULL;
}

static void
reply_not_routed(lh__http_req_t *r, const char *method, const char *url, int path_known)
{
    char msg[256];
    if (!path_known) {
        snprintf(msg, sizeof(msg), "no such endpoint: %.100s", url);
        lh__http_reply_error(r, MHD_HTTP_NOT_FOUND, msg);
        return;
    }
    char *allow = r->allow;
    allow[0] = 0;
    for (const lh__http_route_t *rt = lh__http_routes; rt->path; rt++) {
        if (strcmp(rt->path, url) != 0)
            continue;
        size_t n = strlen(allow);
        snprintf(allow + n, sizeof(r->allow) - n, "%s%s%s", n ? ", " : "", rt->method,
                 strcmp(rt->method, "GET") == 0 ? ", HEAD" : "");
    }
    snprintf(msg, sizeof(msg), "method %.16s not allowed on %.80s (allowed: %s)", method, url,
             allow);
    lh__http_reply_error(r, MHD_HTTP_METHOD_NOT_ALLOWED, msg);
    r->hdr_name = MHD_HTTP_HEADER_ALLOW;
    r->hdr_value = allow;
}

/* Constant-time comparison of the Authorization header with "Bearer <token>"; 1 when token is
 * NULL (nothing to check). */
static int
auth_ok(const char *token, const lh__http_req_t *r)
{
    if (!token)
        return 1;
    const char *v = lh__http_header(r, MHD_HTTP_HEADER_AUTHORIZATION);
    if (!v || strncasecmp(v, "Bearer ", 7) != 0)
        return 0;
    v += 7;
    while (*v == ' ')
        v++;
    size_t n = strlen(v), m = strlen(token);
    while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t'))
        n--;
    unsigned char diff = (unsigned char)(n != m);
    for (size_t i = 0; i < m; i++)
        diff |= (unsigned char)(token[i] ^ (i < n ? v[i] : 0));
    return diff == 0;
}

#define SOURCE_HEADERS 64 /* request headers looked at for a webhook source's own */

static void
reply_unauthorized(lh__http_req_t *r, const char *msg)
{
    lh__http_reply_error(r, MHD_HTTP_UNAUTHORIZED, msg);
    r->hdr_name = MHD_HTTP_HEADER_WWW_AUTHENTICATE;
    r->hdr_value = "Bearer realm=\"loophub\"";
}

static void
reply_paused(lh__http_req_t *r)
{
    lh__http_reply_error(r, MHD_HTTP_SERVICE_UNAVAILABLE,
                         "the store cannot commit now (see /healthz); nothing was taken, retry "
                         "later");
    r->hdr_name = MHD_HTTP_HEADER_RETRY_AFTER;
    r->hdr_value = PAUSED_RETRY_S;
}

/* Hands a rejected body's sample to the hub: counted and quarantined with the reason when its
 * batch commits, no done() (the answer does not wait for it). Not while the store cannot commit:
 * the batch in hand must not grow then. */
static void
quarantine(lh__http_t *h, lh__http_req_t *r)
{
    if (r->unverified) /* nobody vouched for these bytes: a stranger's must not be kept */
        return;
    if (lh_hub_intake_paused(h->hub)) {
        lh_log(LH_LOG_DEBUG, "http", "%s: not quarantined while the store cannot commit: %s",
               r->origin, r->why);
        return;
    }
    lh_submit_t s = {.from = h->self,
                     .origin = r->origin,
                     .data = r->body.data,
                     .len = r->body.len,
                     .reject = r->why,
                     .reject_err = r->reject == MHD_HTTP_CONTENT_TOO_LARGE ? LH_ETOOBIG : 0};
    h->submitted++;
    if (lh_hub_submit(h->hub, &s) < 0)
        lh_log(LH_LOG_WARN, "http", "%s: cannot quarantine: %s", r->origin, r->why);
}

/* The connection's deadline state (NULL when it could not be tracked). */
static lh__http_conn_t *
conn_of(struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return ci ? ci->socket_context : NULL;
}

static void
conn_phase(struct MHD_Connection *conn, lh__conn_phase_t phase)
{
    lh__http_conn_t *c = conn ? conn_of(conn) : NULL;
    if (c && c->phase != phase) {
        c->phase = phase;
        c->since = lh_mono_ns();
    }
}

static enum MHD_Result
take_header(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
    (void)kind;
    lh_kv_t *kv = cls; /* kv[0].value_len counts the entries, the rest follow */
    size_t n = kv[0].value_len;
    if (key && n < SOURCE_HEADERS) {
        kv[n + 1] = (lh_kv_t){key, value, value ? strlen(value) : 0};
        kv[0].value_len = n + 1;
    }
    return MHD_YES;
}

/* The webhook source a write request is for: its route's, or the one its headers name (at
 * POST /v1/events); -1 for none. */
static int
source_of(lh__http_req_t *r)
{
    if (r->route->source)
        return lh_source_by_name(r->route->source);
    if (r->route->check == NULL || strcmp(r->route->path, "/v1/events"))
        return -1;
    lh_kv_t kv[SOURCE_HEADERS + 1] = {{NULL, NULL, 0}};
    MHD_get_connection_values(r->conn, MHD_HEADER_KIND, take_header, kv);
    return lh_source_of_headers(kv + 1, kv[0].value_len);
}

/* First call for a request: everything that can be answered from the headers alone. Returns 1
 * when r is answered. */
static int
on_headers(lh__http_t *h, lh__http_req_t *r, const char *method, const char *url)
{
    int path_known;
    r->route = route_find(method, url, &path_known);
    if (!r->route) {
        reply_not_routed(r, method, url, path_known);
        return 1;
    }
    if (h->stopping) {
        lh__http_reply_error(r, MHD_HTTP_SERVICE_UNAVAILABLE, "the hub is shutting down");
        return 1;
    }
    if (!r->route->write) {
        /* without a read token of its own a hub with a write token guards its reads with it */
        if (!r->route->open && !auth_ok(h->read_token ? h->read_token : h->token, r)) {
            reply_unauthorized(r, "this endpoint needs 'Authorization: Bearer <read token>'");
            return 1;
        }
        return 0;
    }
    /* a webhook source with a secret proves itself by its signature, which the hub checks on
     * the body (the sender cannot send our bearer token); without one, the token rules hold */
    int src = source_of(r);
    const char *secret = src >= 0 ? lh_hub_opts(h->hub)->codec.src.secret[src] : NULL;
    r->unverified = secret && *secret; /* until the hub checked the signature */
    if (!r->unverified && !auth_ok(h->token, r)) {
        if (h->read_token && auth_ok(h->read_token, r)) {
            lh__http_reply_error(r, MHD_HTTP_FORBIDDEN,
                                 "the read token cannot write: writes need the write token");
            return 1;
        }
        reply_unauthorized(r, "this endpoint needs 'Authorization: Bearer <token>'");
        return 1;
    }
    if (lh_hub_intake_paused(h->hub)) {
        reply_paused(r);
        return 1;
    }
    size_t limit = lh_hub_opts(h->hub)->limits.max_payload;
    const char *cl = lh__http_header(r, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (cl && limit) {
        char *end;
        errno = 0;
        unsigned long long v = strtoull(cl, &end, 10);
        if (errno == ERANGE || v > limit) {
            char msg[128];
            snprintf(msg, sizeof(msg), "body of %llu bytes is over the limit of %zu bytes",
                     errno == ERANGE ? ULLONG_MAX : v, limit);
            /* answered before any of it is read: quarantined without a sample */
            lh__http_reject(r, MHD_HTTP_CONTENT_TOO_LARGE, msg);
            quarantine(h, r);
            lh__http_reply_error(r, MHD_HTTP_CONTENT_TOO_LARGE, msg);
            return 1;
        }
    }
    if (r->route->check)
        r->route->check(h, r); /* a rejection (415) reads the body for its sample first */
    return 0;
}

static enum MHD_Result
on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
           const char *version, const char *upload, size_t *upload_size, void **con_cls)
{
    (void)version;
    lh__http_t *h = cls;
    lh__http_req_t *r = *con_cls;
    if (!r) {
        r = req_new(h, conn);
        if (!r)
            return MHD_NO;
        *con_cls = r;
        if (on_headers(h, r, method, url)) {
            conn_phase(conn, LH__CONN_BUSY);
            return queue(h, r); /* the body, if any, is not read: the connection closes */
        }
        conn_phase(conn, LH__CONN_BODY);
        return MHD_YES; /* the body follows, or at least the end of the request */
    }
    if (*upload_size && !r->route->write) {
        *upload_size = 0; /* a body on a read: ignored */
        return MHD_YES;
    }
    if (*upload_size) {
        size_t limit = lh_hub_opts(h->hub)->limits.max_payload;
        if (!r->reject && limit && r->received + *upload_size > limit) {
            lh__http_reject(r, MHD_HTTP_CONTENT_TOO_LARGE, "");
            r->over_limit = 1; /* the reason, with the true size, once the body is in */
        }
        size_t keep =
            r->reject ? lh_hub_opts(h->hub)->quarantine_sample : (limit ? limit : SIZE_MAX);
        if (r->body.len > keep)
            r->body.len = keep; /* from here on only the sample is kept */
        size_t take = keep - r->body.len < *upload_size ? keep - r->body.len : *upload_size;
        if (take && lh_buf_append(&r->body, upload, take) < 0)
            return MHD_NO;
        r->received += *upload_size;
        *upload_size = 0;
        return MHD_YES;
    }
    switch (r->phase) {
    case LH__REQ_NEW:
        break;
    case LH__REQ_ANSWERED: /* resumed after done() */
        return queue(h, r);
    case LH__REQ_WAITING: /* woken without an answer: keep waiting */
        if (!r->suspended) {
            MHD_suspend_connection(conn);
            r->suspended = 1;
        }
        return MHD_YES;
    case LH__REQ_QUEUED:
        return MHD_YES;
    }
    conn_phase(conn, LH__CONN_BUSY);
    if (r->over_limit)
        snprintf(r->why, sizeof(r->why), "body of %zu bytes is over the limit of %zu bytes",
                 r->received, lh_hub_opts(h->hub)->limits.max_payload);
    if (r->reject) {
        char note[96] = "";
        if (r->received > r->body.len)
            snprintf(note, sizeof(note), " (quarantined: the first %zu of %zu bytes)", r->body.len,
                     r->received);
        size_t n = strlen(r->why);
        snprintf(r->why + n, sizeof(r->why) - n, "%s", note);
        quarantine(h, r);
        lh__http_reply_error(r, r->reject, r->why);
        return queue(h, r);
    }
    if (h->stopping) { /* the hub commits nothing more: do not take what it cannot store */
        lh__http_reply_error(r, MHD_HTTP_SERVICE_UNAVAILABLE, "the hub is shutting down");
        return queue(h, r);
    }
    if (r->route->write && lh_hub_intake_paused(h->hub)) {
        reply_paused(r);
        return queue(h, r);
    }
    if (r->unverified) {
        /* let past the token for its source's secret: a reload (SIGHUP) may have taken that
         * secret away while the body came in, and then the token rules hold again */
        int src = source_of(r);
        const char *secret = src >= 0 ? lh_hub_opts(h->hub)->codec.src.secret[src] : NULL;
        if (!(secret && *secret)) {
            r->unverified = 0;
            if (!auth_ok(h->token, r)) {
                reply_unauthorized(r, "this endpoint needs 'Authorization: Bearer <token>' (the "
                                      "source's secret was taken away while the request came in)");
                return queue(h, r);
            }
        }
    }
    if (!r->route->write) {
        int rc = r->route->handle(h, r);
        if (rc < 0 && r->phase != LH__REQ_ANSWERED)
            lh__http_reply_error(r, MHD_HTTP_INTERNAL_SERVER_ERROR, lh_strerror(rc));
        return queue(h, r);
    }
    r->phase = LH__REQ_WAITING;
    int rc = r->route->handle(h, r);
    if (rc != LH_PENDING || r->phase == LH__REQ_ANSWERED) {
        if (r->phase != LH__REQ_ANSWERED)
            lh__http_reply_error(r, MHD_HTTP_INTERNAL_SERVER_ERROR, lh_strerror(rc));
        return queue(h, r); /* answered at once (the batch may have been committed already) */
    }
    MHD_suspend_connection(conn);
    r->suspended = 1;
    return MHD_YES;
}

static void
on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
             enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    lh__http_req_t *r = *con_cls;
    *con_cls = NULL;
    conn_phase(conn, LH__CONN_HEADERS); /* a kept-alive connection waits for the next request */
    if (!r)
        return;
    if (toe != MHD_REQUEST_TERMINATED_COMPLETED_OK)
        lh_log(LH_LOG_DEBUG, "http", "%s: request ended early (code %d)", r->origin, (int)toe);
    r->conn_gone = 1;
    r->conn = NULL;
    r->suspended = 0;
    if (!r->in_hub)
        req_free(r);
}

static void
on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
              enum MHD_ConnectionNotificationCode code)
{
    lh__http_t *h = cls;
    lh__http_conn_t *c = *socket_context;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        c = calloc(1, sizeof(*c));
        if (!c || !ci) { /* untracked: libmicrohttpd's idle timeout still applies */
            free(c);
            lh_log_ratelimited("http-conn", LH_LOG_WARN, "http",
                               "cannot track a connection's deadlines (out of memory)");
            return;
        }
        c->fd = ci->connect_fd;
        c->phase = LH__CONN_HEADERS;
        c->since = lh_mono_ns();
        c->next = h->conns;
        if (h->conns)
            h->conns->prev = c;
        h->conns = c;
        *socket_context = c;
        return;
    }
    if (!c)
        return;
    if (c->prev)
        c->prev->next = c->next;
    else
        h->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    free(c);
    *socket_context = NULL;
}

/* Near the connection cap, the connections that have waited longest for their request headers
 * (EVICT_AFTER_MS at least) make room, oldest first, until CAP_RESERVE places are free again:
 * slow clients from many addresses then cannot keep a new client out until their deadline. */
static void
make_room(lh__http_t *h, int64_t now)
{
    int open_n = 0;
    lh__http_conn_t *oldest = NULL;
    for (lh__http_conn_t *c = h->conns; c; c = c->next) {
        open_n += !c->cut;
        oldest = c; /* the list is newest first */
    }
    int evicted = 0;
    for (lh__http_conn_t *c = oldest; c && open_n >= LH_HTTP_MAX_CONNECTIONS - CAP_RESERVE;
         c = c->prev) {
        if (c->cut || c->phase != LH__CONN_HEADERS ||
            now - c->since < (int64_t)EVICT_AFTER_MS * LH_NS_PER_MS)
            continue;
        shutdown(c->fd, SHUT_RDWR);
        c->cut = 1;
        open_n--;
        evicted++;
    }
    if (evicted) {
        lh_hub_count(h->hub, LH_COUNT_HTTP_SLOW_CLOSED, evicted);
        lh_log_ratelimited("http-evict", LH_LOG_INFO, "http",
                           "at the cap of %d connections: closed the %d waiting longest for "
                           "their request headers",
                           LH_HTTP_MAX_CONNECTIONS, evicted);
    }
}

/* Shuts down the connections past their header or body deadline; libmicrohttpd sees the end of
 * the stream at its next run and closes them. */
static void
sweep(lh__http_t *h, int64_t now)
{
    int headers = 0, bodies = 0;
    for (lh__http_conn_t *c = h->conns; c; c = c->next) {
        if (c->cut || c->phase == LH__CONN_BUSY)
            continue;
        int64_t limit = c->phase == LH__CONN_HEADERS ? h->header_timeout_ns : h->body_timeout_ns;
        if (now - c->since <= limit)
            continue;
        shutdown(c->fd, SHUT_RDWR);
        c->cut = 1;
        if (c->phase == LH__CONN_HEADERS)
            headers++;
        else
            bodies++;
    }
    if (headers + bodies) {
        lh_hub_count(h->hub, LH_COUNT_HTTP_SLOW_CLOSED, headers + bodies);
        lh_log_ratelimited("http-deadline", LH_LOG_INFO, "http",
                           "closed %d connections past the header deadline (%llds) and %d past "
                           "the body deadline (%llds)",
                           headers, (long long)(h->header_timeout_ns / LH_NS_PER_SEC), bodies,
                           (long long)(h->body_timeout_ns / LH_NS_PER_SEC));
    }
    make_room(h, now);
}

__attribute__((format(printf, 2, 0))) static void
mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char line[512];
    vsnprintf(line, sizeof(line), fmt, ap);
    size_t n = strlen(line);
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        line[--n] = 0;
    lh_log_ratelimited("http-mhd", LH_LOG_WARN, "http", "libmicrohttpd: %s", line);
}

/* --- listening socket --------------------------------------------------------------------- */

/* Splits "ADDR:PORT" / "[V6]:PORT" into host and port. Returns 0 or LH_EINVAL. */
static int
split_listen(const char *listen, char *host, size_t hostlen, char *port, size_t portlen)
{
    const char *colon;
    const char *h0 = listen;
    size_t hl;
    if (listen[0] == '[') {
        const char *close = strchr(listen, ']');
        if (!close || close[1] != ':')
            return LH_EINVAL;
        h0 = listen + 1;
        hl = (size_t)(close - h0);
        colon = close + 1;
    } else {
        colon = strrchr(listen, ':');
        if (!colon)
            return LH_EINVAL;
        hl = (size_t)(colon - listen);
    }
    const char *p = colon + 1;
    if (!*p || strlen(p) >= portlen || hl >= hostlen || strspn(p, "0123456789") != strlen(p))
        return LH_EINVAL;
    if (strtol(p, NULL, 10) > 65535)
        return LH_EINVAL;
    memcpy(host, h0, hl);
    host[hl] = 0;
    strcpy(port, p);
    return 0;
}

static int
open_listener(const char *listen_str, int *out)
{
    char host[256], port[8];
    if (split_listen(listen_str, host, sizeof(host), port, sizeof(port)) < 0) {
        lh_log(LH_LOG_ERROR, "http", "cannot listen on %s: expected ADDR:PORT", listen_str);
        return LH_EINVAL;
    }
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    int g = getaddrinfo(host[0] ? host : NULL, port, &hints, &res);
    if (g != 0) {
        lh_log(LH_LOG_ERROR, "http", "cannot listen on %s: %s", listen_str, gai_strerror(g));
        return LH_ETRANSPORT;
    }
    int err = 0, fd = -1;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0) {
            err = errno;
            continue;
        }
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, 128) == 0)
            break;
        err = errno;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd < 0) {
        lh_log(LH_LOG_ERROR, "http", "cannot listen on %s: %s", listen_str, strerror(err));
        return LH_ETRANSPORT;
    }
    *out = fd;
    return 0;
}

/* --- adapter ops -------------------------------------------------------------------------- */

static int
http_start(void *ctx, lh_hub_t *hub)
{
    lh__http_t *h = ctx;
    h->hub = hub;
    h->self = lh_hub_adapter_of(hub, ctx);
    int rc = open_listener(h->listen, &h->listen_fd);
    if (rc < 0)
        return rc; /* logged by open_listener() */
    /* the logger first, so that libmicrohttpd logs nothing by itself */
    h->d = MHD_start_daemon(
        MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG, 0, NULL, NULL, on_request, h,
        MHD_OPTION_EXTERNAL_LOGGER, mhd_log, h, MHD_OPTION_LISTEN_SOCKET, (MHD_socket)h->listen_fd,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned int)LH_HTTP_MAX_CONNECTIONS,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)LH_HTTP_TIMEOUT_S,
        MHD_OPTION_PER_IP_CONNECTION_LIMIT, h->per_address, MHD_OPTION_NOTIFY_CONNECTION,
        on_connection, h, MHD_OPTION_NOTIFY_COMPLETED, on_completed, h, MHD_OPTION_END);
    if (!h->d) {
        lh_log(LH_LOG_ERROR, "http", "cannot start the HTTP server on %s", h->listen);
        close(h->listen_fd);
        h->listen_fd = -1;
        return LH_ETRANSPORT;
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_EPOLL_FD);
    h->listen_fd = -1; /* libmicrohttpd's now: closed by MHD_stop_daemon or by stop() */
    h->epoll_fd = di ? di->epoll_fd : -1;
    if (h->epoll_fd < 0) {
        lh_log(LH_LOG_ERROR, "http", "libmicrohttpd gives no epoll fd");
        MHD_stop_daemon(h->d);
        h->d = NULL;
        return LH_ETRANSPORT;
    }
    lh_log(LH_LOG_INFO, "http", "listening on %s%s", h->listen,
           h->read_token ? (h->token ? " (writes need the write token, reads the read token)"
                                     : " (reads need the read token)")
                         : (h->token ? " (writes and reads need the token)" : ""));
    if (h->read_token && !h->token)
        lh_log(LH_LOG_WARN, "http",
               "a read token but no write token (--http-token-file): HTTP writes are open");
    return 0;
}

static int
http_pollitems(void *ctx, lh_pollitem_t *items, int max)
{
    lh__http_t *h = ctx;
    if (!h->d || max < 1)
        return 0;
    memset(&items[0], 0, sizeof(items[0]));
    items[0].fd = h->epoll_fd;
    items[0].events = LH_POLLIN;
    return 1;
}

/* Runs libmicrohttpd until it reports no work already pending (bounded). */
static void
run_mhd(lh__http_t *h)
{
    for (int i = 0; i < MAX_RUN_ROUNDS; i++) {
        MHD_run(h->d);
        MHD_UNSIGNED_LONG_LONG t;
        if (MHD_get_timeout(h->d, &t) != MHD_YES || t > 0)
            break;
    }
}

static int
http_read(void *ctx, int budget)
{
    (void)budget; /* each connection holds at most one request in flight */
    lh__http_t *h = ctx;
    if (!h->d)
        return 0;
    long before = h->submitted;
    run_mhd(h);
    return (int)(h->submitted - before);
}

static void
http_done(void *ctx, void *token, const lh_ack_t *acks, size_t n)
{
    (void)ctx;
    static const char oom[] = "{\"error\":\"out of memory building the answer; the events "
                              "were processed\"}";
    lh__http_req_t *r = token;
    r->in_hub = 0;
    if (r->conn_gone) {
        req_free(r);
        return;
    }
    if (r->phase != LH__REQ_WAITING)
        return; /* already answered (a submit error) */
    if (lh__http_reply_acks(r, acks, n) < 0)
        lh__http_reply(r, MHD_HTTP_INTERNAL_SERVER_ERROR, NULL, oom, sizeof(oom) - 1);
    if (r->suspended) {
        r->suspended = 0;
        MHD_resume_connection(r->conn);
    }
}

static void
http_tick(void *ctx, int64_t now_mono_ns)
{
    lh__http_t *h = ctx;
    if (!h->d)
        return;
    if (now_mono_ns >= h->next_sweep) {
        sweep(h, now_mono_ns);
        h->next_sweep = now_mono_ns + (int64_t)SWEEP_MS * LH_NS_PER_MS;
    }
    run_mhd(h);
}

static void
http_stop(void *ctx)
{
    lh__http_t *h = ctx;
    h->stopping = 1;
    if (h->d && !h->quiesced) {
        MHD_socket s = MHD_quiesce_daemon(h->d);
        h->quiesced = 1;
        if (s != MHD_INVALID_SOCKET)
            close(s);
        h->listen_fd = -1;
    }
}

static int
busy(const lh__http_t *h)
{
    for (const lh__http_req_t *r = h->reqs; r; r = r->next)
        if (!r->conn_gone && r->phase != LH__REQ_NEW)
            return 1;
    return 0;
}

static void
http_destroy(void *ctx)
{
    lh__http_t *h = ctx;
    if (!h)
        return;
    if (h->d) {
        http_stop(h);
        /* The hub answers nothing after this: answer what still waits, let it go out. */
        for (lh__http_req_t *r = h->reqs; r; r = r->next) {
            if (r->conn_gone || r->phase != LH__REQ_WAITING)
                continue;
            r->in_hub = 0;
            lh__http_reply_error(r, MHD_HTTP_SERVICE_UNAVAILABLE,
                                 "the hub stopped before the request was stored");
            if (r->suspended) {
                r->suspended = 0;
                MHD_resume_connection(r->conn);
            }
        }
        int64_t end = lh_mono_ns() + (int64_t)DRAIN_MS * LH_NS_PER_MS;
        while (busy(h) && lh_mono_ns() < end) {
            struct pollfd p = {.fd = h->epoll_fd, .events = POLLIN};
            poll(&p, 1, 20);
            run_mhd(h);
        }
        MHD_stop_daemon(h->d);
        h->d = NULL;
    }
    if (h->listen_fd >= 0)
        close(h->listen_fd);
    while (h->reqs)
        req_free(h->reqs);
    while (h->conns) { /* MHD_stop_daemon() closed them all, notified or not */
        lh__http_conn_t *c = h->conns;
        h->conns = c->next;
        free(c);
    }
    free(h->listen);
    free(h->token);
    free(h->read_token);
    free(h);
}

static const lh_adapter_ops_t http_ops = {
    .name = "http",
    .start = http_start,
    .pollitems = http_pollitems,
    .read = http_read,
    .done = http_done,
    .publish = NULL,
    .tick = http_tick,
    .stop = http_stop,
    .destroy = http_destroy,
    .serves_while_paused = 1, /* /healthz and /metrics answer while the store cannot commit */
};

void
lh_http_opts_default(lh_http_opts_t *o)
{
    memset(o, 0, sizeof(*o));
    o->listen = "127.0.0.1:7780";
    o->header_timeout_ns = 10 * LH_NS_PER_SEC;
    o->body_timeout_ns = 30 * LH_NS_PER_SEC;
    o->per_address = 64;
}

static char *
dup_token(const char *t, int *oom)
{
    if (!t || !*t)
        return NULL;
    char *d = strdup(t);
    if (!d)
        *oom = 1;
    return d;
}

int
lh_http_new(const lh_http_opts_t *o, const lh_adapter_ops_t **ops, void **ctx)
{
    char host[256], port[8];
    if (!o->listen || split_listen(o->listen, host, sizeof(host), port, sizeof(port)) < 0)
        return LH_EINVAL;
    if (o->header_timeout_ns <= 0 || o->body_timeout_ns <= 0 || o->per_address == 0)
        return LH_EINVAL;
    lh__http_t *h = calloc(1, sizeof(*h));
    if (!h)
        return LH_ENOMEM;
    h->listen_fd = -1;
    h->epoll_fd = -1;
    h->header_timeout_ns = o->header_timeout_ns;
    h->body_timeout_ns = o->body_timeout_ns;
    h->per_address = o->per_address;
    int oom = 0;
    h->listen = strdup(o->listen);
    h->token = dup_token(o->token, &oom);
    h->read_token = dup_token(o->read_token, &oom);
    if (!h->listen || oom) {
        free(h->listen);
        free(h->token);
        free(h->read_token);
        free(h);
        return LH_ENOMEM;
    }
    *ops = &http_ops;
    *ctx = h;
    return 0;
}

int
lh_http_read_token_file(const char *path, char **out, char *why, size_t whylen)
{
    return lh_secret_file_read(path, "token", out, why, whylen);
}
