/*
 * check_backup.c - `loophub backup` against a real running hub under write load: a thread of the
 * test pushes events to the hub's PULL socket the whole time; the copy taken meanwhile checks
 * whole (sqlite3's integrity_check), holds every event committed before it began, opens as a
 * store for the query commands, and is never left half written. Then every refusal: no --to,
 * no store, an existing destination (and --force), the store itself as destination, a file that
 * is no store.
 */
#include <check.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#include "ithub.h"
#include "loophub/timeutil.h"
#include "testutil.h"

typedef struct {
    const char *ep;
    atomic_int stop;
    atomic_long sent;
} pusher_t;

static void *
push_loop(void *arg)
{
    pusher_t *p = arg;
    void *ctx = zmq_ctx_new(), *s = zmq_socket(ctx, ZMQ_PUSH);
    zmq_connect(s, p->ep);
    char msg[400], t[40];
    for (long i = 0; !atomic_load(&p->stop); i++) {
        lh_time_format(lh_now_ns() - 60 * LH_NS_PER_SEC, t, sizeof(t));
        int n = snprintf(msg, sizeof(msg),
                         "{\"id\":\"bk-%ld\",\"kind\":\"alert\",\"time\":\"%s\",\"service\":"
                         "\"api\",\"environment\":\"production\",\"alert\":{\"name\":\"load\","
                         "\"state\":\"firing\",\"fingerprint\":\"fp-%ld\"}}",
                         i, t, i % 50);
        if (zmq_send(s, msg, (size_t)n, 0) == n)
            atomic_fetch_add(&p->sent, 1);
        if (i % 200 == 199)
            usleep(2000);
    }
    zmq_close(s);
    zmq_ctx_term(ctx);
    return NULL;
}

static int
run_cli(const char *const *argv, char **out, char **err)
{
    *out = *err = NULL;
    return lh_test_run(argv, NULL, out, err, 60000);
}

static char *
sqlite(const char *db, const char *q)
{
    const char *argv[] = {"sqlite3", "-readonly", db, q, NULL};
    char *out = NULL, *err = NULL;
    int rc = lh_test_run(argv, NULL, &out, &err, 30000);
    ck_assert_msg(rc == 0, "sqlite3 %s '%s': %s", db, q, err ? err : "");
    free(err);
    return out;
}

START_TEST(backup_under_write_load)
{
    lh_it_hub_t h;
    lh_it_hub_start(&h, 1, NULL);
    pusher_t p = {.ep = h.pull};
    pthread_t th;
    ck_assert_int_eq(pthread_create(&th, NULL, push_loop, &p), 0);
    lh_it_wait_sql(&h, "SELECT count(*) FROM events", 2000, 20000);
    /* what was committed before the copy began: every row up to this seq */
    long seq0 = lh_it_sql_long(&h, "SELECT max(seq) FROM events");
    long n0 = lh_it_sql_long(&h, "SELECT count(*) FROM events");
    char copy[700];
    snprintf(copy, sizeof(copy), "%s/copy.db", h.dir);
    const char *argv[] = {lh_test_loophub_bin(), "backup", "--db", h.db, "--to", copy, NULL};
    char *out, *err;
    int rc = run_cli(argv, &out, &err);
    ck_assert_msg(rc == 0, "backup: exit %d: %s", rc, err ? err : "");
    ck_assert_msg(strstr(out, "backed up") && strstr(out, " events"), "%s", out);
    free(out);
    free(err);
    long during = atomic_load(&p.sent);
    /* the writer went on while the copy was taken */
    lh_it_wait_sql(&h, "SELECT count(*) FROM events", n0 + 1000, 20000);
    atomic_store(&p.stop, 1);
    pthread_join(th, NULL);
    ck_assert_int_gt(during, 0);

    char *ic = sqlite(copy, "PRAGMA integrity_check");
    ck_assert_str_eq(ic, "ok\n");
    free(ic);
    char q[200];
    snprintf(q, sizeof(q), "SELECT count(*) FROM events WHERE seq <= %ld", seq0);
    char *kept = sqlite(copy, q);
    ck_assert_int_eq(atol(kept), n0); /* every event committed before it began */
    free(kept);
    char *all = sqlite(copy, "SELECT count(*) FROM events");
    ck_assert_int_ge(atol(all), n0);
    free(all);
    /* the copy is a store the query commands read */
    const char *tl[] = {lh_test_loophub_bin(), "quarantine", "--db", copy, NULL};
    rc = run_cli(tl, &out, &err);
    ck_assert_msg(rc == 0, "quarantine on the copy: %d %s", rc, err ? err : "");
    free(out);
    free(err);
    /* no temporary file is left beside it */
    char *ls = NULL, *lerr = NULL;
    const char *lsv[] = {"ls", h.dir, NULL};
    lh_test_run(lsv, NULL, &ls, &lerr, 5000);
    ck_assert_msg(strstr(ls, ".tmp-") == NULL, "%s", ls);
    free(ls);
    free(lerr);
    lh_it_hub_stop(&h);
}
END_TEST

START_TEST(backup_refusals)
{
    lh_it_hub_t h;
    lh_it_hub_start(&h, 1, NULL);
    char copy[700], junk[700], alias[700], walled[700], wal[720];
    snprintf(copy, sizeof(copy), "%s/copy.db", h.dir);
    snprintf(junk, sizeof(junk), "%s/junk.db", h.dir);
    snprintf(alias, sizeof(alias), "%s/./hub.db", h.dir);
    snprintf(walled, sizeof(walled), "%s/walled.db", h.dir);
    snprintf(wal, sizeof(wal), "%s-wal", walled);
    ck_assert_int_eq(lh_test_write_file(walled, "x", 1), 0);
    ck_assert_int_eq(lh_test_write_file(wal, "frames", 6), 0);
    ck_assert_int_eq(lh_test_write_file(junk, "not sqlite at all", 17), 0);
    const char *bin = lh_test_loophub_bin();
    static const struct {
        int which; /* argv below */
        int code;
        const char *want;
    } cases[] = {
        {0, 2, "--to FILE is required"},
        {1, 1, "no store at"},
        {2, 0, "backed up"},
        {2, 1, "exists: give another name, or --force"},
        {3, 0, "backed up"},
        {4, 2, "--to is the store itself"},
        {5, 1, "cannot open the store"},
        {6, 1, "is the store itself"}, /* the same file by another name, --force */
        {7, 1, "has a WAL beside it"}, /* a store that is open elsewhere */
        {8, 1, "cannot create /nonexistent-dir/copy.db.tmp-"}, /* no such directory */
    };
    const char *const argvs[][9] = {
        {bin, "backup", "--db", h.db, NULL},
        {bin, "backup", "--db", "/nonexistent/hub.db", "--to", copy, NULL},
        {bin, "backup", "--db", h.db, "--to", copy, NULL},
        {bin, "backup", "--db", h.db, "--to", copy, "--force", NULL},
        {bin, "backup", "--db", h.db, "--to", h.db, NULL},
        {bin, "backup", "--db", junk, "--to", copy, "--force", NULL},
        {bin, "backup", "--db", h.db, "--to", alias, "--force", NULL},
        {bin, "backup", "--db", h.db, "--to", walled, "--force", NULL},
        {bin, "backup", "--db", h.db, "--to", "/nonexistent-dir/copy.db", NULL},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *out, *err;
        int rc = run_cli(argvs[cases[i].which], &out, &err);
        const char *text = cases[i].code == 0 ? out : err;
        ck_assert_msg(rc == cases[i].code, "case %zu: exit %d, %s %s", i, rc, out ? out : "",
                      err ? err : "");
        ck_assert_msg(text && strstr(text, cases[i].want), "case %zu: '%s' lacks '%s'", i,
                      text ? text : "", cases[i].want);
        free(out);
        free(err);
    }
    /* the refused junk left the earlier good copy as it was */
    char *ic = sqlite(copy, "PRAGMA integrity_check");
    ck_assert_str_eq(ic, "ok\n");
    free(ic);
    lh_it_hub_stop(&h);
}
END_TEST

/* The query commands and backup find the store without --db: $LOOPHUB_DB, else ./loophub.db;
 * with neither, the error names what was looked for. */
START_TEST(store_without_db)
{
    lh_it_hub_t h;
    lh_it_hub_start(&h, 1, NULL);
    char empty[700];
    snprintf(empty, sizeof(empty), "%s/elsewhere", h.dir);
    const char *mk[] = {"mkdir", "-p", empty, NULL};
    char *out, *err;
    ck_assert_int_eq(run_cli(mk, &out, &err), 0);
    free(out);
    free(err);
    ck_assert_int_eq(chdir(empty), 0);
    const char *q[] = {lh_test_loophub_bin(), "quarantine", NULL};
    unsetenv("LOOPHUB_DB");
    int rc = run_cli(q, &out, &err);
    if (access("/var/lib/loophub/loophub.db", F_OK) != 0) { /* no packaged hub here */
        ck_assert_int_eq(rc, 1);
        ck_assert_msg(err && strstr(err, "no store at loophub.db"), "%s", err ? err : "");
    }
    free(out);
    free(err);
    setenv("LOOPHUB_DB", h.db, 1);
    rc = run_cli(q, &out, &err);
    ck_assert_msg(rc == 0, "with LOOPHUB_DB: %d %s", rc, err ? err : "");
    free(out);
    free(err);
    const char *bk[] = {lh_test_loophub_bin(), "backup", "--to", "copy.db", NULL};
    rc = run_cli(bk, &out, &err);
    ck_assert_msg(rc == 0 && strstr(out, h.db), "backup: %d %s %s", rc, out ? out : "",
                  err ? err : "");
    free(out);
    free(err);
    /* ./loophub.db wins over nothing, $LOOPHUB_DB over it */
    unsetenv("LOOPHUB_DB");
    ck_assert_int_eq(rename("copy.db", "loophub.db"), 0);
    const char *dora[] = {lh_test_loophub_bin(), "dora", "--format", "json", NULL};
    rc = run_cli(dora, &out, &err);
    ck_assert_msg(rc == 0 && strstr(out, "\"report\":\"dora\""), "dora on ./loophub.db: %d %s", rc,
                  err ? err : "");
    free(out);
    free(err);
    lh_it_hub_stop(&h);
}
END_TEST

static Suite *
backup_suite(void)
{
    Suite *s = suite_create("backup");
    const lh_test_case_t cases[] = {
        {"backup_under_write_load", backup_under_write_load, 120, 0},
        {"backup_refusals", backup_refusals, 60, 0},
        {"store_without_db", store_without_db, 60, 0},
    };
    lh_test_add_cases(s, cases, LH_TEST_COUNT(cases), 60, NULL, NULL);
    return s;
}

int
main(void)
{
    return lh_test_run_suite(backup_suite());
}
