/*
 * cli_common.c - error reporting and settings shared by the loophub subcommands (see cli.h).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "config.h"
#include "kafka/kafka.h"
#include "loophub/error.h"

__attribute__((format(printf, 2, 0))) static void
vreport(const char *cmd, const char *fmt, va_list ap)
{
    fprintf(stderr, "loophub%s%s: ", cmd ? " " : "", cmd ? cmd : "");
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
}

void
lh_cli_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vreport(cmd, fmt, ap);
    va_end(ap);
}

int
lh_cli_usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vreport(cmd, fmt, ap);
    va_end(ap);
    fprintf(stderr, "Try 'loophub %s --help'.\n", cmd ? cmd : "");
    return LH_EXIT_USAGE;
}

int
lh_run_conf_kafka(const lh_run_conf_t *c, lh_kafka_conf_t *k, char *why, size_t whylen)
{
    lh_kafka_conf_init(k);
    const struct {
        const char *key;
        const char *value;
    } own[] = {
        {"brokers", c->kafka_brokers},           {"group", c->kafka_group},
        {"alerts_topic", c->kafka_alerts_topic}, {"changes_topic", c->kafka_changes_topic},
        {"hub_name", c->kafka_hub_name},
    };
    int rc = 0;
    /* [kafka] first: the --kafka-* options and [kafka_hub] settings win over the same keys
     * written there */
    for (size_t i = 0; rc == 0 && i < c->kafka_props.n; i++) {
        char *kv = strdup(c->kafka_props.v[i]);
        char *eq = kv ? strchr(kv, '=') : NULL;
        if (!kv)
            rc = LH_ENOMEM;
        else if (eq) {
            *eq = '\0';
            rc = lh_kafka_conf_set(k, kv, eq + 1);
        }
        free(kv);
    }
    for (size_t i = 0; rc == 0 && i < sizeof(own) / sizeof(own[0]); i++)
        if (own[i].value)
            rc = lh_kafka_conf_set(k, own[i].key, own[i].value);
    for (size_t i = 0; rc == 0 && i < c->kafka_topics.n; i++)
        rc = lh_kafka_conf_set(k, "topic", c->kafka_topics.v[i]);
    if (rc == 0 && (rc = lh_kafka_conf_check(k, why, whylen)) == 0)
        return 0;
    if (rc != LH_ECONFIG)
        snprintf(why, whylen, "kafka settings: %s", lh_strerror(rc));
    lh_kafka_conf_free(k);
    return rc;
}
