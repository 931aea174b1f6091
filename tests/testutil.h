/*
 * testutil.h - helpers shared by the Check suites: temporary dirs, free loopback ports, running
 * the real loophub binary, and waiting for a condition (never sleeping in its place).
 */
#ifndef LOOPHUB_TESTUTIL_H
#define LOOPHUB_TESTUTIL_H

#include <check.h>
#include <stddef.h>
#include <sys/types.h>

#include "loophub/log.h"

/* A new empty directory under $TMPDIR (or /tmp); malloc'd path. Aborts the test on failure. */
char *lh_test_tmpdir(void);
/* Removes a directory tree (rm -rf). */
void lh_test_rmrf(const char *path);
/* A TCP port on 127.0.0.1 that was free a moment ago and that no outgoing connection can take
 * meanwhile; never the same one twice in a process (freeport.h). */
int lh_test_free_port(void);
/* "tcp://127.0.0.1:<free port>", malloc'd. */
char *lh_test_endpoint(void);
/* Path of the loophub binary under test: LOOPHUB_BIN in the environment, else the one the
 * including suite was built with (its LOOPHUB_BIN definition). Inline so that definition applies.
 */
#include <stdlib.h>
static inline const char *
lh_test_loophub_bin(void)
{
    const char *e = getenv("LOOPHUB_BIN");
    if (e && *e)
        return e;
#ifdef LOOPHUB_BIN
    return LOOPHUB_BIN;
#else
    return "loophub";
#endif
}

/* Calls cond(arg) every few ms until it returns non-zero or timeout_ms pass.
 * Returns 1 when the condition held, 0 on timeout. */
int lh_test_wait_for(int (*cond)(void *arg), void *arg, int timeout_ms);

/* Starts argv[0] with argv in the background, stdout and stderr appended to log_path (NULL:
 * /dev/null), stdin from /dev/null. Returns the pid (aborts the test on failure). */
pid_t lh_test_spawn(const char *const argv[], const char *log_path);
/* Sends sig and waits up to timeout_ms for the exit. Returns the exit status as a shell shows
 * it (128+signal when killed), or -1 on timeout (then the process is SIGKILLed). */
int lh_test_stop(pid_t pid, int sig, int timeout_ms);
/* Runs argv to completion (killed after timeout_ms), with stdin from in (NULL: /dev/null).
 * *out and *err (when non-NULL) receive malloc'd, NUL-terminated output. Returns the exit status
 * as a shell shows it, or -1 on timeout. */
int lh_test_run(const char *const argv[], const char *in, char **out, char **err, int timeout_ms);

/* ms, times LH_TEST_SLOW when set (make test-valgrind: 10): what every helper's timeout goes
 * through, so a slowed-down run waits longer instead of failing. */
int lh_test_ms(int ms);

/* One entry of a suite's table of tests: its case name, the test, its timeout in seconds (0: the
 * table's default) and, for a loop test, its number of runs (0: one plain run). */
typedef struct lh_test_case {
    const char *name;
    const TTest *fn;
    int timeout;
    int loops;
} lh_test_case_t;

#define LH_TEST_COUNT(cases) (sizeof(cases) / sizeof((cases)[0]))

/* Adds one case to s per entry of cases[0..n), each with the checked fixture setup/teardown (run
 * in the forked child; either may be NULL). */
void lh_test_add_cases(Suite *s, const lh_test_case_t *cases, size_t n, int default_timeout,
                       SFun setup, SFun teardown);

/* Runs every test of s (Check's fork mode, normal output with its summary line), frees the
 * runner and returns the exit status for main(): 0 when all passed. */
int lh_test_run_suite(Suite *s);

/* Reads a whole file; malloc'd and NUL-terminated, *len (optional) set. NULL when missing. */
char *lh_test_read_file(const char *path, size_t *len);
/* Writes a whole file. Returns 0 or -1. */
int lh_test_write_file(const char *path, const void *data, size_t len);

/* Counts occurrences of needle in the file at path (0 when missing). */
int lh_test_file_count(const char *path, const char *needle);

/* Reads a whole file like lh_test_read_file(), failing the test ("cannot read <path>") when it
 * cannot. malloc'd and NUL-terminated. */
char *lh_test_must_read(const char *path);

/* The conformance inputs other projects publish (tests/data/conformance, see its README.md).
 * Fails the test when that is not a directory. The path lives in a static buffer. */
const char *lh_test_conformance_dir(void);

/* Loads the SQL dump tests/data/store/<name> (sqlite3's .dump of a store an earlier loophub
 * wrote, see its README.md) into the database file db, which should not exist yet. Fails the
 * test when it cannot. */
void lh_test_load_store_dump(const char *db, const char *name);

/* The store fixture (tcase_add_checked_fixture(tc, lh_test_store_setup, lh_test_store_teardown)):
 * setup makes a new temporary dir, names a store file in it (not created) and captures the log
 * (lh_test_capture_log into log, emptied); teardown restores the default sink and removes the
 * dir. */
typedef struct {
    char *dir;      /* the temporary dir */
    char db[600];   /* <dir>/hub.db */
    char log[8192]; /* "component: message\n" per line logged since setup (truncated when full) */
} lh_test_store_fx_t;
extern lh_test_store_fx_t lh_test_fx;
void lh_test_store_setup(void);
void lh_test_store_teardown(void);
/* The log sink of the fixture: appends "component: message\n" to lh_test_fx.log. */
void lh_test_capture_log(lh_log_level_t level, const char *component, const char *msg, void *arg);

#endif
