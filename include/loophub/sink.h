/*
 * sink.h - the outbox's output sinks: each has its own "done" mark per alert in the store. An
 * output adapter is registered under one (lh_hub_add_adapter()) and names it again when it
 * reports an asynchronous delivery (lh_hub_alert_done()/lh_hub_alert_failed()).
 */
#ifndef LOOPHUB_SINK_H
#define LOOPHUB_SINK_H

typedef enum {
    LH_SINK_PUB = 0,
    LH_SINK_KAFKA = 1,
} lh_sink_t;

#endif
