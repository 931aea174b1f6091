/*
 * kafka_def.c - the Kafka adapters' definition for the registry: the [kafka_hub] settings, the
 * [kafka] section passed to librdkafka as is, and the build step that creates the consumer and
 * the alerts producer when brokers are given.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kafka.h"
#include "loophub/error.h"
#include "loophub/registry.h"

#define OFF(f) offsetof(lh_kafka_settings_t, f)

/* clang-format off */
static const lh_conf_opt_t kafka_opts[] = {
    {"kafka-brokers", "kafka_hub", "brokers", LH_CONF_STR, OFF(brokers), NULL, "LIST", "Kafka bootstrap servers (Kafka is off without them)"},
    {"kafka-topic", "kafka_hub", "topic", LH_CONF_LIST, OFF(topics), NULL, "T", "events topic to consume (repeatable; default loophub.events)"},
    {"kafka-group", "kafka_hub", "group", LH_CONF_STR, OFF(group), "loophub", "G", "consumer group id"},
    {"kafka-alerts-topic", "kafka_hub", "alerts_topic", LH_CONF_STR, OFF(alerts_topic), "loophub.alerts", "T", "topic correlated alerts are produced to"},
    {"kafka-changes-topic", "kafka_hub", "changes_topic", LH_CONF_STR, OFF(changes_topic), "loophub.changes", "T", "topic of deploys and tickets every hub reads whole"},
    {"kafka-hub-name", "kafka_hub", "hub_name", LH_CONF_STR, OFF(hub_name), NULL, "NAME", "this hub's stable name among the hubs (default the host name)"},
};
/* clang-format on */

int
lh_kafka_settings_conf(const lh_kafka_settings_t *s, lh_kafka_conf_t *k, char *why, size_t whylen)
{
    lh_kafka_conf_init(k);
    const struct {
        const char *key;
        const char *value;
    } own[] = {
        {"brokers", s->brokers},           {"group", s->group},
        {"alerts_topic", s->alerts_topic}, {"changes_topic", s->changes_topic},
        {"hub_name", s->hub_name},
    };
    int rc = 0;
    /* [kafka] first: the --kafka-* options and [kafka_hub] settings win over the same keys
     * written there */
    for (size_t i = 0; rc == 0 && i < s->props.n; i++) {
        char *kv = strdup(s->props.v[i]);
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
    for (size_t i = 0; rc == 0 && i < s->topics.n; i++)
        rc = lh_kafka_conf_set(k, "topic", s->topics.v[i]);
    if (rc == 0 && (rc = lh_kafka_conf_check(k, why, whylen)) == 0)
        return 0;
    if (rc != LH_ECONFIG)
        snprintf(why, whylen, "kafka settings: %s", lh_strerror(rc));
    lh_kafka_conf_free(k);
    return rc;
}

static int
kafka_build(lh_hub_t *hub, const void *conf, char *why, size_t whylen)
{
    const lh_kafka_settings_t *s = conf;
    if (lh_conf_off(s->brokers))
        return 0;
    lh_kafka_conf_t k;
    int rc = lh_kafka_settings_conf(s, &k, why, whylen);
    if (rc < 0)
        return rc;
    const lh_adapter_ops_t *ops = NULL;
    void *ctx = NULL;
    if ((rc = lh_kafka_in_new(&k, &ops, &ctx)) == 0)
        rc = lh_hub_add_adapter(hub, ops, ctx, NULL);
    if (rc == 0 && (rc = lh_kafka_out_new(&k, &ops, &ctx)) == 0)
        rc = lh_hub_add_adapter(hub, ops, ctx, LH_KAFKA_OUT_SINK);
    lh_kafka_conf_free(&k);
    return rc;
}

const lh_adapter_def_t lh_adapter_def_kafka = {
    .name = "kafka",
    .opts = kafka_opts,
    .n_opts = sizeof(kafka_opts) / sizeof(kafka_opts[0]),
    .conf_size = sizeof(lh_kafka_settings_t),
    .passthrough = "kafka",
    .passthrough_offset = OFF(props),
    .build = kafka_build,
};
