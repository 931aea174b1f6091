/*
 * kafka_internal.h - shared between kafka_conf.c, kafka_in.c and kafka_out.c only.
 */
#ifndef LOOPHUB_KAFKA_INTERNAL_H
#define LOOPHUB_KAFKA_INTERNAL_H

#include <librdkafka/rdkafka.h>
#include <stddef.h>

#include "kafka.h"

#define LH__KAFKA_DEFAULT_TOPIC "loophub.events"
#define LH__KAFKA_DEFAULT_GROUP "loophub"
#define LH__KAFKA_DEFAULT_ALERTS "loophub.alerts"
#define LH__KAFKA_DEFAULT_CHANGES "loophub.changes"

typedef enum {
    LH__KAFKA_CONSUMER = 0, /* group consumer of the events topics */
    LH__KAFKA_CHANGES = 1,  /* manually assigned consumer of the changes topic */
    LH__KAFKA_PRODUCER = 2, /* alerts producer, send */
} lh__kafka_role_t;

/* Settings with defaults resolved. */
const char *lh__kafka_topic(const lh_kafka_conf_t *c, size_t i);
size_t lh__kafka_n_topics(const lh_kafka_conf_t *c);
const char *lh__kafka_group(const lh_kafka_conf_t *c);
const char *lh__kafka_alerts_topic(const lh_kafka_conf_t *c);
/* NULL when disabled. */
const char *lh__kafka_changes_topic(const lh_kafka_conf_t *c);
/* "<group>.changes.<hub_name or host name>" into buf. */
void lh__kafka_changes_group(const lh_kafka_conf_t *c, char *buf, size_t len);

/* Deep copy. Returns 0 or LH_ENOMEM (dst zeroed then). */
int lh__kafka_conf_copy(lh_kafka_conf_t *dst, const lh_kafka_conf_t *src);

/* Builds a librdkafka configuration for role: loophub's defaults, then the user's properties,
 * then bootstrap.servers (and group.id for consumers); log and error callbacks go through
 * lh_log() from the thread that polls (log.queue), opaque is set. Returns 0 and *out, or
 * LH_ECONFIG / LH_ENOMEM with why set. */
int lh__kafka_rdconf(const lh_kafka_conf_t *c, lh__kafka_role_t role, void *opaque,
                     rd_kafka_conf_t **out, char *why, size_t whylen);

/* Creates the handle (taking conf) and routes its log to its main queue. Returns 0 and *out, or
 * LH_ECONFIG with librdkafka's message logged (conf destroyed). */
int lh__kafka_new(rd_kafka_type_t type, rd_kafka_conf_t *conf, const char *what, rd_kafka_t **out);

/* The first member of every handle's opaque, so the shared error callback can find it. */
typedef struct lh__kafka_state {
    const char *what; /* "kafka-in", "kafka-out", "kafka-send": names the handle in logs */
    int down;         /* all brokers down was logged, their return was not */
    int quiet;        /* a one-shot client (send): librdkafka's warnings and errors are not
                       * logged but kept in last_error, for the one line the CLI prints */
    char last_error[256];
    char down_reason[160]; /* librdkafka's words when all brokers went down (health) */
} lh__kafka_state_t;

/* Broker reachability: logs once when all brokers go down and once when they are back. */
void lh__kafka_note_down(lh__kafka_state_t *st, const char *reason);
void lh__kafka_note_up(lh__kafka_state_t *st);
/* The adapters' health op (adapter.h): degraded from "all brokers down" until they are seen
 * back (a message consumed or delivered), with librdkafka's reason. */
int lh__kafka_health(const lh__kafka_state_t *st, char *why, size_t whylen);

/* A non-blocking pipe; drain reads everything buffered. Return 0 / LH_EIO. */
int lh__kafka_pipe(int fds[2]);
void lh__kafka_drain(int fd);
void lh__kafka_wake(int fd);

#endif
