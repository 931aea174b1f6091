/*
 * kafka_out.c - the Kafka output adapter (correlated alerts) and the one-shot producer behind
 * `loophub send --kafka-brokers`.
 *
 * Alerts: publish() copies the encoded alert into librdkafka's queue (keyed by service, with the
 * alert id in a "loophub_alert_id" header so consumers can dedupe a re-sent alert) and returns
 * LH_PENDING; the delivery report arrives later on the producer's main queue, which signals a
 * pipe the hub polls, and is served from read() and tick() on the hub's thread: success marks
 * the alert done (lh_hub_alert_done), failure hands it back to the hub (lh_hub_alert_failed) and
 * counts loophub_kafka_produce_errors_total. The local queue is bounded: when full, publish() fails
 * with LH_EAGAIN and the hub offers the alert again on a later turn. Nothing here ever blocks,
 * except stop() which gives in-flight alerts up to two seconds to be acknowledged at shutdown.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kafka_internal.h"
#include "loophub/error.h"
#include "loophub/hub.h"
#include "loophub/log.h"

#define COMPONENT "kafka"
#define STOP_FLUSH_MS 2000

typedef struct kout {
    lh__kafka_state_t st; /* first: the handle's opaque */
    lh_kafka_conf_t conf;
    lh_hub_t *hub;      /* NULL once destroy begins: no calls into the hub then */
    lh_adapter_t *self; /* this sink's handle for lh_hub_alert_done/failed */
    rd_kafka_t *rk;
    rd_kafka_topic_t *rkt;
    rd_kafka_queue_t *q;
    int pipefd[2];
    long in_flight; /* alerts queued and not yet reported */
} kout_t;

static void
dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    kout_t *o = opaque;
    int64_t seq = (int64_t)(intptr_t)m->_private;
    o->in_flight--;
    if (!o->hub)
        return;
    if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        lh__kafka_note_up(&o->st);
        lh_hub_alert_done(o->hub, o->self, seq);
        return;
    }
    lh_hub_count(o->hub, LH_COUNT_KAFKA_PRODUCE_ERRORS, 1);
    lh_log_ratelimited("kafka-produce-error", LH_LOG_WARN, COMPONENT,
                       "kafka-out: alert %lld not delivered to %s: %s (will be retried)",
                       (long long)seq, lh__kafka_alerts_topic(&o->conf), rd_kafka_err2str(m->err));
    lh_hub_alert_failed(o->hub, o->self, seq);
}

static int
kout_start(void *ctx, lh_hub_t *hub)
{
    kout_t *o = ctx;
    o->hub = hub;
    o->self = lh_hub_adapter_of(hub, o);
    lh_log(LH_LOG_INFO, COMPONENT, "kafka-out: publishing alerts to %s",
           lh__kafka_alerts_topic(&o->conf));
    return 0;
}

static int
kout_pollitems(void *ctx, lh_pollitem_t *items, int max)
{
    kout_t *o = ctx;
    if (max < 1)
        return 0;
    items[0].socket = NULL;
    items[0].fd = o->pipefd[0];
    items[0].events = LH_POLLIN;
    items[0].revents = 0;
    return 1;
}

static int
kout_read(void *ctx, int budget)
{
    (void)budget;
    kout_t *o = ctx;
    lh__kafka_drain(o->pipefd[0]);
    rd_kafka_poll(o->rk, 0); /* delivery reports, logs, errors */
    return 0;
}

static int
kout_publish(void *ctx, int64_t seq, const lh_correlated_t *ca, const void *payload, size_t len)
{
    kout_t *o = ctx;
    const char *key = ca && ca->service ? ca->service : NULL;
    const char *id = ca && ca->id ? ca->id : NULL;
    rd_kafka_resp_err_t err;
    if (id)
        err = rd_kafka_producev(
            o->rk, RD_KAFKA_V_RKT(o->rkt), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
            RD_KAFKA_V_KEY(key, key ? strlen(key) : 0), RD_KAFKA_V_VALUE((void *)payload, len),
            RD_KAFKA_V_HEADER("loophub_alert_id", id, -1), RD_KAFKA_V_OPAQUE((void *)(intptr_t)seq),
            RD_KAFKA_V_END);
    else
        err = rd_kafka_producev(
            o->rk, RD_KAFKA_V_RKT(o->rkt), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
            RD_KAFKA_V_KEY(key, key ? strlen(key) : 0), RD_KAFKA_V_VALUE((void *)payload, len),
            RD_KAFKA_V_OPAQUE((void *)(intptr_t)seq), RD_KAFKA_V_END);
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        o->in_flight++;
        return LH_PENDING; /* dr_cb reports the outcome */
    }
    lh_hub_count(o->hub, LH_COUNT_KAFKA_PRODUCE_ERRORS, 1);
    lh_log_ratelimited("kafka-produce-queue", LH_LOG_WARN, COMPONENT,
                       "kafka-out: cannot queue alert %lld: %s (will be retried)", (long long)seq,
                       rd_kafka_err2str(err));
    return err == RD_KAFKA_RESP_ERR__QUEUE_FULL ? LH_EAGAIN : LH_ETRANSPORT;
}

static void
kout_tick(void *ctx, int64_t now)
{
    (void)now;
    kout_t *o = ctx;
    rd_kafka_poll(o->rk, 0);
}

static void
kout_stop(void *ctx)
{
    kout_t *o = ctx;
    /* shutdown: let what is in flight be acknowledged while the hub can still mark it */
    if (o->in_flight > 0 && !o->st.down)
        rd_kafka_flush(o->rk, STOP_FLUSH_MS);
}

static void
kout_destroy(void *ctx)
{
    kout_t *o = ctx;
    if (!o)
        return;
    o->hub = NULL;
    if (o->q) {
        rd_kafka_queue_io_event_enable(o->q, -1, NULL, 0);
        rd_kafka_queue_destroy(o->q);
    }
    if (o->rkt)
        rd_kafka_topic_destroy(o->rkt);
    if (o->rk) {
        if (o->in_flight > 0)
            lh_log(LH_LOG_INFO, COMPONENT,
                   "kafka-out: %ld alerts not acknowledged at exit; they are sent again on "
                   "restart",
                   o->in_flight);
        rd_kafka_purge(o->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
        rd_kafka_poll(o->rk, 0);
        rd_kafka_destroy(o->rk);
    }
    if (o->pipefd[0] >= 0)
        close(o->pipefd[0]);
    if (o->pipefd[1] >= 0)
        close(o->pipefd[1]);
    lh_kafka_conf_free(&o->conf);
    free(o);
}

static int
kout_health(void *ctx, char *why, size_t whylen)
{
    return lh__kafka_health(&((kout_t *)ctx)->st, why, whylen);
}

static const lh_adapter_ops_t kout_ops = {
    .name = "kafka-out",
    .start = kout_start,
    .pollitems = kout_pollitems,
    .read = kout_read,
    .done = NULL,
    .publish = kout_publish,
    .tick = kout_tick,
    .stop = kout_stop,
    .destroy = kout_destroy,
    .health = kout_health,
};

int
lh_kafka_out_new(const lh_kafka_conf_t *c, const lh_adapter_ops_t **ops, void **ctx)
{
    *ops = NULL;
    *ctx = NULL;
    kout_t *o = calloc(1, sizeof(*o));
    if (!o)
        return LH_ENOMEM;
    o->st.what = "kafka-out";
    o->pipefd[0] = o->pipefd[1] = -1;
    char why[600];
    rd_kafka_conf_t *conf = NULL;
    int rc = lh__kafka_conf_copy(&o->conf, c);
    if (!rc)
        rc = lh__kafka_pipe(o->pipefd);
    if (!rc) {
        rc = lh__kafka_rdconf(&o->conf, LH__KAFKA_PRODUCER, o, &conf, why, sizeof(why));
        if (rc)
            lh_log(LH_LOG_ERROR, COMPONENT, "%s", why);
    }
    if (!rc) {
        rd_kafka_conf_set_dr_msg_cb(conf, dr_cb);
        rc = lh__kafka_new(RD_KAFKA_PRODUCER, conf, "kafka-out", &o->rk);
    }
    if (!rc) {
        o->rkt = rd_kafka_topic_new(o->rk, lh__kafka_alerts_topic(&o->conf), NULL);
        o->q = rd_kafka_queue_get_main(o->rk);
        if (!o->rkt || !o->q) {
            lh_log(LH_LOG_ERROR, COMPONENT, "kafka-out: topic %s: %s",
                   lh__kafka_alerts_topic(&o->conf), rd_kafka_err2str(rd_kafka_last_error()));
            rc = LH_ECONFIG;
        } else {
            rd_kafka_queue_io_event_enable(o->q, o->pipefd[1], "k", 1);
        }
    }
    if (rc) {
        kout_destroy(o);
        return rc;
    }
    *ops = &kout_ops;
    *ctx = o;
    return 0;
}

/* --- loophub send --------------------------------------------------------------------------- */

typedef struct {
    lh__kafka_state_t st;    /* first: the handle's opaque; quiet */
    unsigned acked;          /* bit i: copy i acknowledged */
    rd_kafka_resp_err_t err; /* a failure other than a timeout or our own purge */
    char err_topic[256];
} send_t;

static void
send_dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    send_t *s = opaque;
    unsigned i = (unsigned)(intptr_t)m->_private;
    if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        s->acked |= 1u << i;
    } else if (m->err != RD_KAFKA_RESP_ERR__MSG_TIMED_OUT &&
               m->err != RD_KAFKA_RESP_ERR__PURGE_QUEUE &&
               m->err != RD_KAFKA_RESP_ERR__PURGE_INFLIGHT && !s->err) {
        s->err = m->err;
        snprintf(s->err_topic, sizeof(s->err_topic), "%s", rd_kafka_topic_name(m->rkt));
    }
}

int
lh_kafka_send(const lh_kafka_conf_t *c, const lh_event_t *ev, const void *payload, size_t len,
              int timeout_ms, char *why, size_t whylen)
{
    if (!c || !ev || (!payload && len)) {
        snprintf(why, whylen, "kafka: nothing to send");
        return LH_EINVAL;
    }
    if (timeout_ms <= 0)
        timeout_ms = 10000;
    send_t s;
    memset(&s, 0, sizeof(s));
    s.st.what = "kafka-send";
    s.st.quiet = 1; /* the caller prints one line; librdkafka's chatter goes to debug */
    rd_kafka_conf_t *conf;
    int rc = lh__kafka_rdconf(c, LH__KAFKA_PRODUCER, &s, &conf, why, whylen);
    if (rc)
        return rc;
    char tmo[32];
    snprintf(tmo, sizeof(tmo), "%d", timeout_ms);
    if (rd_kafka_conf_set(conf, "message.timeout.ms", tmo, NULL, 0) != RD_KAFKA_CONF_OK) {
        rd_kafka_conf_destroy(conf);
        snprintf(why, whylen, "kafka: bad timeout %d ms", timeout_ms);
        return LH_ECONFIG;
    }
    rd_kafka_conf_set_dr_msg_cb(conf, send_dr_cb);
    rd_kafka_t *rk;
    char err[512];
    if (!(rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err)))) {
        rd_kafka_conf_destroy(conf);
        snprintf(why, whylen, "kafka: %s", err);
        return LH_ECONFIG;
    }
    rd_kafka_set_log_queue(rk, NULL);

    const char *key = ev->service;
    if (!key && ev->kind == LH_KIND_TICKET)
        key = ev->ticket.ticket_id;
    const char *topics[2] = {lh__kafka_topic(c, 0), NULL};
    if (ev->kind == LH_KIND_DEPLOY || ev->kind == LH_KIND_TICKET)
        topics[1] = lh__kafka_changes_topic(c);
    unsigned queued = 0;
    rc = 0;
    for (unsigned i = 0; i < 2 && topics[i] && !rc; i++) {
        rd_kafka_resp_err_t e = rd_kafka_producev(
            rk, RD_KAFKA_V_TOPIC(topics[i]), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
            RD_KAFKA_V_KEY(key, key ? strlen(key) : 0), RD_KAFKA_V_VALUE((void *)payload, len),
            RD_KAFKA_V_OPAQUE((void *)(intptr_t)i), RD_KAFKA_V_END);
        if (e) {
            snprintf(why, whylen, "kafka: cannot produce to %s: %s", topics[i],
                     rd_kafka_err2str(e));
            rc = LH_ETRANSPORT;
        } else {
            queued |= 1u << i;
        }
    }
    /* wait for the acknowledgements until the deadline, not a moment longer: librdkafka
     * expires timed-out messages only once a second */
    rd_kafka_flush(rk, timeout_ms);
    if (rd_kafka_outq_len(rk) > 0) {
        rd_kafka_purge(rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
        rd_kafka_flush(rk, 500); /* serves the purged messages' reports */
    }
    if (!rc && (s.acked & queued) != queued) {
        char missing[600] = "";
        for (unsigned i = 0; i < 2; i++)
            if ((queued & (1u << i)) && !(s.acked & (1u << i)))
                snprintf(missing + strlen(missing), sizeof(missing) - strlen(missing), "%s%s",
                         missing[0] ? " and " : "", topics[i]);
        if (s.err) {
            snprintf(why, whylen, "kafka: not delivered to %s: %s", s.err_topic,
                     rd_kafka_err2str(s.err));
            rc = LH_ETRANSPORT;
        } else {
            snprintf(why, whylen, "kafka: no acknowledgement for %s from %s within %d ms%s%s%s",
                     missing, c->brokers && *c->brokers ? c->brokers : "the brokers", timeout_ms,
                     s.st.last_error[0] ? " (" : "", s.st.last_error,
                     s.st.last_error[0] ? ")" : "");
            rc = LH_ETIMEOUT;
        }
    }
    rd_kafka_destroy(rk);
    return rc;
}
