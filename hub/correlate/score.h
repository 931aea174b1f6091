/*
 * score.h - how suspect a change is for an outcome: the relation between the two and the
 * score, as docs/correlation.md states them. Pure functions of their arguments (no store, no
 * clock), so the rule is tested on its own (tests/check_score.c).
 */
#ifndef LOOPHUB_SCORE_H
#define LOOPHUB_SCORE_H

#include <stdint.h>

/* How a change relates to an outcome; a change may relate in several ways. */
enum {
    LH__REL_SERVICE = 1,  /* same service (and environment: candidates are per environment) */
    LH__REL_HOSTS = 2,    /* the change ran on at least one of the outcome's hosts */
    LH__REL_ARTIFACT = 4, /* the outcome names the artifact the change shipped */
};

/* The weights of docs/correlation.md's table. */
#define LH__SCORE_ARTIFACT 0.60
#define LH__SCORE_SERVICE 0.50
#define LH__SCORE_HOST_ONLY 0.25
#define LH__SCORE_HOSTS_TOO 0.15
#define LH__SCORE_RECENCY 0.25

/* The score of a change related by rel (LH__REL_* flags, not 0) that came lead_ns before the
 * outcome, in a window of window_ns (> 0): the relation's weight, plus LH__SCORE_HOSTS_TOO when
 * hosts are shared besides an artifact or service relation, plus LH__SCORE_RECENCY scaled down
 * linearly over the window (a lead outside 0..window counts as its nearest end). Clamped to
 * 0..1 and rounded to three decimals. */
double lh__score(int rel, int64_t lead_ns, int64_t window_ns);

#endif
