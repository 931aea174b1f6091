/*
 * config.h - `loophub run` settings: the core's config map (config.c) and the map of every
 * adapter compiled in (include/loophub/registry.h) drive the command-line options, the INI
 * config file (--config FILE, parsed with inih) and the --help text, so the three never
 * disagree.
 *
 * Precedence: embedded defaults < config file < command line. Every endpoint can be turned off
 * with the value "off". An adapter's passthrough section ([kafka]) is kept as key=value lines.
 */
#ifndef LOOPHUB_CONFIG_H
#define LOOPHUB_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "loophub/format.h"
#include "loophub/registry.h"
#include "redact.h"

#define LH_RUN_CONF_MAX_MAPS 16

/* One config map and the settings struct its offsets are into. */
typedef struct lh_run_conf_map {
    const lh_adapter_def_t *def; /* NULL for the core's map */
    const lh_conf_opt_t *opts;
    size_t n_opts;
    void *conf;
} lh_run_conf_map_t;

typedef struct lh_run_conf {
    char *db;
    int64_t window_ns;
    int64_t group_window_ns;
    int64_t max_suspects;
    int64_t dora_metrics_window_ns;
    char *require_approved_ticket; /* comma-separated environments, NULL: none */
    int64_t quarantine_max_rows;
    int64_t quarantine_max_bytes;
    int64_t retention_ns; /* LH_CONF_KEEP: every kind without its own */
    int64_t keep_ns[5];   /* LH_CONF_KEEP, by lh_kind_t */
    int64_t keep_quarantine_ns;
    int64_t dedupe_horizon;
    char *keep_original;    /* "on" | "off" */
    int alert_min_severity; /* lh_severity_t */
    int alerts_format;      /* lh_alerts_format_t */
    int64_t batch_max;
    int64_t batch_ms;
    int log_level;  /* lh_log_level_t */
    int log_format; /* lh_log_format_t */
    char *synchronous;
    int64_t page_size;           /* bytes, for a new store */
    int64_t wal_checkpoint_size; /* bytes */
    int64_t max_payload;
    int64_t quarantine_sample;
    int64_t max_field;
    int64_t max_future_ns;
    char *am_service_label;
    char *am_env_label;
    char *am_severity_label;
    char *redact_defaults;      /* "on" | "off" */
    lh_strlist_t redact_keys;   /* label-key rules */
    lh_strlist_t redact_values; /* value rules */
    /* the webhook sources (format.h, docs/sources.md) */
    char *default_env;
    char *src_secret_file[LH_SRC_COUNT];
    char *src_enabled[LH_SRC_COUNT]; /* "on" | "off" */
    char *src_secret[LH_SRC_COUNT];  /* read from src_secret_file by lh_run_conf_parse() */
    char *github_service, *github_workflows, *gitlab_service, *pagerduty_services;
    char *jira_change_types, *jira_approved, *jira_rejected, *jira_deploy_field;
    char *jira_service_field, *tekton_pipelines;
    lh_strlist_t env_aliases;     /* "canonical=alias,alias" ([environments], --env-alias) */
    lh_strlist_t service_aliases; /* ([services], --service-alias) */
    char *config_path;
    lh_run_conf_map_t maps[LH_RUN_CONF_MAX_MAPS]; /* [0]: the core's; then one per adapter */
    size_t n_maps;
} lh_run_conf_t;

/* Fills the embedded defaults of the core and of each of defs[0..n_defs) (each adapter's
 * settings struct is allocated here). Returns 0, or LH_ENOMEM / LH_EINVAL (too many
 * definitions) with nothing left to free. */
int lh_run_conf_init(lh_run_conf_t *c, const lh_adapter_def_t *const *defs, size_t n_defs);

/* The settings struct of the adapter definition named name, or NULL. */
void *lh_run_conf_adapter(const lh_run_conf_t *c, const char *name);

/* Parses argv (argv[0] = "run"): --config is read first, then the other options override it;
 * then each adapter's check(). Returns 0; 1 when --help was printed; LH_EINVAL (bad usage: err
 * says why) or LH_ECONFIG (config file problem: err names file and line). */
int lh_run_conf_parse(lh_run_conf_t *c, int argc, char **argv, char *err, size_t errlen);

/* Reads an INI config file into c (over what c holds). Returns 0, or LH_ECONFIG with err naming
 * file and line. */
int lh_run_conf_load(lh_run_conf_t *c, const char *path, char *err, size_t errlen);

/* The redaction rules the settings ask for (o's lists point into c). LH_EINVAL when
 * redact_defaults is neither on nor off. */
int lh_run_conf_redaction(const lh_run_conf_t *c, lh_redact_opts_t *o);

/* Checks the redaction settings: redact-defaults on|off, every pattern compiles. Returns 0, or
 * LH_EINVAL with err naming the option and the pattern (LH_ENOMEM). lh_run_conf_parse() calls
 * it. */
int lh_run_conf_check_redaction(const lh_run_conf_t *c, char *err, size_t errlen);

/* The retention the settings ask for, resolved: per kind (lh_kind_t) its own setting, else
 * --retention, else the default; 0 is forever. */
void lh_run_conf_retention(const lh_run_conf_t *c, int64_t keep_ns[5], int64_t *quarantine_ns);

/* Prints every map's rows as help text. */
void lh_run_conf_help(const lh_run_conf_t *c, FILE *out);

/* Frees every setting, the adapters' settings structs too. */
void lh_run_conf_free(lh_run_conf_t *c);

/* SIGHUP: calls fn for each setting whose value differs between a and b (the same maps, as two
 * parses of one command line make), with live = 1 when a running hub takes it again
 * (lh_hub_reload(): the log level and format, the correlation window, group window and alert
 * minimum severity, the environments that need an approved ticket, the redaction rules, the
 * default environment and every webhook source setting), 0 when it needs a restart. A source's
 * secret file read again is not a difference here: the reload applies them all anyway. */
void lh_run_conf_diff(const lh_run_conf_t *a, const lh_run_conf_t *b,
                      void (*fn)(const char *option, int live, void *arg), void *arg);

#endif
