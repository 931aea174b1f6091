/*
 * check_python.c - the wire contract from a second language: examples/python/subscribe.py (a
 * SUB on the alerts PUB endpoint, alerts decoded with the module protoc generated from
 * proto/loophub.proto) and examples/python/publish.py (a deploy and an incident as protobuf
 * events over the acknowledged ROUTER endpoint) against the real `loophub run`, with Debian's
 * /usr/bin/python3, python3-zmq and python3-protobuf. The subscriber must print the correlated
 * alert naming the Python deploy and its rollback target; a deploy without a service must come
 * back rejected with the hub's reason.
 */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ithub.h"
#include "loophub/timeutil.h"
#include "testutil.h"

#define PYTHON "/usr/bin/python3"
#define PYDIR LH_BUILD_DIR "/python" /* written by the build (protoc --python_out) */

static void
need_python(void)
{
    const char *argv[] = {PYTHON, "-c", "import zmq, google.protobuf", NULL};
    char *out = NULL, *err = NULL;
    int rc = lh_test_run(argv, NULL, &out, &err, 20000);
    ck_assert_msg(rc == 0,
                  "%s cannot import zmq and google.protobuf (Debian's python3-zmq and "
                  "python3-protobuf): %s",
                  PYTHON, err ? err : "");
    free(out);
    free(err);
    ck_assert_msg(access(PYDIR "/loophub_pb2.py", R_OK) == 0,
                  "no %s/loophub_pb2.py: the build makes it with protoc (protobuf-compiler)",
                  PYDIR);
    setenv("PYTHONPATH", PYDIR, 1);
}

START_TEST(python_publish_and_subscribe)
{
    need_python();
    lh_it_hub_t h;
    lh_it_hub_start(&h, 0, NULL);
    char sublog[700];
    snprintf(sublog, sizeof(sublog), "%s/subscribe.log", h.dir);
    const char *sub[] = {PYTHON,
                         LH_SOURCE_DIR "/examples/python/subscribe.py",
                         "--pub",
                         h.pub,
                         "--prefix",
                         "alert.production.api",
                         "--count",
                         "1",
                         "--timeout-ms",
                         "20000",
                         NULL};
    pid_t sp = lh_test_spawn(sub, sublog);
    int64_t end = lh_mono_ns() + (int64_t)lh_test_ms(15000) * LH_NS_PER_MS;
    while (lh_test_file_count(sublog, "subscribed to") == 0 && lh_mono_ns() < end)
        usleep(20000);
    ck_assert_msg(lh_test_file_count(sublog, "subscribed to") == 1, "the subscriber did not start");

    const char *pub[] = {PYTHON,
                         LH_SOURCE_DIR "/examples/python/publish.py",
                         "--router",
                         h.router,
                         "--service",
                         "api",
                         "--env",
                         "production",
                         "--deploy-id",
                         "D-py-1",
                         "--version",
                         "2.0.0",
                         "--previous-version",
                         "1.9.9",
                         "--actor",
                         "alice",
                         "--incident",
                         "INC-py-1",
                         NULL};
    char *out = NULL, *err = NULL;
    int rc = lh_test_run(pub, NULL, &out, &err, 30000);
    ck_assert_msg(rc == 0, "publish.py: exit %d: %s %s", rc, out ? out : "", err ? err : "");
    ck_assert_msg(strstr(out, ": ok"), "%s", out);
    free(out);
    free(err);

    int status = 0;
    end = lh_mono_ns() + (int64_t)lh_test_ms(25000) * LH_NS_PER_MS;
    pid_t w = 0;
    while ((w = waitpid(sp, &status, WNOHANG)) == 0 && lh_mono_ns() < end)
        usleep(20000);
    if (w == 0) {
        kill(sp, SIGKILL);
        waitpid(sp, &status, 0);
    }
    char *log = lh_test_must_read(sublog);
    ck_assert_msg(w == sp && WIFEXITED(status) && WEXITSTATUS(status) == 0,
                  "subscribe.py did not get the alert:\n%s", log);
    ck_assert_msg(strstr(log, "[alert.production.api] alert ca-"), "%s", log);
    ck_assert_msg(strstr(log, "deploy_preceded_incident on api in production"), "%s", log);
    ck_assert_msg(strstr(log, "1. D-py-1 2.0.0"), "%s", log);
    ck_assert_msg(strstr(log, "roll back to 1.9.9"), "%s", log);
    free(log);
    lh_it_hub_stop(&h);
}
END_TEST

/* A deploy without a service: the hub's rejection reaches the Python side, exit 1. */
START_TEST(python_rejection_comes_back)
{
    need_python();
    lh_it_hub_t h;
    lh_it_hub_start(&h, 0, NULL);
    const char *pub[] = {PYTHON,        LH_SOURCE_DIR "/examples/python/publish.py",
                         "--router",    h.router,
                         "--service",   "",
                         "--env",       "production",
                         "--deploy-id", "D-py-2",
                         "--version",   "2.0.0",
                         NULL};
    char *out = NULL, *err = NULL;
    int rc = lh_test_run(pub, NULL, &out, &err, 30000);
    ck_assert_msg(rc == 1, "publish.py: exit %d: %s %s", rc, out ? out : "", err ? err : "");
    ck_assert_msg(out && strstr(out, ": rejected: ") && strstr(out, "service"), "%s",
                  out ? out : "");
    free(out);
    free(err);
    lh_it_hub_stop(&h);
}
END_TEST

static Suite *
python_suite(void)
{
    Suite *s = suite_create("python");
    const lh_test_case_t cases[] = {
        {"python_publish_and_subscribe", python_publish_and_subscribe, 90, 0},
        {"python_rejection_comes_back", python_rejection_comes_back, 60, 0},
    };
    lh_test_add_cases(s, cases, LH_TEST_COUNT(cases), 60, NULL, NULL);
    return s;
}

int
main(void)
{
    return lh_test_run_suite(python_suite());
}
