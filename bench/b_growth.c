/*
 * b_growth.c - measurement 9, ingest as the store grows: the same workload over PULL into an
 * empty store and into the 10M-event store of the query step (a copy of the cached file, so the
 * cache stays as generated), one real `loophub run` each, back to back, with the e2e PULL
 * machinery of b_e2e.c.
 *
 * Per run: events/s, hub CPU time per event (ingest only: the CPU spent opening the store before
 * GET /healthz answered is left out), VmHWM after opening and at the end of the ingest, the
 * time from the spawn of `loophub run` to the first answer of /healthz (the restart time on a
 * 10M-event store) and, after the hub stopped (its last close checkpoints and removes the WAL),
 * the store's bytes on disk over the events it holds. The full/empty ratio is of the same run.
 */
#include <stdio.h>

#include "bench.h"

int
bench_growth(const bench_cfg_t *cfg, const wl_stream_t *s)
{
    char path[1000];
    size_t n_store = 0;
    int64_t t_end = 0;
    if (bench_query_store(cfg, path, sizeof(path), &n_store, &t_end) != 0)
        return -1;
    double empty = 0, full = 0, v;
    if (bench_pull_run_on(cfg, "growth-empty", NULL, s, "pull_empty_store", &empty, NULL, 0) != 0) {
        bench_note("growth: the run into an empty store failed");
        return -1;
    }
    int64_t t0 = bench_mono_ns();
    int rc = bench_pull_run_on(cfg, "growth-full", path, s, "pull_full_store", &full, NULL, 0);
    if (rc != 0) {
        bench_note("growth: the run into the %zu-event store failed", n_store);
        return -1;
    }
    bench_set("growth_store_events", (double)n_store);
    bench_set("growth_step_full_s", bench_secs_since(t0));
    /* the names for the figures of the 10M-event run */
    if (bench_get("e2e_pull_full_store_peak_rss_mb", &v))
        bench_set("peak_rss_10m_mb", v);
    if (bench_get("e2e_pull_full_store_ready_s", &v))
        bench_set("restart_10m_s", v);
    if (bench_get("e2e_pull_full_store_store_bytes_per_event", &v))
        bench_set("store_bytes_per_event", v);
    printf("  growth: %.0f events/s into an empty store, %.0f into the %zu-event one (%.2f x)\n",
           empty, full, n_store, empty > 0 ? full / empty : 0);
    return 0;
}
