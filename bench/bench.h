/*
 * bench.h - the benchmark harness shared by the measurement files (bench/README.md says what is
 * measured and how to read the figures).
 *
 * One driver program, lh-bench, runs every measurement side by side in one process tree: it
 * generates the workload, pushes it to a real `loophub run` child process (and to the peers:
 * raw libzmq, raw SQLite, SEC), and records each figure in a flat registry of named results
 * that ends up in bench/results.json and in the printed table.
 *
 * Conventions: figures are doubles keyed by the names of results.json; a measurement that could
 * not run records nothing for its keys and explains why in a note (the table shows "n/a").
 * Nothing here is library code: printing to stdout is what the harness is for.
 */
#ifndef LOOPHUB_BENCH_H
#define LOOPHUB_BENCH_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "loophub/buf.h"
#include "loophub/event.h"

/* ---- settings --------------------------------------------------------------------------- */

typedef struct bench_cfg {
    double scale;           /* BENCH_SCALE: multiplies every event count (default 1) */
    const char *loophub;    /* the `loophub` binary under test */
    const char *kafka_mock; /* tests/integration/kafka_mock, NULL: Kafka skipped */
    const char *sec;        /* the sec binary, NULL: SEC skipped */
    const char *workdir;    /* scratch dir for stores and logs (removed unless BENCH_KEEP) */
    const char *datadir;    /* where the 10M-event query store is cached between runs */
    const char *out_json;   /* results.json path */
    int keep;               /* BENCH_KEEP=1: leave workdir behind */
    /* counts (already scaled) */
    size_t n_e2e;     /* 3: events pushed end to end (1,000,000) */
    size_t n_query;   /* 6: events in the query store (10,000,000) */
    size_t n_sec;     /* 7: events of the SEC throughput stream */
    size_t n_deploys; /* 5: deploys inside the window (100,000) */
    int router_window;
    int probes; /* 4: latency samples per condition */
} bench_cfg_t;

/* ---- results ---------------------------------------------------------------------------- */

void bench_set(const char *key, double v);
/* Returns 1 and *v when key was recorded. */
int bench_get(const char *key, double *v);
void bench_set_str(const char *key, const char *v);
const char *bench_get_str(const char *key);
void bench_note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Writes every result and note as one JSON object. Returns 0 or -1. */
int bench_write_json(const char *path);
/* Prints the human table to stdout. */
void bench_print_table(void);

/* ---- time and statistics ---------------------------------------------------------------- */

int64_t bench_mono_ns(void);
double bench_secs_since(int64_t start_ns);
/* Percentile (0..100) of n samples, sorted in place. 0 when n == 0. */
double bench_percentile(double *v, size_t n, double pct);
void bench_sleep_ms(int ms);

/* ---- processes -------------------------------------------------------------------------- */

/* Starts argv[0] with stdout and stderr appended to log_path (NULL: inherited). Returns the pid or
 * -1. stdin is /dev/null. */
pid_t bench_spawn(const char *const argv[], const char *log_path);
/* Like bench_spawn, but stdout is a pipe the caller reads (*out_fd) and stdin a pipe it may
 * write (*in_fd, -1 to leave /dev/null). */
pid_t bench_spawn_piped(const char *const argv[], const char *err_log, int *out_fd, int *in_fd);
/* Sends sig, waits up to timeout_ms, then SIGKILL. Returns the exit status (as waitpid), -1. */
int bench_stop(pid_t pid, int sig, int timeout_ms);
/* Peak resident set (VmHWM) of a live process in MiB, or -1. */
double bench_vmhwm_mb(pid_t pid);
/* User + system CPU seconds a live process has used so far, or -1. */
double bench_proc_cpu_s(pid_t pid);
/* Bytes a live process has read and written through syscalls so far (/proc/<pid>/io rchar and
 * wchar: page-cache hits and misses alike, every thread). Returns 0 or -1. */
int bench_proc_io(pid_t pid, double *rchar, double *wchar);
/* 1 while pid runs (a zombie or a missing process is not running; nothing is reaped). */
int bench_pid_alive(pid_t pid);
/* zmq_send(sock, p, n, flags) that gives up when peer (a pid, 0: none) is no longer running
 * while the socket cannot take the message, instead of blocking for good: a PUSH to a hub that
 * died mid-step waits for a peer that never comes back. Returns the bytes sent, or -1. */
int bench_zsend(void *sock, const void *p, size_t n, int flags, pid_t peer);
/* Peak RSS of this process and of its waited-for children (getrusage), MiB. */
double bench_children_maxrss_mb(void);
/* A free TCP port on 127.0.0.1 (bound then released), or -1. */
int bench_free_port(void);
/* "N cores, <model name>, <MemTotal> RAM, Linux <release>". */
void bench_machine(char *out, size_t len);
/* 1-minute load average, or -1. */
double bench_loadavg(void);
int bench_mkdir_p(const char *path);
/* Copies a file (created or truncated). Returns 0 or -1. */
int bench_copy_file(const char *src, const char *dst);
/* Bytes on disk of a store: the database file plus its WAL when there is one, or -1. */
int64_t bench_store_bytes(const char *db);
void bench_rmrf(const char *path);

/* ---- the hub under test ----------------------------------------------------------------- */

typedef struct bench_hub {
    pid_t pid;
    char dir[512];
    char db[600];
    char log[600];
    char pull[64], router[64], pub[64];
    int http_port;
    double ready_s;     /* from the spawn of `loophub run` to the first answer of GET /healthz */
    double ready_cpu_s; /* the hub's CPU time at that moment (opening its store) */
    double ready_rchar, ready_wchar; /* and its bytes read and written by syscalls, or -1 */
    pid_t perf;                      /* BENCH_PERF=DIR: `perf record` attached to the hub, else 0 */
} bench_hub_t;

/* Starts `loophub run` on fresh free ports with its store in a new dir under workdir; extra
 * arguments (NULL-terminated, may be NULL) are appended. Waits until GET /healthz answers.
 * With BENCH_PERF=DIR set, `perf record -g` is attached to the hub until it is stopped and writes
 * DIR/<name>.perf.data (for profiling; figures of such a run are not comparable).
 * Returns 0 or -1 (log tail printed). */
int bench_hub_start(const bench_cfg_t *cfg, const char *name, const char *const *extra,
                    bench_hub_t *h);
/* Like bench_hub_start, but the hub's store starts as a copy of seed_db (and its WAL, if any),
 * so that seed_db itself is never written. seed_db NULL: a fresh store. */
int bench_hub_start_on(const bench_cfg_t *cfg, const char *name, const char *seed_db,
                       const char *const *extra, bench_hub_t *h);
/* Reads one counter or gauge from GET /metrics: the sum of every series of the family name
 * (loophub_events_total over its kinds and adapters). Returns 0 and *v, or -1 when absent. */
int bench_hub_metric(const bench_hub_t *h, const char *name, double *v);
/* The same read from a /metrics body already fetched (several series of one moment). */
int bench_metric_in(const char *body, const char *name, double *v);
/* Polls loophub_events_total (summed) every poll_ms until it reaches target (or timeout_ms).
 * Returns 0 with *done_ns (monotonic time of the poll that saw it), -1 on timeout. When first_ns
 * is not NULL it receives the time of the first poll that saw a non-zero count and *first_count
 * that count. */
int bench_hub_wait_stored(const bench_hub_t *h, double target, int poll_ms, int timeout_ms,
                          int64_t *done_ns, int64_t *first_ns, double *first_count);
/* SIGTERM and wait; returns 0 when the hub exited 0. */
int bench_hub_stop(bench_hub_t *h);
/* Raw GET on 127.0.0.1:port. Returns 0 and the body (malloc'd) or -1. */
int bench_http_get(int port, const char *path, char **body);

/* ---- workload ---------------------------------------------------------------------------- */

/* The event mix of the issue: 90% monitoring alerts, 5% deploys, 4% incidents, 1% tickets, over
 * `services` services and 3 environments, in time order from t0 to t0 + span. Deterministic for a
 * seed. Changes are started/finished pairs of deploy events sharing a deploy_id; incidents are
 * detected/resolved pairs; alerts are firing/resolved at mixed severities; tickets are change
 * tickets linking a deploy. */
typedef struct wl_opts {
    uint64_t seed;
    size_t n;
    int services;
    int64_t t0_ns;
    int64_t span_ns;
    const char *id_prefix; /* makes ids unique per stream */
} wl_opts_t;

typedef struct wl wl_t;

wl_t *wl_new(const wl_opts_t *o);
void wl_destroy(wl_t **w);
/* Builds the next event (caller destroys it). NULL at the end or when out of memory. */
lh_event_t *wl_next(wl_t *w);
/* Service name of index i ("svc-0042"). */
void wl_service_name(int i, char *out, size_t len);
extern const char *const wl_envs[3];

/* One text line for SEC (no newline):
 *   <RFC 3339 time> deploy <service> <env> <deploy_id> <status> <version>
 *   <RFC 3339 time> alert <service> <env> <name> <state> <severity>
 *   <RFC 3339 time> incident <service> <env> <incident_id> <state> <severity>
 *   <RFC 3339 time> ticket <ticket_id> <type> <state> */
int wl_text_line(const lh_event_t *ev, lh_buf_t *out);

/* A pre-encoded stream: n protobuf payloads back to back. */
typedef struct wl_stream {
    uint8_t *data;
    size_t *off; /* n + 1 offsets */
    size_t n;
    size_t bytes;
    int *svc; /* service index per event (Kafka keys), -1 for none */
    unsigned char *kind;
    size_t n_deploys, n_incidents, n_alerts, n_tickets, n_outcomes;
} wl_stream_t;

/* Generates and encodes a whole stream. text (may be NULL) receives the SEC lines. Returns 0 or
 * -1. */
int wl_stream_build(const wl_opts_t *o, wl_stream_t *s, lh_buf_t *text);
void wl_stream_free(wl_stream_t *s);

/* The SEC/loophub agreement stream: per (service, environment) one scenario (deploy then incident
 * within the window, deploy only, incident only, incident then deploy), plus non-outcome alerts as
 * noise, all within the last hour. *expected receives the number of deploy-then-incident pairs. */
int wl_pairs_build(uint64_t seed, int services, int64_t now_ns, wl_stream_t *s, lh_buf_t *text,
                   size_t *expected);

/* ---- measurements ------------------------------------------------------------------------ */

int bench_transport(const bench_cfg_t *cfg, const wl_stream_t *s);
int bench_store_ref(const bench_cfg_t *cfg, const wl_stream_t *s);
int bench_e2e_pull(const bench_cfg_t *cfg, const wl_stream_t *s);
int bench_e2e_router(const bench_cfg_t *cfg, const wl_stream_t *s);
int bench_e2e_kafka(const bench_cfg_t *cfg, const wl_stream_t *s);
int bench_memory_deploys(const bench_cfg_t *cfg);
int bench_latency(const bench_cfg_t *cfg, const wl_stream_t *background);
int bench_query(const bench_cfg_t *cfg);
int bench_sec(const bench_cfg_t *cfg);
int bench_append_limit(const bench_cfg_t *cfg, const wl_stream_t *s);
int bench_growth(const bench_cfg_t *cfg, const wl_stream_t *s);
int bench_import(const bench_cfg_t *cfg, const wl_stream_t *s);

/* Starts a hub named name, pushes s over PULL, waits until every event is stored, stops the hub.
 * *eps (may be NULL) gets events/s; prefix (may be NULL) records the e2e_<prefix>_* figures;
 * db_out (may be NULL) receives the store's path and keeps it (else the hub's dir is removed).
 * Returns 0 or -1. */
int bench_e2e_deadsink(const bench_cfg_t *cfg, const wl_stream_t *s);
int bench_pull_run(const bench_cfg_t *cfg, const char *name, const wl_stream_t *s,
                   const char *prefix, double *eps, char *db_out, size_t db_len);

/* bench_pull_run on a copy of seed_db (NULL: a fresh store): the run ends when the hub's count
 * has grown by s->n. With a prefix it also records e2e_<prefix>_ready_s (spawn to /healthz) and,
 * after the hub stopped, e2e_<prefix>_store_bytes_per_event (db + WAL over count(*) of events). */
int bench_pull_run_on(const bench_cfg_t *cfg, const char *name, const char *seed_db,
                      const wl_stream_t *s, const char *prefix, double *eps, char *db_out,
                      size_t db_len);

/* The cached query store of step 6 (generated when missing or stale): its path, its number of
 * events and the end of its traffic. Returns 0 or -1. */
int bench_query_store(const bench_cfg_t *cfg, char *path, size_t len, size_t *events,
                      int64_t *t_end);

/* Writes SEC's rules: one PairWithWindow rule per service (generic: one rule for all), each
 * writing a line per correlation to out_path. Returns 0 or -1. */
int sec_rules_write(const char *path, int services, int generic, const char *out_path);

/* Pushes s over a PUSH socket to endpoint, as fast as the socket takes it, while peer (the hub's
 * pid, 0: none) runs. Returns 0 or -1. */
int bench_push_all(const char *endpoint, const wl_stream_t *s, size_t from, size_t to,
                   pid_t peer);

#endif
