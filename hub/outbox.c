/*
 * outbox.c - the hub's side of the alert outbox: per sink a cursor and a retry list, one list
 * of done marks waiting for a transaction (see outbox.h).
 *
 * Invariants:
 *  - Alerts leave only from the store's outbox, after the commit that wrote them.
 *  - A sink's cursor only moves forward: the cursor scan offers each alert once per run, and an
 *    alert handed to an asynchronous sink comes back only through that sink's retry list (after
 *    lh_outbox_alert_failed), never through the scan.
 *  - A failed alert is retried on the sink that failed it only; another sink's state (cursor,
 *    retries, marks) never changes because of it.
 *  - A mark leaves the list only once the transaction holding it committed.
 */
#include "outbox.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loophub/error.h"
#include "loophub/log.h"
#include "loophub/timeutil.h"
#include "metrics.h"

#define DONE_FLUSH_NS LH_NS_PER_SEC /* longest a done mark waits for a batch transaction */
#define DONE_FLUSH_MAX 4096         /* marks waiting at most (bounds memory and one tx) */
#define SCAN_LIMIT 256              /* alerts a cursor scan reads per statement */

typedef struct sink {
    char *name;
    lh_store_sink_t row; /* its done marks in the store */
    const lh_adapter_ops_t *ops;
    void *ctx;
    int started;
    int64_t cursor; /* last seq handed over; only ever moves forward */
    int64_t *retry; /* seqs at or below the cursor whose delivery failed */
    size_t n_retry, cap_retry;
} sink_t;

typedef struct done_mark {
    int sink;
    int64_t seq;
} done_mark_t;

struct lh_outbox {
    lh__metrics_t *metrics; /* alerts published are counted here */
    lh_store_t *st;
    lh_alerts_format_t fmt;
    sink_t *sinks;
    int n_sinks, cap_sinks;
    int dirty;
    int64_t check_at;  /* mono ns: look at the outbox by then even if not kicked */
    done_mark_t *done; /* alerts out, not yet marked done in the store */
    size_t n_done, cap_done;
    int64_t done_due; /* mono ns: flush the marks on their own if no batch committed by then */
    lh_buf_t enc;     /* reused alert encode buffer */
};

int
lh_outbox_new(lh__metrics_t *metrics, lh_store_t *st, lh_alerts_format_t fmt, lh_outbox_t **out)
{
    *out = NULL;
    lh_outbox_t *ob = calloc(1, sizeof(*ob));
    if (!ob)
        return LH_ENOMEM;
    ob->metrics = metrics;
    ob->st = st;
    ob->fmt = fmt;
    ob->dirty = 1; /* publish whatever an earlier run left */
    *out = ob;
    return 0;
}

void
lh_outbox_destroy(lh_outbox_t **obp)
{
    if (!obp || !*obp)
        return;
    lh_outbox_t *ob = *obp;
    for (int i = 0; i < ob->n_sinks; i++) {
        free(ob->sinks[i].name);
        free(ob->sinks[i].retry);
    }
    free(ob->sinks);
    free(ob->done);
    lh_buf_free(&ob->enc);
    free(ob);
    *obp = NULL;
}

int
lh_outbox_add_sink(lh_outbox_t *ob, const char *name, const lh_adapter_ops_t *ops, void *ctx)
{
    if (!name || !ops || !ops->publish) {
        lh_log(LH_LOG_ERROR, "hub", "adapter %s: a sink needs a name and a publish op",
               ops && ops->name ? ops->name : "?");
        return LH_EINVAL;
    }
    for (int i = 0; i < ob->n_sinks; i++) {
        if (strcmp(ob->sinks[i].name, name) == 0) {
            lh_log(LH_LOG_ERROR, "hub", "adapter %s: sink %s is registered already",
                   ops->name ? ops->name : "?", name);
            return LH_EINVAL;
        }
    }
    if (ob->n_sinks == ob->cap_sinks) {
        int cap = ob->cap_sinks ? ob->cap_sinks * 2 : 4;
        sink_t *v = realloc(ob->sinks, (size_t)cap * sizeof(*v));
        if (!v)
            return LH_ENOMEM;
        ob->sinks = v;
        ob->cap_sinks = cap;
    }
    sink_t *k = &ob->sinks[ob->n_sinks];
    memset(k, 0, sizeof(*k));
    if (!(k->name = strdup(name)))
        return LH_ENOMEM;
    int rc = lh_store_sink_register(ob->st, name, &k->row);
    if (rc < 0) {
        free(k->name);
        return rc;
    }
    k->ops = ops;
    k->ctx = ctx;
    ob->dirty = 1;
    return ob->n_sinks++;
}

void
lh_outbox_sink_started(lh_outbox_t *ob, int sink)
{
    if (sink >= 0 && sink < ob->n_sinks) {
        ob->sinks[sink].started = 1;
        ob->dirty = 1;
    }
}

/* ---- done marks --------------------------------------------------------------------------- */

int
lh_outbox_apply_done(lh_outbox_t *ob, size_t *n)
{
    *n = 0;
    for (size_t i = 0; i < ob->n_done; i++) {
        int rc = lh_store_alert_done(ob->st, ob->sinks[ob->done[i].sink].row, ob->done[i].seq);
        if (rc < 0)
            return rc;
    }
    *n = ob->n_done;
    return 0;
}

void
lh_outbox_done_committed(lh_outbox_t *ob, size_t n)
{
    if (n > ob->n_done)
        n = ob->n_done;
    ob->n_done -= n;
    if (ob->n_done)
        memmove(ob->done, ob->done + n, ob->n_done * sizeof(*ob->done));
    else
        ob->done_due = 0;
}

int
lh_outbox_flush_done(lh_outbox_t *ob)
{
    if (ob->n_done == 0)
        return 0;
    size_t n = 0;
    int rc = lh_store_begin(ob->st);
    if (rc == 0) {
        rc = lh_outbox_apply_done(ob, &n);
        if (rc == 0)
            rc = lh_store_commit(ob->st);
        else
            lh_store_rollback(ob->st);
    }
    if (rc < 0) {
        ob->done_due = lh_mono_ns() + DONE_FLUSH_NS;
        lh_log_ratelimited("done-marks", LH_LOG_WARN, "hub",
                           "cannot mark %zu alerts published (%s); retrying", ob->n_done,
                           lh_strerror(rc));
        return rc;
    }
    lh_outbox_done_committed(ob, n);
    return 0;
}

void
lh_outbox_tick(lh_outbox_t *ob, int64_t now_mono_ns)
{
    if (ob->n_done && now_mono_ns >= ob->done_due)
        lh_outbox_flush_done(ob);
}

/* Lists alert seq as out on sink; the mark reaches the store with the next transaction. Returns
 * 0, or LH_E* when it was not listed (then the alert may be published again after a restart). */
static int
push_done(lh_outbox_t *ob, int sink, int64_t seq)
{
    if (ob->n_done && ob->n_done % DONE_FLUSH_MAX == 0)
        lh_outbox_flush_done(ob); /* bounded; when it fails the list grows (tried again each MAX) */
    if (ob->n_done == ob->cap_done) {
        size_t cap = ob->cap_done ? ob->cap_done * 2 : 64;
        done_mark_t *v = realloc(ob->done, cap * sizeof(*v));
        if (!v)
            return LH_ENOMEM;
        ob->done = v;
        ob->cap_done = cap;
    }
    if (ob->n_done == 0)
        ob->done_due = lh_mono_ns() + DONE_FLUSH_NS;
    ob->done[ob->n_done].sink = sink;
    ob->done[ob->n_done].seq = seq;
    ob->n_done++;
    return 0;
}

/* ---- publishing ----------------------------------------------------------------------------- */

typedef struct {
    lh_outbox_t *ob;
    int sink;
    int stop;
    int64_t want; /* retry: the seq asked for */
    int found;    /* retry: it is still pending */
    int rc;       /* retry: what offer() said */
} pub_ctx_t;

/* Hands one outbox alert to the sink. Returns 0 when it is out (listed done: push_done()), 1 when
 * the sink delivers it asynchronously (lh_outbox_alert_done/failed follow), or LH_E* when the
 * sink cannot take it now. */
static int
offer(pub_ctx_t *pc, int64_t seq, const void *pb, size_t len)
{
    lh_outbox_t *ob = pc->ob;
    sink_t *k = &ob->sinks[pc->sink];
    lh_correlated_t *ca = NULL;
    int rc = lh_codec_alert_pb_decode(pb, len, &ca);
    if (rc < 0) {
        lh_log(LH_LOG_ERROR, "hub", "outbox alert %lld cannot be decoded; skipped on %s",
               (long long)seq, k->name);
        push_done(ob, pc->sink, seq);
        return 0;
    }
    ca->seq = (uint64_t)seq;
    lh_buf_reset(&ob->enc);
    rc = lh_codec_alert_encode(ca, ob->fmt, &ob->enc);
    if (rc == 0)
        rc = k->ops->publish(k->ctx, seq, ca, ob->enc.data, ob->enc.len);
    lh_correlated_destroy(&ca);
    if (rc == 0 || rc == LH_PUBLISH_UNSENT) {
        push_done(ob, pc->sink, seq);
        if (rc == 0) /* published: sent to someone */
            lh__metrics_add(ob->metrics, LH_M_ALERTS_PUBLISHED_TOTAL, 0, 1);
        return 0;
    }
    return rc == LH_PENDING ? 1 : rc;
}

/* Cursor scan: alerts never handed over to this sink in this run, oldest first. */
static int
publish_one(int64_t seq, const void *pb, size_t len, void *arg)
{
    pub_ctx_t *pc = arg;
    if (offer(pc, seq, pb, len) < 0) {
        pc->stop = 1;
        return 1;
    }
    pc->ob->sinks[pc->sink].cursor = seq;
    return 0;
}

/* Retry scan: called with the first pending alert at or after pc->want. */
static int
publish_retry(int64_t seq, const void *pb, size_t len, void *arg)
{
    pub_ctx_t *pc = arg;
    if (seq != pc->want)
        return 1; /* marked done meanwhile */
    pc->found = 1;
    pc->rc = offer(pc, seq, pb, len);
    return 1;
}

/* Offers again, once each, the alerts whose asynchronous delivery failed on this sink. Returns 0,
 * or LH_E* when the sink refused one (the rest wait for the next look at the outbox). */
static int
publish_retries(pub_ctx_t *pc)
{
    sink_t *k = &pc->ob->sinks[pc->sink];
    size_t i = 0;
    int rc = 0;
    for (; i < k->n_retry; i++) {
        pc->want = k->retry[i];
        pc->found = 0;
        pc->rc = 0;
        rc = lh_store_alert_pending_after(pc->ob->st, k->row, pc->want - 1, 1, publish_retry, pc);
        if (rc >= 0 && pc->found && pc->rc < 0)
            rc = pc->rc;
        if (rc < 0)
            break;
        /* out, in flight again, or done meanwhile: no longer ours to retry */
    }
    if (i > 0) {
        k->n_retry -= i;
        memmove(k->retry, k->retry + i, k->n_retry * sizeof(int64_t));
    }
    return rc < 0 ? rc : 0;
}

void
lh_outbox_kick(lh_outbox_t *ob)
{
    ob->dirty = 1;
}

void
lh_outbox_publish(lh_outbox_t *ob)
{
    int64_t now = lh_mono_ns();
    if (!ob->dirty && now < ob->check_at)
        return;
    ob->dirty = 0;
    ob->check_at = now + LH_NS_PER_SEC;
    for (int i = 0; i < ob->n_sinks; i++) {
        if (!ob->sinks[i].started)
            continue;
        pub_ctx_t pc = {ob, i, 0, 0, 0, 0};
        if (publish_retries(&pc) < 0)
            continue;
        for (;;) {
            int n = lh_store_alert_pending_after(ob->st, ob->sinks[i].row, ob->sinks[i].cursor,
                                                 SCAN_LIMIT, publish_one, &pc);
            if (n < SCAN_LIMIT || pc.stop)
                break;
        }
    }
}

void
lh_outbox_alert_done(lh_outbox_t *ob, int sink, int64_t seq)
{
    if (sink < 0 || sink >= ob->n_sinks)
        return;
    /* listed like the synchronous sinks' marks; out of memory: written on its own right away */
    if (push_done(ob, sink, seq) == 0 || lh_store_alert_done(ob->st, ob->sinks[sink].row, seq) == 0)
        lh__metrics_add(ob->metrics, LH_M_ALERTS_PUBLISHED_TOTAL, 0, 1);
}

/* The alert goes on the sink's retry list; the cursor stays where it is, so alerts after it that
 * are still in flight are not handed over a second time. */
void
lh_outbox_alert_failed(lh_outbox_t *ob, int sink, int64_t seq)
{
    if (sink < 0 || sink >= ob->n_sinks)
        return;
    sink_t *k = &ob->sinks[sink];
    ob->dirty = 1;
    if (seq > k->cursor)
        return; /* not handed over yet: the cursor scan offers it */
    if (k->n_retry == k->cap_retry) {
        size_t cap = k->cap_retry ? k->cap_retry * 2 : 16;
        int64_t *v = realloc(k->retry, cap * sizeof(*v));
        if (!v) {
            lh_log_ratelimited("retry-nomem", LH_LOG_ERROR, "hub",
                               "out of memory: alert %lld is offered again on %s after a restart",
                               (long long)seq, k->name);
            return;
        }
        k->retry = v;
        k->cap_retry = cap;
    }
    k->retry[k->n_retry++] = seq;
}

/* ---- metrics -------------------------------------------------------------------------------- */

/* Alerts not yet delivered to sink i (those out whose done mark still waits for a transaction
 * are not pending). Returns 0 or LH_ESTORE. */
static int
sink_pending(lh_outbox_t *ob, int i, int64_t *n)
{
    int64_t v = 0;
    int rc = lh_store_alert_pending_count(ob->st, ob->sinks[i].row, &v);
    if (rc < 0)
        return rc;
    for (size_t j = 0; j < ob->n_done && v > 0; j++)
        if (ob->done[j].sink == i)
            v--;
    *n = v;
    return 0;
}

const char *
lh_outbox_sink_name(const lh_outbox_t *ob, int sink)
{
    return sink >= 0 && sink < ob->n_sinks ? ob->sinks[sink].name : NULL;
}

void
lh_outbox_each_pending(lh_outbox_t *ob, lh_outbox_pending_fn fn, void *arg)
{
    for (int i = 0; i < ob->n_sinks; i++) {
        int64_t n;
        if (sink_pending(ob, i, &n) == 0)
            fn(ob->sinks[i].name, n, arg);
    }
}

int
lh_outbox_metrics(lh_outbox_t *ob, lh_buf_t *out, int64_t *most)
{
    int rc = 0;
    *most = 0;
    LH_KEEP_FIRST(rc, lh_buf_printf(out, "# HELP loophub_outbox_sink_pending Alerts in the outbox "
                                         "not yet delivered to the sink.\n"
                                         "# TYPE loophub_outbox_sink_pending gauge\n"));
    for (int i = 0; i < ob->n_sinks; i++) {
        int64_t n = 0;
        if (sink_pending(ob, i, &n) < 0)
            continue;
        if (n > *most)
            *most = n;
        LH_KEEP_FIRST(rc, lh_buf_printf(out, "loophub_outbox_sink_pending{sink=\"%s\"} %lld\n",
                                        ob->sinks[i].name, (long long)n));
    }
    return rc;
}
