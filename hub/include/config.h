/*
 * config.h - `loophub run` settings: one table drives the command-line options, the INI config
 * file (--config FILE, parsed with inih) and the --help text, so the three never disagree.
 *
 * Precedence: embedded defaults < config file < command line. Every endpoint can be turned off
 * with the value "off". The [kafka] section is passed through to librdkafka as is.
 */
#ifndef LOOPHUB_CONFIG_H
#define LOOPHUB_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef struct lh_strlist {
    char **v;
    size_t n;
} lh_strlist_t;

typedef struct lh_run_conf {
    char *db;
    char *zmq_pull;
    char *zmq_router;
    char *zmq_pub;
    lh_strlist_t zmq_sub;
    char *http;
    char *http_token_file;
    int64_t window_ns;
    int alert_min_severity; /* lh_severity_t */
    int alerts_format;      /* lh_alerts_format_t */
    int64_t batch_max;
    int64_t batch_ms;
    int log_level; /* lh_log_level_t */
    char *synchronous;
    int64_t page_size; /* bytes, for a new store */
    int64_t max_payload;
    int64_t max_field;
    int64_t max_future_ns;
    char *kafka_brokers;
    lh_strlist_t kafka_topics;
    char *kafka_group;
    char *kafka_alerts_topic;
    char *kafka_changes_topic;
    char *kafka_hub_name;
    lh_strlist_t kafka_props; /* "key=value" pairs from [kafka] */
    char *am_service_label;
    char *am_env_label;
    char *am_severity_label;
    char *config_path;
} lh_run_conf_t;

/* Fills the embedded defaults. Returns 0 or LH_ENOMEM. */
int lh_run_conf_init(lh_run_conf_t *c);

/* Parses argv (argv[0] = "run"): --config is read first, then the other options override it.
 * Returns 0; 1 when --help was printed; LH_EINVAL (bad usage: err says why) or LH_ECONFIG
 * (config file problem: err names file and line). */
int lh_run_conf_parse(lh_run_conf_t *c, int argc, char **argv, char *err, size_t errlen);

/* Reads an INI config file into c (over what c holds). Returns 0, or LH_ECONFIG with err naming
 * file and line. */
int lh_run_conf_load(lh_run_conf_t *c, const char *path, char *err, size_t errlen);

/* Prints the options table as help text. */
void lh_run_conf_help(FILE *out);

void lh_run_conf_free(lh_run_conf_t *c);

/* 1 when an endpoint value means "disabled" (NULL, "", "off"). */
int lh_conf_off(const char *v);

int lh_strlist_add(lh_strlist_t *l, const char *s);
void lh_strlist_free(lh_strlist_t *l);

#endif
