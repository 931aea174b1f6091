/*
 * score.c - the suspect score (see score.h and docs/correlation.md). Kept apart from the
 * correlator's store work so the rule users read in the docs is the rule the tests check.
 */
#include "score.h"

double
lh__score(int rel, int64_t lead_ns, int64_t window_ns)
{
    double score;
    if (rel & LH__REL_ARTIFACT)
        score = LH__SCORE_ARTIFACT;
    else if (rel & LH__REL_SERVICE)
        score = LH__SCORE_SERVICE;
    else
        score = LH__SCORE_HOST_ONLY;
    if ((rel & LH__REL_HOSTS) && (rel & (LH__REL_ARTIFACT | LH__REL_SERVICE)))
        score += LH__SCORE_HOSTS_TOO;
    double frac = window_ns > 0 ? (double)lead_ns / (double)window_ns : 1.0;
    if (frac < 0)
        frac = 0;
    if (frac > 1)
        frac = 1;
    score += LH__SCORE_RECENCY * (1.0 - frac);
    if (score > 1)
        score = 1;
    if (score < 0)
        score = 0;
    return (double)(int64_t)(score * 1000.0 + 0.5) / 1000.0;
}
