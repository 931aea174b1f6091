/*
 * hub.c - the hub's lifecycle and its reactor loop; the ingest pipeline is pipeline.c, the
 * outbox outbox.c, the metrics metrics.c.
 *
 * Invariants:
 *  - Only this thread touches the store, the correlator and the batch (the DORA gauges'
 *    refresher, hub_dora.c, reads the store through a read-only connection of its own).
 *  - A message's done() is called exactly once, after the transaction holding its events is
 *    committed (or, for a message rejected whole, after its quarantine row is committed); a
 *    message still uncommitted when the hub is destroyed gets forget() instead. A submission that
 *    fails leaves nothing of its message in the batch.
 *  - Alerts leave only from the outbox, after the commit that wrote them: the output adapters
 *    are sinks of the outbox (outbox.h), each registered under a name that keys its done marks
 *    in the store, with its own cursor and retry list.
 *  - A failed commit keeps the batch, pauses intake and retries; nothing is acked meanwhile.
 *  - "Done" marks of published alerts wait in the outbox and ride in the next batch transaction
 *    (lh_outbox_apply_done() right after its BEGIN, dropped from the list only when that
 *    transaction commits); see outbox.h for when they get a transaction of their own.
 */
#include "hub.h"
#include "hub_internal.h"

#include <errno.h>
#include <jansson.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "correlator.h"
#include "loophub/error.h"
#include "loophub/log.h"
#include "loophub/timeutil.h"
#include "metrics.h"
#include "outbox.h"
#include "query.h"

/* Adapters fill lh_pollitem_t (adapter.h, no <zmq.h> there) and the hub hands the array to
 * zmq_poll() as is: the two must be the same layout. */
_Static_assert(sizeof(lh_pollitem_t) == sizeof(zmq_pollitem_t), "lh_pollitem_t size");
_Static_assert(_Alignof(lh_pollitem_t) == _Alignof(zmq_pollitem_t), "lh_pollitem_t alignment");
_Static_assert(offsetof(lh_pollitem_t, socket) == offsetof(zmq_pollitem_t, socket),
               "lh_pollitem_t.socket");
_Static_assert(offsetof(lh_pollitem_t, fd) == offsetof(zmq_pollitem_t, fd), "lh_pollitem_t.fd");
_Static_assert(sizeof(((lh_pollitem_t *)0)->fd) == sizeof(((zmq_pollitem_t *)0)->fd),
               "lh_pollitem_t.fd size");
_Static_assert(offsetof(lh_pollitem_t, events) == offsetof(zmq_pollitem_t, events),
               "lh_pollitem_t.events");
_Static_assert(offsetof(lh_pollitem_t, revents) == offsetof(zmq_pollitem_t, revents),
               "lh_pollitem_t.revents");
_Static_assert(sizeof(((lh_pollitem_t *)0)->events) == sizeof(((zmq_pollitem_t *)0)->events),
               "lh_pollitem_t.events size");
_Static_assert(LH_POLLIN == ZMQ_POLLIN && LH_POLLOUT == ZMQ_POLLOUT, "LH_POLLIN/LH_POLLOUT");

/* The public options take their defaults from the modules' own, so each default is written once. */
void
lh_hub_opts_default(lh_hub_opts_t *o)
{
    lh_store_opts_t so;
    lh_correlator_opts_t co;
    lh_store_opts_default(&so);
    lh_correlator_opts_default(&co);
    memset(o, 0, sizeof(*o));
    o->db_path = "loophub.db";
    o->synchronous_full = so.synchronous_full;
    o->page_size = so.page_size;
    o->wal_checkpoint_bytes = so.wal_checkpoint_bytes;
    o->window_ns = co.window_ns;
    o->alert_min_severity = co.alert_min_severity;
    o->group_window_ns = co.group_window_ns;
    o->max_suspects = co.max_suspects;
    o->sink_behind = 1000;
    o->dora_metrics_window_ns = 30 * 24 * 3600 * LH_NS_PER_SEC;
    o->quarantine_max_rows = so.quarantine_max_rows;
    o->quarantine_max_bytes = so.quarantine_max_bytes;
    lh_store_retention_t r;
    lh_store_retention_default(&r);
    memcpy(o->retention_ns, r.keep_ns, sizeof(o->retention_ns));
    o->retention_quarantine_ns = r.quarantine_ns;
    o->dedupe_horizon = so.dedupe_horizon;
    o->keep_original = so.keep_original;
    lh_codec_opts_default(&o->codec);
    lh_limits_default(&o->limits);
    o->quarantine_sample = 4096;
    o->codec.limits = NULL;
    o->batch_max = 4000;
    o->batch_ms = 10;
    o->alerts_format = LH_ALERTS_PROTOBUF;
    o->redact_defaults = 1; /* nothing private in the timeline unless asked for */
}

/* The redaction rules of the options; a bad pattern is a configuration error, logged. */
static int
redact_new(lh_hub_t *hub, const lh_hub_opts_t *o)
{
    lh_redact_opts_t ro;
    lh_redact_opts_default(&ro);
    ro.defaults = o->redact_defaults;
    ro.keys = o->redact_keys;
    ro.n_keys = o->n_redact_keys;
    ro.values = o->redact_values;
    ro.n_values = o->n_redact_values;
    char why[300];
    int rc = lh_redact_new(&ro, &hub->redact, why, sizeof(why));
    if (rc == LH_EINVAL) {
        lh_log(LH_LOG_ERROR, "hub", "redaction: %s", why);
        return LH_ECONFIG;
    }
    return rc;
}

/* Adds the aliases of one "canonical=alias,alias" entry (the canonical name itself too, so a
 * source's "Production" is "production"). A malformed entry is a configuration error, logged. */
static int
aliases_add(lh_hub_t *hub, const char *entry, int service)
{
    const char *eq = strchr(entry, '=');
    const char *what = service ? "service" : "environment";
    size_t cl = eq ? (size_t)(eq - entry) : 0;
    while (cl && entry[cl - 1] == ' ')
        cl--;
    if (!eq || !cl) {
        lh_log(LH_LOG_ERROR, "hub", "%s alias '%s': write it as NAME=ALIAS[,ALIAS...]", what,
               entry);
        return LH_ECONFIG;
    }
    char *to = strndup(entry, cl);
    if (!to)
        return LH_ENOMEM;
    int rc = 0;
    const char *p = eq + 1;
    for (int first = 1; rc == 0; first = 0) {
        const char *a = first ? entry : p;
        size_t n = first ? cl : strcspn(p, ",");
        while (!first && n && *a == ' ')
            a++, n--;
        while (n && a[n - 1] == ' ')
            n--;
        if (n) {
            lh__alias_t *v = realloc(hub->aliases, (hub->n_aliases + 1) * sizeof(*v));
            char *from = v ? strndup(a, n) : NULL;
            char *dup = from ? strdup(to) : NULL;
            if (v)
                hub->aliases = v;
            if (!dup) {
                free(from);
                rc = LH_ENOMEM;
                break;
            }
            hub->aliases[hub->n_aliases++] = (lh__alias_t){from, dup, service};
        }
        if (first)
            continue;
        p += strcspn(p, ",");
        if (!*p)
            break;
        p++;
    }
    free(to);
    return rc;
}

static int
aliases_new(lh_hub_t *hub, const lh_hub_opts_t *o)
{
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < o->n_env_aliases; i++)
        rc = aliases_add(hub, o->env_aliases[i], 0);
    for (size_t i = 0; rc == 0 && i < o->n_service_aliases; i++)
        rc = aliases_add(hub, o->service_aliases[i], 1);
    return rc;
}

static void
aliases_free(lh_hub_t *hub)
{
    for (size_t i = 0; i < hub->n_aliases; i++) {
        free(hub->aliases[i].from);
        free(hub->aliases[i].to);
    }
    free(hub->aliases);
    hub->aliases = NULL;
    hub->n_aliases = 0;
}

/* The private options of the store and the correlator, from the public ones. */
static void
map_opts(lh_hub_t *hub)
{
    lh_store_opts_default(&hub->store_o);
    hub->store_o.synchronous_full = hub->o.synchronous_full;
    hub->store_o.page_size = hub->o.page_size;
    hub->store_o.wal_checkpoint_bytes = hub->o.wal_checkpoint_bytes;
    hub->store_o.quarantine_max_rows = hub->o.quarantine_max_rows;
    hub->store_o.quarantine_max_bytes = hub->o.quarantine_max_bytes;
    hub->store_o.dedupe_horizon = hub->o.dedupe_horizon;
    hub->store_o.keep_original = hub->o.keep_original;
    memcpy(hub->retention.keep_ns, hub->o.retention_ns, sizeof(hub->retention.keep_ns));
    hub->retention.quarantine_ns = hub->o.retention_quarantine_ns;
    lh_correlator_opts_default(&hub->corr_o);
    hub->corr_o.window_ns = hub->o.window_ns;
    hub->corr_o.alert_min_severity = hub->o.alert_min_severity;
    hub->corr_o.group_window_ns = hub->o.group_window_ns;
    hub->corr_o.max_suspects = hub->o.max_suspects;
    hub->corr_o.require_approved_ticket = hub->o.require_approved_ticket;
}

void
lh_hub_count(lh_hub_t *hub, lh_count_t what, int64_t delta)
{
    lh__metrics_count(&hub->metrics, what, delta);
}

void
lh_hub_count_http_response(lh_hub_t *hub, unsigned code)
{
    lh__metrics_http_response(&hub->metrics, code);
}

int
lh_hub_new(const lh_hub_opts_t *o, lh_hub_t **out)
{
    *out = NULL;
    lh_hub_t *hub = calloc(1, sizeof(*hub));
    if (!hub)
        return LH_ENOMEM;
    hub->o = *o;
    hub->o.codec.limits = &hub->o.limits;
    int rc = lh__metrics_init(&hub->metrics);
    if (rc < 0) {
        free(hub);
        return rc;
    }
    char *db_path = strdup(o->db_path ? o->db_path : "loophub.db");
    if (!db_path) {
        free(hub);
        return LH_ENOMEM;
    }
    hub->o.db_path = db_path;
    /* the caller's lists are read now only */
    hub->o.redact_keys = hub->o.redact_values = NULL;
    hub->o.n_redact_keys = hub->o.n_redact_values = 0;
    hub->o.env_aliases = hub->o.service_aliases = NULL;
    hub->o.n_env_aliases = hub->o.n_service_aliases = 0;
    map_opts(hub);
    if ((rc = redact_new(hub, o)) == 0 && (rc = aliases_new(hub, o)) == 0)
        rc = lh_store_open(hub->o.db_path, &hub->store_o, &hub->st);
    if (rc < 0) {
        lh_redact_destroy(&hub->redact);
        aliases_free(hub);
        free(db_path);
        free(hub);
        return rc;
    }
    rc = lh_correlator_new(hub->st, &hub->corr_o, &hub->corr);
    if (rc == 0)
        rc = lh_outbox_new(&hub->metrics, hub->st, hub->o.alerts_format, &hub->ob);
    if (rc < 0) {
        lh_correlator_destroy(&hub->corr);
        lh_store_close(&hub->st);
        lh_redact_destroy(&hub->redact);
        aliases_free(hub);
        free(db_path);
        free(hub);
        return rc;
    }
    lh__metrics_set(&hub->metrics, LH_M_START_TIME, 0, lh_now_ns() / LH_NS_PER_SEC);
    lh__hub_dora_init(hub); /* last: nothing above fails after it */
    *out = hub;
    return 0;
}

lh_store_t *
lh_hub_store(lh_hub_t *hub)
{
    return hub->st;
}

int
lh_hub_timeline(lh_hub_t *hub, const lh_timeline_req_t *req, lh_query_format_t fmt, lh_buf_t *out)
{
    if (!req)
        return LH_EINVAL;
    lh_timeline_req_t r = *req;
    r.window_ns = hub->o.window_ns; /* the window that decided this store's alerts */
    return lh_query_timeline(hub->st, &r, fmt, out);
}

int
lh_hub_report(lh_hub_t *hub, const lh_report_req_t *req, lh_query_format_t fmt, lh_buf_t *out)
{
    return lh_query_report(hub->st, req, fmt, out);
}

int
lh_hub_sources(lh_hub_t *hub, lh_buf_t *out)
{
    const lh_sources_conf_t *c = &hub->o.codec.src;
    json_t *doc = json_object(), *list = json_array(), *env = json_object(), *svc = json_object();
    int rc = doc && list && env && svc ? 0 : LH_ENOMEM;
    for (int i = 0; rc == 0 && i < LH_SRC_COUNT; i++) {
        const lh_source_info_t *s = lh_source_info(i);
        char route[64];
        snprintf(route, sizeof(route), "/v1/sources/%s", s->name);
        const int64_t *v =
            &hub->metrics.v[hub->metrics.off[LH_M_SOURCE_PAYLOADS_TOTAL] + i * LH_M_SRC__COUNT];
        json_t *o = json_pack(
            "{s:s, s:s, s:b, s:s, s:s, s:s, s:b, s:s?, s:{s:I, s:I, s:I}}", "name", s->name,
            "title", s->title, "enabled", !c->off[i], "route", route, "detect", s->detect, "auth",
            s->auth, "secret", c->secret[i] != NULL && *c->secret[i], "delivery_header",
            s->delivery, "payloads", "accepted", (json_int_t)v[LH_M_SRC_ACCEPTED], "ignored",
            (json_int_t)v[LH_M_SRC_IGNORED], "rejected", (json_int_t)v[LH_M_SRC_REJECTED]);
        if (!o || json_array_append_new(list, o) < 0)
            rc = LH_ENOMEM;
    }
    for (size_t i = 0; rc == 0 && i < hub->n_aliases; i++) {
        const lh__alias_t *a = &hub->aliases[i];
        if (strcmp(a->from, a->to) && /* the canonical name's own row says nothing */
            json_object_set_new(a->service ? svc : env, a->from, json_string(a->to)) < 0)
            rc = LH_ENOMEM;
    }
    if (rc == 0 &&
        (json_object_set_new(
             doc, "default_environment",
             json_string(c->default_env && *c->default_env ? c->default_env : "production")) < 0 ||
         json_object_set(doc, "sources", list) < 0 ||
         json_object_set(doc, "environment_aliases", env) < 0 ||
         json_object_set(doc, "service_aliases", svc) < 0))
        rc = LH_ENOMEM;
    char *text = rc == 0 ? json_dumps(doc, JSON_INDENT(2)) : NULL;
    if (rc == 0 &&
        (!text || lh_buf_append(out, text, strlen(text)) < 0 || lh_buf_append(out, "\n", 1) < 0))
        rc = LH_ENOMEM;
    free(text);
    json_decref(doc);
    json_decref(list);
    json_decref(env);
    json_decref(svc);
    return rc;
}

typedef struct {
    json_t *list;
    int oom;
} sinks_acc_t;

static void
sink_pending_into(const char *name, int64_t pending, void *arg)
{
    sinks_acc_t *acc = arg;
    json_t *o = json_pack("{s:s, s:I}", "name", name, "pending", (json_int_t)pending);
    if (!o || json_array_append_new(acc->list, o) < 0)
        acc->oom = 1;
}

/* The entry of the sink named name in list, NULL when none (its backlog could not be counted:
 * lh_outbox_each_pending() left it out). */
static json_t *
sink_entry(json_t *list, const char *name)
{
    size_t i;
    json_t *o;
    json_array_foreach(list, i, o)
    {
        if (!strcmp(json_string_value(json_object_get(o, "name")), name))
            return o;
    }
    return NULL;
}

int
lh_hub_sinks(lh_hub_t *hub, lh_buf_t *out)
{
    json_t *list = json_array();
    if (!list)
        return LH_ENOMEM;
    sinks_acc_t acc = {list, 0};
    lh_outbox_each_pending(hub->ob, sink_pending_into, &acc);
    int rc = acc.oom ? LH_ENOMEM : 0;
    for (int i = 0; rc == 0 && i < hub->n_adapters; i++) {
        const lh_adapter_t *a = &hub->adapters[i];
        const char *name = a->sink >= 0 ? lh_outbox_sink_name(hub->ob, a->sink) : NULL;
        json_t *o = name ? sink_entry(list, name) : NULL;
        if (name && !o) { /* its backlog is not known: it is listed all the same */
            o = json_pack("{s:s, s:n}", "name", name, "pending");
            if (!o || json_array_append_new(list, o) < 0) {
                rc = LH_ENOMEM;
                break;
            }
        }
        if (!o)
            continue;
        /* what the sink says of itself; one that cannot say is listed with a null state */
        json_t *state = NULL;
        if (a->ops->describe) {
            lh_buf_t b = LH_BUF_INIT;
            json_error_t e;
            if (a->ops->describe(a->ctx, &b) == 0 && b.len)
                state = json_loadb((const char *)b.data, b.len, 0, &e);
            lh_buf_free(&b);
        }
        if (json_object_set_new(o, "adapter", json_string(a->ops->name ? a->ops->name : "")) < 0 ||
            json_object_set_new(o, "state", state ? state : json_null()) < 0)
            rc = LH_ENOMEM;
    }
    json_t *doc = rc == 0 ? json_pack("{s:O}", "sinks", list) : NULL;
    char *text = doc ? json_dumps(doc, JSON_INDENT(2)) : NULL;
    if (!text || lh_buf_append(out, text, strlen(text)) < 0 || lh_buf_append(out, "\n", 1) < 0)
        rc = LH_ENOMEM;
    free(text);
    json_decref(doc);
    json_decref(list);
    return rc;
}

const lh_hub_opts_t *
lh_hub_opts(lh_hub_t *hub)
{
    return &hub->o;
}

int
lh_hub_add_adapter(lh_hub_t *hub, const lh_adapter_ops_t *ops, void *ctx, const char *sink)
{
    int rc = 0, idx = -1;
    if (hub->n_adapters == MAX_ADAPTERS)
        rc = LH_ENOMEM;
    else if (sink && (idx = lh_outbox_add_sink(hub->ob, sink, ops, ctx)) < 0)
        rc = idx;
    if (rc < 0) {
        if (ops->destroy)
            ops->destroy(ctx);
        return rc;
    }
    lh_adapter_t *a = &hub->adapters[hub->n_adapters++];
    a->ops = ops;
    a->ctx = ctx;
    a->sink = idx;
    a->mslot = idx < 0 ? lh__metrics_adapter(&hub->metrics, ops->name) : 0;
    if (ops->stored)
        hub->hears_stored[hub->n_hears_stored++] = hub->n_adapters - 1;
    return 0;
}

lh_adapter_t *
lh_hub_adapter_of(lh_hub_t *hub, void *ctx)
{
    for (int i = 0; i < hub->n_adapters; i++)
        if (hub->adapters[i].ctx == ctx)
            return &hub->adapters[i];
    return NULL;
}

int
lh_hub_start_adapters(lh_hub_t *hub)
{
    for (int i = 0; i < hub->n_adapters; i++) {
        lh_adapter_t *a = &hub->adapters[i];
        if (a->started)
            continue;
        int rc = a->ops->start ? a->ops->start(a->ctx, hub) : 0; /* start() is optional */
        if (rc < 0)
            return rc;
        a->started = 1;
        if (a->sink >= 0)
            lh_outbox_sink_started(hub->ob, a->sink);
    }
    return 0;
}

void
lh_hub_request_stop(lh_hub_t *hub)
{
    hub->stop = 1;
}

/* --- outbox (outbox.c) --------------------------------------------------------------- */

void
lh_hub_alert_done(lh_hub_t *hub, lh_adapter_t *sink, int64_t seq)
{
    if (sink && sink->sink >= 0)
        lh_outbox_alert_done(hub->ob, sink->sink, seq);
}

void
lh_hub_alert_failed(lh_hub_t *hub, lh_adapter_t *sink, int64_t seq)
{
    if (sink && sink->sink >= 0)
        lh_outbox_alert_failed(hub->ob, sink->sink, seq);
}

void
lh_hub_outbox_kick(lh_hub_t *hub)
{
    lh_outbox_kick(hub->ob);
}

/* --- the loop ---------------------------------------------------------------------------- */

typedef struct {
    lh_pollitem_t items[MAX_POLLITEMS]; /* zmq_pollitem_t's layout (asserted at the top) */
    int owner[MAX_POLLITEMS];
    int n;
} pollset_t;

/* The adapters' poll items; while intake is paused only those that serve what is no write. */
static void
collect(lh_hub_t *hub, pollset_t *ps)
{
    ps->n = 0;
    if (hub->stopping)
        return;
    for (int i = 0; i < hub->n_adapters; i++) {
        lh_adapter_t *a = &hub->adapters[i];
        if (!a->started || !a->ops->pollitems || (hub->stalled && !a->ops->serves_while_paused))
            continue;
        int k = a->ops->pollitems(a->ctx, ps->items + ps->n, MAX_POLLITEMS - ps->n);
        for (int j = 0; j < k; j++)
            ps->owner[ps->n + j] = i;
        ps->n += k;
    }
}

static int
drain(lh_hub_t *hub, pollset_t *ps)
{
    int any = 0;
    int called[MAX_ADAPTERS] = {0};
    for (int j = 0; j < ps->n; j++) {
        if (!ps->items[j].revents)
            continue;
        int i = ps->owner[j];
        if (called[i])
            continue;
        called[i] = 1;
        lh_adapter_t *a = &hub->adapters[i];
        int budget = hub->o.batch_max - (int)hub->n_items;
        if (budget < 1)
            budget = 1;
        int n = a->ops->read ? a->ops->read(a->ctx, budget) : 0;
        if (n > 0)
            any = 1;
    }
    return any;
}

/* One small step of retention between batches: again next turn while there is more past its
 * time, else in a second. A failure (a full disk) is logged by the store and tried again later. */
#define EXPIRE_BUDGET 1000 /* rows looked at per kind and step: a few ms */

static void
expire_step(lh_hub_t *hub, int64_t mono)
{
    lh_store_expired_t x;
    int rc = lh_store_expire(hub->st, &hub->retention, lh_now_ns(), EXPIRE_BUDGET, &x);
    hub->expire_at = mono + (rc == 0 && x.more ? 0 : LH_NS_PER_SEC);
    if (rc)
        return;
    for (int k = LH_KIND_DEPLOY; k <= LH_KIND_TICKET; k++)
        lh__metrics_add(&hub->metrics, LH_M_EXPIRED_TOTAL, k - LH_KIND_DEPLOY, x.events[k]);
    lh__metrics_add(&hub->metrics, LH_M_EXPIRED_TOTAL, LH_M_EXPIRED_OUTBOX, x.alerts);
    lh__metrics_add(&hub->metrics, LH_M_EXPIRED_TOTAL, LH_M_EXPIRED_QUARANTINE, x.quarantine);
    if (x.alerts || x.quarantine || x.events[1] || x.events[2] || x.events[3] || x.events[4])
        lh_log(LH_LOG_DEBUG, "hub",
               "retention: %lld changes, %lld alerts, %lld incidents, %lld tickets, %lld outbox "
               "rows, %lld quarantined deleted",
               (long long)x.events[LH_KIND_DEPLOY], (long long)x.events[LH_KIND_ALERT],
               (long long)x.events[LH_KIND_INCIDENT], (long long)x.events[LH_KIND_TICKET],
               (long long)x.alerts, (long long)x.quarantine);
}

static void
tick_adapters(lh_hub_t *hub, int64_t mono, int paused)
{
    for (int i = 0; i < hub->n_adapters; i++) {
        lh_adapter_t *a = &hub->adapters[i];
        if (a->started && a->ops->tick && (!paused || a->ops->serves_while_paused))
            a->ops->tick(a->ctx, mono);
    }
}

int
lh_hub_turn(lh_hub_t *hub, int timeout_ms)
{
    pollset_t ps;
    hub->turned = 1;
    if (hub->stalled) {
        if (lh_mono_ns() >= hub->stalled_retry_at)
            lh__hub_commit_batch(hub);
        if (hub->stalled) {
            /* intake paused: the adapters that answer more than writes (HTTP health and
             * metrics) are still served, the others wait for the store */
            collect(hub, &ps);
            if (zmq_poll((zmq_pollitem_t *)ps.items, ps.n, timeout_ms < 200 ? timeout_ms : 200) > 0)
                drain(hub, &ps);
            tick_adapters(hub, lh_mono_ns(), 1);
            return 0;
        }
    }
    collect(hub, &ps);
    int rc = zmq_poll((zmq_pollitem_t *)ps.items, ps.n, timeout_ms);
    if (rc < 0 && zmq_errno() != EINTR) {
        lh_log(LH_LOG_ERROR, "hub", "zmq_poll: %s", zmq_strerror(zmq_errno()));
        return LH_ETRANSPORT;
    }
    int committed = 0;
    if (rc > 0) {
        int64_t deadline = lh_mono_ns() + (int64_t)hub->o.batch_ms * LH_NS_PER_MS;
        for (;;) {
            int any = drain(hub, &ps);
            if (hub->stop || hub->stalled || lh_mono_ns() >= deadline)
                break;
            if (hub->n_items >= (size_t)hub->o.batch_max) {
                int c = lh__hub_commit_batch(hub);
                committed += c > 0 ? c : 0;
                if (hub->stalled)
                    break;
            }
            (void)any;
            if (zmq_poll((zmq_pollitem_t *)ps.items, ps.n, 0) <= 0)
                break;
        }
    }
    if (!hub->stalled) {
        int c = lh__hub_commit_batch(hub);
        committed += c > 0 ? c : 0;
    }
    lh_outbox_publish(hub->ob);
    int64_t mono = lh_mono_ns();
    if (!hub->stalled)
        lh_outbox_tick(hub->ob, mono);
    if (!hub->stalled && !hub->n_items && mono >= hub->expire_at)
        expire_step(hub, mono);
    tick_adapters(hub, mono, 0);
    return committed;
}

void
lh_hub_set_turn_hook(lh_hub_t *hub, void (*fn)(lh_hub_t *hub, void *arg), void *arg)
{
    hub->turn_hook = fn;
    hub->turn_hook_arg = arg;
}

int
lh_hub_reload(lh_hub_t *hub, const lh_hub_opts_t *o, char *why, size_t whylen)
{
    /* everything is checked and built first, then applied at once: all or nothing */
    lh_correlator_opts_t co = hub->corr_o;
    co.window_ns = o->window_ns;
    co.group_window_ns = o->group_window_ns;
    co.alert_min_severity = o->alert_min_severity;
    co.require_approved_ticket = o->require_approved_ticket;
    if (co.window_ns <= 0 || co.group_window_ns < 0) {
        snprintf(why, whylen, "the window must be above 0 and the group window not below");
        return LH_EINVAL;
    }
    lh_redact_opts_t ro;
    lh_redact_opts_default(&ro);
    ro.defaults = o->redact_defaults;
    ro.keys = o->redact_keys;
    ro.n_keys = o->n_redact_keys;
    ro.values = o->redact_values;
    ro.n_values = o->n_redact_values;
    lh_redact_t *red = NULL;
    char rw[300] = "";
    int rc = lh_redact_new(&ro, &red, rw, sizeof(rw));
    if (rc < 0) {
        snprintf(why, whylen, "redaction: %s", rw[0] ? rw : lh_strerror(rc));
        return rc == LH_ENOMEM ? rc : LH_EINVAL;
    }
    if ((rc = lh_correlator_set_opts(hub->corr, &co)) < 0) {
        lh_redact_destroy(&red);
        snprintf(why, whylen, "correlation settings: %s", lh_strerror(rc));
        return rc;
    }
    hub->corr_o = co;
    hub->o.window_ns = o->window_ns;
    hub->o.group_window_ns = o->group_window_ns;
    hub->o.alert_min_severity = o->alert_min_severity;
    hub->o.require_approved_ticket = o->require_approved_ticket;
    lh_redact_destroy(&hub->redact);
    hub->redact = red;
    hub->o.redact_defaults = o->redact_defaults;
    hub->o.codec.src = o->codec.src; /* secrets, on/off, settings: read from here per payload */
    return 0;
}

int
lh_hub_run(lh_hub_t *hub)
{
    lh_log(LH_LOG_INFO, "hub", "running (store %s, window %llds, batch %d events / %d ms)",
           hub->o.db_path, (long long)(hub->o.window_ns / LH_NS_PER_SEC), hub->o.batch_max,
           hub->o.batch_ms);
    while (!hub->stop) {
        int rc = lh_hub_turn(hub, 100);
        if (rc < 0 && rc != LH_ESTORE)
            return rc;
        if (hub->turn_hook)
            hub->turn_hook(hub, hub->turn_hook_arg);
    }
    /* shutdown: stop intake, commit what is in hand, publish the outbox */
    lh_log(LH_LOG_INFO, "hub", "stopping: committing %zu events in hand", hub->n_items);
    hub->stopping = 1;
    for (int i = 0; i < hub->n_adapters; i++)
        if (hub->adapters[i].started && hub->adapters[i].ops->stop)
            hub->adapters[i].ops->stop(hub->adapters[i].ctx);
    for (int tries = 0; tries < 5 && (hub->n_items || hub->n_msgs); tries++) {
        hub->stalled = 0;
        lh__hub_commit_batch(hub);
    }
    lh_outbox_kick(hub->ob);
    lh_outbox_publish(hub->ob);
    lh_outbox_flush_done(hub->ob);
    return 0;
}

void
lh_hub_destroy(lh_hub_t **hubp)
{
    if (!hubp || !*hubp)
        return;
    lh_hub_t *hub = *hubp;
    /* messages never committed: their tokens go back unacknowledged (the sender retries) */
    if (hub->n_msgs)
        lh_log(LH_LOG_WARN, "hub", "%zu events not stored at exit (not acknowledged)",
               hub->n_items);
    for (size_t i = 0; i < hub->n_msgs; i++) {
        msg_t *m = &hub->msgs[i];
        if (m->token && m->from && m->from->ops->forget)
            m->from->ops->forget(m->from->ctx, m->token);
    }
    for (int i = hub->n_adapters - 1; i >= 0; i--)
        if (hub->adapters[i].ops->destroy)
            hub->adapters[i].ops->destroy(hub->adapters[i].ctx);
    /* marks of alerts out (also from the sinks' last delivery reports): written before closing */
    lh_outbox_flush_done(hub->ob);
    lh_outbox_destroy(&hub->ob);
    lh__hub_free_batch(hub);
    free(hub->items);
    free(hub->msgs);
    lh_buf_free(&hub->pb);
    lh__hub_dora_stop(hub);
    lh_redact_destroy(&hub->redact);
    aliases_free(hub);
    lh_correlator_destroy(&hub->corr);
    lh_store_close(&hub->st);
    free((char *)hub->o.db_path);
    free(hub);
    *hubp = NULL;
}

/* The registry, with the gauges and the store's counters read now (when the store cannot be
 * read, its gauges keep the values of the last scrape). */
int
lh_hub_metrics(lh_hub_t *hub, lh_buf_t *out)
{
    lh__metrics_t *reg = &hub->metrics;
    lh_store_stats_t s;
    if (lh_store_stats(hub->st, &s) == 0) {
        lh__metrics_set(reg, LH_M_STORE_EVENTS, 0, s.events);
        lh__metrics_set(reg, LH_M_STORE_QUARANTINED, 0, s.quarantined);
        lh__metrics_set(reg, LH_M_STORE_QUARANTINE_BYTES, 0, s.quarantine_bytes);
        lh__metrics_set(reg, LH_M_QUARANTINE_EVICTED_TOTAL, 0, s.quarantine_evicted);
        for (int k = LH_KIND_DEPLOY; k <= LH_KIND_TICKET; k++) {
            lh__metrics_set(reg, LH_M_STORE_KIND_EVENTS, k - LH_KIND_DEPLOY, s.events_by_kind[k]);
            lh__metrics_set(reg, LH_M_STORE_OLDEST, k - LH_KIND_DEPLOY,
                            s.oldest_by_kind[k] / LH_NS_PER_SEC);
        }
        lh__metrics_set(reg, LH_M_STORE_BYTES, LH_M_FILE_DB, s.db_bytes);
        lh__metrics_set(reg, LH_M_STORE_BYTES, LH_M_FILE_WAL, s.wal_bytes);
        lh__metrics_set(reg, LH_M_STORE_FREE_BYTES, 0, s.free_bytes);
        lh__metrics_set(reg, LH_M_DEDUPE_ENTRIES, 0, s.dedupe_entries);
        lh__metrics_set(reg, LH_M_DEDUPE_BYTES, 0, s.dedupe_bytes);
        lh__metrics_set(reg, LH_M_DEDUPE_PROBES_TOTAL, 0, s.dedupe_probes);
    }
    lh_correlator_stats_t cs;
    lh_correlator_stats(hub->corr, &cs);
    for (int k = 0; k < LH_CORR_CACHE__COUNT; k++) { /* index: cache * 2 + result (hit, miss) */
        lh__metrics_set(reg, LH_M_CORR_CACHE_TOTAL, k * 2, (int64_t)cs.hits[k]);
        lh__metrics_set(reg, LH_M_CORR_CACHE_TOTAL, k * 2 + 1, (int64_t)cs.misses[k]);
    }
    lh_store_wal_stats_t w;
    lh__store_wal_stats(hub->st, &w);
    lh__metrics_set(reg, LH_M_WAL_CHECKPOINTS_TOTAL, LH_M_WAL_PASSIVE, (int64_t)w.passive);
    lh__metrics_set(reg, LH_M_WAL_CHECKPOINTS_TOTAL, LH_M_WAL_RESTART, (int64_t)w.restarts);
    lh__metrics_set(reg, LH_M_WAL_WRITER_WAITS_TOTAL, LH_M_WAIT_RESTART, (int64_t)w.restart_waits);
    lh__metrics_set(reg, LH_M_WAL_WRITER_WAITS_TOTAL, LH_M_WAIT_CAP, (int64_t)w.cap_waits);
    /* the per-sink backlog is a family of its own (its labels are the sinks registered): it
     * goes after the registry, whose loophub_outbox_pending is the largest backlog */
    lh_buf_t sinks = {0};
    int64_t most = 0;
    int rc = lh_outbox_metrics(hub->ob, &sinks, &most);
    lh__metrics_set(reg, LH_M_OUTBOX_PENDING, 0, most);
    if (rc == 0)
        rc = lh__metrics_write(reg, out);
    if (rc == 0)
        rc = lh_buf_append(out, sinks.data, sinks.len);
    lh_buf_free(&sinks);
    if (rc == 0)
        rc = lh__hub_dora_metrics(hub, out);
    for (int i = 0; rc == 0 && i < hub->n_adapters; i++) /* the adapters' own families */
        if (hub->adapters[i].ops->metrics)
            rc = hub->adapters[i].ops->metrics(hub->adapters[i].ctx, out);
    return rc;
}

/* --- health ------------------------------------------------------------------------------ */

__attribute__((format(printf, 2, 3))) static void
health_add(lh_health_t *h, const char *fmt, ...)
{
    if (h->n_reasons == LH_HEALTH_MAX_REASONS) {
        h->n_more++;
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(h->reasons[h->n_reasons++], sizeof(h->reasons[0]), fmt, ap);
    va_end(ap);
}

typedef struct {
    lh_health_t *h;
    int64_t behind;
} behind_t;

static void
sink_behind(const char *sink, int64_t pending, void *arg)
{
    behind_t *b = arg;
    if (pending > b->behind) {
        health_add(b->h, "sink %s behind: %lld alerts not delivered", sink, (long long)pending);
        b->h->status = LH_HEALTH_DEGRADED;
    }
}

int
lh_hub_intake_paused(lh_hub_t *hub)
{
    return hub->stalled;
}

void
lh_hub_health(lh_hub_t *hub, lh_health_t *out)
{
    memset(out, 0, sizeof(*out));
    int starting = !hub->turned;
    if (hub->stalled) {
        const char *msg;
        int e = lh__store_last_error(hub->st, &msg);
        const char *what = e == SQLITE_FULL       ? "store full"
                           : e == SQLITE_READONLY ? "store read-only"
                           : e == SQLITE_IOERR    ? "store I/O error"
                                                  : "store cannot commit";
        health_add(out, "%s: %s; intake paused, %zu events waiting", what,
                   e && *msg ? msg : "the last commit failed", hub->n_items);
        out->status = LH_HEALTH_DEGRADED;
    }
    behind_t b = {out, hub->o.sink_behind};
    lh_outbox_each_pending(hub->ob, sink_behind, &b);
    for (int i = 0; i < hub->n_adapters; i++) {
        lh_adapter_t *a = &hub->adapters[i];
        if (!a->started) {
            starting = 1;
            continue;
        }
        if (!a->ops->health)
            continue;
        char why[160] = "";
        int st = a->ops->health(a->ctx, why, sizeof(why));
        if (st == LH_HEALTH_DEGRADED) {
            health_add(out, "%s: %s", a->ops->name, why[0] ? why : "degraded");
            out->status = LH_HEALTH_DEGRADED;
        } else if (st == LH_HEALTH_STARTING) {
            starting = 1;
        }
    }
    if (out->status != LH_HEALTH_DEGRADED && starting)
        out->status = LH_HEALTH_STARTING;
}
