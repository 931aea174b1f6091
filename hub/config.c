/*
 * config.c - `loophub run`'s settings (see config.h): the core's own config map below and the
 * map of every adapter compiled in (include/loophub/registry.h), walked alike by the option
 * parser, the INI reader and --help, so the three never disagree.
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
#include "loophub/secret.h"
#include "loophub/timeutil.h"
#include "redact.h"
#include "store.h"

#define OFF(f) offsetof(lh_run_conf_t, f)

/* clang-format off */
static const lh_conf_opt_t core_opts[] = {
    {"db", "store", "path", LH_CONF_STR, OFF(db), "loophub.db", "PATH", "SQLite timeline store (created if missing)"},
    {"synchronous", "store", "synchronous", LH_CONF_STR, OFF(synchronous), "full", "full|normal", "full: an acked event survives power loss"},
    {"page-size", "store", "page_size", LH_CONF_SIZE, OFF(page_size), "16384", "BYTES", "page size of a new store (512..65536); 4096: lower alert latency, less peak rate"},
    {"wal-checkpoint-size", "store", "wal_checkpoint_size", LH_CONF_SIZE, OFF(wal_checkpoint_size), "268435456", "BYTES", "WAL size past which a background thread copies it into the store and starts it over (1 MiB..4 GiB); each start-over makes one transaction wait a few ms"},
    {"alerts-format", "zmq", "alerts_format", LH_CONF_ALERTS_FMT, OFF(alerts_format), "protobuf", "FMT", "protobuf, json or cloudevents (PUB and Kafka)"},
    {"window", "correlation", "window", LH_CONF_DUR, OFF(window_ns), "2h", "DUR", "how long after a deploy an outcome is blamed on it"},
    {"group-window", "correlation", "group_window", LH_CONF_DUR, OFF(group_window_ns), "10m", "DUR", "outcomes with the same suspects this close in time join one alert (0: never)"},
    {"max-suspects", "correlation", "max_suspects", LH_CONF_INT, OFF(max_suspects), "10", "N", "suspects an alert lists at most (1..1000); the others are counted"},
    {"require-approved-ticket", "correlation", "require_approved_ticket", LH_CONF_STR, OFF(require_approved_ticket), NULL, "ENVS", "environments (comma-separated: prod,staging) where a change needs a ticket approved before it starts, else an unapproved_change alert"},
    {"alert-min-severity", "correlation", "alert_min_severity", LH_CONF_SEVERITY, OFF(alert_min_severity), "error", "SEV", "firing alerts at or above this are outcomes"},
    {"dora-metrics-window", "metrics", "dora_window", LH_CONF_DUR, OFF(dora_metrics_window_ns), "30d", "DUR", "GET /metrics shows the DORA figures of this long per service and environment, recomputed once a minute (0: none)"},
    {"batch-max", "hub", "batch_max", LH_CONF_INT, OFF(batch_max), "4000", "N", "events per transaction at most"},
    {"batch-ms", "hub", "batch_ms", LH_CONF_INT, OFF(batch_ms), "10", "MS", "longest a loop turn gathers input"},
    {"log-level", "hub", "log_level", LH_CONF_LOGLEVEL, OFF(log_level), "info", "LEVEL", "debug, info, warn, error"},
    {"log-format", "hub", "log_format", LH_CONF_LOGFORMAT, OFF(log_format), "auto", "FMT", "text, json (one object a line), journal (syslog priority prefixes, no time: journald's), or auto: journal under systemd (JOURNAL_STREAM), else text"},
    {"retention", "retention", "default", LH_CONF_KEEP, OFF(retention_ns), NULL, "DUR", "keep changes, incidents, tickets and alerts this long, each unless set on its own (forever: never delete)"},
    {"retention-changes", "retention", "changes", LH_CONF_KEEP, OFF(keep_ns[LH_KIND_DEPLOY]), NULL, "DUR", "deploys (changes), by event time (default 400d)"},
    {"retention-incidents", "retention", "incidents", LH_CONF_KEEP, OFF(keep_ns[LH_KIND_INCIDENT]), NULL, "DUR", "incidents (default 400d)"},
    {"retention-tickets", "retention", "tickets", LH_CONF_KEEP, OFF(keep_ns[LH_KIND_TICKET]), NULL, "DUR", "tickets (default 400d)"},
    {"retention-alerts", "retention", "alerts", LH_CONF_KEEP, OFF(keep_ns[LH_KIND_ALERT]), NULL, "DUR", "monitoring alerts (default 30d)"},
    {"retention-quarantine", "retention", "quarantine", LH_CONF_KEEP, OFF(keep_quarantine_ns), "7d", "DUR", "rejected input, by time of receipt"},
    {"dedupe-horizon", "store", "dedupe_horizon", LH_CONF_INT, OFF(dedupe_horizon), "1000000", "N", "latest events whose ids are held in memory (~21 bytes each); older duplicates are found in the store"},
    {"keep-original", "store", "keep_original", LH_CONF_STR, OFF(keep_original), "off", "on|off", "also store the bytes of each non-protobuf event as received"},
    {"quarantine-max-rows", "limits", "quarantine_max_rows", LH_CONF_INT, OFF(quarantine_max_rows), "100000", "N", "rejected messages kept at most (oldest evicted first)"},
    {"quarantine-max-bytes", "limits", "quarantine_max_bytes", LH_CONF_SIZE, OFF(quarantine_max_bytes), "268435456", "BYTES", "payload bytes the quarantine keeps at most"},
    {"max-payload", "limits", "max_payload", LH_CONF_SIZE, OFF(max_payload), "1048576", "BYTES", "largest message or request body"},
    {"quarantine-sample", "limits", "quarantine_sample", LH_CONF_SIZE, OFF(quarantine_sample), "4096", "BYTES", "of a message over --max-payload, the quarantine keeps only this many first bytes"},
    {"max-field", "limits", "max_field", LH_CONF_SIZE, OFF(max_field), "4096", "BYTES", "largest string field"},
    {"max-clock-skew", "limits", "max_clock_skew", LH_CONF_DUR, OFF(max_future_ns), "1h", "DUR", "how far ahead of the hub's clock an event may be"},
    {"am-service-label", "alertmanager", "service_label", LH_CONF_STR, OFF(am_service_label), "service", "NAME", "Alertmanager label naming the service"},
    {"am-env-label", "alertmanager", "env_label", LH_CONF_STR, OFF(am_env_label), NULL, "NAME", "label naming the environment (default env, then environment)"},
    {"am-severity-label", "alertmanager", "severity_label", LH_CONF_STR, OFF(am_severity_label), "severity", "NAME", "label naming the severity"},
    {"redact-defaults", "redaction", "defaults", LH_CONF_STR, OFF(redact_defaults), "on", "on|off", "built-in rules: secret label keys (" LH_REDACT_DEFAULT_KEYS "), bearer tokens, AWS keys, URL passwords, key=value"},
    {"redact-key", "redaction", "key", LH_CONF_LIST, OFF(redact_keys), NULL, "REGEX", "label keys whose values become [redacted] (repeatable, adds to the defaults)"},
    {"redact-value", "redaction", "value", LH_CONF_LIST, OFF(redact_values), NULL, "REGEX", "text replaced with [redacted] in every string but the ids; its last group only, if it has one (repeatable)"},
    {"env-alias", "environments", "NAME", LH_CONF_LIST, OFF(env_aliases), NULL, "NAME=ALIAS,..", "one name for an environment every source spells its own way: production=prod,prd (repeatable; in the file: [environments] production = prod, prd)"},
    {"service-alias", "services", "NAME", LH_CONF_LIST, OFF(service_aliases), NULL, "NAME=ALIAS,..", "one name for a service: api=API Service (repeatable; in the file: [services] api = API Service)"},
    {"default-environment", "sources", "default_environment", LH_CONF_STR, OFF(default_env), "production", "ENV", "the environment of a webhook event whose source names none (PagerDuty, Jira, Grafana without the label)"},
    {"github-secret-file", "source.github", "secret_file", LH_CONF_STR, OFF(src_secret_file[0]), NULL, "PATH", "GitHub webhooks: the shared secret, checked on every payload (docs/sources.md)"},
    {"github-enabled", "source.github", "enabled", LH_CONF_STR, OFF(src_enabled[0]), "on", "on|off", "off: GitHub payloads are refused"},
    {"gitlab-secret-file", "source.gitlab", "secret_file", LH_CONF_STR, OFF(src_secret_file[1]), NULL, "PATH", "GitLab webhooks: the shared secret, checked on every payload (docs/sources.md)"},
    {"gitlab-enabled", "source.gitlab", "enabled", LH_CONF_STR, OFF(src_enabled[1]), "on", "on|off", "off: GitLab payloads are refused"},
    {"grafana-secret-file", "source.grafana", "secret_file", LH_CONF_STR, OFF(src_secret_file[2]), NULL, "PATH", "Grafana webhooks: the shared secret, checked on every payload (docs/sources.md)"},
    {"grafana-enabled", "source.grafana", "enabled", LH_CONF_STR, OFF(src_enabled[2]), "on", "on|off", "off: Grafana payloads are refused"},
    {"pagerduty-secret-file", "source.pagerduty", "secret_file", LH_CONF_STR, OFF(src_secret_file[3]), NULL, "PATH", "PagerDuty webhooks: the shared secret, checked on every payload (docs/sources.md)"},
    {"pagerduty-enabled", "source.pagerduty", "enabled", LH_CONF_STR, OFF(src_enabled[3]), "on", "on|off", "off: PagerDuty payloads are refused"},
    {"jira-secret-file", "source.jira", "secret_file", LH_CONF_STR, OFF(src_secret_file[4]), NULL, "PATH", "Jira webhooks: the shared secret, checked on every payload (docs/sources.md)"},
    {"jira-enabled", "source.jira", "enabled", LH_CONF_STR, OFF(src_enabled[4]), "on", "on|off", "off: Jira payloads are refused"},
    {"flux-secret-file", "source.flux", "secret_file", LH_CONF_STR, OFF(src_secret_file[5]), NULL, "PATH", "Flux webhooks: the shared secret, checked on every payload (docs/sources.md)"},
    {"flux-enabled", "source.flux", "enabled", LH_CONF_STR, OFF(src_enabled[5]), "on", "on|off", "off: Flux payloads are refused"},
    {"tekton-enabled", "source.tekton", "enabled", LH_CONF_STR, OFF(src_enabled[6]), "on", "on|off", "off: Tekton payloads are refused"},
    {"github-service", "source.github", "service", LH_CONF_STR, OFF(github_service), "name", "name|full_name", "the service of a GitHub deploy: the repository's name or owner/name"},
    {"github-workflows", "source.github", "workflows", LH_CONF_STR, OFF(github_workflows), NULL, "GLOBS", "workflows (comma-separated globs: deploy*) whose completed runs are deploys; none by default"},
    {"gitlab-service", "source.gitlab", "service", LH_CONF_STR, OFF(gitlab_service), "name", "name|path", "the service of a GitLab event: the project's name or path with namespace"},
    {"pagerduty-services", "source.pagerduty", "services", LH_CONF_STR, OFF(pagerduty_services), NULL, "ID=NAME,..", "PagerDuty service ids to loophub service names (default: the PagerDuty service's name)"},
    {"jira-change-types", "source.jira", "change_types", LH_CONF_STR, OFF(jira_change_types), "Change,Change Request", "TYPES", "Jira issue types that are change tickets (the others are tasks)"},
    {"jira-approved", "source.jira", "approved", LH_CONF_STR, OFF(jira_approved), "Approved", "STATUSES", "statuses a transition to approves the change"},
    {"jira-rejected", "source.jira", "rejected", LH_CONF_STR, OFF(jira_rejected), "Rejected,Declined", "STATUSES", "statuses a transition to rejects the change"},
    {"jira-deploy-field", "source.jira", "deploy_field", LH_CONF_STR, OFF(jira_deploy_field), NULL, "FIELD", "the issue field holding the deploy id the ticket is for (customfield_10050)"},
    {"jira-service-field", "source.jira", "service_field", LH_CONF_STR, OFF(jira_service_field), NULL, "FIELD", "the issue field holding the service (default: the project key)"},
    {"tekton-pipelines", "source.tekton", "pipelines", LH_CONF_STR, OFF(tekton_pipelines), "*deploy*", "GLOBS", "Tekton pipelines (comma-separated globs) whose runs are deploys"},
};
/* clang-format on */
#define N_CORE_OPTS (sizeof(core_opts) / sizeof(core_opts[0]))

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
set_value(void *conf, const lh_conf_opt_t *o, const char *val, char *err, size_t errlen)
{
    char *base = (char *)conf + o->offset;
    int64_t i64;
    char *end;
    switch (o->type) {
    case LH_CONF_STR: {
        char **p = (char **)base;
        char *d = val ? strdup(val) : NULL;
        if (val && !d)
            return LH_ENOMEM;
        free(*p);
        *p = d;
        return 0;
    }
    case LH_CONF_LIST:
        return val ? lh_strlist_add((lh_strlist_t *)base, val) : 0;
    case LH_CONF_DUR:
        if (lh_duration_parse(val, &i64) < 0) {
            snprintf(err, errlen, "--%s: '%s' is not a duration (like 90s, 30m, 2h, 7d)", o->name,
                     val);
            return LH_EINVAL;
        }
        *(int64_t *)base = i64;
        return 0;
    case LH_CONF_INT:
    case LH_CONF_SIZE:
        i64 = strtoll(val, &end, 10);
        if (!*val || *end || i64 <= 0) {
            snprintf(err, errlen, "--%s: '%s' is not a positive number", o->name, val);
            return LH_EINVAL;
        }
        *(int64_t *)base = i64;
        return 0;
    case LH_CONF_KEEP:
        if (strcmp(val, "forever") == 0 || strcmp(val, "off") == 0 || strcmp(val, "0") == 0) {
            *(int64_t *)base = LH_CONF_FOREVER;
            return 0;
        }
        if (lh_duration_parse(val, &i64) < 0 || i64 <= 0) {
            snprintf(err, errlen, "--%s: '%s' is not a duration (like 30d, 400d, 12h) or 'forever'",
                     o->name, val);
            return LH_EINVAL;
        }
        *(int64_t *)base = i64;
        return 0;
    case LH_CONF_SEVERITY: {
        lh_severity_t s;
        if (lh_severity_parse(val, &s) < 0) {
            snprintf(err, errlen, "--%s: '%s' is not a severity (info, warning, error, critical)",
                     o->name, val);
            return LH_EINVAL;
        }
        *(int *)base = (int)s;
        return 0;
    }
    case LH_CONF_ALERTS_FMT: {
        lh_alerts_format_t f;
        if (lh_alerts_format_parse(val, &f) < 0) {
            snprintf(err, errlen, "--%s: '%s' is not protobuf, json or cloudevents", o->name, val);
            return LH_EINVAL;
        }
        *(int *)base = (int)f;
        return 0;
    }
    case LH_CONF_LOGFORMAT: {
        lh_log_format_t f;
        if (lh_log_format_parse(val, &f) < 0) {
            snprintf(err, errlen, "--%s: '%s' is not text, json, journal or auto", o->name, val);
            return LH_EINVAL;
        }
        *(int *)base = (int)f;
        return 0;
    }
    case LH_CONF_LOGLEVEL: {
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

/* --- the rows of every map, flat ---------------------------------------------------------- */

typedef struct {
    const lh_conf_opt_t *opt;
    void *conf; /* the settings struct the row's offset is into */
} row_t;

static size_t
n_rows(const lh_run_conf_t *c)
{
    size_t n = 0;
    for (size_t m = 0; m < c->n_maps; m++)
        n += c->maps[m].n_opts;
    return n;
}

/* Row i of the flat list (core map first, then each adapter's in table order). */
static row_t
row_at(const lh_run_conf_t *c, size_t i)
{
    for (size_t m = 0; m < c->n_maps; m++) {
        if (i < c->maps[m].n_opts)
            return (row_t){&c->maps[m].opts[i], c->maps[m].conf};
        i -= c->maps[m].n_opts;
    }
    return (row_t){NULL, NULL};
}

/* 1 when row r holds the same value in a's and b's settings. */
static int
same_value(const lh_conf_opt_t *o, const void *a, const void *b)
{
    const char *pa = (const char *)a + o->offset, *pb = (const char *)b + o->offset;
    switch (o->type) {
    case LH_CONF_STR: {
        const char *x = *(char *const *)pa, *y = *(char *const *)pb;
        return (!x && !y) || (x && y && !strcmp(x, y));
    }
    case LH_CONF_LIST: {
        const lh_strlist_t *x = (const lh_strlist_t *)pa, *y = (const lh_strlist_t *)pb;
        if (x->n != y->n)
            return 0;
        for (size_t i = 0; i < x->n; i++)
            if (strcmp(x->v[i], y->v[i]))
                return 0;
        return 1;
    }
    case LH_CONF_SEVERITY:
    case LH_CONF_ALERTS_FMT:
    case LH_CONF_LOGLEVEL:
    case LH_CONF_LOGFORMAT:
        return *(const int *)pa == *(const int *)pb;
    default:
        return *(const int64_t *)pa == *(const int64_t *)pb;
    }
}

/* The settings a running hub takes again on SIGHUP (lh_hub_reload(), and the log's own). */
static int
live_row(const lh_conf_opt_t *o)
{
    static const char *const names[] = {
        "log-level",          "log-format",
        "alert-min-severity", "window",
        "group-window",       "require-approved-ticket",
        "redact-defaults",    "redact-key",
        "redact-value",       "default-environment",
    };
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (!strcmp(o->name, names[i]))
            return 1;
    return !strncmp(o->section, "source.", 7); /* every webhook source's secret and settings */
}

void
lh_run_conf_diff(const lh_run_conf_t *a, const lh_run_conf_t *b,
                 void (*fn)(const char *option, int live, void *arg), void *arg)
{
    size_t n = n_rows(a);
    for (size_t i = 0; i < n && i < n_rows(b); i++) {
        row_t ra = row_at(a, i), rb = row_at(b, i);
        if (ra.opt != rb.opt || !same_value(ra.opt, ra.conf, rb.conf))
            fn(ra.opt->name, live_row(ra.opt), arg);
    }
}

static int
apply_defaults(lh_run_conf_map_t *m)
{
    char err[256];
    for (size_t i = 0; i < m->n_opts; i++)
        if (m->opts[i].dflt &&
            set_value(m->conf, &m->opts[i], m->opts[i].dflt, err, sizeof(err)) < 0)
            return LH_ENOMEM;
    return 0;
}

static void
free_map(lh_run_conf_map_t *m)
{
    if (!m->conf)
        return;
    for (size_t i = 0; i < m->n_opts; i++) {
        char *base = (char *)m->conf + m->opts[i].offset;
        if (m->opts[i].type == LH_CONF_STR) {
            free(*(char **)base);
            *(char **)base = NULL;
        } else if (m->opts[i].type == LH_CONF_LIST) {
            lh_strlist_free((lh_strlist_t *)base);
        }
    }
    if (m->def && m->def->passthrough)
        lh_strlist_free((lh_strlist_t *)((char *)m->conf + m->def->passthrough_offset));
}

int
lh_run_conf_init(lh_run_conf_t *c, const lh_adapter_def_t *const *defs, size_t n_defs)
{
    memset(c, 0, sizeof(*c));
    if (n_defs + 1 > LH_RUN_CONF_MAX_MAPS)
        return LH_EINVAL;
    c->maps[0] = (lh_run_conf_map_t){NULL, core_opts, N_CORE_OPTS, c};
    c->n_maps = 1;
    if (apply_defaults(&c->maps[0]) < 0)
        goto fail;
    for (size_t d = 0; d < n_defs; d++) {
        lh_run_conf_map_t *m = &c->maps[c->n_maps];
        *m = (lh_run_conf_map_t){defs[d], defs[d]->opts, defs[d]->n_opts, NULL};
        if (!(m->conf = calloc(1, defs[d]->conf_size ? defs[d]->conf_size : 1)))
            goto fail;
        c->n_maps++;
        if (apply_defaults(m) < 0)
            goto fail;
    }
    return 0;
fail:
    lh_run_conf_free(c);
    return LH_ENOMEM;
}

void *
lh_run_conf_adapter(const lh_run_conf_t *c, const char *name)
{
    for (size_t m = 1; m < c->n_maps; m++)
        if (strcmp(c->maps[m].def->name, name) == 0)
            return c->maps[m].conf;
    return NULL;
}

void
lh_run_conf_free(lh_run_conf_t *c)
{
    for (size_t m = 0; m < c->n_maps; m++) {
        free_map(&c->maps[m]);
        if (m > 0)
            free(c->maps[m].conf);
    }
    c->n_maps = 0;
    for (int i = 0; i < LH_SRC_COUNT; i++) {
        free(c->src_secret[i]);
        c->src_secret[i] = NULL;
    }
    free(c->config_path);
    c->config_path = NULL;
}

typedef struct {
    lh_run_conf_t *c;
    char *err;
    size_t errlen;
    int rc;
} ini_ctx_t;

/* The webhook sources' settings: on|off words, the service keys, the aliases written NAME=...;
 * reads each secret file (an error names the file). */
static int
check_sources(lh_run_conf_t *c, char *err, size_t errlen)
{
    for (int i = 0; i < LH_SRC_COUNT; i++) {
        const char *name = lh_source_info(i)->name;
        if (c->src_enabled[i] && strcmp(c->src_enabled[i], "on") &&
            strcmp(c->src_enabled[i], "off")) {
            snprintf(err, errlen, "--%s-enabled: '%s' is not on or off", name, c->src_enabled[i]);
            return LH_EINVAL;
        }
        free(c->src_secret[i]);
        c->src_secret[i] = NULL;
        if (c->src_secret_file[i]) {
            char why[400];
            if (lh_secret_file_read(c->src_secret_file[i], "secret", &c->src_secret[i], why,
                                    sizeof(why)) < 0) {
                snprintf(err, errlen, "--%s-secret-file: %s", name, why);
                return LH_ECONFIG;
            }
        }
    }
    if (c->github_service && strcmp(c->github_service, "name") &&
        strcmp(c->github_service, "full_name")) {
        snprintf(err, errlen, "--github-service: '%s' is not name or full_name", c->github_service);
        return LH_EINVAL;
    }
    if (c->gitlab_service && strcmp(c->gitlab_service, "name") &&
        strcmp(c->gitlab_service, "path")) {
        snprintf(err, errlen, "--gitlab-service: '%s' is not name or path", c->gitlab_service);
        return LH_EINVAL;
    }
    const lh_strlist_t *lists[2] = {&c->env_aliases, &c->service_aliases};
    for (int l = 0; l < 2; l++)
        for (size_t i = 0; i < lists[l]->n; i++) {
            const char *e = lists[l]->v[i], *eq = strchr(e, '=');
            if (!eq || eq == e || !eq[1]) {
                snprintf(err, errlen, "--%s '%s': write it as NAME=ALIAS[,ALIAS...]",
                         l ? "service-alias" : "env-alias", e);
                return LH_EINVAL;
            }
        }
    return 0;
}

/* inih as Debian builds it passes no line number; ini_parse() returns the line of the first
 * setting this handler refused, and load_file() prefixes the message with it. */
static int
on_ini(void *user, const char *section, const char *name, const char *value)
{
    ini_ctx_t *ic = user;
    lh_run_conf_t *c = ic->c;
    for (size_t m = 1; m < c->n_maps; m++) {
        const lh_adapter_def_t *def = c->maps[m].def;
        if (def->passthrough && strcmp(section, def->passthrough) == 0) {
            size_t n = strlen(name) + strlen(value) + 2;
            char *kv = malloc(n);
            if (!kv)
                return 0;
            snprintf(kv, n, "%s=%s", name, value);
            int rc = lh_strlist_add(
                (lh_strlist_t *)((char *)c->maps[m].conf + def->passthrough_offset), kv);
            free(kv);
            return rc == 0;
        }
    }
    size_t n = n_rows(c);
    for (size_t i = 0; i < n; i++) {
        /* a row keyed NAME takes every key of its section as "key=value" ([environments]
         * canonical = alias, alias; [sinks] name = type url ...): the key is a name, not a
         * setting */
        row_t r = row_at(c, i);
        if (r.opt->type == LH_CONF_LIST && !strcmp(r.opt->key, "NAME") &&
            !strcmp(r.opt->section, section)) {
            size_t kn = strlen(name) + strlen(value) + 2;
            char *kv = malloc(kn);
            if (!kv)
                return 0;
            snprintf(kv, kn, "%s=%s", name, value);
            int rc = lh_strlist_add((lh_strlist_t *)((char *)r.conf + r.opt->offset), kv);
            free(kv);
            return rc == 0;
        }
    }
    for (size_t i = 0; i < n; i++) {
        row_t r = row_at(c, i);
        if (strcmp(r.opt->section, section) == 0 && strcmp(r.opt->key, name) == 0) {
            char e[256];
            if (set_value(r.conf, r.opt, value, e, sizeof(e)) < 0) {
                if (ic->rc == 0) /* inih goes on after an error; its line is the first one's */
                    snprintf(ic->err, ic->errlen, "[%s] %s: %s", section, name, e);
                ic->rc = LH_ECONFIG;
                return 0;
            }
            return 1;
        }
    }
    if (ic->rc == 0)
        snprintf(ic->err, ic->errlen, "unknown setting '%s' in [%s]", name, section);
    ic->rc = LH_ECONFIG;
    return 0;
}

/* What is wrong with line `lineno` of the file when inih found no setting there: NULL when the
 * line is a setting (the handler's message stands). inih reports one line, the first error,
 * whether its own syntax error or a setting the handler refused. */
static const char *
syntax_problem(const char *path, int lineno)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return "syntax error";
    char line[1024];
    int n = 0;
    const char *what = "syntax error";
    while (fgets(line, sizeof(line), f))
        if (++n == lineno) {
            const char *p = line + strspn(line, " \t");
            if (*p == '[')
                what = strchr(p, ']') ? "syntax error" : "section header without its closing ']'";
            else if (!strpbrk(p, "=:"))
                what = "expected 'name = value'";
            else
                what = NULL;
            break;
        }
    fclose(f);
    return what;
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
    if (rc > 0 || ic.rc < 0) {
        /* a syntax error before the first refused setting is the one to fix (a header without
         * its ']' makes every setting after it "unknown in []") */
        const char *syntax = rc > 0 ? syntax_problem(path, rc) : NULL;
        if (syntax || ic.rc == 0)
            snprintf(err, errlen, "%s:%d: %s", path, rc, syntax ? syntax : "syntax error");
        else
            snprintf(err, errlen, "%s:%d: %s", path, rc, msg);
        return LH_ECONFIG;
    }
    return 0;
}

void
lh_run_conf_help(const lh_run_conf_t *c, FILE *out)
{
    fprintf(out, "Usage: loophub run [OPTIONS]\n\n"
                 "Run the hub: ingest events (ZeroMQ, Kafka, HTTP), keep them in the timeline\n"
                 "store, correlate outcomes with the deploys before them, publish alerts.\n"
                 "Every setting has an embedded default; no config file is needed.\n\n"
                 "Options (config file key in brackets):\n"
                 "  --config FILE                INI file with any of the settings below\n");
    for (size_t m = 1; m < c->n_maps; m++)
        if (c->maps[m].def->passthrough)
            fprintf(out,
                    "                               ([%s] is passed to the %s adapter as is)\n",
                    c->maps[m].def->passthrough, c->maps[m].def->name);
    size_t n = n_rows(c);
    for (size_t i = 0; i < n; i++) {
        const lh_conf_opt_t *o = row_at(c, i).opt;
        char left[64];
        snprintf(left, sizeof(left), "--%s %s", o->name, o->arg);
        if (strlen(left) >= 28) /* a long one: its text on the next line, in the column */
            fprintf(out, "  %s\n  %-28s %s", left, "", o->help);
        else
            fprintf(out, "  %-28s %s", left, o->help);
        if (o->dflt)
            fprintf(out, " (default %s)", o->dflt);
        fprintf(out, " [%s.%s]\n", o->section, o->key);
    }
    fprintf(out, "  -h, --help                   show this help\n\n"
                 "Signals: SIGINT/SIGTERM stop intake, commit what is in hand, publish pending\n"
                 "alerts and exit 0. SIGHUP reads the settings again and applies what can change\n"
                 "live (log level and format, windows, alert minimum severity, approved-ticket\n"
                 "environments, redaction, webhook sources and their secrets); the log names what\n"
                 "needs a restart.\n");
}

/* --require-approved-ticket: environments separated by commas, spaces around them dropped (in
 * place, so "prod, staging" from a config file reads as "prod,staging"); none may be empty. */
static int
check_env_list(char *list, char *err, size_t errlen)
{
    char *w = list;
    for (const char *r = list; *r; r++)
        if (*r != ' ' && *r != '\t')
            *w++ = *r;
    *w = 0;
    const char *p = list;
    for (;;) {
        const char *e = strchr(p, ',');
        if ((e ? e : p + strlen(p)) == p) {
            snprintf(err, errlen,
                     "--require-approved-ticket: an empty environment in '%s' (give names "
                     "separated by commas: prod,staging)",
                     list);
            return LH_EINVAL;
        }
        if (!e)
            return 0;
        p = e + 1;
    }
}

int
lh_run_conf_parse(lh_run_conf_t *c, int argc, char **argv, char *err, size_t errlen)
{
    size_t n = n_rows(c);
    struct option *lopts = calloc(n + 3, sizeof(*lopts));
    int *cli_list_seen = calloc(n + 1, sizeof(int));
    int rc = 0;
    if (!lopts || !cli_list_seen) {
        rc = LH_ENOMEM;
        goto done;
    }
    for (size_t i = 0; i < n; i++)
        lopts[i] =
            (struct option){row_at(c, i).opt->name, required_argument, NULL, (int)(1000 + i)};
    lopts[n] = (struct option){"config", required_argument, NULL, 'c'};
    lopts[n + 1] = (struct option){"help", no_argument, NULL, 'h'};
    lopts[n + 2] = (struct option){NULL, 0, NULL, 0};

    /* pass 1: --config and --help */
    opterr = 0;
    optind = 1;
    int ch;
    const char *config = NULL;
    while ((ch = getopt_long(argc, argv, "hc:", lopts, NULL)) != -1) {
        if (ch == 'h') {
            lh_run_conf_help(c, stdout);
            rc = 1;
            goto done;
        }
        if (ch == 'c')
            config = optarg;
    }
    if (config && (rc = lh_run_conf_load(c, config, err, errlen)) < 0)
        goto done;
    /* pass 2: everything else overrides the file */
    optind = 1;
    while ((ch = getopt_long(argc, argv, "hc:", lopts, NULL)) != -1) {
        if (ch == 'c' || ch == 'h')
            continue;
        if (ch == '?' || ch == ':') {
            if (optopt >= 1000)
                snprintf(err, errlen, "option --%s needs a value",
                         row_at(c, (size_t)(optopt - 1000)).opt->name);
            else
                snprintf(err, errlen, "unknown option '%s'", argv[optind - 1]);
            rc = LH_EINVAL;
            goto done;
        }
        size_t i = (size_t)(ch - 1000);
        row_t r = row_at(c, i);
        if (r.opt->type == LH_CONF_LIST && !cli_list_seen[i]) {
            lh_strlist_free((lh_strlist_t *)((char *)r.conf + r.opt->offset)); /* CLI replaces */
            cli_list_seen[i] = 1;
        }
        if ((rc = set_value(r.conf, r.opt, optarg, err, errlen)) < 0)
            goto done;
    }
    if (optind < argc) {
        snprintf(err, errlen, "unexpected argument '%s'", argv[optind]);
        rc = LH_EINVAL;
        goto done;
    }
    if (strcmp(c->synchronous, "full") != 0 && strcmp(c->synchronous, "normal") != 0) {
        snprintf(err, errlen, "--synchronous: '%s' is not full or normal", c->synchronous);
        rc = LH_EINVAL;
        goto done;
    }
    if (c->page_size < 512 || c->page_size > 65536 || (c->page_size & (c->page_size - 1))) {
        snprintf(err, errlen, "--page-size: %lld is not a power of two from 512 to 65536",
                 (long long)c->page_size);
        rc = LH_EINVAL;
        goto done;
    }
    if (c->wal_checkpoint_size < (1LL << 20) || c->wal_checkpoint_size > (4LL << 30)) {
        snprintf(err, errlen, "--wal-checkpoint-size: %lld is not from 1 MiB to 4 GiB",
                 (long long)c->wal_checkpoint_size);
        rc = LH_EINVAL;
        goto done;
    }
    if ((rc = lh_run_conf_check_redaction(c, err, errlen)) < 0)
        goto done;
    if (strcmp(c->keep_original, "on") != 0 && strcmp(c->keep_original, "off") != 0) {
        snprintf(err, errlen, "--keep-original: '%s' is not on or off", c->keep_original);
        rc = LH_EINVAL;
        goto done;
    }
    if (c->require_approved_ticket &&
        (rc = check_env_list(c->require_approved_ticket, err, errlen)) < 0)
        goto done;
    if ((rc = check_sources(c, err, errlen)) < 0)
        goto done;
    if (c->dedupe_horizon < 1024) {
        snprintf(err, errlen, "--dedupe-horizon: %lld is less than 1024",
                 (long long)c->dedupe_horizon);
        rc = LH_EINVAL;
        goto done;
    }
    for (size_t m = 1; m < c->n_maps; m++) {
        const lh_adapter_def_t *def = c->maps[m].def;
        if (def->check && (rc = def->check(c->maps[m].conf, err, errlen)) < 0)
            goto done;
    }
done:
    free(lopts);
    free(cli_list_seen);
    return rc;
}

int
lh_run_conf_redaction(const lh_run_conf_t *c, lh_redact_opts_t *o)
{
    lh_redact_opts_default(o);
    if (strcmp(c->redact_defaults, "on") != 0 && strcmp(c->redact_defaults, "off") != 0)
        return LH_EINVAL;
    o->defaults = strcmp(c->redact_defaults, "on") == 0;
    o->keys = (const char *const *)c->redact_keys.v;
    o->n_keys = c->redact_keys.n;
    o->values = (const char *const *)c->redact_values.v;
    o->n_values = c->redact_values.n;
    return 0;
}

void
lh_run_conf_retention(const lh_run_conf_t *c, int64_t keep_ns[5], int64_t *quarantine_ns)
{
    lh_store_retention_t d;
    lh_store_retention_default(&d);
    for (int k = 0; k < 5; k++) {
        int64_t v = c->keep_ns[k] ? c->keep_ns[k] : c->retention_ns;
        keep_ns[k] = k == 0 ? 0 : v == LH_CONF_FOREVER ? 0 : v > 0 ? v : d.keep_ns[k];
    }
    *quarantine_ns = c->keep_quarantine_ns == LH_CONF_FOREVER ? 0
                     : c->keep_quarantine_ns > 0              ? c->keep_quarantine_ns
                                                              : d.quarantine_ns;
}

int
lh_run_conf_check_redaction(const lh_run_conf_t *c, char *err, size_t errlen)
{
    lh_redact_opts_t o;
    if (lh_run_conf_redaction(c, &o) < 0) {
        snprintf(err, errlen, "--redact-defaults: '%s' is not on or off", c->redact_defaults);
        return LH_EINVAL;
    }
    /* compiled here too, so a bad pattern stops `loophub run` before anything opens */
    lh_redact_t *r = NULL;
    int rc = lh_redact_new(&o, &r, err, errlen);
    lh_redact_destroy(&r);
    return rc;
}

/* --- one adapter from settings, for embedding programs ------------------------------------- */

int
lh_adapter_build(lh_hub_t *hub, const lh_adapter_def_t *def, const char *const *settings, size_t n,
                 char *why, size_t whylen)
{
    if (!hub || !def || (n && !settings))
        return LH_EINVAL;
    lh_run_conf_map_t m = {def, def->opts, def->n_opts,
                           calloc(1, def->conf_size ? def->conf_size : 1)};
    if (!m.conf)
        return LH_ENOMEM;
    int rc = apply_defaults(&m);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        const char *eq = settings[i] ? strchr(settings[i], '=') : NULL;
        size_t klen = eq ? (size_t)(eq - settings[i]) : 0;
        const lh_conf_opt_t *o = NULL;
        for (size_t k = 0; eq && k < m.n_opts && !o; k++)
            if (strlen(m.opts[k].name) == klen && strncmp(m.opts[k].name, settings[i], klen) == 0)
                o = &m.opts[k];
        if (!o) {
            snprintf(why, whylen, "adapter %s: '%s' is not one of its settings (NAME=VALUE)",
                     def->name, settings[i] ? settings[i] : "(null)");
            rc = LH_EINVAL;
        } else {
            rc = set_value(m.conf, o, eq + 1, why, whylen);
        }
    }
    if (rc == 0 && def->check)
        rc = def->check(m.conf, why, whylen);
    if (rc == 0)
        rc = def->build(hub, m.conf, why, whylen);
    free_map(&m);
    free(m.conf);
    return rc;
}
