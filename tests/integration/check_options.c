/*
 * check_options.c - every `loophub run` option that changes behaviour, observed from outside the
 * real binary: one row per option in the table below, each run on its own hub with the option on
 * the command line, again with its config file key in an INI file (--config) instead, and, where
 * the observation is cheap to refute, once more without the option (a control run, where the
 * same observation must NOT hold: it shows the observation can fail).
 *
 * A row observes through sockets, HTTP answers, /metrics, the store file (the sqlite3 CLI) and
 * the hub's log. "Did not happen" is read after a later marker event is acknowledged (the ROUTER
 * acks after the commit, so everything sent before it is processed). An option the help lists
 * without a row fails test_every_option_has_a_row: a new option needs a wiring test (or an
 * explicit `untested` reason). IT_OPTIONS_ONLY=<option> in the environment runs that option's
 * rows alone.
 */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zmq.h>

#include "ithub.h"
#include "loophub/correlated.h"
#include "loophub/timeutil.h"
#include "testutil.h"

#define START_MS 15000

typedef enum { RUN_FLAG, RUN_INI, RUN_CONTROL } run_t;

static const char *const run_names[] = {"flag", "config file", "control (option not set)"};

/* One hub of a row's run. */
typedef struct {
    lh_it_hub_t h;
    run_t run;
    char *ep;        /* a fresh endpoint a row's value may name as {ep} */
    int port;        /* a fresh port: {addr} is 127.0.0.1:<port> */
    int64_t base_s;  /* "now" for the row's event times */
    int n_markers;   /* markers sent */
    char value[700]; /* the row's value, expanded */
    const void *row; /* the row_t it runs */
    pid_t kafka_pid; /* kafka_mock, when the row started one */
    int kafka_in;    /* its stdin (EOF stops it) */
    char kafka[512]; /* its bootstrap address: {kafka} */
} ohub_t;

typedef struct {
    const char *flag;     /* without the leading -- */
    const char *key;      /* its config file key, section.key */
    const char *value;    /* a non-default value: {dir}, {ep}, {addr}, {kafka} are expanded */
    const char *extra[7]; /* options the row needs besides (flag, value, ...; expanded), on the
                             command line in every run */
    void (*prepare)(ohub_t *o); /* writes the files the options name, before the start */
    int (*observe)(ohub_t *o);  /* 1 when the value's effect was seen */
    int control;                /* also run without the option: observe must return 0 there */
    const char *untested;       /* instead of the above: why it is not observed here */
} row_t;

/* --- the hub ------------------------------------------------------------------------------- */

static void
expand(const ohub_t *o, const char *in, char *out, size_t len)
{
    size_t n = 0;
    out[0] = 0;
    while (*in && n + 1 < len) {
        const char *sub = NULL;
        char addr[64];
        size_t skip = 0;
        if (strncmp(in, "{dir}", 5) == 0) {
            sub = o->h.dir;
            skip = 5;
        } else if (strncmp(in, "{ep}", 4) == 0) {
            sub = o->ep;
            skip = 4;
        } else if (strncmp(in, "{kafka}", 7) == 0) {
            sub = o->kafka;
            skip = 7;
        } else if (strncmp(in, "{addr}", 6) == 0) {
            snprintf(addr, sizeof(addr), "127.0.0.1:%d", o->port);
            sub = addr;
            skip = 6;
        }
        if (sub) {
            n += (size_t)snprintf(out + n, len - n, "%s", sub);
            if (n >= len)
                n = len - 1;
            in += skip;
        } else {
            out[n++] = *in++;
            out[n] = 0;
        }
    }
}

typedef struct {
    ohub_t *o;
    int dead;
    int before; /* "hub: running" lines already in the log (a restart appends) */
} start_wait_t;

/* The hub's start lines in its log, in the text form or the JSON one (--log-format json). */
static int
running_lines(const char *log)
{
    return lh_test_file_count(log, "hub: running") +
           lh_test_file_count(log, "\"component\":\"hub\",\"msg\":\"running");
}

static int
running_or_dead(void *arg)
{
    start_wait_t *w = arg;
    if (waitpid(w->o->h.pid, NULL, WNOHANG) == w->o->h.pid) {
        w->o->h.pid = 0;
        w->dead = 1;
        return 1;
    }
    return running_lines(w->o->h.log) > w->before;
}

/* Starts `loophub run` on o's store and ports for its row and run: the suite's own store and
 * ports (less the one the row sets), the row's extra options, and the row's option with value
 * as a flag, as its key in an INI file, or (control) not at all. Waits until it runs. */
static void
ohub_spawn(ohub_t *o, const char *value)
{
    const row_t *r = o->row;
    run_t run = o->run;
    char extra[3][700];
    char http[64], ini[700];
    snprintf(http, sizeof(http), "127.0.0.1:%d", o->h.http_port);
    const char *base[] = {"db",      o->h.db,      "http",      http,      "zmq-pull",
                          o->h.pull, "zmq-router", o->h.router, "zmq-pub", o->h.pub};
    const char *argv[48] = {lh_test_loophub_bin(), "run"};
    int n = 2;
    char flags[5][64];
    for (int i = 0; i < 10; i += 2) {
        if (run != RUN_CONTROL && strcmp(base[i], r->flag) == 0)
            continue;
        snprintf(flags[i / 2], sizeof(flags[i / 2]), "--%s", base[i]);
        argv[n++] = flags[i / 2];
        argv[n++] = base[i + 1];
    }
    char eflags[3][64];
    for (int i = 0; r->extra[i]; i += 2) {
        ck_assert_int_lt(i / 2, 3);
        snprintf(eflags[i / 2], sizeof(eflags[i / 2]), "--%s", r->extra[i]);
        expand(o, r->extra[i + 1], extra[i / 2], sizeof(extra[i / 2]));
        argv[n++] = eflags[i / 2];
        argv[n++] = extra[i / 2];
    }
    char flag[64];
    snprintf(flag, sizeof(flag), "--%s", r->flag);
    if (run == RUN_FLAG) {
        argv[n++] = flag;
        argv[n++] = value;
    } else if (run == RUN_INI) {
        /* [source.github] secret_file: the section is what comes before the last dot; in
         * [environments] and [services] the key is the name the value's "NAME=" gives */
        const char *dot = strrchr(r->key, '.');
        ck_assert_ptr_nonnull(dot);
        char key[200];
        const char *val = value;
        snprintf(key, sizeof(key), "%s", dot + 1);
        if (!strcmp(key, "NAME")) {
            const char *eq = strchr(value, '=');
            ck_assert_ptr_nonnull(eq);
            snprintf(key, sizeof(key), "%.*s", (int)(eq - value), value);
            val = eq + 1;
        }
        char text[1600];
        int tl = snprintf(text, sizeof(text), "; written by it_options\n[%.*s]\n%s = %s\n",
                          (int)(dot - r->key), r->key, key, val);
        snprintf(ini, sizeof(ini), "%s/hub.ini", o->h.dir);
        ck_assert_int_eq(lh_test_write_file(ini, text, (size_t)tl), 0);
        argv[n++] = "--config";
        argv[n++] = ini;
    }
    argv[n] = NULL;
    start_wait_t w = {o, 0, running_lines(o->h.log)};
    o->h.pid = lh_test_spawn(argv, o->h.log);
    int up = lh_test_wait_for(running_or_dead, &w, lh_test_ms(START_MS)) && !w.dead;
    if (!up) {
        char *log = lh_test_read_file(o->h.log, NULL);
        ck_abort_msg("--%s (%s): the hub did not start (%s); its log:\n%s", r->flag, run_names[run],
                     w.dead ? "it exited" : "not ready in time", log ? log : "(none)");
    }
}

/* The hub (and mock) of the running test: a failed assertion exits the test's process, and the
 * processes it started must not outlive it. */
static ohub_t *g_live;

static void
kill_live(void)
{
    if (g_live && g_live->h.pid)
        lh_test_stop(g_live->h.pid, SIGKILL, 5000);
    if (g_live && g_live->kafka_pid)
        lh_test_stop(g_live->kafka_pid, SIGKILL, 5000);
    g_live = NULL;
}

/* A new hub for row r in the given run (its files prepared, its value expanded), started. */
static void
ohub_start(ohub_t *o, const row_t *r, run_t run)
{
    memset(o, 0, sizeof(*o));
    static int registered;
    if (!registered++)
        atexit(kill_live);
    g_live = o;
    lh_it_hub_init(&o->h, 1);
    o->row = r;
    o->run = run;
    o->ep = lh_test_endpoint();
    o->port = lh_test_free_port();
    o->base_s = lh_now_ns() / LH_NS_PER_SEC;
    if (r->prepare)
        r->prepare(o);
    expand(o, r->value, o->value, sizeof(o->value));
    ohub_spawn(o, o->value);
}

static void
ohub_stop(ohub_t *o)
{
    lh_it_hub_stop(&o->h);
    if (o->kafka_pid) {
        close(o->kafka_in); /* EOF: the mock shuts down */
        int st = lh_test_stop(o->kafka_pid, 0, lh_test_ms(10000));
        o->kafka_pid = 0;
        ck_assert_int_eq(st, 0);
    }
    g_live = NULL;
    free(o->ep);
    o->ep = NULL;
}

/* --- what the rows observe with ------------------------------------------------------------- */

/* RFC 3339 time offset_s seconds from the hub's start. */
static void
iso(const ohub_t *o, int64_t offset_s, char *buf, size_t len)
{
    lh_time_format((o->base_s + offset_s) * LH_NS_PER_SEC, buf, len);
}

/* `loophub send ARGS... --to ep [--reliable]` (ep NULL: the hub's ROUTER, reliable); the
 * arguments are NULL-terminated. Returns the exit status; *out (when non-NULL) gets stdout and
 * stderr, malloc'd. */
static int
sendv(ohub_t *o, const char *ep, int reliable, char **out, va_list ap)
{
    const char *argv[64] = {lh_test_loophub_bin(), "send"};
    int n = 2;
    const char *a;
    while ((a = va_arg(ap, const char *)) != NULL && n < 58)
        argv[n++] = a;
    argv[n++] = "--to";
    argv[n++] = ep ? ep : o->h.router;
    if (reliable) {
        argv[n++] = "--reliable";
        argv[n++] = "--timeout";
        argv[n++] = "5s";
    }
    argv[n] = NULL;
    char *so = NULL, *se = NULL;
    int rc = lh_test_run(argv, NULL, &so, &se, lh_test_ms(20000));
    if (out) {
        size_t l = strlen(so ? so : "") + strlen(se ? se : "") + 2;
        *out = malloc(l);
        ck_assert_ptr_nonnull(*out);
        snprintf(*out, l, "%s\n%s", so ? so : "", se ? se : "");
    }
    free(so);
    free(se);
    return rc;
}

/* Sends reliably to the hub's ROUTER; returns the exit status. */
static int
snd(ohub_t *o, char **out, ...)
{
    va_list ap;
    va_start(ap, out);
    int rc = sendv(o, NULL, 1, out, ap);
    va_end(ap);
    return rc;
}

/* Sends reliably; the event must be stored (ok). */
static void
snd_ok(ohub_t *o, ...)
{
    va_list ap;
    va_start(ap, o);
    char *out = NULL;
    int rc = sendv(o, NULL, 1, &out, ap);
    va_end(ap);
    ck_assert_msg(rc == 0, "send failed (%d): %s", rc, out);
    free(out);
}

/* Sends to ep (reliable or fire and forget); returns the exit status. */
static int
snd_to(ohub_t *o, const char *ep, int reliable, ...)
{
    va_list ap;
    va_start(ap, reliable);
    int rc = sendv(o, ep, reliable, NULL, ap);
    va_end(ap);
    return rc;
}

static void
deploy_in(ohub_t *o, const char *id, const char *service, const char *env, int64_t offset_s)
{
    char t[40];
    iso(o, offset_s, t, sizeof(t));
    snd_ok(o, "deploy", "--id", id, "--service", service, "--env", env, "--time", t, "--deploy-id",
           id, "--status", "succeeded", "--version", "2", "--previous-version", "1", NULL);
}

static void
deploy(ohub_t *o, const char *id, const char *service, int64_t offset_s)
{
    deploy_in(o, id, service, "prod", offset_s);
}

static void
incident(ohub_t *o, const char *id, int64_t offset_s)
{
    char t[40];
    iso(o, offset_s, t, sizeof(t));
    snd_ok(o, "incident", "--id", id, "--service", "api", "--env", "prod", "--time", t,
           "--incident-id", id, "--severity", "critical", "--title", "5xx", NULL);
}

/* A deploy of its own service, acknowledged: everything sent before it is processed. */
static void
marker(ohub_t *o)
{
    char id[32];
    snprintf(id, sizeof(id), "marker-%d", ++o->n_markers);
    snd_ok(o, "deploy", "--id", id, "--service", "marker", "--env", "prod", "--deploy-id", id,
           NULL);
}

static long long
metric(const ohub_t *o, const char *sample)
{
    return lh_it_metric(&o->h, sample);
}

typedef struct {
    const ohub_t *o;
    const char *sample;
    long long at_least;
} metric_wait_t;

static int
metric_reached(void *arg)
{
    metric_wait_t *w = arg;
    return metric(w->o, w->sample) >= w->at_least;
}

/* 1 when the sample reaches at_least within ms. */
static int
wait_metric(const ohub_t *o, const char *sample, long long at_least, int ms)
{
    metric_wait_t w = {o, sample, at_least};
    return lh_test_wait_for(metric_reached, &w, lh_test_ms(ms));
}

/* The first line sqlite3 prints for query on db (malloc'd, newline stripped), NULL when it
 * printed nothing. */
static char *
sql_text(const char *db, const char *query)
{
    const char *argv[] = {"sqlite3", "-bail", db, query, NULL};
    char *out = NULL, *err = NULL;
    int rc = lh_test_run(argv, NULL, &out, &err, lh_test_ms(10000));
    ck_assert_msg(rc == 0, "sqlite3 %s '%s': %s", db, query, err ? err : "");
    free(err);
    if (!out || !*out) {
        free(out);
        return NULL;
    }
    out[strcspn(out, "\n")] = 0;
    return out;
}

static long long
sql_int(const char *db, const char *query)
{
    char *t = sql_text(db, query);
    long long v = t ? atoll(t) : -1;
    free(t);
    return v;
}

typedef struct {
    const char *db, *query;
    long long want;
} sql_wait_t;

static int
sql_is(void *arg)
{
    sql_wait_t *w = arg;
    return sql_int(w->db, w->query) == w->want;
}

/* 1 when query on db gives want within ms. */
static int
wait_sql(const char *db, const char *query, long long want, int ms)
{
    sql_wait_t w = {db, query, want};
    return lh_test_wait_for(sql_is, &w, lh_test_ms(ms));
}

/* curl: method on path at port with one extra header (may be NULL) and a body (may be NULL).
 * Returns the HTTP status (0: no answer). */
static int
curl_code(const ohub_t *o, int port, const char *method, const char *path, const char *header,
          const char *body)
{
    char url[256], file[700], at[720];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", port, path);
    const char *argv[20] = {"curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-X", method};
    int n = 8;
    if (header) {
        argv[n++] = "-H";
        argv[n++] = header;
    }
    if (body) {
        snprintf(file, sizeof(file), "%s/body", o->h.dir);
        ck_assert_int_eq(lh_test_write_file(file, body, strlen(body)), 0);
        snprintf(at, sizeof(at), "@%s", file);
        argv[n++] = "-H";
        argv[n++] = "Content-Type: application/json";
        argv[n++] = "--data-binary";
        argv[n++] = at;
    }
    argv[n++] = url;
    argv[n] = NULL;
    char *out = NULL;
    lh_test_run(argv, NULL, &out, NULL, lh_test_ms(20000));
    int code = out ? atoi(out) : 0;
    free(out);
    return code;
}

/* A JSON incident at the hub's now with a title of title_len bytes, malloc'd. */
static char *
json_incident(const ohub_t *o, const char *id, size_t title_len)
{
    char t[40];
    iso(o, 0, t, sizeof(t));
    char *title = malloc(title_len + 1);
    ck_assert_ptr_nonnull(title);
    memset(title, 't', title_len);
    title[title_len] = 0;
    size_t l = title_len + 512;
    char *j = malloc(l);
    ck_assert_ptr_nonnull(j);
    snprintf(j, l,
             "{\"id\":\"%s\",\"kind\":\"incident\",\"time\":\"%s\",\"service\":\"api\","
             "\"environment\":\"prod\",\"incident\":{\"incident_id\":\"%s\","
             "\"state\":\"detected\",\"severity\":\"critical\",\"title\":\"%s\"}}\n",
             id, t, id, title);
    free(title);
    return j;
}

/* A TCP connection to 127.0.0.1:port, -1 when refused. */
static int
tcp_connect(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_ge(fd, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* 1 when the peer closes fd (EOF or reset) within ms; what it sends before is skipped. */
static int
closed_within(int fd, int ms)
{
    int64_t end = lh_mono_ns() + (int64_t)lh_test_ms(ms) * LH_NS_PER_MS;
    for (;;) {
        int left = (int)((end - lh_mono_ns()) / LH_NS_PER_MS);
        if (left <= 0)
            return 0;
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, left) <= 0)
            continue;
        char buf[512];
        ssize_t r = recv(fd, buf, sizeof(buf), 0);
        if (r == 0 || (r < 0 && errno != EINTR && errno != EAGAIN))
            return 1;
    }
}

/* --- the observations ---------------------------------------------------------------------- */

/* --db: the event is in the store file named. */
static int
obs_db(ohub_t *o)
{
    marker(o);
    if (access(o->value, F_OK) != 0)
        return 0;
    return sql_int(o->value, "SELECT count(*) FROM events WHERE id = 'marker-1'") == 1;
}

/* --page-size: the new store's page size. */
static int
obs_page_size(ohub_t *o)
{
    marker(o);
    return sql_int(o->h.db, "PRAGMA page_size") == atoll(o->value);
}

/* A deploy 5 min before an incident: the alert on PUB is JSON. */
static int
obs_alerts_format(ohub_t *o)
{
    lh_it_sub_t s;
    lh_it_sub_open(&s, o->h.pub, "alert.");
    deploy(o, "d-1", "api", -300);
    incident(o, "i-1", 0);
    char topic[256];
    size_t len;
    char *body = lh_it_sub_recv_raw(&s, topic, sizeof(topic), &len, 10000);
    ck_assert_msg(body != NULL, "no alert on PUB");
    int json = body[0] == '{' && strstr(body, "\"suspects\"") != NULL;
    free(body);
    lh_it_sub_close(&s);
    return json;
}

/* A deploy 5 min before an incident is no suspect: no correlated alert (with the default 2h
 * window it is one). */
static int
obs_window(ohub_t *o)
{
    deploy(o, "d-1", "api", -300);
    incident(o, "i-1", 0);
    marker(o);
    ck_assert_int_eq(metric(o, "loophub_events_total{kind=\"incident\",adapter=\"zmq-in\"}"), 1);
    return metric(o, "loophub_alerts_created_total") == 0;
}

/* Two incidents a minute apart with the same suspect: two alerts, not one revised. */
static int
obs_group_window(ohub_t *o)
{
    deploy(o, "d-1", "api", -1800);
    incident(o, "i-1", -120);
    incident(o, "i-2", -60);
    marker(o);
    long long n = sql_int(o->h.db, "SELECT count(DISTINCT id) FROM alerts");
    ck_assert_int_ge(n, 1);
    return n == 2;
}

/* Three deploys before an incident: the alert lists one suspect. */
static int
obs_max_suspects(ohub_t *o)
{
    lh_it_sub_t s;
    lh_it_sub_open(&s, o->h.pub, "alert.");
    deploy(o, "d-1", "api", -1800);
    deploy(o, "d-2", "api", -1200);
    deploy(o, "d-3", "api", -600);
    incident(o, "i-1", 0);
    char topic[256];
    lh_correlated_t *ca = lh_it_sub_recv_pb(&s, topic, sizeof(topic), 10000);
    ck_assert_msg(ca != NULL, "no alert on PUB");
    size_t n = ca->n_suspects;
    lh_correlated_destroy(&ca);
    lh_it_sub_close(&s);
    ck_assert_uint_ge(n, 1);
    return n == 1;
}

/* A deploy in prod that no ticket approved: an unapproved_change alert (kind 3) is stored. */
static int
obs_require_approved_ticket(ohub_t *o)
{
    deploy(o, "d-1", "api", -300);
    marker(o);
    /* (the marker is a deploy in prod too: it raises one of its own) */
    return sql_int(o->h.db, "SELECT count(*) FROM alerts WHERE kind = 3 AND outcome_id = 'd-1'") ==
           1;
}

/* With 0, /metrics has no DORA family (by default the deploy is a deployment of api/prod). */
static int
obs_dora_metrics_window(ohub_t *o)
{
    deploy(o, "d-1", "api", -300);
    marker(o);
    return metric(o, "loophub_dora_deployments{service=\"api\",environment=\"prod\"}") == -1;
}

/* A firing alert of severity error after a deploy is no outcome: no correlated alert. */
static int
obs_alert_min_severity(ohub_t *o)
{
    deploy(o, "d-1", "api", -300);
    char t[40];
    iso(o, 0, t, sizeof(t));
    snd_ok(o, "alert", "--id", "a-1", "--service", "api", "--env", "prod", "--time", t, "--name",
           "HighErrorRate", "--fingerprint", "fp-1", "--state", "firing", "--severity", "error",
           NULL);
    marker(o);
    ck_assert_int_eq(metric(o, "loophub_events_total{kind=\"alert\",adapter=\"zmq-in\"}"), 1);
    return metric(o, "loophub_alerts_created_total") == 0;
}

/* Writes n JSON deploys (ids <prefix>-<i>) to <dir>/<prefix>.jsonl and sends them reliably. */
static void
send_many(ohub_t *o, const char *prefix, int n)
{
    char path[700], t[40];
    snprintf(path, sizeof(path), "%s/%s.jsonl", o->h.dir, prefix);
    iso(o, 0, t, sizeof(t));
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    for (int i = 0; i < n; i++)
        fprintf(f,
                "{\"id\":\"%s-%d\",\"kind\":\"deploy\",\"time\":\"%s\",\"service\":\"bulk\","
                "\"environment\":\"prod\",\"deploy\":{\"deploy_id\":\"%s-%d\"}}\n",
                prefix, i, t, prefix, i);
    fclose(f);
    char *out = NULL;
    int rc = snd(o, &out, "--json", path, "-q", NULL);
    ck_assert_msg(rc == 0, "send --json: %s", out);
    free(out);
}

/* A WAL past 1 MiB is checkpointed and started over: 4,000 deploys write several MiB of it. The
 * default (256 MiB) is not reached by them, so the control run sees no checkpoint. */
static int
obs_wal_checkpoint_size(ohub_t *o)
{
    send_many(o, "w", 4000);
    marker(o);
    return wait_metric(o, "loophub_wal_checkpoints_total{mode=\"restart\"}", 1, 3000);
}

/* 200 events sent in one go: no batch held more than one. */
static int
obs_batch_max(ohub_t *o)
{
    send_many(o, "b", 200);
    long long batches = metric(o, "loophub_batch_events_count");
    long long one = metric(o, "loophub_batch_events_bucket{le=\"1\"}");
    ck_assert_int_ge(batches, 1);
    return one == batches && batches >= 200;
}

/* The hub reports the bound it runs with (a turn stops gathering as soon as input pauses, so
 * the bound itself shows only under sustained load). */
static int
obs_batch_ms(ohub_t *o)
{
    char want[760];
    snprintf(want, sizeof(want), "events / %s ms)", o->value);
    return lh_test_file_count(o->h.log, want) == 1;
}

/* Debug lines in the log (a new store logs its schema at debug). */
static int
obs_log_level(ohub_t *o)
{
    marker(o);
    return lh_test_file_count(o->h.log, " debug ") > 0;
}

/* JSON lines: the hub's start line as an object (the default, text, has none). */
static int
obs_log_format(ohub_t *o)
{
    return lh_test_file_count(o->h.log, "{\"time\":\"") > 0 &&
           lh_test_file_count(o->h.log, "\"component\":\"hub\",\"msg\":\"running") > 0;
}

/* Retention of one kind (or all, for --retention): an event of that kind two days old is
 * deleted (counted), an old ticket (another kind, unless the row is about tickets or all) is
 * not. */
static int
expires(ohub_t *o, const char *kind)
{
    char t[40];
    iso(o, -2 * 86400, t, sizeof(t));
    const char *what = kind;
    if (strcmp(kind, "deploy") == 0 || strcmp(kind, "all") == 0) {
        what = "deploy";
        snd_ok(o, "deploy", "--id", "old-1", "--service", "api", "--env", "prod", "--time", t,
               "--deploy-id", "D-old", NULL);
    } else if (strcmp(kind, "incident") == 0) {
        snd_ok(o, "incident", "--id", "old-1", "--service", "api", "--env", "prod", "--time", t,
               "--incident-id", "I-old", "--severity", "critical", NULL);
    } else if (strcmp(kind, "alert") == 0) {
        snd_ok(o, "alert", "--id", "old-1", "--service", "api", "--env", "prod", "--time", t,
               "--name", "Old", "--fingerprint", "fp-old", "--state", "firing", "--severity",
               "warning", NULL);
    }
    snd_ok(o, "ticket", "--id", "old-t", "--ticket-id", "T-old", "--type", "change", "--time", t,
           NULL);
    char sample[96];
    snprintf(sample, sizeof(sample), "loophub_expired_total{what=\"%s\"}", what);
    int gone = wait_metric(o, sample, 1, 5000);
    if (strcmp(kind, "all") == 0)
        return gone && wait_metric(o, "loophub_expired_total{what=\"ticket\"}", 1, 5000);
    if (strcmp(kind, "ticket") == 0)
        return gone;
    marker(o);
    return gone && metric(o, "loophub_expired_total{what=\"ticket\"}") == 0 &&
           sql_int(o->h.db, "SELECT count(*) FROM events WHERE id = 'old-t'") == 1;
}

static int
obs_retention(ohub_t *o)
{
    return expires(o, "all") &&
           sql_int(o->h.db, "SELECT count(*) FROM events WHERE id IN ('old-1', 'old-t')") == 0;
}
static int
obs_retention_changes(ohub_t *o)
{
    return expires(o, "deploy");
}
static int
obs_retention_incidents(ohub_t *o)
{
    return expires(o, "incident");
}
static int
obs_retention_alerts(ohub_t *o)
{
    return expires(o, "alert");
}
static int
obs_retention_tickets(ohub_t *o)
{
    return expires(o, "ticket");
}

/* A JSON ticket an hour and a half ahead of the hub's clock over HTTP (under the default skew of
 * 1h it would be stored: `loophub send` refuses it itself), rejected and quarantined. */
static void
reject_future(ohub_t *o, const char *id)
{
    char t[40], body[512];
    iso(o, 5400, t, sizeof(t));
    snprintf(body, sizeof(body),
             "{\"id\":\"%s\",\"kind\":\"ticket\",\"time\":\"%s\",\"ticket\":{"
             "\"ticket_id\":\"%s\",\"type\":\"task\"}}\n",
             id, t, id);
    int code = curl_code(o, o->h.http_port, "POST", "/v1/events", NULL, body);
    ck_assert_msg(code == 400, "a ticket 90 min ahead answered %d", code);
}

/* Rejected input received a second ago is deleted. */
static int
obs_retention_quarantine(ohub_t *o)
{
    reject_future(o, "q-1");
    ck_assert_int_eq(metric(o, "loophub_store_quarantined"), 1);
    return wait_metric(o, "loophub_expired_total{what=\"quarantine\"}", 1, 5000) &&
           sql_int(o->h.db, "SELECT count(*) FROM quarantine") == 0;
}

/* 1100 distinct ids: the in-memory index holds 1024 of them at most. */
static int
obs_dedupe_horizon(ohub_t *o)
{
    send_many(o, "dd", 1100);
    long long held = metric(o, "loophub_dedupe_entries");
    ck_assert_int_ge(held, 1);
    return held <= 1024;
}

/* A JSON event over HTTP keeps its bytes as received. */
static int
obs_keep_original(ohub_t *o)
{
    char *j = json_incident(o, "j-1", 10);
    int code = curl_code(o, o->h.http_port, "POST", "/v1/events", NULL, j);
    free(j);
    ck_assert_msg(code / 100 == 2, "POST /v1/events: %d", code);
    return sql_int(o->h.db, "SELECT count(*) FROM events WHERE id = 'j-1' AND raw IS NOT NULL") ==
           1;
}

/* Four rejected messages: two kept, two evicted. */
static int
obs_quarantine_max_rows(ohub_t *o)
{
    reject_future(o, "q-1");
    reject_future(o, "q-2");
    reject_future(o, "q-3");
    reject_future(o, "q-4");
    return metric(o, "loophub_store_quarantined") == 2 &&
           metric(o, "loophub_quarantine_evicted_total") == 2;
}

/* Four rejected messages of ~100 bytes each: the oldest evicted to stay under 300 bytes. */
static int
obs_quarantine_max_bytes(ohub_t *o)
{
    reject_future(o, "q-1");
    reject_future(o, "q-2");
    reject_future(o, "q-3");
    reject_future(o, "q-4");
    long long bytes = metric(o, "loophub_store_quarantine_bytes");
    ck_assert_int_ge(bytes, 1);
    return metric(o, "loophub_quarantine_evicted_total") >= 1 && bytes <= atoll(o->value);
}

/* A 3000-byte request body is refused as too big (the default 1 MiB takes it). */
static int
obs_max_payload(ohub_t *o)
{
    char *j = json_incident(o, "big-1", 2800);
    int code = curl_code(o, o->h.http_port, "POST", "/v1/events", NULL, j);
    free(j);
    ck_assert_int_ne(code, 0);
    /* the answer may come before the quarantine row's batch commits, and the count with it */
    return code / 100 == 4 &&
           wait_metric(o, "loophub_rejected_total{reason=\"too_big\"}", 1, 5000) &&
           metric(o, "loophub_rejected_total{reason=\"too_big\"}") == 1;
}

/* Of a message over --max-payload (2000 here; a ZeroMQ frame that far over still reaches the
 * hub), the quarantine keeps the first 100 bytes. */
static int
obs_quarantine_sample(ohub_t *o)
{
    char *j = json_incident(o, "big-1", 2800), path[700];
    snprintf(path, sizeof(path), "%s/big.jsonl", o->h.dir);
    ck_assert_int_eq(lh_test_write_file(path, j, strlen(j)), 0);
    free(j);
    char *out = NULL;
    int rc = snd(o, &out, "--json", path, NULL);
    ck_assert_msg(rc == 1, "a message over --max-payload: %d %s", rc, out);
    free(out);
    long long len = sql_int(o->h.db, "SELECT length(payload) FROM quarantine");
    ck_assert_int_ge(len, 1);
    return len == atoll(o->value);
}

/* A 200-byte title is rejected naming the field. */
static int
obs_max_field(ohub_t *o)
{
    char title[201];
    memset(title, 't', 200);
    title[200] = 0;
    char *out = NULL;
    int rc = snd(o, &out, "incident", "--id", "i-1", "--service", "api", "--env", "prod",
                 "--incident-id", "I-1", "--title", title, NULL);
    int refused = rc == 1 && strstr(out, "incident.title") != NULL;
    ck_assert_msg(rc == 0 || refused, "send: %d %s", rc, out);
    free(out);
    return refused;
}

/* An event 10 min ahead of the hub's clock is rejected out of range. */
static int
obs_max_clock_skew(ohub_t *o)
{
    char t[40];
    iso(o, 600, t, sizeof(t));
    char *out = NULL;
    int rc = snd(o, &out, "ticket", "--id", "t-1", "--ticket-id", "T-1", "--type", "task", "--time",
                 t, NULL);
    ck_assert_msg(rc == 0 || rc == 1, "send: %d %s", rc, out);
    free(out);
    return rc == 1 && metric(o, "loophub_rejected_total{reason=\"out_of_range\"}") == 1;
}

/* An Alertmanager webhook whose labels name the service, environment and severity two ways:
 * the default labels and the ones the rows configure. Returns the stored alert's column. */
static char *
am_column(ohub_t *o, const char *column)
{
    char t[40], body[2048], q[200];
    iso(o, 0, t, sizeof(t));
    snprintf(body, sizeof(body),
             "{\"receiver\":\"loophub\",\"status\":\"firing\",\"version\":\"4\","
             "\"groupKey\":\"{}:{}\",\"alerts\":[{\"status\":\"firing\",\"labels\":{"
             "\"alertname\":\"HighErrorRate\",\"service\":\"svc-default\",\"app\":\"svc-app\","
             "\"env\":\"env-default\",\"cluster\":\"env-cluster\",\"severity\":\"warning\","
             "\"prio\":\"critical\"},\"annotations\":{\"summary\":\"5xx\"},"
             "\"startsAt\":\"%s\",\"endsAt\":\"0001-01-01T00:00:00Z\","
             "\"fingerprint\":\"aa11bb22cc33dd44\"}]}",
             t);
    int code = curl_code(o, o->h.http_port, "POST", "/v1/alertmanager", NULL, body);
    ck_assert_msg(code / 100 == 2, "POST /v1/alertmanager: %d", code);
    snprintf(q, sizeof(q), "SELECT %s FROM events WHERE kind = 2", column);
    char *v = sql_text(o->h.db, q);
    ck_assert_msg(v != NULL, "no alert stored");
    return v;
}

static int
obs_am_service_label(ohub_t *o)
{
    char *v = am_column(o, "service");
    int ok = strcmp(v, "svc-app") == 0;
    free(v);
    return ok;
}

static int
obs_am_env_label(ohub_t *o)
{
    char *v = am_column(o, "environment");
    int ok = strcmp(v, "env-cluster") == 0;
    free(v);
    return ok;
}

/* The alert is critical, not warning: an outcome (at or above the default error) of the deploy
 * before it. */
static int
obs_am_severity_label(ohub_t *o)
{
    deploy_in(o, "d-1", "svc-default", "env-default", -300);
    free(am_column(o, "service"));
    marker(o);
    return metric(o, "loophub_alerts_created_total") == 1;
}

/* A deploy with label value text; 1 when needle is in the stored event as it was sent: in its
 * protobuf, or in its set of labels (table labelsets, schema 15). */
static int
stored_verbatim(ohub_t *o, const char *label, const char *needle)
{
    snd_ok(o, "deploy", "--id", "d-1", "--service", "api", "--env", "prod", "--deploy-id", "D-1",
           "--label", label, NULL);
    char q[400];
    snprintf(q, sizeof(q),
             "SELECT instr(e.event, CAST('%s' AS BLOB)) > 0 OR coalesce(instr(l.labels,"
             " CAST('%s' AS BLOB)), 0) > 0 FROM events e LEFT JOIN labelsets l"
             " ON l.ref = e.labels_ref WHERE e.id = 'd-1'",
             needle, needle);
    return sql_int(o->h.db, q) == 1;
}

/* A secret label key's value is stored as sent, nothing counted redacted. */
static int
obs_redact_defaults(ohub_t *o)
{
    return stored_verbatim(o, "db_password=hunter2", "hunter2") &&
           metric(o, "loophub_redacted_total") == 0;
}

/* A label key the rule names has its value replaced. */
static int
obs_redact_key(ohub_t *o)
{
    return !stored_verbatim(o, "x-internal-id=abc123", "abc123") &&
           metric(o, "loophub_redacted_total") >= 1;
}

/* A text the rule matches has its last group replaced. */
static int
obs_redact_value(ohub_t *o)
{
    return !stored_verbatim(o, "note=ssn 123-45-6789", "123-45-6789") &&
           metric(o, "loophub_redacted_total") >= 1;
}

/* An event sent fire and forget to {ep} is stored. */
static int
obs_zmq_pull(ohub_t *o)
{
    ck_assert_int_eq(snd_to(o, o->ep, 0, "deploy", "--id", "d-1", "--service", "api", "--env",
                            "prod", "--deploy-id", "D-1", NULL),
                     0);
    return wait_metric(o, "loophub_events_total{kind=\"deploy\",adapter=\"zmq-in\"}", 1, 10000);
}

/* An event sent reliably to {ep} is acknowledged. */
static int
obs_zmq_router(ohub_t *o)
{
    return snd_to(o, o->ep, 1, "deploy", "--id", "d-1", "--service", "api", "--env", "prod",
                  "--deploy-id", "D-1", NULL) == 0;
}

typedef struct {
    ohub_t *o;
    void *pub;
} sub_wait_t;

/* Publishes the event again (the hub's SUB joins late) and looks whether it is stored. */
static int
published_and_stored(void *arg)
{
    sub_wait_t *w = arg;
    static const char ev[] = "{\"id\":\"s-1\",\"kind\":\"ticket\",\"ticket\":{\"ticket_id\":"
                             "\"T-1\",\"type\":\"task\"},\"time\":\"2026-12-01T00:00:00Z\"}";
    zmq_send(w->pub, ev, sizeof(ev) - 1, 0);
    return metric(w->o, "loophub_events_total{kind=\"ticket\",adapter=\"zmq-in\"}") >= 1;
}

/* The hub subscribes to a publisher of the test's own at {ep}. */
static int
obs_zmq_sub(ohub_t *o)
{
    void *ctx = zmq_ctx_new();
    void *pub = zmq_socket(ctx, ZMQ_PUB);
    int zero = 0;
    zmq_setsockopt(pub, ZMQ_LINGER, &zero, sizeof(zero));
    ck_assert_int_eq(zmq_bind(pub, o->ep), 0);
    sub_wait_t w = {o, pub};
    int ok = lh_test_wait_for(published_and_stored, &w, lh_test_ms(10000));
    zmq_close(pub);
    zmq_ctx_term(ctx);
    return ok;
}

/* A SUB of the test's own at {ep} gets the alert. */
static int
obs_zmq_pub(ohub_t *o)
{
    lh_it_sub_t s;
    lh_it_sub_open(&s, o->ep, "alert.");
    deploy(o, "d-1", "api", -300);
    incident(o, "i-1", 0);
    char topic[256];
    lh_correlated_t *ca = lh_it_sub_recv_pb(&s, topic, sizeof(topic), 10000);
    int ok = ca != NULL && strcmp(topic, "alert.prod.api") == 0;
    lh_correlated_destroy(&ca);
    lh_it_sub_close(&s);
    return ok;
}

/* A DEALER of the subscription protocol at ep: "SUB" "" answered; the reply's first frame into
 * word. */
static void *
subs_dealer(void *ctx, const char *ep, const char *id, char *word, size_t wlen)
{
    void *d = zmq_socket(ctx, ZMQ_DEALER);
    int zero = 0;
    zmq_setsockopt(d, ZMQ_LINGER, &zero, sizeof(zero));
    zmq_setsockopt(d, ZMQ_ROUTING_ID, id, strlen(id));
    ck_assert_int_eq(zmq_connect(d, ep), 0);
    ck_assert_int_ge(zmq_send(d, "SUB", 3, ZMQ_SNDMORE), 0);
    ck_assert_int_ge(zmq_send(d, "", 0, 0), 0);
    lh_it_sub_t w = {NULL, d};
    size_t len;
    char *text = lh_it_sub_recv_raw(&w, word, wlen, &len, 10000);
    if (!text)
        snprintf(word, wlen, "(no reply)");
    free(text);
    return d;
}

/* The subscription endpoint answers at {ep}. */
static int
obs_zmq_subs(ohub_t *o)
{
    void *ctx = zmq_ctx_new();
    char word[64];
    void *d = subs_dealer(ctx, o->ep, "a", word, sizeof(word));
    zmq_close(d);
    zmq_ctx_term(ctx);
    return strcmp(word, "OK") == 0;
}

/* One subscriber is the most: a second is refused. */
static int
obs_zmq_subs_max(ohub_t *o)
{
    void *ctx = zmq_ctx_new();
    char wa[64], wb[64];
    void *a = subs_dealer(ctx, o->ep, "a", wa, sizeof(wa));
    void *b = subs_dealer(ctx, o->ep, "b", wb, sizeof(wb));
    zmq_close(a);
    zmq_close(b);
    zmq_ctx_term(ctx);
    ck_assert_str_eq(wa, "OK");
    return strcmp(wb, "ERR") == 0 && metric(o, "loophub_zmq_subs_refused_total") == 1;
}

/* A subscriber silent for a second is forgotten for idleness. */
static int
obs_zmq_subs_idle(ohub_t *o)
{
    void *ctx = zmq_ctx_new();
    char word[64];
    void *a = subs_dealer(ctx, o->ep, "a", word, sizeof(word));
    ck_assert_str_eq(word, "OK");
    int ok = wait_metric(o, "loophub_zmq_subs_forgotten_total{reason=\"idle\"}", 1, 8000);
    zmq_close(a);
    zmq_ctx_term(ctx);
    return ok;
}

/* keygen for the hub and one client, the client's public key the allow-list. */
static void
prep_curve(ohub_t *o)
{
    const char *names[] = {"hub", "client"};
    for (int i = 0; i < 2; i++) {
        char prefix[700];
        snprintf(prefix, sizeof(prefix), "%s/%s", o->h.dir, names[i]);
        const char *argv[] = {lh_test_loophub_bin(), "keygen", "--out", prefix, NULL};
        ck_assert_int_eq(lh_test_run(argv, NULL, NULL, NULL, lh_test_ms(10000)), 0);
    }
    char p[700], q[700];
    snprintf(p, sizeof(p), "%s/client.pub", o->h.dir);
    snprintf(q, sizeof(q), "%s/clients.txt", o->h.dir);
    char *pub = lh_test_must_read(p);
    ck_assert_int_eq(lh_test_write_file(q, pub, strlen(pub)), 0);
    free(pub);
}

/* CURVE on the ROUTER: the listed client's event is acknowledged, a plain one is not. */
static int
obs_curve(ohub_t *o)
{
    char sk[700], ck[700];
    snprintf(sk, sizeof(sk), "%s/hub.pub", o->h.dir);
    snprintf(ck, sizeof(ck), "%s/client.key", o->h.dir);
    int listed = snd(o, NULL, "deploy", "--id", "d-1", "--service", "api", "--env", "prod",
                     "--deploy-id", "D-1", "--curve-server-key", sk, "--curve-key", ck, NULL) == 0;
    const char *argv[] = {
        lh_test_loophub_bin(), "send", "deploy",      "--id", "d-2",  "--env",     "prod",
        "--service",           "api",  "--deploy-id", "D-2",  "--to", o->h.router, "--reliable",
        "--timeout",           "1s",   NULL};
    int plain = lh_test_run(argv, NULL, NULL, NULL, lh_test_ms(20000));
    return listed && plain != 0 &&
           sql_int(o->h.db, "SELECT count(*) FROM events WHERE id = 'd-2'") == 0;
}

/* The HTTP API answers at {addr}. */
static int
obs_http(ohub_t *o)
{
    return curl_code(o, o->port, "GET", "/healthz", NULL, NULL) == 200;
}

/* --http off: nothing listens where the suite's HTTP port would be. */
static int
obs_http_off(ohub_t *o)
{
    marker(o);
    int fd = tcp_connect(o->h.http_port);
    if (fd >= 0)
        close(fd);
    return fd < 0 && lh_test_file_count(o->h.log, "http: listening") == 0;
}

#define TOKEN "w-token-of-it-options"
#define READ_TOKEN "r-token-of-it-options"

static void
prep_tokens(ohub_t *o)
{
    char p[700];
    snprintf(p, sizeof(p), "%s/write.token", o->h.dir);
    ck_assert_int_eq(lh_test_write_file(p, TOKEN "\n", strlen(TOKEN) + 1), 0);
    snprintf(p, sizeof(p), "%s/read.token", o->h.dir);
    ck_assert_int_eq(lh_test_write_file(p, READ_TOKEN "\n", strlen(READ_TOKEN) + 1), 0);
}

/* A POST without the token is refused, with it taken. */
static int
obs_http_token_file(ohub_t *o)
{
    char *j = json_incident(o, "j-1", 10);
    int without = curl_code(o, o->h.http_port, "POST", "/v1/events", NULL, j);
    int with =
        curl_code(o, o->h.http_port, "POST", "/v1/events", "Authorization: Bearer " TOKEN, j);
    free(j);
    ck_assert_msg(with / 100 == 2, "POST with the token: %d", with);
    return without == 401;
}

/* A GET of /metrics without the read token is refused, with it answered. */
static int
obs_http_read_token_file(ohub_t *o)
{
    int without = curl_code(o, o->h.http_port, "GET", "/metrics", NULL, NULL);
    int with =
        curl_code(o, o->h.http_port, "GET", "/metrics", "Authorization: Bearer " READ_TOKEN, NULL);
    ck_assert_msg(with == 200, "GET /metrics with the read token: %d", with);
    return without == 401;
}

/* Headers begun and never finished: the connection is closed within a few seconds (the default
 * waits 10 s). */
static int
obs_http_header_timeout(ohub_t *o)
{
    int fd = tcp_connect(o->h.http_port);
    ck_assert_int_ge(fd, 0);
    static const char part[] = "GET /healthz HTTP/1.1\r\nHost: t\r\n";
    ck_assert_int_eq(send(fd, part, sizeof(part) - 1, MSG_NOSIGNAL), (ssize_t)(sizeof(part) - 1));
    int closed = closed_within(fd, 4000);
    close(fd);
    return closed && metric(o, "loophub_http_slow_closed_total") >= 1;
}

/* A body announced and never sent: the connection is closed within a few seconds (the default
 * waits 30 s). */
static int
obs_http_body_timeout(ohub_t *o)
{
    int fd = tcp_connect(o->h.http_port);
    ck_assert_int_ge(fd, 0);
    static const char head[] = "POST /v1/events HTTP/1.1\r\nHost: t\r\nContent-Type: "
                               "application/json\r\nContent-Length: 100\r\n\r\n{";
    ck_assert_int_eq(send(fd, head, sizeof(head) - 1, MSG_NOSIGNAL), (ssize_t)(sizeof(head) - 1));
    int closed = closed_within(fd, 4000);
    close(fd);
    return closed && metric(o, "loophub_http_slow_closed_total") >= 1;
}

/* Two connections held: a third from the same address is closed at once. */
static int
obs_http_per_address(ohub_t *o)
{
    int a = tcp_connect(o->h.http_port), b = tcp_connect(o->h.http_port);
    ck_assert_int_ge(a, 0);
    ck_assert_int_ge(b, 0);
    /* both taken by the hub (a request answered on each would close them: none is sent) */
    int c = tcp_connect(o->h.http_port);
    int closed = c < 0 || closed_within(c, 2000);
    if (c >= 0)
        close(c);
    close(a);
    close(b);
    return closed;
}

/* --- Kafka: librdkafka's mock cluster (kafka_mock, its own process) and kcat ---------------- */

#ifndef LH_KAFKA_MOCK_BIN
#error "LH_KAFKA_MOCK_BIN must name the kafka_mock binary"
#endif

/* Starts kafka_mock with one broker and the topics the rows use; {kafka} is its address. */
static void
prep_kafka(ohub_t *o)
{
    int in[2], out[2];
    ck_assert_int_eq(pipe(in), 0);
    ck_assert_int_eq(pipe(out), 0);
    const char *argv[] = {LH_KAFKA_MOCK_BIN,
                          "--brokers",
                          "1",
                          "--topic",
                          "loophub.events:1",
                          "--topic",
                          "loophub.alerts:1",
                          "--topic",
                          "loophub.changes:1",
                          "--topic",
                          "it.events:1",
                          "--topic",
                          "it.alerts:1",
                          "--topic",
                          "it.changes:1",
                          NULL};
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        dup2(in[0], 0);
        dup2(out[1], 1);
        close(in[0]);
        close(in[1]);
        close(out[0]);
        close(out[1]);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    o->kafka_pid = pid;
    o->kafka_in = in[1];
    fcntl(o->kafka_in, F_SETFD, FD_CLOEXEC);
    /* the bootstrap line */
    size_t n = 0;
    int64_t end = lh_mono_ns() + (int64_t)lh_test_ms(10000) * LH_NS_PER_MS;
    while (n + 1 < sizeof(o->kafka)) {
        int left = (int)((end - lh_mono_ns()) / LH_NS_PER_MS);
        struct pollfd p = {out[0], POLLIN, 0};
        ck_assert_msg(left > 0 && poll(&p, 1, left) > 0, "kafka_mock printed no address");
        char c;
        ck_assert_int_eq(read(out[0], &c, 1), 1);
        if (c == '\n')
            break;
        o->kafka[n++] = c;
    }
    o->kafka[n] = 0;
    close(out[0]);
    ck_assert_msg(strchr(o->kafka, ':') != NULL, "bad bootstrap '%s'", o->kafka);
}

/* One JSON deploy to topic, keyed by its service. */
static void
kcat_deploy(const ohub_t *o, const char *topic, const char *id)
{
    char t[40], line[512];
    iso(o, 0, t, sizeof(t));
    snprintf(line, sizeof(line),
             "api\t{\"id\":\"%s\",\"kind\":\"deploy\",\"time\":\"%s\",\"service\":"
             "\"api\",\"environment\":\"prod\",\"deploy\":{\"deploy_id\":\"%s\"}}\n",
             id, t, id);
    const char *argv[] = {"kcat", "-b", o->kafka, "-P", "-t", topic, "-K", "\t", NULL};
    char *err = NULL;
    int st = lh_test_run(argv, line, NULL, &err, lh_test_ms(30000));
    ck_assert_msg(st == 0, "kcat -P %s: %d %s", topic, st, err ? err : "");
    free(err);
}

typedef struct {
    const ohub_t *o;
    const char *topic;
} kcat_wait_t;

static int
topic_has_message(void *arg)
{
    kcat_wait_t *w = arg;
    const char *argv[] = {"kcat",      "-b", w->o->kafka, "-C", "-t",   w->topic, "-o",
                          "beginning", "-e", "-q",        "-f", "%k\n", NULL};
    char *out = NULL;
    int st = lh_test_run(argv, NULL, &out, NULL, lh_test_ms(30000));
    int has = st == 0 && out && strncmp(out, "api\n", 4) == 0;
    free(out);
    return has;
}

/* A deploy 5 min before an incident (over ZeroMQ): the alert is produced to topic. */
static int
alert_on_topic(ohub_t *o, const char *topic)
{
    deploy(o, "d-1", "api", -300);
    incident(o, "i-1", 0);
    kcat_wait_t w = {o, topic};
    return lh_test_wait_for(topic_has_message, &w, lh_test_ms(15000));
}

static int
obs_kafka_brokers(ohub_t *o)
{
    return alert_on_topic(o, "loophub.alerts");
}

static int
obs_kafka_alerts_topic(ohub_t *o)
{
    return alert_on_topic(o, o->value);
}

#define KAFKA_IN_DEPLOYS "loophub_events_total{kind=\"deploy\",adapter=\"kafka-in\"}"

/* A deploy produced to the events topic named is consumed (the group's first join takes a few
 * seconds on the mock). */
static int
obs_kafka_topic(ohub_t *o)
{
    kcat_deploy(o, o->value, "k-1");
    return wait_metric(o, KAFKA_IN_DEPLOYS, 1, 20000);
}

/* The events topic's partitions are assigned to the hub in the group named (a real join). */
static int
obs_kafka_group(ohub_t *o)
{
    char want[760];
    snprintf(want, sizeof(want), "partitions of group %s", o->value);
    kcat_deploy(o, "loophub.events", "k-1");
    return wait_metric(o, KAFKA_IN_DEPLOYS, 1, 20000) && lh_test_file_count(o->h.log, want) >= 1;
}

/* A deploy produced to the changes topic named (only there) is read. */
static int
obs_kafka_changes_topic(ohub_t *o)
{
    kcat_deploy(o, o->value, "c-1");
    return wait_metric(o, KAFKA_IN_DEPLOYS, 1, 15000);
}

/* Produces a deploy to the changes topic and waits until it is stored. */
static void
change_stored(ohub_t *o, const char *id)
{
    char q[200];
    kcat_deploy(o, "loophub.changes", id);
    snprintf(q, sizeof(q), "SELECT count(*) FROM events WHERE id = '%s'", id);
    ck_assert_msg(wait_sql(o->h.db, q, 1, 15000), "change %s never stored (log %s)", id, o->h.log);
}

/* The changes topic is read under a group of the hub's own name: the same name again goes on
 * from its committed offset, another name reads the topic from the beginning. */
static int
obs_kafka_hub_name(ohub_t *o)
{
    change_stored(o, "c-1");
    ck_assert_int_eq(lh_it_hub_term(&o->h), 0);
    ohub_spawn(o, o->value);
    change_stored(o, "c-2");
    long long same = metric(o, "loophub_events_received_total");
    ck_assert_int_eq(lh_it_hub_term(&o->h), 0);
    char other[760];
    snprintf(other, sizeof(other), "%s-other", o->value);
    ohub_spawn(o, other);
    change_stored(o, "c-3");
    long long renamed = metric(o, "loophub_events_received_total");
    ck_assert_msg(same == 1, "the same hub name read the changes again: %lld events", same);
    return renamed == 3;
}

/* --- webhook sources ------------------------------------------------------------------------- */

#define GH_STATUS LH_TEST_DATA "/sources/github/deployment_status-created-success.json"
#define GH_RUN LH_TEST_DATA "/sources/github/workflow_run-completed-success.json"
#define PD_INCIDENT LH_TEST_DATA "/sources/pagerduty/incident.priority_updated.json"

/* The source a row's flag names ("github-secret-file" -> "github"), into buf. */
static const char *
row_source(const ohub_t *o, char *buf, size_t len)
{
    const row_t *r = o->row;
    snprintf(buf, len, "%.*s", (int)strcspn(r->flag, "-"), r->flag);
    return buf;
}

/* POSTs a fresh copy of fixture to path with one header (may be NULL); the HTTP status. */
static int
src_post(ohub_t *o, const char *path, const char *header, const char *fixture)
{
    const char *file = lh_it_fresh_fixture(&o->h, fixture, "fixture.json", 300);
    const char *hdrs[] = {"Content-Type: application/json", header, NULL};
    lh_it_resp_t r = lh_it_curl_file(&o->h, "POST", path, hdrs, file);
    free(r.body);
    return r.code;
}

/* The latest stored event's column col (malloc'd, "" when none). */
static char *
src_column(ohub_t *o, const char *col)
{
    char q[160];
    snprintf(q, sizeof(q), "SELECT %s FROM events ORDER BY seq DESC LIMIT 1", col);
    char *v = sql_text(o->h.db, q);
    return v ? v : strdup("");
}

static void
prep_source_secret(ohub_t *o)
{
    char src[32], p[700];
    snprintf(p, sizeof(p), "%s/%s.secret", o->h.dir, row_source(o, src, sizeof(src)));
    ck_assert_int_eq(lh_test_write_file(p, "s3cret\n", 7), 0);
}

/* With a secret, an unsigned body at the source's route is refused as unauthenticated (without
 * one it reaches the decoder, which answers something else of "{}"). */
static int
obs_source_secret(ohub_t *o)
{
    char src[32], path[64];
    snprintf(path, sizeof(path), "/v1/sources/%s", row_source(o, src, sizeof(src)));
    return curl_code(o, o->h.http_port, "POST", path, NULL, "{}") == 401;
}

/* Off: the source's route refuses everything (on, "{}" reaches the decoder). */
static int
obs_source_off(ohub_t *o)
{
    char src[32], path[64];
    snprintf(path, sizeof(path), "/v1/sources/%s", row_source(o, src, sizeof(src)));
    return curl_code(o, o->h.http_port, "POST", path, NULL, "{}") == 401;
}

/* A deploy sent to environment prod-x is stored as production. */
static int
obs_env_alias(ohub_t *o)
{
    deploy_in(o, "d-1", "api", "prod-x", -60);
    return sql_int(o->h.db, "SELECT count(*) FROM events WHERE id = 'd-1' AND environment = "
                            "'production'") == 1;
}

/* A deploy of service svc-x is stored as svc-canon. */
static int
obs_service_alias(ohub_t *o)
{
    deploy_in(o, "d-1", "svc-x", "prod", -60);
    return sql_int(o->h.db, "SELECT count(*) FROM events WHERE id = 'd-1' AND service = "
                            "'svc-canon'") == 1;
}

/* A PagerDuty incident (PagerDuty names no environment) lands in staging. */
static int
obs_default_environment(ohub_t *o)
{
    ck_assert_int_eq(src_post(o, "/v1/sources/pagerduty", NULL, PD_INCIDENT), 202);
    char *v = src_column(o, "environment");
    int ok = strcmp(v, "staging") == 0;
    free(v);
    return ok;
}

/* A GitHub deploy's service is the repository's owner/name. */
static int
obs_github_service(ohub_t *o)
{
    ck_assert_int_eq(src_post(o, "/v1/events", "X-GitHub-Event: deployment_status", GH_STATUS),
                     202);
    char *v = src_column(o, "service");
    int ok = strcmp(v, "Codertocat/Hello-World") == 0;
    free(v);
    return ok;
}

/* The completed run of workflow "test" is stored as a deploy (by default runs are ignored). */
static int
obs_github_workflows(ohub_t *o)
{
    ck_assert_int_eq(src_post(o, "/v1/events", "X-GitHub-Event: workflow_run", GH_RUN), 202);
    return sql_int(o->h.db, "SELECT count(*) FROM events WHERE deploy_id = 'gh-run-289782451'") ==
           1;
}

/* The PagerDuty service id PF9KMXH is the service pd-api. */
static int
obs_pagerduty_services(ohub_t *o)
{
    ck_assert_int_eq(src_post(o, "/v1/sources/pagerduty", NULL, PD_INCIDENT), 202);
    char *v = src_column(o, "service");
    int ok = strcmp(v, "pd-api") == 0;
    free(v);
    return ok;
}

#define GL_DEPLOY LH_TEST_DATA "/sources/gitlab/deployment_hook-success.json"

/* A GitLab deploy's service is the project's path with its namespace. */
static int
obs_gitlab_service(ohub_t *o)
{
    ck_assert_int_eq(src_post(o, "/v1/events", "X-Gitlab-Event: Deployment Hook", GL_DEPLOY), 202);
    char *v = src_column(o, "service");
    int ok = strcmp(v, "root/test-deployment-webhooks") == 0;
    free(v);
    return ok;
}

/* A sink named o is one: its series are in /metrics (without --sink there is none). */
static int
obs_sink(ohub_t *o)
{
    return lh_it_metric(&o->h, "loophub_notify_queue{sink=\"o\"}") == 0;
}

/* A Tekton PipelineRun of pipeline release-api (binary mode, the ce-* headers Tekton sends)
 * succeeded a minute ago: a deploy only when the pipeline globs match it (the default, *deploy*,
 * does not). */
static int
obs_tekton_pipelines(ohub_t *o)
{
    char t[40], body[900], path[700];
    ck_assert_int_gt(lh_time_format(lh_now_ns() - 60 * LH_NS_PER_SEC, t, sizeof(t)), 0);
    snprintf(body, sizeof(body),
             "{\"pipelineRun\":{\"metadata\":{\"name\":\"release-api-run-1\","
             "\"namespace\":\"ci\",\"uid\":\"4f0c5e2a-1\",\"labels\":{"
             "\"tekton.dev/pipeline\":\"release-api\",\"app\":\"api\"}},"
             "\"spec\":{\"params\":[{\"name\":\"version\",\"value\":\"1.4.2\"}]},"
             "\"status\":{\"startTime\":\"%s\",\"completionTime\":\"%s\",\"conditions\":"
             "[{\"type\":\"Succeeded\",\"status\":\"True\",\"reason\":\"Succeeded\"}]}}}",
             t, t);
    snprintf(path, sizeof(path), "%s/tekton.json", o->h.dir);
    ck_assert_int_eq(lh_test_write_file(path, body, strlen(body)), 0);
    const char *hdrs[] = {
        "Content-Type: application/json",
        "Ce-Specversion: 1.0",
        "Ce-Id: 2f2b4d3e-opts",
        "Ce-Source: /apis/tekton.dev/v1/namespaces/ci/pipelineruns/release-api-run-1",
        "Ce-Type: dev.tekton.event.pipelinerun.successful.v1",
        NULL};
    lh_it_resp_t r = lh_it_curl_file(&o->h, "POST", "/v1/sources/tekton", hdrs, path);
    ck_assert_msg(r.code == 202, "tekton: %d %s", r.code, r.body ? r.body : "");
    free(r.body);
    return sql_int(o->h.db, "SELECT count(*) FROM events WHERE kind = 1 AND service = 'api' AND "
                            "deploy_id = 'tk-4f0c5e2a-1'") == 1;
}

/* A Jira issue update (the shape of Atlassian's published example, cut to the fields read): an
 * issue of type `type` of project OPS moving to status `to`, with two custom fields. */
static void
jira_post(ohub_t *o, const char *type, const char *to)
{
    char body[1200], path[700];
    snprintf(body, sizeof(body),
             "{\"timestamp\":%lld,\"webhookEvent\":\"jira:issue_updated\","
             "\"issue\":{\"id\":\"10001\",\"key\":\"OPS-7\",\"fields\":{"
             "\"issuetype\":{\"name\":\"%s\"},\"project\":{\"key\":\"OPS\"},"
             "\"status\":{\"name\":\"%s\"},\"summary\":\"Roll out api 1.4\","
             "\"customfield_10050\":\"d-9\",\"customfield_10060\":\"svc-j\"}},"
             "\"changelog\":{\"items\":[{\"field\":\"status\",\"fromString\":\"Awaiting "
             "approval\",\"toString\":\"%s\"}]}}",
             (long long)(lh_now_ns() / LH_NS_PER_MS) - 60000, type, to, to);
    snprintf(path, sizeof(path), "%s/jira.json", o->h.dir);
    ck_assert_int_eq(lh_test_write_file(path, body, strlen(body)), 0);
    const char *hdrs[] = {"Content-Type: application/json", NULL};
    lh_it_resp_t r = lh_it_curl_file(&o->h, "POST", "/v1/sources/jira", hdrs, path);
    ck_assert_msg(r.code == 202, "jira: %d %s", r.code, r.body ? r.body : "");
    free(r.body);
}

static int
ticket_is(ohub_t *o, const char *cond)
{
    char q[300];
    snprintf(q, sizeof(q), "SELECT count(*) FROM events WHERE ticket_id = 'OPS-7' AND %s", cond);
    return sql_int(o->h.db, q) == 1;
}

/* What `loophub audit` (GET /v1/audit) says of the approval of deploy d-9 of api, started 30 s
 * ago, after the ticket of jira_post(), which links it ([source.jira] deploy_field is set). */
static int
d9_approval_is(ohub_t *o, const char *want)
{
    deploy_in(o, "d-9", "api", "prod", -30);
    marker(o);
    lh_it_resp_t r = lh_it_curl(&o->h, "GET", "/v1/audit?service=api&since=1h", NULL, NULL, 0, 0);
    ck_assert_msg(r.code == 200, "audit: %d %s", r.code, r.body ? r.body : "");
    json_t *doc = json_loads(r.body, 0, NULL);
    free(r.body);
    ck_assert_ptr_nonnull(doc);
    const char *got = NULL;
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(doc, "changes"), i, c)
    {
        const char *did = json_string_value(json_object_get(c, "deploy_id"));
        if (did && !strcmp(did, "d-9"))
            got = json_string_value(json_object_get(c, "approval"));
    }
    int ok = got && !strcmp(got, want);
    json_decref(doc);
    return ok;
}

/* An approved issue of type "Normal change" approves the deploy: it is a change ticket (by
 * default only Change and Change Request are, and a task approves nothing). */
static int
obs_jira_change_types(ohub_t *o)
{
    jira_post(o, "Normal change", "Approved");
    return d9_approval_is(o, "approved");
}

/* A move to "CAB approved" approves the change (by default only Approved does). */
static int
obs_jira_approved(ohub_t *o)
{
    jira_post(o, "Change", "CAB approved");
    return d9_approval_is(o, "approved");
}

/* A move to "Turned down" rejects the change (by default Rejected and Declined do). */
static int
obs_jira_rejected(ohub_t *o)
{
    jira_post(o, "Change", "Turned down");
    return d9_approval_is(o, "rejected");
}

/* The ticket links the deploy its customfield_10050 names (by default it links none). */
static int
obs_jira_deploy_field(ohub_t *o)
{
    jira_post(o, "Change", "Approved");
    return sql_int(o->h.db, "SELECT count(*) FROM ticket_links WHERE link = 'd-9'") == 1;
}

/* The ticket's service is its customfield_10060 (by default the project key). */
static int
obs_jira_service_field(ohub_t *o)
{
    jira_post(o, "Change", "Approved");
    return ticket_is(o, "service = 'svc-j'");
}

/* --- the table ------------------------------------------------------------------------------ */

#define SUBS_EXTRA "zmq-subs", "{ep}"
#define JIRA_LINKS "jira-deploy-field", "customfield_10050"

/* clang-format off */
static const row_t rows[] = {
    {"db", "store.path", "{dir}/other.db", {NULL}, NULL, obs_db, 1, NULL},
    {"synchronous", "store.synchronous", "normal", {NULL}, NULL, NULL, 0,
     "SQLite's per-connection durability setting leaves no trace in the file, the log or "
     "/metrics; only a power loss tells full from normal"},
    {"page-size", "store.page_size", "4096", {NULL}, NULL, obs_page_size, 1, NULL},
    {"wal-checkpoint-size", "store.wal_checkpoint_size", "1048576", {NULL}, NULL,
     obs_wal_checkpoint_size, 1, NULL},
    {"alerts-format", "zmq.alerts_format", "json", {NULL}, NULL, obs_alerts_format, 1, NULL},
    {"window", "correlation.window", "1m", {NULL}, NULL, obs_window, 1, NULL},
    {"group-window", "correlation.group_window", "0", {NULL}, NULL, obs_group_window, 1, NULL},
    {"max-suspects", "correlation.max_suspects", "1", {NULL}, NULL, obs_max_suspects, 1, NULL},
    {"require-approved-ticket", "correlation.require_approved_ticket", "prod", {NULL}, NULL,
     obs_require_approved_ticket, 1, NULL},
    {"alert-min-severity", "correlation.alert_min_severity", "critical", {NULL}, NULL,
     obs_alert_min_severity, 1, NULL},
    {"dora-metrics-window", "metrics.dora_window", "0", {NULL}, NULL, obs_dora_metrics_window, 1,
     NULL},
    {"batch-max", "hub.batch_max", "1", {NULL}, NULL, obs_batch_max, 0, NULL},
    {"batch-ms", "hub.batch_ms", "250", {NULL}, NULL, obs_batch_ms, 1, NULL},
    {"log-level", "hub.log_level", "debug", {NULL}, NULL, obs_log_level, 1, NULL},
    {"log-format", "hub.log_format", "json", {NULL}, NULL, obs_log_format, 1, NULL},
    {"retention", "retention.default", "1d", {NULL}, NULL, obs_retention, 0, NULL},
    {"retention-changes", "retention.changes", "1d", {NULL}, NULL, obs_retention_changes, 0, NULL},
    {"retention-incidents", "retention.incidents", "1d", {NULL}, NULL, obs_retention_incidents, 0,
     NULL},
    {"retention-tickets", "retention.tickets", "1d", {NULL}, NULL, obs_retention_tickets, 0, NULL},
    {"retention-alerts", "retention.alerts", "1d", {NULL}, NULL, obs_retention_alerts, 0, NULL},
    {"retention-quarantine", "retention.quarantine", "1s", {NULL}, NULL, obs_retention_quarantine,
     0, NULL},
    {"dedupe-horizon", "store.dedupe_horizon", "1024", {NULL}, NULL, obs_dedupe_horizon, 1, NULL},
    {"keep-original", "store.keep_original", "on", {NULL}, NULL, obs_keep_original, 1, NULL},
    {"quarantine-max-rows", "limits.quarantine_max_rows", "2", {NULL}, NULL,
     obs_quarantine_max_rows, 1, NULL},
    {"quarantine-max-bytes", "limits.quarantine_max_bytes", "300", {NULL}, NULL,
     obs_quarantine_max_bytes, 1, NULL},
    {"max-payload", "limits.max_payload", "2000", {NULL}, NULL, obs_max_payload, 1, NULL},
    {"quarantine-sample", "limits.quarantine_sample", "100", {"max-payload", "2000", NULL}, NULL,
     obs_quarantine_sample, 1, NULL},
    {"max-field", "limits.max_field", "100", {NULL}, NULL, obs_max_field, 1, NULL},
    {"max-clock-skew", "limits.max_clock_skew", "1m", {NULL}, NULL, obs_max_clock_skew, 1, NULL},
    {"am-service-label", "alertmanager.service_label", "app", {NULL}, NULL, obs_am_service_label,
     1, NULL},
    {"am-env-label", "alertmanager.env_label", "cluster", {NULL}, NULL, obs_am_env_label, 1, NULL},
    {"am-severity-label", "alertmanager.severity_label", "prio", {NULL}, NULL,
     obs_am_severity_label, 1, NULL},
    {"redact-defaults", "redaction.defaults", "off", {NULL}, NULL, obs_redact_defaults, 1, NULL},
    {"redact-key", "redaction.key", "^x-internal-", {NULL}, NULL, obs_redact_key, 1, NULL},
    {"redact-value", "redaction.value", "(ssn)[ =:]+([0-9-]{6,})", {NULL}, NULL, obs_redact_value,
     1, NULL},
    {"env-alias", "environments.NAME", "production=prod-x", {NULL}, NULL, obs_env_alias, 1, NULL},
    {"service-alias", "services.NAME", "svc-canon=svc-x", {NULL}, NULL, obs_service_alias, 1, NULL},
    {"default-environment", "sources.default_environment", "staging", {NULL}, NULL,
     obs_default_environment, 1, NULL},
    {"github-secret-file", "source.github.secret_file", "{dir}/github.secret", {NULL}, prep_source_secret,
     obs_source_secret, 1, NULL},
    {"gitlab-secret-file", "source.gitlab.secret_file", "{dir}/gitlab.secret", {NULL}, prep_source_secret,
     obs_source_secret, 1, NULL},
    {"grafana-secret-file", "source.grafana.secret_file", "{dir}/grafana.secret", {NULL}, prep_source_secret,
     obs_source_secret, 1, NULL},
    {"pagerduty-secret-file", "source.pagerduty.secret_file", "{dir}/pagerduty.secret", {NULL}, prep_source_secret,
     obs_source_secret, 1, NULL},
    {"jira-secret-file", "source.jira.secret_file", "{dir}/jira.secret", {NULL}, prep_source_secret,
     obs_source_secret, 1, NULL},
    {"flux-secret-file", "source.flux.secret_file", "{dir}/flux.secret", {NULL}, prep_source_secret,
     obs_source_secret, 1, NULL},
    {"github-enabled", "source.github.enabled", "off", {NULL}, NULL, obs_source_off, 1, NULL},
    {"gitlab-enabled", "source.gitlab.enabled", "off", {NULL}, NULL, obs_source_off, 1, NULL},
    {"grafana-enabled", "source.grafana.enabled", "off", {NULL}, NULL, obs_source_off, 1, NULL},
    {"pagerduty-enabled", "source.pagerduty.enabled", "off", {NULL}, NULL, obs_source_off, 1, NULL},
    {"jira-enabled", "source.jira.enabled", "off", {NULL}, NULL, obs_source_off, 1, NULL},
    {"flux-enabled", "source.flux.enabled", "off", {NULL}, NULL, obs_source_off, 1, NULL},
    {"tekton-enabled", "source.tekton.enabled", "off", {NULL}, NULL, obs_source_off, 1, NULL},
    {"github-service", "source.github.service", "full_name", {NULL}, NULL, obs_github_service, 1,
     NULL},
    {"github-workflows", "source.github.workflows", "test", {NULL}, NULL, obs_github_workflows, 1,
     NULL},
    {"pagerduty-services", "source.pagerduty.services", "PF9KMXH=pd-api", {NULL}, NULL,
     obs_pagerduty_services, 1, NULL},
    {"gitlab-service", "source.gitlab.service", "path", {NULL}, NULL, obs_gitlab_service, 1, NULL},
    {"jira-change-types", "source.jira.change_types", "Normal change", {JIRA_LINKS}, NULL,
     obs_jira_change_types, 1, NULL},
    {"jira-approved", "source.jira.approved", "CAB approved", {JIRA_LINKS}, NULL, obs_jira_approved, 1,
     NULL},
    {"jira-rejected", "source.jira.rejected", "Turned down", {JIRA_LINKS}, NULL, obs_jira_rejected, 1,
     NULL},
    {"jira-deploy-field", "source.jira.deploy_field", "customfield_10050", {NULL}, NULL,
     obs_jira_deploy_field, 1, NULL},
    {"jira-service-field", "source.jira.service_field", "customfield_10060", {NULL}, NULL,
     obs_jira_service_field, 1, NULL},
    {"sink", "sinks.NAME", "o=webhook http://127.0.0.1:9/hook", {NULL}, NULL, obs_sink, 1, NULL},
    {"notify-hub-url", "notify.hub_url", NULL, {NULL}, NULL, NULL, 0,
     "the links need a receiver to read them: it_notify alertmanager_round_trip checks the "
     "generatorURL Alertmanager got, made of this URL"},
    {"notify-queue", "notify.queue", NULL, {NULL}, NULL, NULL, 0,
     "a full queue needs a receiver that holds a thousand posts; the bound is the ring the sink "
     "allocates at this size (notify.c), whose overflow answers the outbox LH_EAGAIN"},
    {"notify-retries", "notify.retries", NULL, {NULL}, NULL, NULL, 0,
     "needs a failing receiver: it_notify webhook_dead_letter_and_degraded runs --notify-retries 2 "
     "and counts the three tries before the dead letter"},
    {"notify-timeout", "notify.timeout", NULL, {NULL}, NULL, NULL, 0,
     "needs a receiver that never answers; the value is libcurl's CURLOPT_TIMEOUT_MS of each post "
     "(notify.c start()), a timeout is retried like a 503 (it_notify)"},
    {"notify-resend", "notify.resend", NULL, {NULL}, NULL, NULL, 0,
     "needs Alertmanager: it_notify alertmanager_round_trip runs --notify-resend 2s and sees "
     "loophub_notify_resent_total move while the alert stays active there"},
    {"notify-max-age", "notify.max_age", NULL, {NULL}, NULL, NULL, 0,
     "needs an alert older than the age when a sink first sees it: a store with history and a "
     "receiver; the check is one comparison in n_publish (notify.c), counted as stale"},
    {"tekton-pipelines", "source.tekton.pipelines", "release-*", {NULL}, NULL, obs_tekton_pipelines,
     1, NULL},
    {"zmq-pull", "zmq.pull", "{ep}", {NULL}, NULL, obs_zmq_pull, 0, NULL},
    {"zmq-router", "zmq.router", "{ep}", {NULL}, NULL, obs_zmq_router, 0, NULL},
    {"zmq-sub", "zmq.sub", "{ep}", {NULL}, NULL, obs_zmq_sub, 0, NULL},
    {"zmq-pub", "zmq.pub", "{ep}", {NULL}, NULL, obs_zmq_pub, 0, NULL},
    {"zmq-pub-queue", "zmq.pub_queue", NULL, {NULL}, NULL, NULL, 0,
     "a loss needs a subscriber that stops reading and a flood past its queue and the socket "
     "buffers (it_zmq test_stuck_subscriber_costs_only_itself runs it with the flag): too slow "
     "for a wiring test"},
    {"zmq-subs", "zmq.subs", "{ep}", {NULL}, NULL, obs_zmq_subs, 0, NULL},
    {"zmq-subs-queue", "zmq.subs_queue", NULL, {NULL}, NULL, NULL, 0,
     "a loss needs a subscriber that stops reading and a flood past its queue and the socket "
     "buffers (it_zmq test_subs_stuck_subscriber_counted_exactly runs it with the flag)"},
    {"zmq-subs-max", "zmq.subs_max", "1", {SUBS_EXTRA, NULL}, NULL, obs_zmq_subs_max, 1, NULL},
    {"zmq-subs-idle", "zmq.subs_idle", "1s", {SUBS_EXTRA, NULL}, NULL, obs_zmq_subs_idle, 0, NULL},
    {"curve-secret-key", "zmq.curve_secret_key", "{dir}/hub.key",
     {"curve-allow", "{dir}/clients.txt", NULL}, prep_curve, obs_curve, 0, NULL},
    {"curve-allow", "zmq.curve_allow", "{dir}/clients.txt",
     {"curve-secret-key", "{dir}/hub.key", NULL}, prep_curve, obs_curve, 0, NULL},
    {"kafka-brokers", "kafka_hub.brokers", "{kafka}", {NULL}, prep_kafka, obs_kafka_brokers, 0,
     NULL},
    {"kafka-topic", "kafka_hub.topic", "it.events", {"kafka-brokers", "{kafka}", NULL}, prep_kafka,
     obs_kafka_topic, 0, NULL},
    {"kafka-group", "kafka_hub.group", "it-group", {"kafka-brokers", "{kafka}", NULL}, prep_kafka,
     obs_kafka_group, 0, NULL},
    {"kafka-alerts-topic", "kafka_hub.alerts_topic", "it.alerts", {"kafka-brokers", "{kafka}",
     NULL}, prep_kafka, obs_kafka_alerts_topic, 0, NULL},
    {"kafka-changes-topic", "kafka_hub.changes_topic", "it.changes", {"kafka-brokers", "{kafka}",
     NULL}, prep_kafka, obs_kafka_changes_topic, 0, NULL},
    {"kafka-hub-name", "kafka_hub.hub_name", "hub-a", {"kafka-brokers", "{kafka}", NULL},
     prep_kafka, obs_kafka_hub_name, 0, NULL},
    {"http", "http.listen", "{addr}", {NULL}, NULL, obs_http, 0, NULL},
    {"http", "http.listen", "off", {NULL}, NULL, obs_http_off, 1, NULL},
    {"http-token-file", "http.token_file", "{dir}/write.token", {NULL}, prep_tokens,
     obs_http_token_file, 1, NULL},
    {"http-read-token-file", "http.read_token_file", "{dir}/read.token", {NULL}, prep_tokens,
     obs_http_read_token_file, 1, NULL},
    {"http-header-timeout", "http.header_timeout", "1s", {NULL}, NULL, obs_http_header_timeout, 0,
     NULL},
    {"http-body-timeout", "http.body_timeout", "1s", {NULL}, NULL, obs_http_body_timeout, 0, NULL},
    {"http-per-address", "http.per_address", "2", {NULL}, NULL, obs_http_per_address, 0, NULL},
};
/* clang-format on */
#define N_ROWS (sizeof(rows) / sizeof(rows[0]))

/* Row _i: the option as a flag, as a config file key, and (control) not set. */
START_TEST(test_option)
{
    const row_t *r = &rows[_i];
    const char *only = getenv("IT_OPTIONS_ONLY"); /* one option's rows, while working on it */
    if (only && *only && strcmp(only, r->flag) != 0)
        return;
    if (r->untested) {
        ck_assert_msg(strlen(r->untested) > 20, "--%s: say why it is untested", r->flag);
        return;
    }
    for (run_t run = RUN_FLAG; run <= RUN_CONTROL; run++) {
        if (run == RUN_CONTROL && !r->control)
            continue;
        ohub_t o;
        ohub_start(&o, r, run);
        int seen = r->observe(&o);
        if (run == RUN_CONTROL)
            ck_assert_msg(!seen, "--%s: the observation holds without the option too (log %s)",
                          r->flag, o.h.log);
        else
            ck_assert_msg(seen, "--%s %s (%s): its effect was not seen (log %s)", r->flag, o.value,
                          run_names[run], o.h.log);
        ohub_stop(&o);
    }
}
END_TEST

/* Every option `loophub run --help` lists has a row (tested or untested with a reason), with the
 * config file key the help names; every row names an option the help lists. */
START_TEST(test_every_option_has_a_row)
{
    const char *argv[] = {lh_test_loophub_bin(), "run", "--help", NULL};
    char *out = NULL;
    ck_assert_int_eq(lh_test_run(argv, NULL, &out, NULL, lh_test_ms(10000)), 0);
    int seen[N_ROWS] = {0}, n_opts = 0;
    char missing[4096] = "";
    size_t ml = 0;
    /* a long option's text is on the next line, in the column: one line each again */
    static const char cont[] = "\n                               ";
    for (char *p; (p = strstr(out, cont));)
        memmove(p, p + sizeof(cont) - 2, strlen(p + sizeof(cont) - 2) + 1);
    for (char *line = strtok(out, "\n"); line; line = strtok(NULL, "\n")) {
        char name[64], key[96] = "";
        if (sscanf(line, " --%63[a-z0-9-]", name) != 1)
            continue;
        if (strcmp(name, "config") == 0 || strcmp(name, "help") == 0)
            continue; /* the mechanism itself: every row's config file run uses --config */
        const char *br = strrchr(line, '[');
        if (br)
            sscanf(br, "[%95[^]]]", key);
        n_opts++;
        int found = 0;
        for (size_t i = 0; i < N_ROWS; i++) {
            if (strcmp(rows[i].flag, name) != 0)
                continue;
            found = 1;
            seen[i] = 1;
            ck_assert_msg(strcmp(rows[i].key, key) == 0, "--%s: the table says [%s], --help [%s]",
                          name, rows[i].key, key);
        }
        if (!found && ml < sizeof(missing) - 80)
            ml += (size_t)snprintf(missing + ml, sizeof(missing) - ml, " --%s", name);
    }
    free(out);
    ck_assert_msg(n_opts >= 40, "read only %d options from --help", n_opts);
    ck_assert_msg(ml == 0, "options without a wiring test (a row in check_options.c):%s", missing);
    for (size_t i = 0; i < N_ROWS; i++)
        ck_assert_msg(seen[i], "row --%s names no option --help lists", rows[i].flag);
}
END_TEST

/* The annotated example config names only settings the table (and so --help) knows, each in its
 * section (its commented-out lines too: a user uncomments them), and names every one of them.
 * [kafka] is passed to librdkafka as is. */
START_TEST(test_example_config_names_real_keys)
{
    char *text = lh_test_must_read(LH_SOURCE_DIR "/examples/loophub.ini");
    char section[64] = "", bad[2048] = "";
    size_t bl = 0;
    int n_keys = 0, listed[N_ROWS] = {0};
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        char name[64];
        if (sscanf(line, "[%63[^]]]", name) == 1) {
            snprintf(section, sizeof(section), "%s", name);
            continue;
        }
        const char *p = line;
        if (*p == ';')
            p += 1 + (p[1] == ' ');
        char eq[2];
        if (strcmp(section, "kafka") == 0 || sscanf(p, "%63[a-z_] %1[=]", name, eq) != 2)
            continue;
        char key[140];
        /* in [environments] and [services] a key is a name, the row is NAME */
        int named = !strcmp(section, "environments") || !strcmp(section, "services") ||
                    !strcmp(section, "sinks");
        snprintf(key, sizeof(key), "%s.%s", section, named ? "NAME" : name);
        n_keys++;
        int found = 0;
        for (size_t i = 0; i < N_ROWS; i++)
            if (strcmp(rows[i].key, key) == 0)
                found = listed[i] = 1;
        if (!found && bl < sizeof(bad) - 160)
            bl += (size_t)snprintf(bad + bl, sizeof(bad) - bl, " [%s] %s", section, name);
    }
    free(text);
    ck_assert_msg(n_keys >= 40, "read only %d settings from examples/loophub.ini", n_keys);
    ck_assert_msg(bl == 0, "examples/loophub.ini names settings loophub run does not know:%s", bad);
    /* and the other way round: a user reading the example sees every setting there is */
    char unlisted[2048] = "";
    size_t ul = 0;
    for (size_t i = 0; i < N_ROWS; i++)
        if (!listed[i] && ul < sizeof(unlisted) - 160)
            ul += (size_t)snprintf(unlisted + ul, sizeof(unlisted) - ul, " [%s]", rows[i].key);
    ck_assert_msg(ul == 0, "settings examples/loophub.ini does not show:%s", unlisted);
}
END_TEST

int
main(void)
{
    Suite *s = suite_create("options");
    const lh_test_case_t cases[] = {
        {"every_option_has_a_row", test_every_option_has_a_row, 0, 0},
        {"example_config_names_real_keys", test_example_config_names_real_keys, 0, 0},
        {"option", test_option, 0, (int)N_ROWS},
    };
    lh_test_add_cases(s, cases, LH_TEST_COUNT(cases), 60, NULL, NULL);
    return lh_test_run_suite(s);
}
