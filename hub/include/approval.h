/*
 * approval.h - whether tickets approved a change (docs/correlation.md "Approval"): the one
 * definition `loophub audit` and the correlator's require_approved_ticket rule both use.
 */
#ifndef LOOPHUB_APPROVAL_H
#define LOOPHUB_APPROVAL_H

#include <stddef.h>
#include <stdint.h>

#include "loophub/event.h"

typedef enum {
    LH_APPROVED = 0,           /* a ticket's latest decision when the change started: approved */
    LH_APPROVED_AFTER = 1,     /* approved only after the change started */
    LH_APPROVAL_REJECTED = 2,  /* a ticket's latest decision: rejected */
    LH_APPROVAL_UNDECIDED = 3, /* tickets, none approved or rejected it */
    LH_APPROVAL_NO_TICKET = 4, /* no change or task ticket */
} lh_approval_t;

/* "approved", "approved after the deploy", "rejected", "not approved", "no ticket". */
const char *lh_approval_name(lh_approval_t a);

/* The approval of a change started at started_ns by the ticket events ev[0..n) (time order; any
 * mix of tickets: each is told apart by its ticket id, else its event id). A ticket's decision
 * at a moment is its latest approved or rejected event at or before it; a ticket any of whose
 * events says it is an incident ticket approves nothing. The best of the tickets wins, in the
 * order of lh_approval_t; *by is the deciding ticket's id (NULL for no ticket; it points into
 * the events). */
lh_approval_t lh_change_approval(lh_event_t *const *ev, size_t n, int64_t started_ns,
                                 const char **by);

#endif
