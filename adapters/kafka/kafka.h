/*
 * kafka.h - loophub's Kafka transport (librdkafka): events in, correlated alerts out, and a
 * one-shot producer for `loophub send --kafka-brokers`.
 *
 * Topic layout (docs/kafka.md):
 *   events topics  (default "loophub.events")  every kind of event, keyed by service; consumed by
 *                  the hubs of one consumer group, each hub getting a share of the partitions;
 *   changes topic  (default "loophub.changes") deploys and tickets again (lh_kafka_send() writes
 *                  them to both), read whole by every hub so each can correlate its partitions;
 *   alerts topic   (default "loophub.alerts")  correlated alerts, keyed by service.
 *
 * Delivery: input is at-least-once (an offset is stored only after the hub committed the
 * message's batch; redelivery is deduplicated by event id); output is at-least-once (an alert is
 * marked published after the broker acknowledged it; a re-sent alert carries the same id).
 *
 * The adapters never block the reactor: librdkafka's queues signal a pipe that the hub polls, and
 * everything the hub sees (messages, delivery reports, logs, errors) is served on its thread.
 */
#ifndef LOOPHUB_KAFKA_H
#define LOOPHUB_KAFKA_H

#include <stddef.h>

#include "loophub/adapter.h"
#include "loophub/event.h"
#include "loophub/registry.h"

/* A librdkafka property passed through as is ("security.protocol" = "SASL_SSL"). */
typedef struct lh_kafka_prop {
    char *key;
    char *value;
} lh_kafka_prop_t;

/* Kafka settings: the [kafka] section of the config file and the --kafka-* options. Every string
 * is owned by the struct (set them with lh_kafka_conf_set()); NULL means the default. */
typedef struct lh_kafka_conf {
    char *brokers; /* bootstrap.servers; NULL: Kafka is off */
    char **topics; /* events topics; none: "loophub.events" */
    size_t n_topics;
    char *group;            /* consumer group of the hubs; default "loophub" */
    char *alerts_topic;     /* default "loophub.alerts" */
    char *changes_topic;    /* default "loophub.changes"; "" or "off" disables it */
    char *hub_name;         /* this hub's name, unique among the hubs and stable across restarts:
                             * the changes topic's offsets are kept under the consumer group
                             * "<group>.changes.<hub_name>"; default: the host name */
    lh_kafka_prop_t *props; /* librdkafka properties, applied after loophub's defaults */
    size_t n_props;
} lh_kafka_conf_t;

/* Zeroes c (every setting at its default). */
void lh_kafka_conf_init(lh_kafka_conf_t *c);

/* Sets one setting from a config file line or an option. loophub's own keys are "brokers",
 * "topics" (comma-separated, replaces the list), "topic" (appends one), "group", "alerts_topic",
 * "changes_topic" and "hub_name"; every other key is a librdkafka property, kept for the handles (a
 * later value for the same key replaces the earlier one) and checked by lh_kafka_conf_check() and
 * the constructors. Returns 0, LH_EINVAL (NULL or empty key, NULL value) or LH_ENOMEM. */
int lh_kafka_conf_set(lh_kafka_conf_t *c, const char *key, const char *value);

/* Checks that brokers are given and that librdkafka accepts every property for both a consumer
 * and a producer. Returns 0, or LH_ECONFIG with why = one line naming the property and carrying
 * librdkafka's message ("kafka property 'foo.bar': No such configuration property"). */
int lh_kafka_conf_check(const lh_kafka_conf_t *c, char *why, size_t whylen);

/* Frees every string of c and zeroes it. NULL-safe. */
void lh_kafka_conf_free(lh_kafka_conf_t *c);

/* The Kafka settings as `loophub run` and `loophub send --config` read them (this adapter's
 * config map in kafka_def.c: the --kafka-* options, [kafka_hub], and [kafka] kept as key=value
 * lines in props). Strings are owned by the struct; NULL means the default. */
typedef struct lh_kafka_settings {
    char *brokers;
    lh_strlist_t topics;
    char *group;
    char *alerts_topic;
    char *changes_topic;
    char *hub_name;
    lh_strlist_t props;
} lh_kafka_settings_t;

/* s as an lh_kafka_conf_t, checked against librdkafka. Returns 0 (the caller frees *k with
 * lh_kafka_conf_free), or LH_E* with why set to one line. */
int lh_kafka_settings_conf(const lh_kafka_settings_t *s, lh_kafka_conf_t *k, char *why,
                           size_t whylen);

/* Input adapter: a consumer in group c->group subscribed to the events topics, plus a second
 * consumer assigned every partition of the changes topic. Each message goes to lh_hub_submit()
 * with its headers (the hub detects the format; ce_* headers make it CloudEvents binary mode).
 * Its offset is stored after the hub's done(); stored offsets are
 * committed every auto.commit.interval.ms and, synchronously, before a partition is given up.
 * c is copied. Returns 0 with *ops and *ctx (for lh_hub_add_adapter(), no sink), or LH_ECONFIG
 * (bad or missing setting, logged with librdkafka's message), LH_ETRANSPORT, LH_EIO, LH_ENOMEM.
 * A broker that cannot be reached is not an error: librdkafka keeps retrying. */
int lh_kafka_in_new(const lh_kafka_conf_t *c, const lh_adapter_ops_t **ops, void **ctx);

/* The sink name of the alerts producer: its done marks in the store are kept under it (the
 * kafka_done column of schema version 2 became this sink), so it never changes. */
#define LH_KAFKA_OUT_SINK "kafka"

/* Output adapter: a producer for correlated alerts (register with sink LH_KAFKA_OUT_SINK).
 * publish() queues the alert to c->alerts_topic keyed by its service and returns LH_PENDING; the
 * delivery report then calls lh_hub_alert_done(), or lh_hub_alert_failed() and counts
 * loophub_kafka_produce_errors_total. A full local queue (queue.buffering.max.messages, default
 * 100000) returns LH_EAGAIN (counted) instead of blocking. Returns as lh_kafka_in_new(). */
int lh_kafka_out_new(const lh_kafka_conf_t *c, const lh_adapter_ops_t **ops, void **ctx);

/* For `loophub send --kafka-brokers`: produces payload (the encoded ev) to the first events topic
 * keyed by ev's service (a ticket without one: its ticket id), and for deploys and tickets also to
 * the changes topic, then waits up to timeout_ms for the brokers' acknowledgements. Returns 0
 * when every copy was acknowledged; else LH_ECONFIG, LH_ETIMEOUT or LH_ETRANSPORT with why set to a
 * one-line reason. Blocks (it is meant for the CLI, not for the hub). */
int lh_kafka_send(const lh_kafka_conf_t *c, const lh_event_t *ev, const void *payload, size_t len,
                  int timeout_ms, char *why, size_t whylen);

#endif
