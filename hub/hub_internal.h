/*
 * hub_internal.h - what the hub's own files share (lh_hub only): the hub's state, the adapters
 * as registered, and the batch the pipeline gathers. hub.c runs the loop and owns the
 * lifecycle; pipeline.c takes submissions into the batch and commits it.
 */
#ifndef LOOPHUB_HUB_INTERNAL_H
#define LOOPHUB_HUB_INTERNAL_H

#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "correlator.h"
#include "loophub/adapter.h"
#include "loophub/hub.h"
#include "metrics.h"
#include "outbox.h"
#include "redact.h"
#include "store.h"

#define MAX_ADAPTERS 32
#define MAX_POLLITEMS 128

struct lh_adapter {
    const lh_adapter_ops_t *ops;
    void *ctx;
    int sink; /* a sink: its index in the outbox (lh_outbox_add_sink); -1 for the others */
    int started;
    int mslot; /* inputs: the adapter label slot in the metrics registry */
};

typedef struct item {
    lh_event_t *ev; /* NULL when rejected at decode */
    int err;        /* 0, or the rejection */
    char *id;       /* for rejections: the id when it could be read (malloc'd) */
    char *why;      /* malloc'd reason */
    size_t msg;     /* index into batch.msgs */
    int ignored;    /* the source read it and records nothing (LH_IGNORED): why says why */
    lh_ack_status_t status;
} item_t;

typedef struct msg {
    lh_adapter_t *from;
    void *token;
    char *origin;
    void *raw; /* copy of the payload, kept only when something in it was rejected */
    size_t raw_len;
    size_t first, n; /* items */
    int source;      /* the webhook source that read it (lh_source_id_t), LH_SRC_NONE */
} msg_t;

/* An alias of an environment or a service (lh_hub_opts_t env_aliases, service_aliases). */
typedef struct {
    char *from, *to;
    int service; /* 0: an environment */
} lh__alias_t;

/* The DORA gauges of /metrics and their refresher (hub_dora.c). Under mu: text, at, want, stop. */
typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t thread;
    int started;    /* the refresher runs */
    int want;       /* a scrape found the text stale: refresh it */
    int stop;       /* the hub is going */
    lh_buf_t text;  /* the gauges as last computed */
    int64_t at;     /* when (monotonic ns), 0: never */
    lh_store_t *ro; /* the read-only connection they are computed on: opened by the first scrape
                     * on the hub's thread, then the refresher's alone (NULL: not open) */
} lh__hub_dora_t;

struct lh_hub {
    lh_hub_opts_t o;             /* as given, db_path copied, codec.limits -> o.limits */
    lh__hub_dora_t dora;         /* the DORA gauges of /metrics (hub_dora.c) */
    lh_store_opts_t store_o;     /* mapped from o */
    lh_correlator_opts_t corr_o; /* mapped from o */
    lh_store_t *st;
    lh_correlator_t *corr;
    lh_adapter_t adapters[MAX_ADAPTERS];
    int n_adapters;
    int hears_stored[MAX_ADAPTERS]; /* the adapters with a stored() op, by index: the commit
                                     * tells only them of each event stored */
    int n_hears_stored;
    volatile sig_atomic_t stop;
    int stopping;

    item_t *items;
    size_t n_items, cap_items;
    msg_t *msgs;
    size_t n_msgs, cap_msgs;
    int turned;  /* the loop ran its first turn (health: no longer starting) */
    int stalled; /* last commit failed */
    int64_t stalled_retry_at;

    lh_outbox_t *ob; /* the sinks, their cursors and retries, done marks waiting */

    lh_buf_t pb; /* reused encode buffer */

    lh_redact_t *redact; /* the privacy rules, applied before anything is written or logged */
    void (*turn_hook)(lh_hub_t *hub, void *arg); /* lh_hub_set_turn_hook() */
    void *turn_hook_arg;
    lh__alias_t *aliases; /* what every event's environment and service are renamed from */
    size_t n_aliases;

    lh__metrics_t metrics;

    lh_store_retention_t retention; /* mapped from o */
    int64_t expire_at;              /* mono ns: the next retention step */
};

/* pipeline.c: commits the batch in hand (store, correlate, outbox, ack). Returns the events
 * stored, or LH_ESTORE when the commit failed (the batch is kept; intake pauses). */
/* hub_dora.c: the DORA families of /metrics (the first scrape computes them on the hub's thread,
 * later ones wake the refresher when they are stale); init once the hub is made, stop at destroy
 * (joins the refresher, frees the text). */
void lh__hub_dora_init(lh_hub_t *hub);
int lh__hub_dora_metrics(lh_hub_t *hub, lh_buf_t *out);
void lh__hub_dora_stop(lh_hub_t *hub);
/* The DORA families of the last window_ns of st at now_ns (0: the wall clock) into out, as
 * /metrics shows them; 0 or an error (out empty then). */
int lh__hub_dora_text(lh_store_t *st, int64_t window_ns, int64_t now_ns, lh_buf_t *out);
/* Test only, process-wide: 1 computes the families from one report over every environment at
 * once (the way before they were read an environment at a time), 0 (the default) as shipped. */
void lh__hub_test_dora_whole(int on);

int lh__hub_commit_batch(lh_hub_t *hub);
/* pipeline.c: frees the batch's items and messages (after their done() or forget()). */
void lh__hub_free_batch(lh_hub_t *hub);

#endif
