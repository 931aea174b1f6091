/*
 * b_import.c - `loophub import` of the e2e workload written as JSON lines (loophub JSON, one
 * event a line, encoded by the hub's own codec): one run into an empty store, its events/s and
 * CPU time per event. The e2e PULL figure of the same run is the baseline the import is read
 * against (the same events, the same pipeline, no transport).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include "bench.h"
#include "loophub/format.h"

/* The stream's protobuf payloads as JSON lines in path. */
static int
write_lines(const wl_stream_t *s, const char *path)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    lh_buf_t b = LH_BUF_INIT;
    int rc = 0;
    for (size_t i = 0; i < s->n && rc == 0; i++) {
        lh_event_t *ev = NULL;
        char why[128];
        rc = lh_codec_pb_decode(s->data + s->off[i], s->off[i + 1] - s->off[i], &ev, why,
                                sizeof(why));
        lh_buf_reset(&b);
        if (rc == 0)
            rc = lh_codec_json_encode(ev, &b);
        if (rc == 0 && (fwrite(b.data, 1, b.len, f) != b.len || fputc('\n', f) == EOF))
            rc = -1;
        lh_event_destroy(&ev);
    }
    lh_buf_free(&b);
    return fclose(f) == 0 && rc == 0 ? 0 : -1;
}

int
bench_import(const bench_cfg_t *cfg, const wl_stream_t *s)
{
    char dir[900], lines[1000], db[1000];
    snprintf(dir, sizeof(dir), "%s/import", cfg->workdir);
    bench_rmrf(dir);
    if (bench_mkdir_p(dir) != 0)
        return -1;
    snprintf(lines, sizeof(lines), "%s/events.jsonl", dir);
    snprintf(db, sizeof(db), "%s/import.db", dir);
    if (write_lines(s, lines) != 0) {
        bench_note("import: cannot write %s", lines);
        return -1;
    }
    const char *argv[] = {cfg->loophub, "import", lines, "--db", db, "-q", NULL};
    int64_t t0 = bench_mono_ns();
    pid_t pid = bench_spawn(argv, NULL);
    int status = 0;
    struct rusage ru;
    if (pid < 0 || wait4(pid, &status, 0, &ru) != pid || !WIFEXITED(status) ||
        WEXITSTATUS(status) != 0) {
        bench_note("import: `loophub import` failed (status %d)", status);
        return -1;
    }
    double secs = bench_secs_since(t0);
    double cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
                 (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
    double eps = (double)s->n / secs;
    bench_set("import_events_per_s", eps);
    bench_set("import_cpu_us_per_event", cpu * 1e6 / (double)s->n);
    bench_set("import_events", (double)s->n);
    bench_set("import_peak_rss_mb", (double)ru.ru_maxrss / 1024.0);
    double pull = 0;
    if (bench_get("e2e_pull_events_per_s", &pull) && pull > 0)
        bench_set("import_vs_pull", eps / pull);
    printf("  import: %zu events as JSON lines in %.1f s: %.0f events/s, %.1f us CPU/event\n", s->n,
           secs, eps, cpu * 1e6 / (double)s->n);
    bench_rmrf(dir);
    return 0;
}
