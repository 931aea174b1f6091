/*
 * unapproved.c - the require_approved_ticket rule: in the environments it names, a change
 * whose tickets did not approve it before it started raises one `unapproved_change` alert.
 *
 * Checked at each event of a change in such an environment until the alert exists (its id is a
 * hash of the environment and deploy id, so it is raised once per change, whatever events come
 * after, replays included). "Approved before it started" is lh_change_approval() (approval.h),
 * the definition `loophub audit` shows, over the events of the change's tickets stored when the
 * event arrives: a ticket approved later does not withdraw the alert (audit then says "approved
 * after the deploy"). The alert goes through the outbox like any other, so every sink gets it;
 * it names the rule and why the change fails it.
 */
#include <stdlib.h>
#include <string.h>

#include "approval.h"
#include "correlator_internal.h"
#include "correlator_sql.h"
#include "hash.h"
#include "loophub/error.h"
#include "loophub/log.h"

#define COMPONENT "correlator"
#define MAX_TICKET_EVENTS 256 /* LH_CSQL_CHANGE_TICKETS's LIMIT */

int
lh__c_requires_ticket(const lh_correlator_t *c, const char *env)
{
    const char *p = c->o.require_approved_ticket;
    size_t n = env ? strlen(env) : 0;
    while (p && *p && n) {
        const char *e = strchr(p, ',');
        size_t k = e ? (size_t)(e - p) : strlen(p);
        if (k == n && !memcmp(p, env, n))
            return 1;
        p = e ? e + 1 : NULL;
    }
    return 0;
}

/* The approval of change ch (started at ch->time) by its tickets' events stored now. */
static int
approval_of(lh_correlator_t *c, const change_t *ch, const char *change_ticket, lh_approval_t *out,
            const char **by)
{
    sqlite3_stmt *s = c->stmt[LH_CSQL_CHANGE_TICKETS];
    if (lh__c_bind_text(s, 1, ch->deploy_id) || lh__c_bind_text(s, 2, change_ticket))
        return lh__c_sql_fail(c, LH_CSQL_CHANGE_TICKETS);
    int64_t seqs[MAX_TICKET_EVENTS];
    size_t n = 0;
    int rc;
    while (n < MAX_TICKET_EVENTS && (rc = sqlite3_step(s)) == SQLITE_ROW)
        seqs[n++] = sqlite3_column_int64(s, 0);
    if (n < MAX_TICKET_EVENTS && rc != SQLITE_DONE)
        return lh__c_sql_fail(c, LH_CSQL_CHANGE_TICKETS);
    lh__c_sql_done(s);
    lh_event_t *ev[MAX_TICKET_EVENTS];
    size_t m = 0;
    rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        rc = lh__c_load_event(c, seqs[i], &ev[m]);
        if (rc == 0)
            m++;
        else if (rc == LH_EDECODE || rc == LH_ENOTFOUND)
            rc = 0; /* logged; an unreadable ticket approves nothing */
    }
    *by = NULL;
    if (rc == 0) {
        *out = lh_change_approval(ev, m, ch->time, by);
        /* *by points into an event about to go: keep it in the scratch */
        if (*by && !(*by = lh__c_scratch_strndup(&c->scratch, *by, strlen(*by))))
            rc = LH_ENOMEM;
    }
    for (size_t i = 0; i < m; i++)
        lh_event_destroy(&ev[i]);
    return rc;
}

/* Why change ch fails the rule, in words. */
static const char *
why(lh_correlator_t *c, const change_t *ch, lh_approval_t a, const char *by)
{
    switch (a) {
    case LH_APPROVED_AFTER:
        return lh__c_sfmt(&c->scratch, "%s approved it only after it started", by);
    case LH_APPROVAL_REJECTED:
        return lh__c_sfmt(&c->scratch, "%s rejected it", by);
    case LH_APPROVAL_UNDECIDED:
        return lh__c_sfmt(&c->scratch, "%s has not approved it", by);
    default:
        return lh__c_sfmt(&c->scratch, "no ticket links %s and it names no change ticket",
                          ch->deploy_id);
    }
}

int
lh__c_unapproved(lh_correlator_t *c, const change_t *ch, const lh_event_t *ev, int64_t seq,
                 int64_t now_ns)
{
    const char *env = ev->environment;
    uint64_t h = lh__hash64_update(LH__HASH64_SEED, env, strlen(env));
    h = lh__hash64_update(h, "\x1f", 1);
    h = lh__hash64_update(h, ch->deploy_id, strlen(ch->deploy_id));
    const char *id = lh__c_sfmt(&c->scratch, "ua-%016llx", (unsigned long long)lh__hash64_final(h));
    if (!id)
        return LH_ENOMEM;
    sqlite3_stmt *s = c->stmt[LH_CSQL_ALERT_EXISTS];
    if (lh__c_bind_text(s, 1, id))
        return lh__c_sql_fail(c, LH_CSQL_ALERT_EXISTS);
    int rc = sqlite3_step(s);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return lh__c_sql_fail(c, LH_CSQL_ALERT_EXISTS);
    lh__c_sql_done(s);
    if (rc == SQLITE_ROW)
        return 0; /* raised already */
    lh_approval_t a;
    const char *by = NULL;
    if ((rc = approval_of(c, ch, ev->deploy.change_ticket, &a, &by)) < 0)
        return rc;
    if (a == LH_APPROVED)
        return 0;

    lh_correlated_t *ca = lh_correlated_new();
    if (!ca)
        return LH_ENOMEM;
    rc = LH_ENOMEM;
    ca->kind = LH_CA_UNAPPROVED_CHANGE;
    ca->revision = 1;
    ca->created_ns = now_ns;
    lh_suspect_t *sp = NULL;
    const char *rule = lh__c_sfmt(&c->scratch,
                                  "require_approved_ticket = %s: a change in %s needs a ticket "
                                  "that approved it before it started",
                                  c->o.require_approved_ticket, env);
    const char *reason = why(c, ch, a, by);
    if (!rule || !reason || lh__c_dup_str(&ca->id, id) ||
        lh__c_dup_str(&ca->service, ch->service) || lh__c_dup_str(&ca->environment, env) ||
        !(ca->outcome = lh_event_clone(ev)) || !(sp = lh_correlated_add_suspect(ca)) ||
        lh__c_dup_str(&sp->deploy_id, ch->deploy_id) ||
        lh__c_dup_str(&sp->event_id, ch->event_id) || lh__c_dup_str(&sp->service, ch->service) ||
        lh__c_dup_str(&sp->environment, env) || lh__c_dup_str(&sp->version, ch->version) ||
        lh__c_dup_str(&sp->previous_version, ch->previous_version) ||
        lh__c_dup_str(&sp->actor, ch->actor) || lh__c_dup_str(&sp->commit, ch->commit) ||
        lh__c_dup_str(&sp->artifact, ch->artifact) || lh_suspect_add_reason(sp, rule) < 0 ||
        lh_suspect_add_reason(sp, reason) < 0)
        goto out;
    ca->outcome->raw = NULL; /* the original bytes are the store's, not the alert's */
    ca->outcome->raw_len = 0;
    sp->deploy_time_ns = ch->time;
    sp->score = 1.0;
    sp->previous_version_derived = ch->previous_version && ch->prev_derived;
    const char *p = ch->hosts, *t;
    size_t n;
    while ((t = lh__c_next_host(&p, &n))) {
        const char *hst = lh__c_scratch_strndup(&c->scratch, t, n);
        if (!hst || lh_suspect_add_host(sp, hst) < 0)
            goto out;
    }
    int64_t aseq = 0;
    rc = lh__c_write_alert(c, ca, ch->first_seq, seq, 0, &aseq);
    if (rc > 0)
        lh_log(LH_LOG_INFO, COMPONENT, "unapproved change %s in %s (%s): alert %s", ch->deploy_id,
               env, reason, id);
out:
    lh_correlated_destroy(&ca);
    return rc;
}
