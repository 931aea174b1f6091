/*
 * check_score.c - the suspect score on its own (hub/correlate/score.c): the weights and the
 * worked examples of docs/correlation.md, the recency bounds, clamping and rounding. No store:
 * the rule users read is checked as a pure function.
 */
#include <check.h>

#include "loophub/timeutil.h"
#include "score.h"
#include "testutil.h"

#define MIN (60 * LH_NS_PER_SEC)
#define WINDOW (120 * MIN)

START_TEST(docs_worked_examples)
{
    /* docs: a same-service deploy on the affected hosts 5 minutes before an incident scores
     * 0.50 + 0.15 + 0.25 x (1 - 5m/2h) ~ 0.89 */
    ck_assert_double_eq(lh__score(LH__REL_SERVICE | LH__REL_HOSTS, 5 * MIN, WINDOW), 0.890);
    /* docs: a deploy of another service on a shared host 5 minutes before scores about 0.49 */
    ck_assert_double_eq(lh__score(LH__REL_HOSTS, 5 * MIN, WINDOW), 0.490);
}
END_TEST

START_TEST(relation_weights)
{
    /* at the end of the window recency adds nothing: the relation's weight alone */
    ck_assert_double_eq(lh__score(LH__REL_ARTIFACT, WINDOW, WINDOW), 0.600);
    ck_assert_double_eq(lh__score(LH__REL_SERVICE, WINDOW, WINDOW), 0.500);
    ck_assert_double_eq(lh__score(LH__REL_HOSTS, WINDOW, WINDOW), 0.250);
    /* the artifact outranks the service; shared hosts add only next to one of them */
    ck_assert_double_eq(lh__score(LH__REL_ARTIFACT | LH__REL_SERVICE, WINDOW, WINDOW), 0.600);
    ck_assert_double_eq(lh__score(LH__REL_SERVICE | LH__REL_HOSTS, WINDOW, WINDOW), 0.650);
    ck_assert_double_eq(lh__score(LH__REL_ARTIFACT | LH__REL_HOSTS, WINDOW, WINDOW), 0.750);
}
END_TEST

START_TEST(recency_bounds)
{
    /* linear over the window: half way adds half of 0.25 */
    ck_assert_double_eq(lh__score(LH__REL_SERVICE, WINDOW / 2, WINDOW), 0.625);
    /* a lead of 0 or less (clock skew) counts as 0; beyond the window as the window */
    ck_assert_double_eq(lh__score(LH__REL_SERVICE, 0, WINDOW), 0.750);
    ck_assert_double_eq(lh__score(LH__REL_SERVICE, -10 * MIN, WINDOW), 0.750);
    ck_assert_double_eq(lh__score(LH__REL_SERVICE, 3 * WINDOW, WINDOW), 0.500);
    /* the highest score is 1: artifact + hosts + full recency = 0.60 + 0.15 + 0.25 */
    ck_assert_double_eq(lh__score(LH__REL_ARTIFACT | LH__REL_HOSTS, 0, WINDOW), 1.000);
    /* three decimals: 0.50 + 0.25 x (1 - 1/7) = 0.714285... */
    ck_assert_double_eq(lh__score(LH__REL_SERVICE, WINDOW / 7, WINDOW), 0.714);
}
END_TEST

static Suite *
score_suite(void)
{
    Suite *s = suite_create("score");
    const lh_test_case_t tests[] = {
        {"docs_examples", docs_worked_examples, 0, 0},
        {"weights", relation_weights, 0, 0},
        {"recency", recency_bounds, 0, 0},
    };
    lh_test_add_cases(s, tests, LH_TEST_COUNT(tests), 10, NULL, NULL);
    return s;
}

int
main(void)
{
    return lh_test_run_suite(score_suite());
}
