/*
 * kafka_in.c - the Kafka input adapter: events topics through a consumer group, the changes
 * topic through a second consumer that every hub assigns whole.
 *
 * Reactor integration: both consumers' queues signal one non-blocking pipe
 * (rd_kafka_queue_io_event_enable); its read end is this adapter's only poll item. read() drains
 * the pipe and polls each queue with timeout 0, at most budget messages in all; when it stops on
 * the budget it writes to the pipe itself, because librdkafka only signals again after the queue
 * was polled. librdkafka signals only when a queue goes from empty to non-empty, so anything it
 * queued before the pipe was attached would silence the pipe for good: the pipe is written once
 * when the consumers are created, and tick() writes it when read() has not run for 500 ms.
 * Rebalance callbacks, delivery of log lines and errors all happen inside those polls, on the hub's
 * thread. The only other thread is the metadata thread below; it touches nothing but atomics and
 * the pipe.
 *
 * At-least-once: each message is submitted with a token naming its slot in a table of the
 * partitions read (handle, topic, partition) and its offset; done() notes offset + 1 in the slot,
 * and the noted offsets are stored (enable.auto.offset.store=false) with one
 * rd_kafka_offsets_store() for all partitions at the end of the hub's turn (tick()), before a
 * revoke and at close; librdkafka commits stored offsets periodically. So an offset is stored
 * only after its message's batch committed (done() is called after the commit), and once per
 * partition and turn rather than once per message. The hub commits in submission order, so the
 * offset noted last in a slot is its highest. Tokens come from a free list (chunks freed at
 * destroy). When partitions are revoked, the callback asks the hub to commit what it holds
 * (lh_hub_flush: done() runs for it), stores the noted offsets, commits them synchronously, and
 * only then gives the partitions up, so a rebalance neither loses nor (beyond the last unstored
 * batch) repeats data.
 *
 * Changes topic: its partition count is found by the metadata thread (rd_kafka_metadata blocks),
 * re-checked every 30 s; read() assigns every partition (OFFSET_STORED, falling back to the
 * beginning) under this hub's own group "<group>.changes.<hub_name>", where its offsets are
 * committed like the group's. Changes also arrive on the events topic: dedupe by id absorbs it.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "kafka_internal.h"
#include "loophub/error.h"
#include "loophub/format.h"
#include "loophub/hub.h"
#include "loophub/log.h"
#include "loophub/timeutil.h"

#define COMPONENT "kafka"
#define MAX_HEADERS 64
#define META_RETRY_S 3
#define META_REFRESH_S 30
#define KICK_NS (500 * 1000000LL)

/* One partition this adapter has read from: the offset to store for it at the next flush. */
typedef struct part {
    rd_kafka_t *rk;
    int32_t partition;
    int dirty;       /* next changed since the last flush */
    int64_t next;    /* offset + 1 of the last message whose batch committed */
    char topic[250]; /* Kafka limits topic names to 249 characters */
} part_t;

/* In flight from submit() to done(): a slot of the partition table and the message's offset.
 * Tokens come from chunks of TOKEN_CHUNK and go back to a free list (no malloc per message). */
typedef struct token {
    struct token *next_free;
    size_t part;
    int64_t offset;
} token_t;

#define TOKEN_CHUNK 512

typedef struct token_chunk {
    struct token_chunk *next;
    token_t tokens[TOKEN_CHUNK];
} token_chunk_t;

typedef struct kin {
    lh__kafka_state_t st; /* first: the opaque of both handles */
    lh_kafka_conf_t conf;
    lh_hub_t *hub;
    lh_adapter_t *self;
    rd_kafka_t *rk; /* group consumer, events topics */
    rd_kafka_queue_t *q;
    rd_kafka_t *rk_ch; /* changes topic, manual assignment; NULL when disabled */
    rd_kafka_queue_t *q_ch;
    rd_kafka_topic_t *rkt_ch; /* for the metadata thread */
    int pipefd[2];
    int started, stopped, closing, revoked;
    token_t *free_tokens;  /* free list */
    token_chunk_t *chunks; /* every token ever allocated, freed by destroy */
    part_t *parts;         /* partition table: grows, never shrinks (bounded by partitions) */
    size_t n_parts, cap_parts, last_part;
    int parts_dirty;   /* some part is dirty */
    int ch_assigned;   /* partitions of the changes topic assigned */
    int64_t last_read; /* monotonic ns of the last read() */
    int ch_logged_err;
    /* metadata thread */
    pthread_t meta;
    int meta_running;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int meta_stop;       /* under mu */
    atomic_int ch_parts; /* partition count found, 0 while unknown */
    atomic_int ch_err;   /* last metadata error (rd_kafka_resp_err_t) */
} kin_t;

/* The slot of (rk, topic, partition) in the partition table, added when new. Messages come in
 * runs from one partition: the last slot found is tried first. Returns 0 or LH_ENOMEM. */
static int
part_find(kin_t *k, rd_kafka_t *rk, const char *topic, int32_t partition, size_t *slot)
{
    for (size_t j = 0; j < k->n_parts; j++) {
        size_t i = (k->last_part + j) % k->n_parts;
        part_t *p = &k->parts[i];
        if (p->rk == rk && p->partition == partition && strcmp(p->topic, topic) == 0) {
            k->last_part = i;
            *slot = i;
            return 0;
        }
    }
    if (k->n_parts == k->cap_parts) {
        size_t cap = k->cap_parts ? k->cap_parts * 2 : 16;
        part_t *v = realloc(k->parts, cap * sizeof(*v));
        if (!v)
            return LH_ENOMEM;
        k->parts = v;
        k->cap_parts = cap;
    }
    part_t *p = &k->parts[k->n_parts];
    p->rk = rk;
    p->partition = partition;
    p->dirty = 0;
    p->next = 0;
    snprintf(p->topic, sizeof(p->topic), "%s", topic);
    *slot = k->last_part = k->n_parts++;
    return 0;
}

static token_t *
token_new(kin_t *k, rd_kafka_t *rk, const rd_kafka_message_t *m)
{
    size_t slot;
    if (part_find(k, rk, rd_kafka_topic_name(m->rkt), m->partition, &slot) != 0)
        return NULL;
    if (!k->free_tokens) {
        token_chunk_t *c = malloc(sizeof(*c));
        if (!c)
            return NULL;
        c->next = k->chunks;
        k->chunks = c;
        for (size_t i = 0; i < TOKEN_CHUNK; i++) {
            c->tokens[i].next_free = k->free_tokens;
            k->free_tokens = &c->tokens[i];
        }
    }
    token_t *t = k->free_tokens;
    k->free_tokens = t->next_free;
    t->next_free = NULL;
    t->part = slot;
    t->offset = m->offset;
    return t;
}

static void
token_free(kin_t *k, token_t *t)
{
    t->next_free = k->free_tokens;
    k->free_tokens = t;
}

/* Stores the offsets done() noted since the last flush for handle rk: one
 * rd_kafka_offsets_store() with every dirty partition. */
static void
offsets_flush_rk(kin_t *k, rd_kafka_t *rk)
{
    int n = 0;
    for (size_t i = 0; i < k->n_parts; i++)
        n += k->parts[i].dirty && k->parts[i].rk == rk;
    if (n == 0)
        return;
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(n);
    if (!l)
        return; /* stays dirty: tried again at the next flush */
    for (size_t i = 0; i < k->n_parts; i++) {
        part_t *p = &k->parts[i];
        if (p->dirty && p->rk == rk) {
            rd_kafka_topic_partition_list_add(l, p->topic, p->partition)->offset = p->next;
            p->dirty = 0;
        }
    }
    rd_kafka_resp_err_t err = rd_kafka_offsets_store(rk, l);
    for (int i = 0; i < l->cnt; i++) {
        const rd_kafka_topic_partition_t *e = &l->elems[i];
        rd_kafka_resp_err_t perr = e->err ? e->err : err;
        if (perr == RD_KAFKA_RESP_ERR__STATE || perr == RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION)
            lh_log(LH_LOG_DEBUG, COMPONENT,
                   "kafka-in: %s/%d no longer assigned, offset %lld not stored", e->topic,
                   (int)e->partition, (long long)e->offset);
        else if (perr)
            lh_log_ratelimited("kafka-offset-store", LH_LOG_WARN, COMPONENT,
                               "kafka-in: storing offset of %s/%d: %s", e->topic, (int)e->partition,
                               rd_kafka_err2str(perr));
    }
    rd_kafka_topic_partition_list_destroy(l);
}

/* Stores every offset noted by done() (end of the hub's turn, before a revoke, at close). */
static void
offsets_flush(kin_t *k)
{
    if (!k->parts_dirty)
        return;
    k->parts_dirty = 0;
    if (k->rk)
        offsets_flush_rk(k, k->rk);
    if (k->rk_ch)
        offsets_flush_rk(k, k->rk_ch);
    for (size_t i = 0; i < k->n_parts; i++)
        k->parts_dirty |= k->parts[i].dirty; /* a list that could not be built */
}

/* --- metadata thread: the changes topic's partition count ----------------------------------- */

static int
meta_wait(kin_t *k, int seconds)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += seconds;
    pthread_mutex_lock(&k->mu);
    while (!k->meta_stop) {
        if (pthread_cond_timedwait(&k->cv, &k->mu, &ts) != 0)
            break;
    }
    int stop = k->meta_stop;
    pthread_mutex_unlock(&k->mu);
    return stop;
}

static void *
meta_main(void *arg)
{
    kin_t *k = arg;
    for (;;) {
        const struct rd_kafka_metadata *md = NULL;
        int wait = META_RETRY_S;
        rd_kafka_resp_err_t err = rd_kafka_metadata(k->rk_ch, 0, k->rkt_ch, &md, 2000);
        if (!err && md) {
            if (md->topic_cnt == 1 && !md->topics[0].err && md->topics[0].partition_cnt > 0) {
                int n = md->topics[0].partition_cnt;
                if (atomic_load(&k->ch_parts) != n) {
                    atomic_store(&k->ch_parts, n);
                    lh__kafka_wake(k->pipefd[1]);
                }
                atomic_store(&k->ch_err, 0);
                wait = META_REFRESH_S;
            } else if (md->topic_cnt == 1) {
                atomic_store(&k->ch_err, md->topics[0].err ? (int)md->topics[0].err
                                                           : RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC);
            }
            rd_kafka_metadata_destroy(md);
        } else {
            atomic_store(&k->ch_err, (int)err);
        }
        if (meta_wait(k, wait))
            return NULL;
    }
}

/* Assigns the partitions of the changes topic not assigned yet. */
static void
changes_assign(kin_t *k)
{
    int n = atomic_load(&k->ch_parts);
    if (n <= k->ch_assigned)
        return;
    const char *topic = lh__kafka_changes_topic(&k->conf);
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(n - k->ch_assigned);
    for (int p = k->ch_assigned; p < n; p++)
        rd_kafka_topic_partition_list_add(l, topic, p)->offset = RD_KAFKA_OFFSET_STORED;
    rd_kafka_error_t *e = NULL;
    rd_kafka_resp_err_t err = 0;
    if (k->ch_assigned == 0)
        err = rd_kafka_assign(k->rk_ch, l);
    else
        e = rd_kafka_incremental_assign(k->rk_ch, l);
    if (err || e) {
        lh_log(LH_LOG_ERROR, COMPONENT, "kafka-in: cannot assign %s: %s", topic,
               e ? rd_kafka_error_string(e) : rd_kafka_err2str(err));
        if (e)
            rd_kafka_error_destroy(e);
    } else {
        lh_log(LH_LOG_INFO, COMPONENT, "kafka-in: reading all %d partitions of %s", n, topic);
        k->ch_assigned = n;
    }
    rd_kafka_topic_partition_list_destroy(l);
}

/* --- rebalance ------------------------------------------------------------------------------ */

static void
give_up(kin_t *k, rd_kafka_t *rk, rd_kafka_topic_partition_list_t *parts, int coop)
{
    k->revoked = 1;
    /* everything submitted so far becomes durable and its offsets stored (done()) */
    if (!k->closing && k->hub && lh_hub_flush(k->hub) != 0)
        lh_log(LH_LOG_WARN, COMPONENT,
               "kafka-in: commit before giving up partitions failed; their last messages "
               "will be delivered again");
    offsets_flush(k); /* what done() noted, before the commit below */
    if (rd_kafka_assignment_lost(rk)) {
        lh_log(LH_LOG_WARN, COMPONENT,
               "kafka-in: partitions lost; messages not yet committed will be redelivered");
    } else if (!(k->closing && k->st.down)) {
        rd_kafka_resp_err_t err = rd_kafka_commit(rk, NULL, 0);
        if (err && err != RD_KAFKA_RESP_ERR__NO_OFFSET)
            lh_log(LH_LOG_WARN, COMPONENT, "kafka-in: offset commit on revoke failed: %s",
                   rd_kafka_err2str(err));
    }
    if (coop) {
        rd_kafka_error_t *e = rd_kafka_incremental_unassign(rk, parts);
        if (e) {
            lh_log(LH_LOG_ERROR, COMPONENT, "kafka-in: unassign: %s", rd_kafka_error_string(e));
            rd_kafka_error_destroy(e);
        }
    } else {
        rd_kafka_assign(rk, NULL);
    }
    lh_log(LH_LOG_INFO, COMPONENT, "kafka-in: gave up %d partitions", parts->cnt);
}

static void
rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t *parts,
             void *opaque)
{
    kin_t *k = opaque;
    int coop = strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE") == 0;
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        lh_log(LH_LOG_INFO, COMPONENT, "kafka-in: assigned %d partitions of group %s", parts->cnt,
               lh__kafka_group(&k->conf));
        if (coop) {
            rd_kafka_error_t *e = rd_kafka_incremental_assign(rk, parts);
            if (e) {
                lh_log(LH_LOG_ERROR, COMPONENT, "kafka-in: assign: %s", rd_kafka_error_string(e));
                rd_kafka_error_destroy(e);
            }
        } else {
            rd_kafka_assign(rk, parts);
        }
    } else if (err == RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS) {
        give_up(k, rk, parts, coop);
    } else {
        lh_log(LH_LOG_ERROR, COMPONENT, "kafka-in: rebalance error: %s", rd_kafka_err2str(err));
        give_up(k, rk, parts, coop);
    }
}

/* --- intake --------------------------------------------------------------------------------- */

/* The message's headers as they came (names and values owned by the message); the hub's codec
 * reads CloudEvents binary mode (ce_* headers) from them. Returns how many; kv holds at most
 * max, or *heap (malloc'd, the caller frees it) when there are more. */
static size_t
headers_of(const rd_kafka_message_t *m, lh_kv_t *kv, size_t max, lh_kv_t **heap)
{
    *heap = NULL;
    rd_kafka_headers_t *hdrs = NULL;
    if (rd_kafka_message_headers(m, &hdrs) != RD_KAFKA_RESP_ERR_NO_ERROR || !hdrs)
        return 0;
    size_t cnt = rd_kafka_header_cnt(hdrs);
    if (cnt > max) {
        *heap = malloc(cnt * sizeof(**heap));
        if (!*heap)
            return 0; /* decoded without its headers: a binary-mode message is then rejected */
        kv = *heap;
        max = cnt;
    }
    size_t n = 0;
    const char *name;
    const void *val;
    size_t size;
    for (size_t i = 0; n < max && rd_kafka_header_get_all(hdrs, i, &name, &val, &size) == 0; i++) {
        kv[n].key = name;
        kv[n].value = val;
        kv[n].value_len = val ? size : 0;
        n++;
    }
    return n;
}

/* Hands one message to the hub. Returns 0 or LH_ENOMEM. */
static int
submit(kin_t *k, rd_kafka_t *rk, const rd_kafka_message_t *m)
{
    char origin[300];
    snprintf(origin, sizeof(origin), "kafka:%s/%d", rd_kafka_topic_name(m->rkt), (int)m->partition);
    token_t *t = token_new(k, rk, m);
    if (!t)
        return LH_ENOMEM;
    lh_kv_t kv[MAX_HEADERS], *heap;
    size_t n = headers_of(m, kv, MAX_HEADERS, &heap);
    lh_submit_t s = {.from = k->self,
                     .origin = origin,
                     .data = m->payload,
                     .len = m->len,
                     .token = t,
                     .headers = heap ? heap : kv,
                     .n_headers = n};
    /* On failure the token is not put back: the hub kept nothing (done() will not come) and its
     * chunk goes with destroy; the error is fatal for the hub anyway. */
    int rc = lh_hub_submit(k->hub, &s);
    free(heap);
    return rc;
}

/* Polls one queue: returns messages handled, or LH_E* (fatal). */
static int
poll_queue(kin_t *k, rd_kafka_t *rk, int budget)
{
    int n = 0;
    while (n < budget && !k->revoked) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 0);
        if (!m)
            break;
        n++;
        if (m->err) {
            if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
                lh_hub_count(k->hub, LH_COUNT_KAFKA_CONSUME_ERRORS, 1);
                lh_log_ratelimited("kafka-consume-error", LH_LOG_WARN, COMPONENT,
                                   "kafka-in: %s%s%s", m->rkt ? rd_kafka_topic_name(m->rkt) : "",
                                   m->rkt ? ": " : "", rd_kafka_message_errstr(m));
            }
            rd_kafka_message_destroy(m);
            continue;
        }
        lh__kafka_note_up(&k->st);
        int rc = submit(k, rk, m);
        rd_kafka_message_destroy(m);
        if (rc) {
            lh_log(LH_LOG_ERROR, COMPONENT, "kafka-in: cannot hand a message to the hub: %s",
                   lh_strerror(rc));
            return rc;
        }
    }
    return n;
}

static int
kin_read(void *ctx, int budget)
{
    kin_t *k = ctx;
    lh__kafka_drain(k->pipefd[0]);
    k->last_read = lh_mono_ns();
    if (k->stopped)
        return 0;
    int ch_err = atomic_load(&k->ch_err);
    if (k->rk_ch && ch_err && !k->ch_logged_err) {
        lh_log(LH_LOG_WARN, COMPONENT, "kafka-in: changes topic %s not readable yet: %s",
               lh__kafka_changes_topic(&k->conf), rd_kafka_err2str(ch_err));
        k->ch_logged_err = 1;
    }
    if (k->rk_ch)
        changes_assign(k);
    int total = 0;
    k->revoked = 0;
    if (k->rk_ch) {
        /* changes first: a deploy should be stored before the outcomes that follow it */
        int n = poll_queue(k, k->rk_ch, budget);
        if (n < 0)
            return n;
        total += n;
    }
    if (total < budget) {
        int n = poll_queue(k, k->rk, budget - total);
        if (n < 0)
            return n;
        total += n;
    }
    if (total >= budget || k->revoked)
        lh__kafka_wake(k->pipefd[1]); /* more may wait: librdkafka will not signal again */
    k->revoked = 0;
    return total;
}

static void
kin_done(void *ctx, void *token, const lh_ack_t *acks, size_t n)
{
    kin_t *k = ctx;
    (void)acks;
    (void)n;
    token_t *t = token;
    /* stored whatever the verdict (a rejected message is in the quarantine table), at the next
     * flush; the hub commits in submission order, so the last one noted is the highest */
    part_t *p = &k->parts[t->part];
    p->next = t->offset + 1;
    p->dirty = 1;
    k->parts_dirty = 1;
    token_free(k, t);
}

/* --- lifecycle ------------------------------------------------------------------------------ */

static int
kin_start(void *ctx, lh_hub_t *hub)
{
    kin_t *k = ctx;
    k->hub = hub;
    k->self = lh_hub_adapter_of(hub, ctx);
    size_t nt = lh__kafka_n_topics(&k->conf);
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new((int)nt);
    if (!l)
        return LH_ENOMEM;
    for (size_t i = 0; i < nt; i++)
        rd_kafka_topic_partition_list_add(l, lh__kafka_topic(&k->conf, i), RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t err = rd_kafka_subscribe(k->rk, l);
    rd_kafka_topic_partition_list_destroy(l);
    if (err) {
        lh_log(LH_LOG_ERROR, COMPONENT, "kafka-in: cannot subscribe: %s", rd_kafka_err2str(err));
        return LH_ETRANSPORT;
    }
    if (k->rk_ch) {
        if (pthread_create(&k->meta, NULL, meta_main, k) != 0) {
            lh_log(LH_LOG_ERROR, COMPONENT, "kafka-in: cannot start the metadata thread");
            return LH_ENOMEM;
        }
        k->meta_running = 1;
    }
    k->started = 1;
    lh_log(LH_LOG_INFO, COMPONENT, "kafka-in: consuming %s%s in group %s%s%s",
           lh__kafka_topic(&k->conf, 0), nt > 1 ? " (and more)" : "", lh__kafka_group(&k->conf),
           k->rk_ch ? ", changes from " : "", k->rk_ch ? lh__kafka_changes_topic(&k->conf) : "");
    return 0;
}

static int
kin_pollitems(void *ctx, lh_pollitem_t *items, int max)
{
    kin_t *k = ctx;
    if (max < 1 || k->stopped)
        return 0;
    items[0].socket = NULL;
    items[0].fd = k->pipefd[0];
    items[0].events = LH_POLLIN;
    items[0].revents = 0;
    return 1;
}

static void
kin_tick(void *ctx, int64_t now)
{
    kin_t *k = ctx;
    /* the end of the hub's turn: its done() calls are over, store their offsets at once */
    offsets_flush(k);
    /* a safety net for the edge-triggered signal (see consumer_new): serve the queues at least
     * every KICK_NS even when the pipe stayed silent; a poll of an empty queue costs nothing */
    if (!k->stopped && now - k->last_read >= KICK_NS) {
        k->last_read = now;
        lh__kafka_wake(k->pipefd[1]);
    }
}

static void
kin_stop(void *ctx)
{
    kin_t *k = ctx;
    k->stopped = 1;
}

static void
close_handle(rd_kafka_t **rk, rd_kafka_queue_t **q)
{
    if (*q) {
        rd_kafka_queue_io_event_enable(*q, -1, NULL, 0);
        rd_kafka_queue_destroy(*q);
        *q = NULL;
    }
    if (*rk) {
        rd_kafka_consumer_close(*rk);
        rd_kafka_destroy(*rk);
        *rk = NULL;
    }
}

static void
kin_destroy(void *ctx)
{
    kin_t *k = ctx;
    if (!k)
        return;
    k->closing = 1;
    if (k->meta_running) {
        pthread_mutex_lock(&k->mu);
        k->meta_stop = 1;
        pthread_cond_signal(&k->cv);
        pthread_mutex_unlock(&k->mu);
        pthread_join(k->meta, NULL);
    }
    if (k->rkt_ch)
        rd_kafka_topic_destroy(k->rkt_ch);
    offsets_flush(k); /* done() of the last batch: committed below and by consumer_close */
    if (k->rk_ch && k->ch_assigned && !k->st.down)
        rd_kafka_commit(k->rk_ch, NULL, 0); /* what done() stored; errors are logged by it */
    close_handle(&k->rk_ch, &k->q_ch);
    close_handle(&k->rk, &k->q);
    while (k->chunks) {
        token_chunk_t *c = k->chunks;
        k->chunks = c->next;
        free(c);
    }
    free(k->parts);
    if (k->pipefd[0] >= 0)
        close(k->pipefd[0]);
    if (k->pipefd[1] >= 0)
        close(k->pipefd[1]);
    pthread_cond_destroy(&k->cv);
    pthread_mutex_destroy(&k->mu);
    lh_kafka_conf_free(&k->conf);
    free(k);
}

static int
kin_health(void *ctx, char *why, size_t whylen)
{
    return lh__kafka_health(&((kin_t *)ctx)->st, why, whylen);
}

static const lh_adapter_ops_t kin_ops = {
    .name = "kafka-in",
    .start = kin_start,
    .pollitems = kin_pollitems,
    .read = kin_read,
    .done = kin_done,
    .publish = NULL,
    .tick = kin_tick,
    .stop = kin_stop,
    .destroy = kin_destroy,
    .health = kin_health,
};

/* Creates one consumer whose queue signals the pipe. */
static int
consumer_new(kin_t *k, lh__kafka_role_t role, rd_kafka_t **rk, rd_kafka_queue_t **q)
{
    char why[600];
    rd_kafka_conf_t *conf;
    int rc = lh__kafka_rdconf(&k->conf, role, k, &conf, why, sizeof(why));
    if (rc) {
        lh_log(LH_LOG_ERROR, COMPONENT, "%s", why);
        return rc;
    }
    if (role == LH__KAFKA_CONSUMER)
        rd_kafka_conf_set_rebalance_cb(conf, rebalance_cb);
    rc = lh__kafka_new(RD_KAFKA_CONSUMER, conf, "kafka-in", rk);
    if (rc)
        return rc;
    rd_kafka_poll_set_consumer(*rk); /* logs, errors, rebalances: all on the consumer queue */
    *q = rd_kafka_queue_get_consumer(*rk);
    if (!*q) {
        lh_log(LH_LOG_ERROR, COMPONENT, "kafka-in: no consumer queue");
        return LH_ETRANSPORT;
    }
    rd_kafka_queue_io_event_enable(*q, k->pipefd[1], "k", 1);
    /* librdkafka signals only when a queue goes from empty to non-empty: whatever its threads
     * queued before the line above (connection errors, with the brokers down at start) would
     * keep the queue non-empty and the pipe silent for good. Look at the queue once now. */
    lh__kafka_wake(k->pipefd[1]);
    return 0;
}

int
lh_kafka_in_new(const lh_kafka_conf_t *c, const lh_adapter_ops_t **ops, void **ctx)
{
    *ops = NULL;
    *ctx = NULL;
    kin_t *k = calloc(1, sizeof(*k));
    if (!k)
        return LH_ENOMEM;
    k->st.what = "kafka-in";
    k->pipefd[0] = k->pipefd[1] = -1;
    pthread_mutex_init(&k->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&k->cv, &ca);
    pthread_condattr_destroy(&ca);
    int rc = lh__kafka_conf_copy(&k->conf, c);
    if (!rc)
        rc = lh__kafka_pipe(k->pipefd);
    if (!rc)
        rc = consumer_new(k, LH__KAFKA_CONSUMER, &k->rk, &k->q);
    const char *changes = lh__kafka_changes_topic(&k->conf);
    if (!rc && changes) {
        rc = consumer_new(k, LH__KAFKA_CHANGES, &k->rk_ch, &k->q_ch);
        if (!rc && !(k->rkt_ch = rd_kafka_topic_new(k->rk_ch, changes, NULL))) {
            lh_log(LH_LOG_ERROR, COMPONENT, "kafka-in: topic %s: %s", changes,
                   rd_kafka_err2str(rd_kafka_last_error()));
            rc = LH_ECONFIG;
        }
    }
    if (rc) {
        kin_destroy(k);
        return rc;
    }
    *ops = &kin_ops;
    *ctx = k;
    return 0;
}
