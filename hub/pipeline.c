/*
 * pipeline.c - the ingest pipeline: a submitted message is decoded (the codec: format detection,
 * CloudEvents binary mode from its headers) into items of the batch; the batch is committed in
 * one store transaction (insert with dedupe, correlate, outbox rows, the outbox's waiting done
 * marks), and then every message's adapter gets its verdicts (done()).
 *
 * Invariants: a message's done() is called exactly once, after the transaction holding its
 * events committed (or, for a message rejected whole, after its quarantine row committed); a
 * submission that fails leaves nothing of its message in the batch; a failed commit keeps the
 * batch, pauses intake and retries, and nothing is acknowledged meanwhile.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "hub_internal.h"
#include "loophub/error.h"
#include "loophub/log.h"
#include "loophub/timeutil.h"

/* --- batch ------------------------------------------------------------------------------- */

static int
push_msg(lh_hub_t *hub, lh_adapter_t *from, const char *origin, void *token)
{
    if (hub->n_msgs == hub->cap_msgs) {
        size_t cap = hub->cap_msgs ? hub->cap_msgs * 2 : 256;
        msg_t *m = realloc(hub->msgs, cap * sizeof(*m));
        if (!m)
            return LH_ENOMEM;
        hub->msgs = m;
        hub->cap_msgs = cap;
    }
    msg_t *m = &hub->msgs[hub->n_msgs];
    memset(m, 0, sizeof(*m));
    m->from = from;
    m->token = token;
    m->source = LH_SRC_NONE;
    m->origin = strdup(origin ? origin : "?");
    if (!m->origin)
        return LH_ENOMEM;
    m->first = hub->n_items;
    hub->n_msgs++;
    return 0;
}

static int
push_item(lh_hub_t *hub, lh_event_t *ev, int err, const char *id, const char *why)
{
    if (hub->n_items == hub->cap_items) {
        size_t cap = hub->cap_items ? hub->cap_items * 2 : 1024;
        item_t *v = realloc(hub->items, cap * sizeof(*v));
        if (!v) {
            lh_event_destroy(&ev);
            return LH_ENOMEM;
        }
        hub->items = v;
        hub->cap_items = cap;
    }
    item_t *it = &hub->items[hub->n_items++];
    memset(it, 0, sizeof(*it));
    it->ev = ev;
    it->err = err;
    it->msg = hub->n_msgs - 1;
    if (!ev && err == LH_IGNORED) {
        it->ignored = 1;
        it->err = 0;
        it->id = id ? strdup(id) : NULL;
        it->why = strdup(why ? why : "ignored");
    } else if (!ev) {
        it->err = err ? err : LH_EDECODE;
        it->id = id ? strdup(id) : NULL;
        it->why = strdup(why ? why : "cannot decode");
    }
    hub->msgs[hub->n_msgs - 1].n++;
    lh__metrics_add(&hub->metrics, LH_M_EVENTS_RECEIVED_TOTAL, 0, 1);
    return 0;
}

typedef struct {
    lh_hub_t *hub;
    int err;      /* an item could not be kept: the whole message is taken back */
    int redacted; /* the redaction rules changed an event of the message */
} submit_ctx_t;

/* Counts what the redaction rules replaced (redact.h); passes n on. */
static int
redacted(lh_hub_t *hub, int n)
{
    if (n > 0)
        lh__metrics_add(&hub->metrics, LH_M_REDACTED_TOTAL, 0, n);
    return n;
}

/* An event's environment and service by their canonical names (hub->aliases). */
static int
unalias(lh_hub_t *hub, lh_event_t *ev)
{
    for (size_t i = 0; i < hub->n_aliases; i++) {
        const lh__alias_t *a = &hub->aliases[i];
        char **f = a->service ? &ev->service : &ev->environment;
        if (*f && !strcasecmp(*f, a->from) && strcmp(*f, a->to)) {
            char *to = lh_event_str(ev, a->to, strlen(a->to));
            if (!to)
                return LH_ENOMEM;
            *f = to;
        }
    }
    return 0;
}

static int
decode_sink(lh_event_t *ev, int err, const char *id, const char *why, void *arg)
{
    submit_ctx_t *sc = arg;
    if (ev && unalias(sc->hub, ev) < 0) {
        lh_event_destroy(&ev);
        sc->err = LH_ENOMEM;
        return 1;
    }
    /* privacy first: no event waits in the batch unscrubbed, so nothing after this point
     * (store, correlator, outbox, quarantine, log) can see a secret, even on a retried commit */
    int red = ev ? redacted(sc->hub, lh_redact_event(sc->hub->redact, ev, NULL, NULL)) : 0;
    if (red < 0) {
        lh_event_destroy(&ev);
        sc->err = red;
        return 1;
    }
    sc->redacted |= red > 0;
    int rc = push_item(sc->hub, ev, err, id, why);
    if (rc < 0) {
        sc->err = rc;
        return 1;
    }
    return 0;
}

/* The message's bytes are kept for the quarantine: of a message over the payload limit only the
 * first quarantine_sample bytes (a flood of huge messages must not cost their size again in
 * memory and in the store; the reason gets the true size), scrubbed by the value rules (the only
 * ones that apply to bytes), and none at all when the rules changed one of its events: the bytes
 * hold that event's secrets in a form the rules may not see (protobuf, a key of one's own). A
 * rejected event is then quarantined as its scrubbed protobuf. */

/* Appends to a rejected item's reason that the quarantine holds a sample only. */
static void
note_sample(item_t *it, size_t keep, size_t len)
{
    if (!it->err || !it->why)
        return;
    char *why = NULL;
    if (asprintf(&why, "%s (quarantined: the first %zu of %zu bytes)", it->why, keep, len) < 0)
        return; /* the reason stays without the note */
    free(it->why);
    it->why = why;
}

/* Normalizes and validates the events of the message pushed last, once, at submit: a rejected
 * one gets its err and reason here, so keep_raw_if_rejected() keeps the bytes that came for its
 * quarantine row (a protobuf event carries no copy of its own, and re-encoding it after
 * normalization filled in its defaults is not what the sender sent). Returns 0 or LH_ENOMEM. */
static int
validate_msg(lh_hub_t *hub)
{
    const msg_t *m = &hub->msgs[hub->n_msgs - 1];
    int64_t now = lh_now_ns();
    char why[256];
    for (size_t i = m->first; i < m->first + m->n; i++) {
        item_t *it = &hub->items[i];
        if (!it->ev || it->err)
            continue;
        why[0] = 0;
        int v = lh_event_normalize(it->ev);
        if (v == 0)
            v = lh_event_validate(it->ev, &hub->o.limits, now, why, sizeof(why));
        if (v < 0) {
            free(it->why);
            if (!(it->why = strdup(why[0] ? why : lh_strerror(v))))
                return LH_ENOMEM;
            it->err = v;
        }
    }
    return 0;
}

static void
keep_raw_if_rejected(lh_hub_t *hub, const void *data, size_t len, int changed)
{
    msg_t *m = &hub->msgs[hub->n_msgs - 1];
    for (size_t i = m->first; i < m->first + m->n && !changed; i++) {
        if (!hub->items[i].err)
            continue;
        size_t keep = len;
        if (len > hub->o.limits.max_payload && len > hub->o.quarantine_sample) {
            keep = hub->o.quarantine_sample;
            for (size_t k = i; k < m->first + m->n; k++)
                note_sample(&hub->items[k], keep, len);
        }
        char *scrubbed = NULL;
        size_t slen = 0;
        int n = redacted(hub, lh_redact_bytes(hub->redact, data, keep, &scrubbed, &slen));
        if (n > 0) {
            m->raw = scrubbed;
            m->raw_len = slen;
        } else if (n == 0 && (m->raw = malloc(keep ? keep : 1))) {
            if (keep)
                memcpy(m->raw, data, keep);
            m->raw_len = keep;
        }
        return;
    }
}

/* Takes back the message pushed last (and its items) after its submission failed: the adapter
 * keeps its token, done() will not be called for it. */
static void
drop_last_msg(lh_hub_t *hub)
{
    msg_t *m = &hub->msgs[hub->n_msgs - 1];
    for (size_t i = m->first; i < hub->n_items; i++) {
        lh_event_destroy(&hub->items[i].ev);
        free(hub->items[i].id);
        free(hub->items[i].why);
    }
    lh__metrics_add(&hub->metrics, LH_M_EVENTS_RECEIVED_TOTAL, 0,
                    -(int64_t)(hub->n_items - m->first));
    hub->n_items = m->first;
    free(m->origin);
    free(m->raw);
    hub->n_msgs--;
}

static void
maybe_flush(lh_hub_t *hub)
{
    if (hub->n_items >= (size_t)hub->o.batch_max && !hub->stalled)
        lh__hub_commit_batch(hub);
}

int
lh_hub_submit(lh_hub_t *hub, const lh_submit_t *m)
{
    static const char empty[1] = "";
    const void *data = m->data && m->len ? m->data : empty;
    size_t len = m->data ? m->len : 0;
    int rc = push_msg(hub, m->from, m->origin, m->from ? m->token : NULL);
    if (rc < 0)
        return rc;
    submit_ctx_t sc = {hub, 0, 0};
    if (m->reject)
        rc =
            decode_sink(NULL, m->reject_err < 0 ? m->reject_err : LH_EDECODE, NULL, m->reject, &sc);
    else
        rc = lh_codec_decode_src(data, len, (lh_format_t)m->hint, m->headers, m->n_headers,
                                 &hub->o.codec, decode_sink, &sc,
                                 &hub->msgs[hub->n_msgs - 1].source);
    if (rc >= 0 && sc.err >= 0)
        rc = validate_msg(hub);
    if (rc < 0 || sc.err < 0) {
        drop_last_msg(hub);
        return rc < 0 ? rc : sc.err;
    }
    keep_raw_if_rejected(hub, data, len, sc.redacted);
    maybe_flush(hub);
    return 0;
}

/* Marks an item rejected (inside the transaction; counted once the batch is committed). */
static void
reject(item_t *it, int err, const char *why)
{
    if (!it->why)
        it->why = strdup(why);
    it->err = err;
    it->status = LH_ACK_REJECTED;
}

/* After the commit: count and log (at most once a second per reason) one rejection. */
static void
account_rejection(lh_hub_t *hub, const item_t *it)
{
    lh__metrics_reject(&hub->metrics, it->err);
    const msg_t *m = &hub->msgs[it->msg];
    const char *id = it->ev ? it->ev->id : it->id;
    lh_log_ratelimited(lh__metrics_reason_name(lh__metrics_reason(it->err)), LH_LOG_WARN,
                       "pipeline", "rejected %s%s%sfrom %s: %s", id ? "event " : "a message ",
                       id ? id : "", id ? " " : "", m->origin, it->why ? it->why : "?");
}

void
lh__hub_free_batch(lh_hub_t *hub)
{
    for (size_t i = 0; i < hub->n_items; i++) {
        lh_event_destroy(&hub->items[i].ev);
        free(hub->items[i].id);
        free(hub->items[i].why);
    }
    for (size_t i = 0; i < hub->n_msgs; i++) {
        free(hub->msgs[i].origin);
        free(hub->msgs[i].raw);
    }
    hub->n_items = hub->n_msgs = 0;
}

/* Runs the whole batch inside one transaction, with the waiting done marks. Returns 0 or
 * LH_ESTORE (rolled back). */
static int
store_batch(lh_hub_t *hub, int64_t now, int *alerts)
{
    int rc = lh_store_begin(hub->st);
    if (rc < 0)
        return rc;
    size_t marks = 0;
    if ((rc = lh_outbox_apply_done(hub->ob, &marks)) < 0)
        goto fail;
    for (size_t i = 0; i < hub->n_items; i++) {
        item_t *it = &hub->items[i];
        it->status = LH_ACK_OK;
        if (it->ignored) {
            it->status = LH_ACK_IGNORED;
            continue;
        }
        /* decoded, normalized and validated at submit (validate_msg()) */
        if (it->err || !it->ev)
            reject(it, it->err, it->why ? it->why : "cannot decode");
        if (it->status == LH_ACK_REJECTED && it->err == LH_EAUTH)
            continue; /* a payload nobody vouched for is not kept, not even for inspection */
        if (it->status == LH_ACK_REJECTED) {
            const msg_t *m = &hub->msgs[it->msg];
            /* the event is scrubbed (decode_sink), its reason may quote a value */
            if ((rc = redacted(hub, lh_redact_str(hub->redact, &it->why))) < 0)
                goto fail;
            const void *payload = it->ev && it->ev->raw ? it->ev->raw : m->raw;
            size_t plen = it->ev && it->ev->raw ? it->ev->raw_len : m->raw_len;
            if (!payload && it->ev) {
                lh_buf_reset(&hub->pb);
                if (lh_codec_pb_encode(it->ev, &hub->pb) == 0) {
                    payload = hub->pb.data;
                    plen = hub->pb.len;
                }
            }
            rc = lh_store_quarantine(hub->st, m->origin, it->why, it->ev ? it->ev->id : it->id,
                                     payload, plen);
            if (rc < 0)
                goto fail;
            continue;
        }
        if ((rc = lh_correlator_enrich(hub->corr, it->ev)) < 0)
            goto fail;
        /* stored without the fields its columns hold (lh_store_insert_event()) */
        int outcome = lh_correlator_is_outcome(hub->corr, it->ev);
        if ((rc = lh_store_event_encode(it->ev, outcome, &hub->pb)) < 0)
            goto fail;
        int64_t seq = 0;
        rc = lh_store_insert_event(hub->st, it->ev, outcome, hub->pb.data, hub->pb.len, &seq);
        if (rc == LH_EDUPLICATE) {
            it->status = LH_ACK_DUPLICATE;
            continue;
        }
        if (rc < 0)
            goto fail;
        rc = lh_correlator_add(hub->corr, it->ev, seq, now);
        if (rc < 0)
            goto fail;
        *alerts += rc;
    }
    rc = lh_store_commit(hub->st);
    if (rc < 0)
        goto fail;
    lh_outbox_done_committed(hub->ob, marks);
    return 0;
fail:
    lh_store_rollback(hub->st);
    return rc < 0 ? rc : LH_ESTORE;
}

/* Each webhook source's payloads by verdict: rejected when an event of it was, ignored when all
 * of it was, accepted otherwise (stored or already there). */
static void
count_sources(lh_hub_t *hub)
{
    for (size_t mi = 0; mi < hub->n_msgs; mi++) {
        const msg_t *m = &hub->msgs[mi];
        if (m->source < 0 || m->source >= LH_SRC_COUNT)
            continue;
        int rejected = 0, ignored = 0;
        for (size_t k = m->first; k < m->first + m->n; k++) {
            rejected |= hub->items[k].status == LH_ACK_REJECTED;
            ignored += hub->items[k].status == LH_ACK_IGNORED;
        }
        int v = rejected                          ? LH_M_SRC_REJECTED
                : m->n && (size_t)ignored == m->n ? LH_M_SRC_IGNORED
                                                  : LH_M_SRC_ACCEPTED;
        lh__metrics_add(&hub->metrics, LH_M_SOURCE_PAYLOADS_TOTAL, m->source * LH_M_SRC__COUNT + v,
                        1);
    }
}

static void
ack_batch(lh_hub_t *hub)
{
    lh_ack_t stack[64];
    for (size_t mi = 0; mi < hub->n_msgs; mi++) {
        msg_t *m = &hub->msgs[mi];
        if (!m->token || !m->from || !m->from->ops->done)
            continue;
        lh_ack_t *acks = m->n <= 64 ? stack : malloc(m->n * sizeof(lh_ack_t));
        if (!acks)
            acks = stack; /* degrade: ack the first 64 */
        size_t n = acks == stack && m->n > 64 ? 64 : m->n;
        for (size_t k = 0; k < n; k++) {
            item_t *it = &hub->items[m->first + k];
            acks[k].id = it->ev ? it->ev->id : it->id;
            acks[k].status = it->status;
            acks[k].why = it->status == LH_ACK_REJECTED || it->ignored ? it->why : NULL;
            acks[k].err = it->status == LH_ACK_REJECTED ? it->err : 0;
        }
        m->from->ops->done(m->from->ctx, m->token, acks, n);
        if (acks != stack)
            free(acks);
    }
}

int
lh__hub_commit_batch(lh_hub_t *hub)
{
    if (hub->n_items == 0 && hub->n_msgs == 0)
        return 0;
    int64_t now = lh_now_ns();
    int64_t t0 = lh_mono_ns();
    int alerts = 0;
    int rc = store_batch(hub, now, &alerts);
    if (rc < 0) {
        lh__metrics_add(&hub->metrics, LH_M_STORE_ERRORS_TOTAL, 0, 1);
        lh_log_ratelimited("commit", LH_LOG_ERROR, "hub",
                           "cannot commit a batch of %zu events (%s); intake paused, retrying",
                           hub->n_items, lh_strerror(rc));
        hub->stalled = 1;
        hub->stalled_retry_at = lh_mono_ns() + LH_NS_PER_SEC;
        return rc;
    }
    if (hub->stalled)
        lh_log(LH_LOG_INFO, "hub", "store writable again; intake resumed");
    hub->stalled = 0;
    lh__metrics_observe(&hub->metrics, LH_M_COMMIT_SECONDS, lh_mono_ns() - t0);
    lh__metrics_observe(&hub->metrics, LH_M_BATCH_EVENTS, (int64_t)hub->n_items);
    int stored = 0;
    for (size_t i = 0; i < hub->n_items; i++) {
        const item_t *it = &hub->items[i];
        if (it->status == LH_ACK_OK) {
            const lh_adapter_t *from = hub->msgs[it->msg].from;
            lh__metrics_event(&hub->metrics, it->ev->kind, from ? from->mslot : 0, 1);
            stored++;
            for (int k = 0; k < hub->n_hears_stored; k++) {
                const lh_adapter_t *a = &hub->adapters[hub->hears_stored[k]];
                if (a->started)
                    a->ops->stored(a->ctx, it->ev);
            }
        } else if (it->status == LH_ACK_DUPLICATE) {
            lh__metrics_add(&hub->metrics, LH_M_EVENTS_DUPLICATE_TOTAL, 0, 1);
        } else if (it->status == LH_ACK_REJECTED) {
            account_rejection(hub, it);
        }
    }
    count_sources(hub);
    lh__metrics_add(&hub->metrics, LH_M_BATCHES_TOTAL, 0, 1);
    if (alerts > 0) {
        lh__metrics_add(&hub->metrics, LH_M_ALERTS_CREATED_TOTAL, 0, alerts);
        lh_outbox_kick(hub->ob);
    }
    ack_batch(hub);
    lh__hub_free_batch(hub);
    return stored;
}

int
lh_hub_flush(lh_hub_t *hub)
{
    int rc = lh__hub_commit_batch(hub);
    return rc < 0 ? rc : 0;
}
