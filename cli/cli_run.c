/*
 * cli_run.c - `loophub run`: reads the settings (config.h: the core's and every adapter's
 * config map), builds the hub, lets each adapter definition of the registry register its
 * adapters, installs the signal handlers and runs the loop.
 */
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include "cli.h"
#include "config.h"
#include "loophub/error.h"
#include "loophub/hub.h"
#include "loophub/log.h"
#include "loophub/registry.h"

static lh_hub_t *volatile g_hub;
static volatile sig_atomic_t g_stop, g_reload;

static void
on_signal(int sig)
{
    if (sig == SIGHUP) { /* done between two loop turns: on_turn() */
        g_reload = 1;
        return;
    }
    g_stop = 1;
    if (g_hub)
        lh_hub_request_stop(g_hub);
}

/* Installed first thing, so a SIGTERM during start-up is a clean stop too. */
static void
install_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}

/* Each adapter definition compiled in registers what its settings ask for. */
static int
build_adapters(lh_hub_t *hub, const lh_run_conf_t *c)
{
    for (size_t m = 1; m < c->n_maps; m++) {
        char why[600] = "";
        int rc = c->maps[m].def->build(hub, c->maps[m].conf, why, sizeof(why));
        if (rc < 0) {
            if (*why)
                lh_cli_error("run", "%s", why);
            return rc;
        }
    }
    return 0;
}

/* The hub's options from the settings (lh_run_conf_parse() checked them): strings point into c,
 * which must outlive the hub. */
void
lh_cli_hub_opts(const lh_run_conf_t *c, lh_hub_opts_t *out)
{
    lh_hub_opts_t o;
    lh_hub_opts_default(&o);
    o.db_path = c->db;
    o.synchronous_full = strcmp(c->synchronous, "full") == 0;
    o.page_size = (int)c->page_size;
    o.wal_checkpoint_bytes = c->wal_checkpoint_size;
    o.window_ns = c->window_ns;
    o.group_window_ns = c->group_window_ns;
    o.max_suspects = (int)c->max_suspects;
    o.require_approved_ticket = c->require_approved_ticket;
    o.dora_metrics_window_ns = c->dora_metrics_window_ns;
    o.quarantine_max_rows = c->quarantine_max_rows;
    o.quarantine_max_bytes = c->quarantine_max_bytes;
    lh_run_conf_retention(c, o.retention_ns, &o.retention_quarantine_ns);
    o.dedupe_horizon = c->dedupe_horizon;
    o.keep_original = strcmp(c->keep_original, "on") == 0;
    o.alert_min_severity = (lh_severity_t)c->alert_min_severity;
    o.alerts_format = (lh_alerts_format_t)c->alerts_format;
    o.batch_max = (int)c->batch_max;
    o.batch_ms = (int)c->batch_ms;
    o.limits.max_payload = (size_t)c->max_payload;
    o.quarantine_sample = (size_t)c->quarantine_sample;
    o.limits.max_field = (size_t)c->max_field;
    o.limits.max_future_ns = c->max_future_ns;
    o.codec.am_service_label = c->am_service_label;
    if (c->am_env_label) {
        o.codec.am_env_labels[0] = c->am_env_label;
        o.codec.am_env_labels[1] = NULL;
    }
    o.codec.am_severity_label = c->am_severity_label;
    lh_sources_conf_t *src = &o.codec.src;
    for (int i = 0; i < LH_SRC_COUNT; i++) {
        src->secret[i] = c->src_secret[i];
        src->off[i] = c->src_enabled[i] && !strcmp(c->src_enabled[i], "off");
    }
    src->default_env = c->default_env;
    src->github_service = c->github_service;
    src->github_workflows = c->github_workflows;
    src->gitlab_service = c->gitlab_service;
    src->pagerduty_services = c->pagerduty_services;
    src->jira_change_types = c->jira_change_types;
    src->jira_approved = c->jira_approved;
    src->jira_rejected = c->jira_rejected;
    src->jira_deploy_field = c->jira_deploy_field;
    src->jira_service_field = c->jira_service_field;
    src->tekton_pipelines = c->tekton_pipelines;
    o.env_aliases = (const char *const *)c->env_aliases.v;
    o.n_env_aliases = c->env_aliases.n;
    o.service_aliases = (const char *const *)c->service_aliases.v;
    o.n_service_aliases = c->service_aliases.n;
    lh_redact_opts_t ro;
    lh_run_conf_redaction(c, &ro); /* checked by lh_run_conf_parse() */
    o.redact_defaults = ro.defaults;
    o.redact_keys = ro.keys;
    o.n_redact_keys = ro.n_keys;
    o.redact_values = ro.values;
    o.n_redact_values = ro.n_values;
    *out = o;
}

/* --- SIGHUP: the settings read again, what can change live applied -------------------------- */

typedef struct {
    int argc;
    char **argv;
    const lh_adapter_def_t *const *defs;
    size_t n_defs;
    const lh_run_conf_t *first; /* what the hub started with: its other settings point into it */
    lh_run_conf_t *latest;      /* the last reload's, which the live settings point into */
} reload_t;

typedef struct {
    char live[600], later[600];
    size_t nl, nr;
    int want_live; /* this pass notes the live settings (else those that need a restart) */
} changes_t;

static void
note_change(const char *option, int live, void *arg)
{
    changes_t *ch = arg;
    if (live != ch->want_live)
        return;
    char *buf = live ? ch->live : ch->later;
    size_t *n = live ? &ch->nl : &ch->nr, cap = live ? sizeof(ch->live) : sizeof(ch->later);
    if (*n < cap - 40)
        *n += (size_t)snprintf(buf + *n, cap - *n, "%s--%s", *n ? ", " : "", option);
}

static void
reload(lh_hub_t *hub, reload_t *r)
{
    sd_notify(0, "RELOADING=1");
    lh_run_conf_t *n = calloc(1, sizeof(*n));
    char err[512] = "";
    int rc = n ? lh_run_conf_init(n, r->defs, r->n_defs) : LH_ENOMEM;
    if (rc == 0)
        rc = lh_run_conf_parse(n, r->argc, r->argv, err, sizeof(err));
    if (rc != 0) {
        lh_log(LH_LOG_ERROR, "hub", "reload: %s; nothing changed", err[0] ? err : lh_strerror(rc));
        if (n)
            lh_run_conf_free(n);
        free(n);
        sd_notify(0, "READY=1");
        return;
    }
    /* what changed live since the last reload; what needs a restart since the start (the hub
     * still runs with the start's, however many reloads asked for another) */
    changes_t ch = {{0}, {0}, 0, 0, 1};
    lh_run_conf_diff(r->latest ? r->latest : r->first, n, note_change, &ch);
    ch.want_live = 0;
    lh_run_conf_diff(r->first, n, note_change, &ch);
    lh_hub_opts_t o;
    lh_cli_hub_opts(n, &o);
    char why[400] = "";
    if ((rc = lh_hub_reload(hub, &o, why, sizeof(why))) < 0) {
        lh_log(LH_LOG_ERROR, "hub", "reload: %s; nothing changed", why[0] ? why : lh_strerror(rc));
        lh_run_conf_free(n);
        free(n);
        sd_notify(0, "READY=1");
        return;
    }
    lh_log_set_level((lh_log_level_t)n->log_level);
    lh_log_set_format((lh_log_format_t)n->log_format);
    lh_log(LH_LOG_INFO, "hub", "reload: %s%s; webhook secrets read again%s%s%s",
           ch.nl ? "applied " : "no live setting changed", ch.live,
           ch.nr ? "; not changed until a restart: " : "", ch.later,
           ch.nr ? " (left as they were)" : "");
    if (r->latest) { /* nothing points into the previous reload's settings any more */
        lh_run_conf_free(r->latest);
        free(r->latest);
    }
    r->latest = n;
    sd_notify(0, "READY=1");
}

static void
on_turn(lh_hub_t *hub, void *arg)
{
    if (g_reload) {
        g_reload = 0;
        reload(hub, arg);
    }
}

/* A report's arrays (the DORA gauges of /metrics, a /v1/report) take tens of MiB for a minute's
 * work and are freed. glibc raises its mmap threshold to the largest block freed (up to 32 MiB)
 * and its trim threshold to twice that, so that after the first report such arrays come from an
 * arena and stay resident once freed, one arena per thread that ran a report: the hub's peak
 * RSS then held every report's arrays at once (README, Performance). Fixed thresholds keep a
 * block of 256 KiB or more in a mapping of its own, returned when freed. */
#define BIG_BLOCK (256 * 1024)

static void
return_big_blocks(void)
{
    (void)mallopt(M_MMAP_THRESHOLD, BIG_BLOCK);
    (void)mallopt(M_TRIM_THRESHOLD, 4 * BIG_BLOCK);
}

int
lh_cli_run(int argc, char **argv)
{
    lh_run_conf_t c;
    char err[512] = "";
    return_big_blocks();
    install_signals();
    size_t n_defs;
    const lh_adapter_def_t *const *defs = lh_registry_adapters(&n_defs);
    if (lh_run_conf_init(&c, defs, n_defs) < 0) {
        lh_cli_error("run", "out of memory");
        return LH_EXIT_ERROR;
    }
    int rc = lh_run_conf_parse(&c, argc, argv, err, sizeof(err));
    if (rc == 1) {
        lh_run_conf_free(&c);
        return LH_EXIT_OK;
    }
    if (rc == LH_EINVAL) {
        lh_run_conf_free(&c);
        return lh_cli_usage_error("run", "%s", err);
    }
    if (rc < 0) {
        lh_cli_error("run", "%s", err);
        lh_run_conf_free(&c);
        return LH_EXIT_ERROR;
    }
    lh_log_set_level((lh_log_level_t)c.log_level);
    lh_log_set_format((lh_log_format_t)c.log_format);
    if (c.max_suspects > 1000) {
        lh_run_conf_free(&c);
        return lh_cli_usage_error("run", "--max-suspects: at most 1000 (an alert lists them all)");
    }

    lh_hub_opts_t o;
    lh_cli_hub_opts(&c, &o);

    lh_hub_t *hub = NULL;
    rc = lh_hub_new(&o, &hub);
    if (rc < 0) {
        lh_cli_error("run", "cannot open the store %s: %s", c.db, lh_strerror(rc));
        lh_run_conf_free(&c);
        return LH_EXIT_ERROR;
    }
    rc = build_adapters(hub, &c);
    if (rc == 0)
        rc = lh_hub_start_adapters(hub);
    if (rc < 0) {
        lh_cli_error("run", "cannot start: %s (see the log line above)", lh_strerror(rc));
        lh_hub_destroy(&hub);
        lh_run_conf_free(&c);
        return LH_EXIT_ERROR;
    }
    g_hub = hub;
    if (g_stop)
        lh_hub_request_stop(hub);
    /* every endpoint is bound: under systemd (Type=notify, NOTIFY_SOCKET) the unit is started
     * now; elsewhere sd_notify() does nothing */
    sd_notifyf(0, "READY=1\nSTATUS=running, store %s\nMAINPID=%lu", c.db, (unsigned long)getpid());

    reload_t rl = {argc, argv, defs, n_defs, &c, NULL};
    lh_hub_set_turn_hook(hub, on_turn, &rl);
    rc = lh_hub_run(hub);
    sd_notify(0, "STOPPING=1");
    g_hub = NULL;
    lh_hub_destroy(&hub);
    lh_run_conf_free(&c);
    if (rl.latest) {
        lh_run_conf_free(rl.latest);
        free(rl.latest);
    }
    lh_log(LH_LOG_INFO, "hub", "stopped");
    return rc < 0 ? LH_EXIT_ERROR : LH_EXIT_OK;
}
