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
 * the bearer token, the content type and a declared Content-Length over the limit are answered
 * there, before any of the body is read. The body is accumulated up to max_payload; past it the
 * rest is discarded (chunked uploads) and the answer is 413. A complete write is submitted to the
 * hub with the request as token and the connection is suspended; done() (after the commit) builds
 * the answer and resumes it; the handler, called again, queues the answer.
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
#include "loophub/log.h"
#include "loophub/timeutil.h"

/* How long destroy() keeps serving in-flight answers before closing the daemon. */
#define DRAIN_MS 2000
/* MHD_run() rounds per read()/tick() while libmicrohttpd reports work already pending. */
#define MAX_RUN_ROUNDS 8

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

/* Constant-time comparison of the Authorization header with "Bearer <token>". */
static int
auth_ok(const lh__http_t *h, const lh__http_req_t *r)
{
    if (!h->token)
        return 1;
    const char *v = lh__http_header(r, MHD_HTTP_HEADER_AUTHORIZATION);
    if (!v || strncasecmp(v, "Bearer ", 7) != 0)
        return 0;
    v += 7;
    while (*v == ' ')
        v++;
    size_t n = strlen(v), m = strlen(h->token);
    while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t'))
        n--;
    unsigned char diff = (unsigned char)(n != m);
    for (size_t i = 0; i < m; i++)
        diff |= (unsigned char)(h->token[i] ^ (i < n ? v[i] : 0));
    return diff == 0;
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
    if (!r->route->write)
        return 0;
    if (!auth_ok(h, r)) {
        lh__http_reply_error(r, MHD_HTTP_UNAUTHORIZED,
                             "this endpoint needs 'Authorization: Bearer <token>'");
        r->hdr_name = MHD_HTTP_HEADER_WWW_AUTHENTICATE;
        r->hdr_value = "Bearer realm=\"loophub\"";
        return 1;
    }
    if (r->route->check && r->route->check(h, r))
        return 1;
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
            lh__http_reply_error(r, MHD_HTTP_CONTENT_TOO_LARGE, msg);
            return 1;
        }
    }
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
        if (on_headers(h, r, method, url))
            return queue(h, r); /* the body, if any, is not read: the connection closes */
        return MHD_YES;         /* the body follows, or at least the end of the request */
    }
    if (*upload_size && !r->route->write) {
        *upload_size = 0; /* a body on a read: ignored */
        return MHD_YES;
    }
    if (*upload_size) {
        size_t limit = lh_hub_opts(h->hub)->limits.max_payload;
        if (!r->too_big && limit && r->body.len + *upload_size > limit) {
            r->too_big = 1;
            lh_buf_free(&r->body);
        }
        if (!r->too_big && lh_buf_append(&r->body, upload, *upload_size) < 0)
            return MHD_NO;
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
    if (r->too_big) {
        char msg[96];
        snprintf(msg, sizeof(msg), "body is over the limit of %zu bytes",
                 lh_hub_opts(h->hub)->limits.max_payload);
        lh__http_reply_error(r, MHD_HTTP_CONTENT_TOO_LARGE, msg);
        return queue(h, r);
    }
    if (h->stopping) { /* the hub commits nothing more: do not take what it cannot store */
        lh__http_reply_error(r, MHD_HTTP_SERVICE_UNAVAILABLE, "the hub is shutting down");
        return queue(h, r);
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
    (void)conn;
    lh__http_req_t *r = *con_cls;
    *con_cls = NULL;
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
    h->d = MHD_start_daemon(MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG, 0, NULL,
                            NULL, on_request, h, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, h,
                            MHD_OPTION_LISTEN_SOCKET, (MHD_socket)h->listen_fd,
                            MHD_OPTION_CONNECTION_LIMIT, (unsigned int)LH_HTTP_MAX_CONNECTIONS,
                            MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)LH_HTTP_TIMEOUT_S,
                            MHD_OPTION_NOTIFY_COMPLETED, on_completed, h, MHD_OPTION_END);
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
           h->token ? " (writes need the bearer token)" : "");
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
    (void)now_mono_ns;
    lh__http_t *h = ctx;
    if (h->d)
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
    free(h->listen);
    free(h->token);
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
};

int
lh_http_new(const char *listen, const char *token, const lh_adapter_ops_t **ops, void **ctx)
{
    char host[256], port[8];
    if (!listen || split_listen(listen, host, sizeof(host), port, sizeof(port)) < 0)
        return LH_EINVAL;
    lh__http_t *h = calloc(1, sizeof(*h));
    if (!h)
        return LH_ENOMEM;
    h->listen_fd = -1;
    h->epoll_fd = -1;
    h->listen = strdup(listen);
    if (token && *token)
        h->token = strdup(token);
    if (!h->listen || (token && *token && !h->token)) {
        free(h->listen);
        free(h->token);
        free(h);
        return LH_ENOMEM;
    }
    *ops = &http_ops;
    *ctx = h;
    return 0;
}

int
lh_http_read_token_file(const char *path, char **out)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        lh_log(LH_LOG_ERROR, "http", "cannot read the token file %s: %s", path, strerror(errno));
        return LH_EIO;
    }
    char line[1024];
    char *got = fgets(line, sizeof(line), f);
    fclose(f);
    if (!got)
        return LH_EINVAL;
    char *s = line;
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strcspn(s, "\r\n");
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        n--;
    if (n == 0)
        return LH_EINVAL;
    *out = strndup(s, n);
    return *out ? 0 : LH_ENOMEM;
}
