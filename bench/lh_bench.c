/*
 * lh_bench.c - the benchmark driver (`make bench` runs it through bench/run.sh).
 *
 *   lh-bench run --loophub BIN [--kafka-mock BIN] [--sec BIN] --workdir DIR --datadir DIR
 *                --out results.json
 *   lh-bench sec-rules [--generic] [--services N] OUT_FILE RULES_FILE
 *
 * Environment: BENCH_SCALE (multiplies every event count, default 1), BENCH_ONLY (comma list of
 * steps: transport,store,append,pull,deadsink,router,kafka,memory,latency,query,growth,import,
 * sec), BENCH_KEEP=1
 * (keep the stores and logs), BENCH_REGEN=1 (rebuild the cached query store), BENCH_ROUTER_WINDOW.
 *
 * Every step measures side by side in this one run; the table and results.json are written
 * even when a step fails (its figures are then missing and a note says why). Exit status: 0
 * when every step ran, 1 when one failed, 2 on bad usage.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"
#include "loophub/log.h"
#include "loophub/timeutil.h"

static int
usage(void)
{
    fprintf(stderr,
            "usage: lh-bench run --loophub BIN [--kafka-mock BIN] [--sec BIN] --workdir DIR\n"
            "                    --datadir DIR --out FILE\n"
            "       lh-bench sec-rules [--generic] [--services N] OUT_FILE RULES_FILE\n");
    return 2;
}

static int
want(const char *step)
{
    const char *only = getenv("BENCH_ONLY");
    if (!only || !*only)
        return 1;
    size_t n = strlen(step);
    for (const char *p = only; *p;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len == n && strncmp(p, step, n) == 0)
            return 1;
        p += len + (end ? 1 : 0);
    }
    return 0;
}

static size_t
scaled(double base, double scale, size_t min)
{
    double v = base * scale;
    return v < (double)min ? min : (size_t)v;
}

static int
cmd_sec_rules(int argc, char **argv)
{
    int generic = 0, services = 1000, i = 2;
    for (; i < argc && argv[i][0] == '-'; i++) {
        if (strcmp(argv[i], "--generic") == 0)
            generic = 1;
        else if (strcmp(argv[i], "--services") == 0 && i + 1 < argc)
            services = atoi(argv[++i]);
        else
            return usage();
    }
    if (argc - i != 2 || services < 1)
        return usage();
    return sec_rules_write(argv[i + 1], services, generic, argv[i]) == 0 ? 0 : 1;
}

typedef struct {
    const char *name;
    int (*fn)(const bench_cfg_t *cfg, const wl_stream_t *s);
} step_t;

static int
run_memory(const bench_cfg_t *cfg, const wl_stream_t *s)
{
    (void)s;
    return bench_memory_deploys(cfg);
}

static int
run_query(const bench_cfg_t *cfg, const wl_stream_t *s)
{
    (void)s;
    return bench_query(cfg);
}

static int
run_sec(const bench_cfg_t *cfg, const wl_stream_t *s)
{
    (void)s;
    return bench_sec(cfg);
}

static const step_t steps[] = {
    {"transport", bench_transport},
    {"store", bench_store_ref},
    {"append", bench_append_limit},
    {"pull", bench_e2e_pull},
    {"deadsink", bench_e2e_deadsink},
    {"router", bench_e2e_router},
    {"kafka", bench_e2e_kafka},
    {"memory", run_memory},
    {"latency", bench_latency},
    {"query", run_query},
    {"growth", bench_growth},
    {"import", bench_import},
    {"sec", run_sec},
};

int
main(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "sec-rules") == 0)
        return cmd_sec_rules(argc, argv);
    if (argc < 2 || strcmp(argv[1], "run") != 0)
        return usage();
    bench_cfg_t cfg;
    memset(&cfg, 0, sizeof(cfg));
    for (int i = 2; i < argc; i++) {
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v)
            return usage();
        if (strcmp(argv[i], "--loophub") == 0)
            cfg.loophub = v;
        else if (strcmp(argv[i], "--kafka-mock") == 0)
            cfg.kafka_mock = *v ? v : NULL;
        else if (strcmp(argv[i], "--sec") == 0)
            cfg.sec = *v ? v : NULL;
        else if (strcmp(argv[i], "--workdir") == 0)
            cfg.workdir = v;
        else if (strcmp(argv[i], "--datadir") == 0)
            cfg.datadir = v;
        else if (strcmp(argv[i], "--out") == 0)
            cfg.out_json = v;
        else
            return usage();
        i++;
    }
    if (!cfg.loophub || !cfg.workdir || !cfg.datadir || !cfg.out_json)
        return usage();
    const char *e = getenv("BENCH_SCALE");
    cfg.scale = e && atof(e) > 0 ? atof(e) : 1.0;
    cfg.keep = (e = getenv("BENCH_KEEP")) && *e == '1';
    cfg.n_e2e = scaled(1e6, cfg.scale, 10000);
    cfg.n_query = scaled(1e7, cfg.scale, 100000);
    cfg.n_sec = scaled(2e4, cfg.scale, 5000);
    cfg.n_deploys = scaled(1e5, cfg.scale, 3000);
    cfg.probes = (int)scaled(500, cfg.scale, 100);
    cfg.router_window = (e = getenv("BENCH_ROUTER_WINDOW")) && atoi(e) > 0 ? atoi(e) : 4000;
    lh_log_set_level(LH_LOG_WARN);
    if (bench_mkdir_p(cfg.workdir) != 0) {
        fprintf(stderr, "lh-bench: cannot create %s\n", cfg.workdir);
        return 1;
    }

    char machine[512];
    bench_machine(machine, sizeof(machine));
    bench_set_str("machine", machine);
    bench_set("nproc", (double)sysconf(_SC_NPROCESSORS_ONLN));
    bench_set("scale", cfg.scale);
    bench_set("loadavg_start", bench_loadavg());
    printf("lh-bench: %s, scale %g\n", machine, cfg.scale);

    /* the main workload, generated and encoded before anything is timed */
    wl_stream_t s;
    int64_t day = 86400 * LH_NS_PER_SEC;
    int64_t span = (int64_t)((double)day * (double)cfg.n_e2e / 1e6);
    wl_opts_t o = {0x5eed0001, cfg.n_e2e, 1000, lh_now_ns() - span - 60 * LH_NS_PER_SEC,
                   span,       NULL};
    int64_t t0 = bench_mono_ns();
    if (wl_stream_build(&o, &s, NULL) != 0) {
        fprintf(stderr, "lh-bench: cannot build the workload\n");
        return 1;
    }
    printf("workload: %zu events (%zu alerts, %zu deploys, %zu incidents, %zu tickets; %zu "
           "outcomes), %.0f bytes/event, built in %.1f s\n",
           s.n, s.n_alerts, s.n_deploys, s.n_incidents, s.n_tickets, s.n_outcomes,
           (double)s.bytes / (double)s.n, bench_secs_since(t0));
    bench_set("events", (double)s.n);
    bench_set("event_bytes_avg", (double)s.bytes / (double)s.n);
    bench_set("outcome_fraction", (double)s.n_outcomes / (double)s.n);

    int failed = 0;
    for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
        if (!want(steps[i].name))
            continue;
        printf("[%s]\n", steps[i].name);
        fflush(stdout);
        int64_t st = bench_mono_ns();
        if (steps[i].fn(&cfg, &s) != 0) {
            bench_note("step %s failed", steps[i].name);
            failed = 1;
        }
        char key[64];
        snprintf(key, sizeof(key), "step_%s_s", steps[i].name);
        bench_set(key, bench_secs_since(st));
        fflush(stdout);
    }
    wl_stream_free(&s);
    bench_set("loadavg_end", bench_loadavg());
    bench_print_table();
    if (bench_write_json(cfg.out_json) != 0) {
        fprintf(stderr, "lh-bench: cannot write %s\n", cfg.out_json);
        failed = 1;
    } else {
        printf("\nwrote %s\n", cfg.out_json);
    }
    if (!cfg.keep)
        bench_rmrf(cfg.workdir);
    return failed;
}
