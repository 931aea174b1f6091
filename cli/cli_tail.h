/*
 * cli_tail.h - the line `loophub tail` prints for one correlated alert, apart from the
 * subscription so the format can be tested without a hub.
 */
#ifndef LOOPHUB_CLI_TAIL_H
#define LOOPHUB_CLI_TAIL_H

#include <stdio.h>

#include "loophub/correlated.h"

/* Writes ca to out in tail's human form: a headline (time, seq, revision when > 1, RESOLVED,
 * service/environment, the outcome), what the revision changed, the ranked suspects with their
 * reasons, the rollback target per suspect service, and a note when the change came late. */
void lh_cli_tail_print(FILE *out, const lh_correlated_t *ca);

#endif
