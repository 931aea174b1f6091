/*
 * hub_dora.c - the DORA families of GET /metrics: the figures of the last dora_metrics_window_ns
 * per service and environment (the dora report, docs/dora.md), computed at most once a minute.
 *
 * A report over a large store takes long enough to hold ingest (README, Performance: the
 * store's 10M-event bench), so only the first scrape computes it on the hub's thread, where the
 * hub's own connection answers (a scrape right after the start shows the figures). A later
 * scrape gets the text as last computed at once and, when it is older than the period, wakes the
 * refresher: a thread with a read-only connection of its own (SQLite allows a connection per
 * thread in the multi-thread mode the store opens with), which replaces the text when done.
 */
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

/* The refresher's connection reads the window once a minute, front to back: a cache the size of
 * the hub's (32 MiB) would be filled by every run and kept, for no gain (the file's pages stay in
 * the kernel's cache either way). SQLite's own default. */
#define REFRESHER_CACHE_KB 2048

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

/* Each family's samples, appended group by group as the report makes them. */
typedef struct {
    lh_buf_t fam[N_GAUGES];
} samples_t;

static int
add_group(const json_t *e, void *arg)
{
    samples_t *sm = arg;
    const char *svc = json_string_value(json_object_get(e, "service"));
    const char *env = json_string_value(json_object_get(e, "environment"));
    const json_t *fig = json_object_get(e, "figures");
    int rc = 0;
    for (size_t g = 0; rc == 0 && svc && g < N_GAUGES; g++) {
        const json_t *v =
            json_object_get(json_object_get(fig, dora_gauges[g].figure), dora_gauges[g].field);
        if (!json_is_number(v))
            continue; /* no sample: no value, rather than a made-up 0 */
        lh_buf_t *out = &sm->fam[g];
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
    return rc;
}

/* The families of the last window_ns read from st, into out (empty on an error: the families are
 * left out then; the store or the query logged why). The report hands its groups over one at a
 * time, so that what this holds is the text, not the report's document of every group. */
static int
dora_text(lh_store_t *st, int64_t window_ns, lh_buf_t *out)
{
    lh_report_req_t r;
    lh_report_req_default(&r, LH_REPORT_DORA);
    r.since_ns = window_ns;
    r.by = "service+env";
    samples_t sm;
    for (size_t g = 0; g < N_GAUGES; g++)
        sm.fam[g] = (lh_buf_t)LH_BUF_INIT;
    int rc = lh__query_report_groups(st, &r, add_group, &sm);
    lh_buf_reset(out);
    for (size_t g = 0; rc == 0 && g < N_GAUGES; g++) {
        if (!sm.fam[g].len)
            continue; /* a family without a sample is left out */
        rc = lh_buf_printf(out, "# HELP %s %s\n# TYPE %s gauge\n", dora_gauges[g].name,
                           dora_gauges[g].help, dora_gauges[g].name);
        if (rc == 0)
            rc = lh_buf_append(out, sm.fam[g].data, sm.fam[g].len);
    }
    for (size_t g = 0; g < N_GAUGES; g++)
        lh_buf_free(&sm.fam[g]);
    if (rc < 0)
        lh_buf_reset(out);
    return rc;
}

static void *
refresher(void *arg)
{
    lh_hub_t *hub = arg;
    lh__hub_dora_t *d = &hub->dora;
    lh_store_t *ro = NULL;
    lh_buf_t b = LH_BUF_INIT;
    pthread_mutex_lock(&d->mu);
    while (!d->stop) {
        if (!d->want) {
            pthread_cond_wait(&d->cv, &d->mu);
            continue;
        }
        pthread_mutex_unlock(&d->mu);
        int rc = 0;
        if (!ro) {
            lh_store_opts_t o;
            lh_store_opts_default(&o);
            o.readonly = 1;
            o.cache_kb = REFRESHER_CACHE_KB;
            rc = lh_store_open(hub->o.db_path, &o, &ro);
        }
        if (rc == 0)
            dora_text(ro, hub->o.dora_metrics_window_ns, &b);
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
    lh_store_close(&ro);
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
        int rc = dora_text(hub->st, hub->o.dora_metrics_window_ns, &b);
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
    lh_buf_free(&d->text);
    pthread_mutex_destroy(&d->mu);
    pthread_cond_destroy(&d->cv);
}
