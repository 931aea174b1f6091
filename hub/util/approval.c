/*
 * approval.c - whether tickets approved a change (approval.h).
 */
#include "approval.h"

#include <string.h>

const char *
lh_approval_name(lh_approval_t a)
{
    static const char *const names[] = {"approved", "approved after the deploy", "rejected",
                                        "not approved", "no ticket"};
    return (unsigned)a <= LH_APPROVAL_NO_TICKET ? names[a] : "no ticket";
}

static const char *
ticket_of(const lh_event_t *ev)
{
    return ev->ticket.ticket_id ? ev->ticket.ticket_id : ev->id;
}

lh_approval_t
lh_change_approval(lh_event_t *const *ev, size_t n, int64_t started_ns, const char **by)
{
    lh_approval_t best = LH_APPROVAL_NO_TICKET;
    *by = NULL;
    for (size_t i = 0; i < n; i++) {
        const char *tid = ticket_of(ev[i]);
        int seen = 0; /* each ticket once, at its first event */
        for (size_t k = 0; k < i && !seen; k++)
            seen = !strcmp(ticket_of(ev[k]), tid);
        if (seen)
            continue;
        int before = 0, ever = 0, incident = 0;
        for (size_t k = i; k < n; k++) {
            if (strcmp(ticket_of(ev[k]), tid))
                continue;
            int st = (int)ev[k]->ticket.state;
            incident |= ev[k]->ticket.type == LH_TICKET_INCIDENT;
            if (st != LH_TICKET_APPROVED && st != LH_TICKET_REJECTED)
                continue;
            ever = st;
            if (ev[k]->time_ns <= started_ns)
                before = st;
        }
        if (incident)
            continue;
        lh_approval_t a = before == LH_TICKET_APPROVED ? LH_APPROVED
                          : ever == LH_TICKET_APPROVED ? LH_APPROVED_AFTER
                          : ever == LH_TICKET_REJECTED ? LH_APPROVAL_REJECTED
                                                       : LH_APPROVAL_UNDECIDED;
        if (a < best) {
            best = a;
            *by = tid;
        }
    }
    return best;
}
