/*
 * kafka_conf.c - Kafka settings: the lh_kafka_conf_t setters, their defaults, and the
 * translation into librdkafka configurations for the three kinds of handle loophub creates.
 *
 * Order of precedence when a handle is configured: loophub's defaults for the role (at-least-once
 * consumer settings, a bounded producer queue, a finite message timeout), then the user's
 * [kafka] properties in the order given, then what loophub must own (bootstrap.servers from
 * `brokers`, group.id from `group`). An unknown or invalid property is reported with librdkafka's
 * own message. Log lines and errors of every handle are queued (log.queue) and so reach lh_log()
 * on the thread that polls the handle, never on a librdkafka thread.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kafka_internal.h"
#include "loophub/error.h"
#include "loophub/log.h"

#define COMPONENT "kafka"

void
lh_kafka_conf_init(lh_kafka_conf_t *c)
{
    memset(c, 0, sizeof(*c));
}

static void
free_topics(lh_kafka_conf_t *c)
{
    for (size_t i = 0; i < c->n_topics; i++)
        free(c->topics[i]);
    free(c->topics);
    c->topics = NULL;
    c->n_topics = 0;
}

void
lh_kafka_conf_free(lh_kafka_conf_t *c)
{
    if (!c)
        return;
    free(c->brokers);
    free_topics(c);
    free(c->group);
    free(c->alerts_topic);
    free(c->changes_topic);
    free(c->hub_name);
    for (size_t i = 0; i < c->n_props; i++) {
        free(c->props[i].key);
        free(c->props[i].value);
    }
    free(c->props);
    memset(c, 0, sizeof(*c));
}

static int
set_str(char **slot, const char *value)
{
    char *copy = strdup(value);
    if (!copy)
        return LH_ENOMEM;
    free(*slot);
    *slot = copy;
    return 0;
}

/* Replaces the topic list with the comma-separated names in value (blanks trimmed). */
static int
set_topics(lh_kafka_conf_t *c, const char *value)
{
    size_t cap = 1;
    for (const char *p = value; *p; p++)
        cap += *p == ',';
    char **list = calloc(cap, sizeof(*list));
    if (!list)
        return LH_ENOMEM;
    size_t n = 0;
    const char *p = value;
    while (*p) {
        const char *end = strchr(p, ',');
        if (!end)
            end = p + strlen(p);
        const char *a = p, *b = end;
        while (a < b && (*a == ' ' || *a == '\t'))
            a++;
        while (b > a && (b[-1] == ' ' || b[-1] == '\t'))
            b--;
        if (b > a) {
            list[n] = strndup(a, (size_t)(b - a));
            if (!list[n]) {
                for (size_t i = 0; i < n; i++)
                    free(list[i]);
                free(list);
                return LH_ENOMEM;
            }
            n++;
        }
        p = *end ? end + 1 : end;
    }
    free_topics(c);
    if (n == 0) {
        free(list);
        return 0;
    }
    c->topics = list;
    c->n_topics = n;
    return 0;
}

/* Appends one topic (a repeatable option). */
static int
add_topic(lh_kafka_conf_t *c, const char *value)
{
    if (!*value)
        return LH_EINVAL;
    char **grown = realloc(c->topics, (c->n_topics + 1) * sizeof(*grown));
    if (!grown)
        return LH_ENOMEM;
    c->topics = grown;
    if (!(c->topics[c->n_topics] = strdup(value)))
        return LH_ENOMEM;
    c->n_topics++;
    return 0;
}

static int
set_prop(lh_kafka_conf_t *c, const char *key, const char *value)
{
    for (size_t i = 0; i < c->n_props; i++) {
        if (strcmp(c->props[i].key, key) == 0)
            return set_str(&c->props[i].value, value);
    }
    lh_kafka_prop_t *grown = realloc(c->props, (c->n_props + 1) * sizeof(*grown));
    if (!grown)
        return LH_ENOMEM;
    c->props = grown;
    char *k = strdup(key), *v = strdup(value);
    if (!k || !v) {
        free(k);
        free(v);
        return LH_ENOMEM;
    }
    c->props[c->n_props].key = k;
    c->props[c->n_props].value = v;
    c->n_props++;
    return 0;
}

int
lh_kafka_conf_set(lh_kafka_conf_t *c, const char *key, const char *value)
{
    if (!c || !key || !*key || !value)
        return LH_EINVAL;
    if (strcmp(key, "brokers") == 0)
        return set_str(&c->brokers, value);
    if (strcmp(key, "topics") == 0)
        return set_topics(c, value);
    if (strcmp(key, "topic") == 0)
        return add_topic(c, value);
    if (strcmp(key, "group") == 0)
        return set_str(&c->group, value);
    if (strcmp(key, "alerts_topic") == 0)
        return set_str(&c->alerts_topic, value);
    if (strcmp(key, "changes_topic") == 0)
        return set_str(&c->changes_topic, value);
    if (strcmp(key, "hub_name") == 0)
        return set_str(&c->hub_name, value);
    return set_prop(c, key, value);
}

int
lh__kafka_conf_copy(lh_kafka_conf_t *dst, const lh_kafka_conf_t *src)
{
    lh_kafka_conf_init(dst);
    const struct {
        char **to;
        const char *from;
    } strs[] = {
        {&dst->brokers, src->brokers},           {&dst->group, src->group},
        {&dst->alerts_topic, src->alerts_topic}, {&dst->changes_topic, src->changes_topic},
        {&dst->hub_name, src->hub_name},
    };
    for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++) {
        if (strs[i].from && !(*strs[i].to = strdup(strs[i].from)))
            goto nomem;
    }
    if (src->n_topics) {
        dst->topics = calloc(src->n_topics, sizeof(*dst->topics));
        if (!dst->topics)
            goto nomem;
        for (size_t i = 0; i < src->n_topics; i++) {
            if (!(dst->topics[i] = strdup(src->topics[i])))
                goto nomem_topics;
            dst->n_topics++;
        }
    }
    for (size_t i = 0; i < src->n_props; i++) {
        if (set_prop(dst, src->props[i].key, src->props[i].value) != 0)
            goto nomem;
    }
    return 0;
nomem_topics:
    if (dst->n_topics == 0) {
        free(dst->topics);
        dst->topics = NULL;
    }
nomem:
    lh_kafka_conf_free(dst);
    return LH_ENOMEM;
}

const char *
lh__kafka_topic(const lh_kafka_conf_t *c, size_t i)
{
    return c->n_topics ? c->topics[i] : LH__KAFKA_DEFAULT_TOPIC;
}

size_t
lh__kafka_n_topics(const lh_kafka_conf_t *c)
{
    return c->n_topics ? c->n_topics : 1;
}

const char *
lh__kafka_group(const lh_kafka_conf_t *c)
{
    return c->group && *c->group ? c->group : LH__KAFKA_DEFAULT_GROUP;
}

const char *
lh__kafka_alerts_topic(const lh_kafka_conf_t *c)
{
    return c->alerts_topic && *c->alerts_topic ? c->alerts_topic : LH__KAFKA_DEFAULT_ALERTS;
}

const char *
lh__kafka_changes_topic(const lh_kafka_conf_t *c)
{
    if (!c->changes_topic)
        return LH__KAFKA_DEFAULT_CHANGES;
    if (!*c->changes_topic || strcmp(c->changes_topic, "off") == 0)
        return NULL;
    return c->changes_topic;
}

void
lh__kafka_changes_group(const lh_kafka_conf_t *c, char *buf, size_t len)
{
    char host[256] = "localhost";
    const char *name = c->hub_name;
    if (!name || !*name) {
        if (gethostname(host, sizeof(host) - 1) != 0 || !host[0])
            strcpy(host, "localhost");
        host[sizeof(host) - 1] = '\0';
        name = host;
    }
    snprintf(buf, len, "%s.changes.%s", lh__kafka_group(c), name);
}

/* librdkafka's syslog levels: 0-3 error, 4 warning, 5-6 notice/info, 7 debug. Warnings and
 * errors are rate-limited; while all brokers are known to be down (already logged once), the
 * repeated connection failures drop to debug. */
static void
log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    lh__kafka_state_t *st = rd_kafka_opaque(rk);
    const char *name = rd_kafka_name(rk);
    if (st && st->quiet) {
        if (level <= 3)
            snprintf(st->last_error, sizeof(st->last_error), "%s", buf);
        lh_log(LH_LOG_DEBUG, COMPONENT, "%s: %s: %s", name, fac, buf);
        return;
    }
    if (level <= 4) {
        /* the [kafka] properties go to every handle: a consumer property on the producer is
         * expected, not a problem worth a warning */
        if ((st && st->down) ||
            (strcmp(fac, "CONFWARN") == 0 && strstr(buf, "will be ignored by this"))) {
            lh_log(LH_LOG_DEBUG, COMPONENT, "%s: %s: %s", name, fac, buf);
            return;
        }
        lh_log_ratelimited(level <= 3 ? "kafka-librdkafka-error" : "kafka-librdkafka-warn",
                           LH_LOG_WARN, COMPONENT, "%s: %s: %s", name, fac, buf);
    } else if (level <= 6) {
        lh_log(LH_LOG_INFO, COMPONENT, "%s: %s: %s", name, fac, buf);
    } else {
        lh_log(LH_LOG_DEBUG, COMPONENT, "%s: %s: %s", name, fac, buf);
    }
}

void
lh__kafka_note_down(lh__kafka_state_t *st, const char *reason)
{
    if (st->down)
        return;
    st->down = 1;
    snprintf(st->down_reason, sizeof(st->down_reason), "%s", reason);
    lh_log(LH_LOG_WARN, COMPONENT,
           "%s: all brokers are down (%s); retrying in the background, other inputs keep "
           "working",
           st->what, reason);
}

void
lh__kafka_note_up(lh__kafka_state_t *st)
{
    if (!st->down)
        return;
    st->down = 0;
    lh_log(LH_LOG_INFO, COMPONENT, "%s: brokers reachable again", st->what);
}

int
lh__kafka_health(const lh__kafka_state_t *st, char *why, size_t whylen)
{
    if (!st->down)
        return LH_HEALTH_OK;
    snprintf(why, whylen, "brokers unreachable (%s)", st->down_reason);
    return LH_HEALTH_DEGRADED;
}

static void
error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    lh__kafka_state_t *st = opaque;
    if (st->quiet) {
        if (err != RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN || !st->last_error[0])
            snprintf(st->last_error, sizeof(st->last_error), "%s", reason);
        lh_log(LH_LOG_DEBUG, COMPONENT, "%s: %s: %s", st->what,
               rd_kafka_err2name((rd_kafka_resp_err_t)err), reason);
        return;
    }
    if (err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN) {
        lh__kafka_note_down(st, reason);
        return;
    }
    if (err == RD_KAFKA_RESP_ERR__FATAL) {
        char why[512];
        rd_kafka_resp_err_t ferr = rd_kafka_fatal_error(rk, why, sizeof(why));
        lh_log(LH_LOG_ERROR, COMPONENT, "%s: fatal error %s: %s", st->what, rd_kafka_err2name(ferr),
               why);
        return;
    }
    if (err == RD_KAFKA_RESP_ERR__TRANSPORT || err == RD_KAFKA_RESP_ERR__RESOLVE) {
        if (st->down) {
            lh_log(LH_LOG_DEBUG, COMPONENT, "%s: %s", st->what, reason);
            return;
        }
    }
    lh_log_ratelimited("kafka-error", LH_LOG_WARN, COMPONENT, "%s: %s: %s", st->what,
                       rd_kafka_err2name((rd_kafka_resp_err_t)err), reason);
}

typedef struct {
    const char *key;
    const char *value;
} kv_t;

static const kv_t common_defaults[] = {
    {"client.id", "loophub"},
    {"log.queue", "true"},
    {"log.connection.close", "false"},
};

static const kv_t consumer_defaults[] = {
    {"enable.auto.offset.store", "false"}, /* stored in done(), after the SQLite commit */
    {"enable.auto.commit", "true"},        /* periodic commit of stored offsets */
    {"auto.offset.reset", "earliest"},     /* a new group reads the topic from its beginning */
    {"enable.partition.eof", "false"},
    /* bound the prefetch: librdkafka's defaults (64 MiB a partition) dominated the hub's memory
     * in the benchmark (RSS 189 -> 120 MiB on 300k events, no throughput change). With the group
     * consumer both limits apply to the one consumer queue, and librdkafka 2.0 answers a full
     * queue with a fetch backoff of fetch.error.backoff.ms (500 ms): the queue must hold more than
     * that much of the hub's work, or the hub sits idle in poll until the next fetch (5000
     * messages, ~0.1 s of work, left it idle ~0.7 s every ~3 s). The byte limit stays the bound. */
    {"queued.max.messages.kbytes", "8192"},
    {"queued.min.messages", "50000"},
};

static const kv_t producer_defaults[] = {
    {"queue.buffering.max.messages", "100000"}, /* full: publish() fails, never blocks */
    {"message.timeout.ms", "60000"},            /* then the hub offers the alert again */
};

static int
apply(rd_kafka_conf_t *conf, const char *key, const char *value, char *why, size_t whylen)
{
    char err[512];
    if (rd_kafka_conf_set(conf, key, value, err, sizeof(err)) != RD_KAFKA_CONF_OK) {
        snprintf(why, whylen, "kafka property '%s': %s", key, err);
        return LH_ECONFIG;
    }
    return 0;
}

static int
apply_list(rd_kafka_conf_t *conf, const kv_t *list, size_t n, char *why, size_t whylen)
{
    for (size_t i = 0; i < n; i++) {
        int rc = apply(conf, list[i].key, list[i].value, why, whylen);
        if (rc)
            return rc;
    }
    return 0;
}

#define N(a) (sizeof(a) / sizeof((a)[0]))

int
lh__kafka_rdconf(const lh_kafka_conf_t *c, lh__kafka_role_t role, void *opaque,
                 rd_kafka_conf_t **out, char *why, size_t whylen)
{
    *out = NULL;
    int has_bootstrap = c->brokers && *c->brokers;
    for (size_t i = 0; i < c->n_props && !has_bootstrap; i++)
        has_bootstrap = strcmp(c->props[i].key, "bootstrap.servers") == 0 ||
                        strcmp(c->props[i].key, "metadata.broker.list") == 0;
    if (!has_bootstrap) {
        snprintf(why, whylen, "kafka: no brokers given (--kafka-brokers or [kafka] brokers)");
        return LH_ECONFIG;
    }
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (!conf) {
        snprintf(why, whylen, "kafka: out of memory");
        return LH_ENOMEM;
    }
    int rc = apply_list(conf, common_defaults, N(common_defaults), why, whylen);
    if (!rc && role != LH__KAFKA_PRODUCER)
        rc = apply_list(conf, consumer_defaults, N(consumer_defaults), why, whylen);
    if (!rc && role == LH__KAFKA_PRODUCER)
        rc = apply_list(conf, producer_defaults, N(producer_defaults), why, whylen);
    for (size_t i = 0; !rc && i < c->n_props; i++) {
        /* group.id is loophub's to set (from `group`); the rest passes through */
        if (role != LH__KAFKA_PRODUCER && strcmp(c->props[i].key, "group.id") == 0)
            continue;
        rc = apply(conf, c->props[i].key, c->props[i].value, why, whylen);
    }
    if (!rc && c->brokers && *c->brokers)
        rc = apply(conf, "bootstrap.servers", c->brokers, why, whylen);
    if (!rc && role == LH__KAFKA_CONSUMER)
        rc = apply(conf, "group.id", lh__kafka_group(c), why, whylen);
    if (!rc && role == LH__KAFKA_CHANGES) {
        char group[512];
        lh__kafka_changes_group(c, group, sizeof(group));
        rc = apply(conf, "group.id", group, why, whylen);
    }
    if (rc) {
        rd_kafka_conf_destroy(conf);
        return rc;
    }
    rd_kafka_conf_set_log_cb(conf, log_cb);
    rd_kafka_conf_set_error_cb(conf, error_cb);
    rd_kafka_conf_set_opaque(conf, opaque);
    *out = conf;
    return 0;
}

int
lh_kafka_conf_check(const lh_kafka_conf_t *c, char *why, size_t whylen)
{
    const lh__kafka_role_t roles[] = {LH__KAFKA_CONSUMER, LH__KAFKA_PRODUCER};
    for (size_t i = 0; i < N(roles); i++) {
        rd_kafka_conf_t *conf;
        int rc = lh__kafka_rdconf(c, roles[i], NULL, &conf, why, whylen);
        if (rc)
            return rc == LH_ENOMEM ? rc : LH_ECONFIG;
        rd_kafka_conf_destroy(conf);
    }
    return 0;
}

int
lh__kafka_new(rd_kafka_type_t type, rd_kafka_conf_t *conf, const char *what, rd_kafka_t **out)
{
    char err[512];
    rd_kafka_t *rk = rd_kafka_new(type, conf, err, sizeof(err));
    if (!rk) {
        rd_kafka_conf_destroy(conf);
        lh_log(LH_LOG_ERROR, COMPONENT, "%s: cannot create the client: %s", what, err);
        *out = NULL;
        return LH_ECONFIG;
    }
    /* log.queue: log lines wait on the main queue and are served by whoever polls it */
    rd_kafka_set_log_queue(rk, NULL);
    *out = rk;
    return 0;
}

int
lh__kafka_pipe(int fds[2])
{
    if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) != 0) {
        lh_log(LH_LOG_ERROR, COMPONENT, "pipe: %s", strerror(errno));
        fds[0] = fds[1] = -1;
        return LH_EIO;
    }
    return 0;
}

void
lh__kafka_drain(int fd)
{
    char buf[256];
    while (read(fd, buf, sizeof(buf)) > 0)
        ;
}

void
lh__kafka_wake(int fd)
{
    /* a full pipe is already readable: EAGAIN is fine */
    ssize_t n = write(fd, "w", 1);
    (void)n;
}
