/*
 * check_tail.c - the line `loophub tail` prints for a correlated alert (lh_cli_tail_print()): the
 * first revision as before revisions existed, a later one marked with its revision and what
 * changed, the final one RESOLVED, and the rollback target of every suspect service.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_tail.h"
#include "loophub/event.h"
#include "loophub/timeutil.h"
#include "testutil.h"

#define T0 1795687200000000000LL /* 2026-11-26T10:00:00Z */

static char *
printed(const lh_correlated_t *ca)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    ck_assert_ptr_nonnull(f);
    lh_cli_tail_print(f, ca);
    ck_assert_int_eq(fclose(f), 0);
    return text;
}

static void
add_suspect(lh_correlated_t *ca, const char *deploy_id, const char *service, const char *version,
            const char *previous)
{
    lh_suspect_t *s = lh_correlated_add_suspect(ca);
    ck_assert_ptr_nonnull(s);
    s->deploy_id = strdup(deploy_id);
    s->service = strdup(service);
    s->version = strdup(version);
    s->previous_version = previous ? strdup(previous) : NULL;
    s->lead_seconds = 300;
    s->score = 0.9;
}

static void
add_rollback(lh_correlated_t *ca, const char *service, const char *version,
             const char *from_version, int derived)
{
    lh_rollback_t *r = lh_correlated_add_rollback(ca);
    ck_assert_ptr_nonnull(r);
    r->service = strdup(service);
    r->version = version ? strdup(version) : NULL;
    r->from_version = from_version ? strdup(from_version) : NULL;
    r->derived = derived;
}

/* An alert for incident INC-1 of api/prod with one suspect, revision rev. */
static lh_correlated_t *
alert(uint32_t rev)
{
    lh_correlated_t *ca = lh_correlated_new();
    ck_assert_ptr_nonnull(ca);
    ca->id = strdup("ca-0123");
    ca->seq = 7;
    ca->service = strdup("api");
    ca->environment = strdup("prod");
    ca->revision = rev;
    lh_event_t *o = lh_event_new();
    ck_assert_ptr_nonnull(o);
    o->kind = LH_KIND_INCIDENT;
    o->time_ns = T0;
    o->incident.incident_id = lh_event_str(o, "INC-1", (size_t)-1);
    o->incident.severity = LH_SEV_CRITICAL;
    o->incident.title = lh_event_str(o, "5xx spike", (size_t)-1);
    ca->outcome = o;
    add_suspect(ca, "D-12", "api", "1.0.12", "1.0.11");
    return ca;
}

START_TEST(first_revision_as_before)
{
    /* revision 1 (or 0 from an older hub), no rollback targets: the format tail always had */
    for (uint32_t rev = 0; rev <= 1; rev++) {
        lh_correlated_t *ca = alert(rev);
        char *t = printed(ca);
        ck_assert_str_eq(
            t, "2026-11-26T10:00:00Z #7 ca-0123 api/prod incident INC-1 (critical): 5xx spike\n"
               "  1. deploy D-12 api 1.0.12, 5m before, score 0.90; roll back to 1.0.11\n");
        free(t);
        lh_correlated_destroy(&ca);
    }
}
END_TEST

START_TEST(revision_changes_and_rollbacks)
{
    lh_correlated_t *ca = alert(2);
    ck_assert_int_eq(lh_correlated_add_change(ca, "a new suspect: D-20 of web"), 0);
    ck_assert_int_eq(lh_correlated_add_change(ca, "the top suspect changed"), 0);
    add_suspect(ca, "W-20", "web", "2.1.0", "2.0.0");
    add_suspect(ca, "B-3", "db", "3.1", NULL);
    add_rollback(ca, "api", "1.0.11", "1.0.12", 0);
    add_rollback(ca, "web", "2.0.0", "2.1.0", 1);
    add_rollback(ca, "db", NULL, "3.1", 0);
    add_rollback(ca, "cache", NULL, NULL, 0);
    char *t = printed(ca);
    ck_assert_str_eq(
        t, "2026-11-26T10:00:00Z #7 ca-0123 rev 2 api/prod incident INC-1 (critical): 5xx spike\n"
           "  changed: a new suspect: D-20 of web; the top suspect changed\n"
           "  1. deploy D-12 api 1.0.12, 5m before, score 0.90; replaced 1.0.11\n"
           "  2. deploy W-20 web 2.1.0, 5m before, score 0.90; replaced 2.0.0\n"
           "  3. deploy B-3 db 3.1, 5m before, score 0.90\n"
           "  roll back api to 1.0.11\n"
           "  roll back web to 2.0.0 (from history)\n"
           "  no known good version of db before 3.1\n"
           "  no known good version of cache\n");
    free(t);
    lh_correlated_destroy(&ca);
}
END_TEST

START_TEST(resolved_final_revision)
{
    lh_correlated_t *ca = alert(3);
    ca->resolved = 1;
    ca->resolved_ns = T0 + 3600 * LH_NS_PER_SEC;
    ca->late = 1;
    ca->suspects[0].previous_version_derived = 1;
    ck_assert_int_eq(lh_correlated_add_change(ca, "resolved"), 0);
    char *t = printed(ca);
    ck_assert_str_eq(
        t, "2026-11-26T10:00:00Z #7 ca-0123 rev 3 RESOLVED api/prod incident INC-1 (critical): "
           "5xx spike\n"
           "  changed: resolved\n"
           "  1. deploy D-12 api 1.0.12, 5m before, score 0.90; roll back to 1.0.11 "
           "(from history)\n"
           "  (late: the deploy arrived after the incident)\n");
    free(t);

    /* resolved in its first revision: no revision number, still RESOLVED */
    ca->revision = 1;
    t = printed(ca);
    ck_assert_msg(strncmp(t, "2026-11-26T10:00:00Z #7 ca-0123 RESOLVED api/prod ", 50) == 0, "%s",
                  t);
    free(t);
    lh_correlated_destroy(&ca);
}
END_TEST

/* a busy window: the suspects left out are counted under the listed ones */
START_TEST(more_suspects_counted)
{
    lh_correlated_t *ca = alert(1);
    ca->more_suspects = 1287;
    char *t = printed(ca);
    ck_assert_str_eq(
        t, "2026-11-26T10:00:00Z #7 ca-0123 api/prod incident INC-1 (critical): 5xx spike\n"
           "  1. deploy D-12 api 1.0.12, 5m before, score 0.90; roll back to 1.0.11\n"
           "  and 1287 more changes in the window\n");
    free(t);
    lh_correlated_destroy(&ca);
}
END_TEST

int
main(void)
{
    Suite *s = suite_create("tail");
    const lh_test_case_t tests[] = {
        {"first_revision", first_revision_as_before, 0, 1},
        {"revision_changes_rollbacks", revision_changes_and_rollbacks, 0, 1},
        {"resolved", resolved_final_revision, 0, 1},
        {"more_suspects", more_suspects_counted, 0, 1},
    };
    lh_test_add_cases(s, tests, LH_TEST_COUNT(tests), 30, NULL, NULL);
    return lh_test_run_suite(s);
}
