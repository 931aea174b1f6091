/*
 * config.c - the options table behind `loophub run` (see config.h).
 *
 * Each row names the long option, where it lives in the INI file, its type and its default;
 * parsing, the config file and --help all walk this one table.
 */
#include "config.h"

#include <getopt.h>
#include <ini.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "loophub/error.h"
#include "loophub/event.h"
#include "loophub/format.h"
#include "loophub/log.h"
#include "loophub/timeutil.h"

typedef enum {
    T_STR,
    T_LIST,
    T_DUR,
    T_INT,
    T_SEV,
    T_ALERTS_FMT,
    T_LOGLEVEL,
    T_SIZE,
} opt_type_t;

typedef struct {
    const char *name; /* long option */
    const char *section;
    const char *key;
    opt_type_t type;
    size_t offset;
    const char *dflt;
    const char *arg;
    const char *help;
} opt_t;

#define OFF(f) offsetof(lh_run_conf_t, f)

/* clang-format off */
static const opt_t opts[] = {
    {"db", "store", "path", T_STR, OFF(db), "loophub.db", "PATH", "SQLite timeline store (created if missing)"},
    {"synchronous", "store", "synchronous", T_STR, OFF(synchronous), "full", "full|normal", "full: an acked event survives power loss"},
    {"page-size", "store", "page_size", T_SIZE, OFF(page_size), "16384", "BYTES", "page size of a new store (512..65536); 4096: lower alert latency, less peak rate"},
    {"zmq-pull", "zmq", "pull", T_STR, OFF(zmq_pull), "tcp://127.0.0.1:7701", "EP", "PULL bind endpoint, fire and forget ('off' to disable)"},
    {"zmq-router", "zmq", "router", T_STR, OFF(zmq_router), "tcp://127.0.0.1:7702", "EP", "ROUTER bind endpoint, acked after commit ('off')"},
    {"zmq-sub", "zmq", "sub", T_LIST, OFF(zmq_sub), NULL, "EP", "connect a SUB socket to an existing publisher (repeatable)"},
    {"zmq-pub", "zmq", "pub", T_STR, OFF(zmq_pub), "tcp://127.0.0.1:7703", "EP", "alerts PUB bind endpoint ('off')"},
    {"alerts-format", "zmq", "alerts_format", T_ALERTS_FMT, OFF(alerts_format), "protobuf", "FMT", "protobuf, json or cloudevents (PUB and Kafka)"},
    {"http", "http", "listen", T_STR, OFF(http), "127.0.0.1:7780", "ADDR:PORT", "HTTP API and page ('off' to disable)"},
    {"http-token-file", "http", "token_file", T_STR, OFF(http_token_file), NULL, "FILE", "require this bearer token for HTTP writes"},
    {"window", "correlation", "window", T_DUR, OFF(window_ns), "2h", "DUR", "how long after a deploy an outcome is blamed on it"},
    {"alert-min-severity", "correlation", "alert_min_severity", T_SEV, OFF(alert_min_severity), "error", "SEV", "firing alerts at or above this are outcomes"},
    {"batch-max", "hub", "batch_max", T_INT, OFF(batch_max), "4000", "N", "events per transaction at most"},
    {"batch-ms", "hub", "batch_ms", T_INT, OFF(batch_ms), "10", "MS", "longest a loop turn gathers input"},
    {"log-level", "hub", "log_level", T_LOGLEVEL, OFF(log_level), "info", "LEVEL", "debug, info, warn, error"},
    {"max-payload", "limits", "max_payload", T_SIZE, OFF(max_payload), "1048576", "BYTES", "largest message or request body"},
    {"max-field", "limits", "max_field", T_SIZE, OFF(max_field), "4096", "BYTES", "largest string field"},
    {"max-clock-skew", "limits", "max_clock_skew", T_DUR, OFF(max_future_ns), "1h", "DUR", "how far ahead of the hub's clock an event may be"},
    {"kafka-brokers", "kafka_hub", "brokers", T_STR, OFF(kafka_brokers), NULL, "LIST", "Kafka bootstrap servers (Kafka is off without them)"},
    {"kafka-topic", "kafka_hub", "topic", T_LIST, OFF(kafka_topics), NULL, "T", "events topic to consume (repeatable; default loophub.events)"},
    {"kafka-group", "kafka_hub", "group", T_STR, OFF(kafka_group), "loophub", "G", "consumer group id"},
    {"kafka-alerts-topic", "kafka_hub", "alerts_topic", T_STR, OFF(kafka_alerts_topic), "loophub.alerts", "T", "topic correlated alerts are produced to"},
    {"kafka-changes-topic", "kafka_hub", "changes_topic", T_STR, OFF(kafka_changes_topic), "loophub.changes", "T", "topic of deploys and tickets every hub reads whole"},
    {"kafka-hub-name", "kafka_hub", "hub_name", T_STR, OFF(kafka_hub_name), NULL, "NAME", "this hub's stable name among the hubs (default the host name)"},
    {"am-service-label", "alertmanager", "service_label", T_STR, OFF(am_service_label), "service", "NAME", "Alertmanager label naming the service"},
    {"am-env-label", "alertmanager", "env_label", T_STR, OFF(am_env_label), NULL, "NAME", "label naming the environment (default env, then environment)"},
    {"am-severity-label", "alertmanager", "severity_label", T_STR, OFF(am_severity_label), "severity", "NAME", "label naming the severity"},
};
/* clang-format on */
#define N_OPTS (sizeof(opts) / sizeof(opts[0]))

int
lh_conf_off(const char *v)
{
    return !v || !*v || strcmp(v, "off") == 0 || strcmp(v, "none") == 0;
}

int
lh_strlist_add(lh_strlist_t *l, const char *s)
{
    char **v = realloc(l->v, (l->n + 1) * sizeof(char *));
    if (!v)
        return LH_ENOMEM;
    l->v = v;
    if (!(v[l->n] = strdup(s)))
        return LH_ENOMEM;
    l->n++;
    return 0;
}

void
lh_strlist_free(lh_strlist_t *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
    l->v = NULL;
    l->n = 0;
}

static int
set_value(lh_run_conf_t *c, const opt_t *o, const char *val, char *err, size_t errlen)
{
    char *base = (char *)c + o->offset;
    int64_t i64;
    char *end;
    switch (o->type) {
    case T_STR: {
        char **p = (char **)base;
        char *d = val ? strdup(val) : NULL;
        if (val && !d)
            return LH_ENOMEM;
        free(*p);
        *p = d;
        return 0;
    }
    case T_LIST:
        return val ? lh_strlist_add((lh_strlist_t *)base, val) : 0;
    case T_DUR:
        if (lh_duration_parse(val, &i64) < 0) {
            snprintf(err, errlen, "--%s: '%s' is not a duration (like 90s, 30m, 2h, 7d)", o->name,
                     val);
            return LH_EINVAL;
        }
        *(int64_t *)base = i64;
        return 0;
    case T_INT:
    case T_SIZE:
        i64 = strtoll(val, &end, 10);
        if (!*val || *end || i64 <= 0) {
            snprintf(err, errlen, "--%s: '%s' is not a positive number", o->name, val);
            return LH_EINVAL;
        }
        *(int64_t *)base = i64;
        return 0;
    case T_SEV: {
        lh_severity_t s;
        if (lh_severity_parse(val, &s) < 0) {
            snprintf(err, errlen, "--%s: '%s' is not a severity (info, warning, error, critical)",
                     o->name, val);
            return LH_EINVAL;
        }
        *(int *)base = (int)s;
        return 0;
    }
    case T_ALERTS_FMT: {
        lh_alerts_format_t f;
        if (lh_alerts_format_parse(val, &f) < 0) {
            snprintf(err, errlen, "--%s: '%s' is not protobuf, json or cloudevents", o->name, val);
            return LH_EINVAL;
        }
        *(int *)base = (int)f;
        return 0;
    }
    case T_LOGLEVEL: {
        lh_log_level_t l;
        if (lh_log_level_parse(val, &l) < 0) {
            snprintf(err, errlen, "--%s: '%s' is not debug, info, warn or error", o->name, val);
            return LH_EINVAL;
        }
        *(int *)base = (int)l;
        return 0;
    }
    }
    return LH_EINVAL;
}

int
lh_run_conf_init(lh_run_conf_t *c)
{
    memset(c, 0, sizeof(*c));
    char err[256];
    for (size_t i = 0; i < N_OPTS; i++)
        if (opts[i].dflt && set_value(c, &opts[i], opts[i].dflt, err, sizeof(err)) < 0)
            return LH_ENOMEM;
    return 0;
}

void
lh_run_conf_free(lh_run_conf_t *c)
{
    for (size_t i = 0; i < N_OPTS; i++) {
        char *base = (char *)c + opts[i].offset;
        if (opts[i].type == T_STR) {
            free(*(char **)base);
            *(char **)base = NULL;
        } else if (opts[i].type == T_LIST) {
            lh_strlist_free((lh_strlist_t *)base);
        }
    }
    lh_strlist_free(&c->kafka_props);
    free(c->config_path);
    c->config_path = NULL;
}

typedef struct {
    lh_run_conf_t *c;
    char *err;
    size_t errlen;
    int rc;
} ini_ctx_t;

/* inih as Debian builds it passes no line number; ini_parse() returns the line of the first
 * setting this handler refused, and load_file() prefixes the message with it. */
static int
on_ini(void *user, const char *section, const char *name, const char *value)
{
    ini_ctx_t *ic = user;
    if (strcmp(section, "kafka") == 0) {
        size_t n = strlen(name) + strlen(value) + 2;
        char *kv = malloc(n);
        if (!kv)
            return 0;
        snprintf(kv, n, "%s=%s", name, value);
        int rc = lh_strlist_add(&ic->c->kafka_props, kv);
        free(kv);
        return rc == 0;
    }
    for (size_t i = 0; i < N_OPTS; i++) {
        if (strcmp(opts[i].section, section) == 0 && strcmp(opts[i].key, name) == 0) {
            char e[256];
            if (set_value(ic->c, &opts[i], value, e, sizeof(e)) < 0) {
                snprintf(ic->err, ic->errlen, "[%s] %s: %s", section, name, e);
                ic->rc = LH_ECONFIG;
                return 0;
            }
            return 1;
        }
    }
    snprintf(ic->err, ic->errlen, "unknown setting '%s' in [%s]", name, section);
    ic->rc = LH_ECONFIG;
    return 0;
}

int
lh_run_conf_load(lh_run_conf_t *c, const char *path, char *err, size_t errlen)
{
    free(c->config_path);
    c->config_path = strdup(path);
    char msg[400] = "";
    ini_ctx_t ic = {c, msg, sizeof(msg), 0};
    int rc = ini_parse(path, on_ini, &ic);
    if (rc == -1) {
        snprintf(err, errlen, "cannot open config file %s", path);
        return LH_ECONFIG;
    }
    if (ic.rc < 0) {
        snprintf(err, errlen, "%s:%d: %s", path, rc, msg);
        return ic.rc;
    }
    if (rc > 0) {
        snprintf(err, errlen, "%s:%d: syntax error", path, rc);
        return LH_ECONFIG;
    }
    return 0;
}

void
lh_run_conf_help(FILE *out)
{
    fprintf(out, "Usage: loophub run [OPTIONS]\n\n"
                 "Run the hub: ingest events (ZeroMQ, Kafka, HTTP), keep them in the timeline\n"
                 "store, correlate outcomes with the deploys before them, publish alerts.\n"
                 "Every setting has an embedded default; no config file is needed.\n\n"
                 "Options (config file key in brackets):\n"
                 "  --config FILE                INI file with any of the settings below;\n"
                 "                               a [kafka] section is passed to librdkafka\n");
    for (size_t i = 0; i < N_OPTS; i++) {
        char left[64];
        snprintf(left, sizeof(left), "--%s %s", opts[i].name, opts[i].arg);
        fprintf(out, "  %-28s %s", left, opts[i].help);
        if (opts[i].dflt)
            fprintf(out, " (default %s)", opts[i].dflt);
        fprintf(out, " [%s.%s]\n", opts[i].section, opts[i].key);
    }
    fprintf(out, "  -h, --help                   show this help\n\n"
                 "Signals: SIGINT/SIGTERM stop intake, commit what is in hand, publish pending\n"
                 "alerts and exit 0.\n");
}

int
lh_run_conf_parse(lh_run_conf_t *c, int argc, char **argv, char *err, size_t errlen)
{
    struct option lopts[N_OPTS + 3];
    for (size_t i = 0; i < N_OPTS; i++)
        lopts[i] = (struct option){opts[i].name, required_argument, NULL, (int)(1000 + i)};
    lopts[N_OPTS] = (struct option){"config", required_argument, NULL, 'c'};
    lopts[N_OPTS + 1] = (struct option){"help", no_argument, NULL, 'h'};
    lopts[N_OPTS + 2] = (struct option){NULL, 0, NULL, 0};

    /* pass 1: --config and --help */
    opterr = 0;
    optind = 1;
    int ch;
    const char *config = NULL;
    while ((ch = getopt_long(argc, argv, "hc:", lopts, NULL)) != -1) {
        if (ch == 'h') {
            lh_run_conf_help(stdout);
            return 1;
        }
        if (ch == 'c')
            config = optarg;
    }
    if (config) {
        int rc = lh_run_conf_load(c, config, err, errlen);
        if (rc < 0)
            return rc;
    }
    /* pass 2: everything else overrides the file */
    optind = 1;
    int cli_list_seen[N_OPTS] = {0};
    while ((ch = getopt_long(argc, argv, "hc:", lopts, NULL)) != -1) {
        if (ch == 'c' || ch == 'h')
            continue;
        if (ch == '?' || ch == ':') {
            if (optopt >= 1000)
                snprintf(err, errlen, "option --%s needs a value", opts[optopt - 1000].name);
            else
                snprintf(err, errlen, "unknown option '%s'", argv[optind - 1]);
            return LH_EINVAL;
        }
        size_t i = (size_t)(ch - 1000);
        if (opts[i].type == T_LIST && !cli_list_seen[i]) {
            lh_strlist_free((lh_strlist_t *)((char *)c + opts[i].offset)); /* CLI replaces */
            cli_list_seen[i] = 1;
        }
        int rc = set_value(c, &opts[i], optarg, err, errlen);
        if (rc < 0)
            return rc;
    }
    if (optind < argc) {
        snprintf(err, errlen, "unexpected argument '%s'", argv[optind]);
        return LH_EINVAL;
    }
    if (strcmp(c->synchronous, "full") != 0 && strcmp(c->synchronous, "normal") != 0) {
        snprintf(err, errlen, "--synchronous: '%s' is not full or normal", c->synchronous);
        return LH_EINVAL;
    }
    if (c->page_size < 512 || c->page_size > 65536 || (c->page_size & (c->page_size - 1))) {
        snprintf(err, errlen, "--page-size: %lld is not a power of two from 512 to 65536",
                 (long long)c->page_size);
        return LH_EINVAL;
    }
    return 0;
}
