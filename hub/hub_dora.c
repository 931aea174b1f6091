/*
 * hub_dora.c - the DORA families of GET /metrics: the figures of the last dora_metrics_window_ns
 * per service and environment (the dora report, docs/dora.md), computed at most once a minute.
 *
 * They are computed on a read-only connection of their own with a small page cache, one
 * environment at a time (lh__query_report_groups_by_env()): what a run holds is the largest
 * environment's changes and incidents of the window, and the hub's own page cache is left to
 * ingest. A report over a large store takes long enough to hold ingest (README, Performance:
 * the store's 10M-event bench), so only the first scrape computes it on the hub's thread (a
 * scrape right after the start shows the figures). A later scrape gets the text as last
 * computed at once and, when it is older than the period, wakes the refresher: a thread that
 * takes the connection over (SQLite allows a connection per thread in the multi-thread mode the
 * store opens with) and replaces the text when done. */
#include <jansson.h>
#include <pthread.h>
#include <string.h>

#include "hub.h"
#include "hub_internal.h"
#include "loophub/error.h"
#include "loophub/log.h"
#include "loophub/timeutil.h"
#include "metrics.h"
#include "query.h"

#define COMPONENT "metrics"

/* The gauges' connection reads the window once a minute, front to back: a cache the size of the
 * hub's (32 MiB) would be filled by every run and kept, for no gain (the file's pages stay in the
 * kernel's cache either way). SQLite's own default. */
#define DORA_CACHE_KB 2048

static int64_t dora_period_ns = 60 * LH_NS_PER_SEC;

void
lh__hub_test_dora_period(int64_t ns)
{
    dora_period_ns = ns > 0 ? ns : 60 * LH_NS_PER_SEC;
}

/* The families: a figure of the report each, per service and environment. */
static const struct {
    const char *name, *figure, *field, *help;
} dora_gauges[] = {
    {"loophub_dora_deployments", "deployment_frequency", "deployments",
     "deployments in the DORA window (docs/dora.md)"},
    {"loophub_dora_deployment_frequency_per_day", "deployment_frequency", "per_day",
     "deployments a day in the DORA window"},
    {"loophub_dora_lead_time_median_seconds", "lead_time", "median_seconds",
     "change lead time, commit to succeeded, median"},
    {"loophub_dora_lead_time_p90_seconds", "lead_time", "p90_seconds",
     "change lead time, 90th percentile"},
    {"loophub_dora_change_failure_rate", "change_failure_rate", "rate",
     "failed deployments over deployments"},
    {"loophub_dora_recovery_time_median_seconds", "recovery_time", "median_seconds",
     "failed deployment recovery time, median"},
    {"loophub_dora_time_to_restore_median_seconds", "time_to_restore", "median_seconds",
     "incident time to restore, median"},
    {"loophub_dora_rework_rate", "rework_rate", "rate",
     "rework (rollbacks, fixes during an incident) over deployments"},
};

#define N_GAUGES (sizeof(dora_gauges) / sizeof(dora_gauges[0]))

/* Each group's samples, a line a family, kept until every group is in: the report reads one
 * environment at a time (lh__query_report_groups_by_env(): what it holds at once is one
 * environment's changes and incidents), so the groups come in name order within each
 * environment only, and are sorted by name as the report by service+env lists them. */
typedef struct {
    char *name;               /* "service\x1fenvironment": the report's own group name */
    size_t off[N_GAUGES + 1]; /* family g's line: text[off[g], off[g + 1]) (empty: none) */
} group_t;

typedef struct {
    group_t *g;
    size_t n, cap;
    lh_buf_t text; /* every group's lines, in the order they came */
} samples_t;

static int
add_group(const json_t *e, void *arg)
{
    samples_t *sm = arg;
    const char *svc = json_string_value(json_object_get(e, "service"));
    const char *env = json_string_value(json_object_get(e, "environment"));
    const json_t *fig = json_object_get(e, "figures");
    if (!svc)
        return 0;
    if (sm->n == sm->cap) {
        group_t *g = realloc(sm->g, (sm->cap * 2 + 64) * sizeof(*g));
        if (!g)
            return LH_ENOMEM;
        sm->g = g;
        sm->cap = sm->cap * 2 + 64;
    }
    group_t *gr = &sm->g[sm->n];
    size_t ls = strlen(svc), le = env ? strlen(env) : 0;
    if (!(gr->name = malloc(ls + le + 2)))
        return LH_ENOMEM;
    memcpy(gr->name, svc, ls);
    gr->name[ls] = '\x1f';
    memcpy(gr->name + ls + 1, env ? env : "", le + 1);
    sm->n++;
    lh_buf_t *out = &sm->text;
    int rc = 0;
    for (size_t g = 0; rc == 0 && g < N_GAUGES; g++) {
        gr->off[g] = out->len;
        const json_t *v =
            json_object_get(json_object_get(fig, dora_gauges[g].figure), dora_gauges[g].field);
        if (!json_is_number(v))
            continue; /* no sample: no value, rather than a made-up 0 */
        rc = lh_buf_printf(out, "%s{service=\"", dora_gauges[g].name);
        if (rc == 0)
            rc = lh__metrics_label_value(out, svc);
        if (rc == 0)
            rc = lh_buf_printf(out, "\",environment=\"");
        if (rc == 0)
            rc = lh__metrics_label_value(out, env ? env : "");
        if (rc == 0)
            rc = lh_buf_printf(out, "\"} %.6g\n", json_number_value(v));
    }
    gr->off[N_GAUGES] = out->len;
    return rc;
}

static int
cmp_group(const void *a, const void *b)
{
    return strcmp(((const group_t *)a)->name, ((const group_t *)b)->name);
}

static int whole_report; /* lh__hub_test_dora_whole() */

void
lh__hub_test_dora_whole(int on)
{
    whole_report = on;
}

/* The families of the last window_ns read from st at now_ns (0: the wall clock), into out
 * (empty on an error: the families are left out then; the store or the query logged why). */
int
lh__hub_dora_text(lh_store_t *st, int64_t window_ns, int64_t now_ns, lh_buf_t *out)
{
    lh_report_req_t r;
    lh_report_req_default(&r, LH_REPORT_DORA);
    r.since_ns = window_ns;
    r.now_ns = now_ns;
    r.by = "service+env";
    samples_t sm = {.text = LH_BUF_INIT};
    int rc = whole_report ? lh__query_report_groups(st, &r, add_group, &sm)
                          : lh__query_report_groups_by_env(st, &r, add_group, &sm);
    if (sm.n)
        qsort(sm.g, sm.n, sizeof(*sm.g), cmp_group);
    lh_buf_reset(out);
    for (size_t g = 0; rc == 0 && g < N_GAUGES; g++) {
        size_t k = 0;
        while (k < sm.n && sm.g[k].off[g] == sm.g[k].off[g + 1])
            k++;
        if (k == sm.n)
            continue; /* a family without a sample is left out */
        rc = lh_buf_printf(out, "# HELP %s %s\n# TYPE %s gauge\n", dora_gauges[g].name,
                           dora_gauges[g].help, dora_gauges[g].name);
        for (; rc == 0 && k < sm.n; k++)
            rc = lh_buf_append(out, sm.text.data + sm.g[k].off[g],
                               sm.g[k].off[g + 1] - sm.g[k].off[g]);
    }
    for (size_t k = 0; k < sm.n; k++)
        free(sm.g[k].name);
    free(sm.g);
    lh_buf_free(&sm.text);
    if (rc < 0)
        lh_buf_reset(out);
    return rc;
}

/* The gauges' own read-only connection (DORA_CACHE_KB), opened on first use; NULL when it cannot
 * be (logged by the store). */
static lh_store_t *
dora_conn(lh_hub_t *hub)
{
    lh__hub_dora_t *d = &hub->dora;
    if (!d->ro) {
        lh_store_opts_t o;
        lh_store_opts_default(&o);
        o.readonly = 1;
        o.cache_kb = DORA_CACHE_KB;
        if (lh_store_open(hub->o.db_path, &o, &d->ro) != 0)
            d->ro = NULL;
    }
    return d->ro;
}

static void *
refresher(void *arg)
{
    lh_hub_t *hub = arg;
    lh__hub_dora_t *d = &hub->dora;
    lh_buf_t b = LH_BUF_INIT;
    pthread_mutex_lock(&d->mu);
    while (!d->stop) {
        if (!d->want) {
            pthread_cond_wait(&d->cv, &d->mu);
            continue;
        }
        pthread_mutex_unlock(&d->mu);
        lh_store_t *ro = dora_conn(hub);
        if (ro)
            lh__hub_dora_text(ro, hub->o.dora_metrics_window_ns, 0, &b);
        else /* logged by the store */
            lh_buf_reset(&b);
        pthread_mutex_lock(&d->mu);
        lh_buf_t t = d->text;
        d->text = b;
        b = t;
        d->at = lh_mono_ns();
        d->want = 0;
    }
    pthread_mutex_unlock(&d->mu);
    lh_buf_free(&b);
    return NULL;
}

void
lh__hub_dora_init(lh_hub_t *hub)
{
    lh__hub_dora_t *d = &hub->dora;
    memset(d, 0, sizeof(*d));
    pthread_mutex_init(&d->mu, NULL);
    pthread_cond_init(&d->cv, NULL);
}

int
lh__hub_dora_metrics(lh_hub_t *hub, lh_buf_t *out)
{
    lh__hub_dora_t *d = &hub->dora;
    if (hub->o.dora_metrics_window_ns <= 0)
        return 0;
    int64_t now = lh_mono_ns();
    pthread_mutex_lock(&d->mu);
    if (!d->at) { /* the first: here, so that it is there at once (nothing else runs yet) */
        pthread_mutex_unlock(&d->mu);
        lh_buf_t b = LH_BUF_INIT;
        lh_store_t *ro = dora_conn(hub); /* the refresher's, once it runs */
        int rc = lh__hub_dora_text(ro ? ro : hub->st, hub->o.dora_metrics_window_ns, 0, &b);
        if (rc == LH_ENOMEM) {
            lh_buf_free(&b);
            return rc;
        }
        pthread_mutex_lock(&d->mu);
        lh_buf_free(&d->text);
        d->text = b;
        d->at = now;
    } else if (now - d->at >= dora_period_ns && !d->want) {
        if (!d->started) {
            int e = pthread_create(&d->thread, NULL, refresher, hub);
            if (e)
                lh_log_ratelimited("dora-refresher", LH_LOG_ERROR, COMPONENT,
                                   "cannot start the DORA gauges' refresher: %s", strerror(e));
            d->started = e == 0;
        }
        d->want = d->started;
        pthread_cond_signal(&d->cv);
    }
    int rc = d->text.len ? lh_buf_append(out, d->text.data, d->text.len) : 0;
    pthread_mutex_unlock(&d->mu);
    return rc;
}

void
lh__hub_dora_stop(lh_hub_t *hub)
{
    lh__hub_dora_t *d = &hub->dora;
    pthread_mutex_lock(&d->mu);
    d->stop = 1;
    pthread_cond_signal(&d->cv);
    pthread_mutex_unlock(&d->mu);
    if (d->started)
        pthread_join(d->thread, NULL);
    d->started = 0;
    lh_store_close(&d->ro);
    lh_buf_free(&d->text);
    pthread_mutex_destroy(&d->mu);
    pthread_cond_destroy(&d->cv);
}
