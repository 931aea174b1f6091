/*
 * codec_jira.c - Jira webhooks (docs/sources.md, Jira): jira:issue_created and jira:issue_updated
 * into ticket events; issue_deleted, comments (comment_* events, and the issue updates Jira sends
 * for a comment that change no field) and every other webhookEvent ignored with a reason.
 *
 * Identity: an event's id is "jira-" + the X-Atlassian-Webhook-Identifier header, which Jira
 * keeps across its retries; a body that came without it gets "jira-<issue id>-<timestamp>". The
 * ticket is the issue key (JRA-20002) in every event of the issue, so lh_change_approval() sees
 * them as one ticket, and a deploy that names the key as its change_ticket finds it.
 *
 * Mapping: type = CHANGE when the issue type is one of [source.jira] change_types ("Change,
 * Change Request"), INCIDENT when it is "Incident", TASK otherwise. State = APPROVED or REJECTED
 * when the update moves the status to one of [source.jira] approved ("Approved") or rejected
 * ("Rejected,Declined"), CLOSED when it moves it into the "done" status category, CREATED for a
 * new issue (APPROVED when it is created in an approved status), UPDATED otherwise. Links = the
 * value of [source.jira] deploy_field (a field id such as customfield_10050 holding the deploy
 * ids the change is for: a string, comma- or blank-separated, or an array); the issue's labels are
 * not links. Service = the value of [source.jira] service_field, else the project key (else the
 * key's prefix); environment = [sources] default_environment; actor = the user's displayName;
 * time = the webhook's timestamp (ms); url = the issue's browse page.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "codec_internal.h"
#include "loophub/error.h"
#include "loophub/timeutil.h"

int
lh__is_jira(json_t *obj)
{
    const char *w = json_string_value(json_object_get(obj, "webhookEvent"));
    return w && *w &&
           (!strncmp(w, "jira:", 5) || json_is_object(json_object_get(obj, "issue")) ||
            json_is_object(json_object_get(obj, "comment")) ||
            json_is_integer(json_object_get(obj, "timestamp")));
}

/* A field's value as text: a string, a number, or an option object's value/name/key. */
static const char *
field_text(json_t *v, char *buf, size_t len)
{
    if (json_is_string(v))
        return json_string_length(v) ? json_string_value(v) : NULL;
    if (json_is_integer(v)) {
        snprintf(buf, len, "%lld", (long long)json_integer_value(v));
        return buf;
    }
    if (json_is_object(v)) {
        static const char *const keys[] = {"value", "name", "key"};
        for (size_t i = 0; i < 3; i++) {
            const char *s = lh__jstr(v, keys[i]);
            if (s)
                return s;
        }
    }
    return NULL;
}

/* Adds every id of a string "a, b c" as a link. 0 or LH_ENOMEM. */
static int
add_links_of(lh_event_t *ev, const char *s)
{
    while (s && *s) {
        size_t skip = strspn(s, ", \t\r\n");
        s += skip;
        size_t n = strcspn(s, ", \t\r\n");
        if (n && lh_event_add_link(ev, s, n) < 0)
            return LH_ENOMEM;
        s += n;
    }
    return 0;
}

/* The links of the deploy field: a string, a number, an option, or an array of them. */
static int
add_links(lh_event_t *ev, json_t *v)
{
    char buf[32];
    if (json_is_array(v)) {
        size_t i;
        json_t *e;
        json_array_foreach(v, i, e)
        {
            if (add_links_of(ev, field_text(e, buf, sizeof(buf))) < 0)
                return LH_ENOMEM;
        }
        return 0;
    }
    return add_links_of(ev, field_text(v, buf, sizeof(buf)));
}

static int
add_label(lh_event_t *ev, const char *k, const char *v)
{
    return v ? lh_event_add_label(ev, k, strlen(k), v, strlen(v)) : 0;
}

/* The last changelog item of field (case-insensitive), NULL. */
static json_t *
change_of(json_t *obj, const char *field)
{
    json_t *items = json_object_get(json_object_get(obj, "changelog"), "items"), *found = NULL;
    size_t i;
    json_t *it;
    json_array_foreach(items, i, it)
    {
        const char *f = lh__jstr(it, "field");
        if (!f)
            f = lh__jstr(it, "fieldId");
        if (f && !strcasecmp(f, field))
            found = it;
    }
    return found;
}

int
lh__jira_decode(json_t *obj, const lh__src_msg_t *m, lh_decode_sink_fn sink, void *arg)
{
    const lh_sources_conf_t *c = m->conf;
    const char *we = lh__jstr(obj, "webhookEvent");
    json_t *issue = json_object_get(obj, "issue");
    json_t *fields = json_object_get(issue, "fields");
    json_t *ts = json_object_get(obj, "timestamp");
    char iidbuf[32];
    const char *iid = field_text(json_object_get(issue, "id"), iidbuf, sizeof(iidbuf));
    char id[192] = "";
    if (m->delivery)
        snprintf(id, sizeof(id), "jira-%s", m->delivery);
    else if (iid && json_is_number(ts))
        snprintf(id, sizeof(id), "jira-%s-%lld", iid, (long long)json_number_value(ts));
    const char *idp = id[0] ? id : NULL;
    char why[LH__WHY_LEN];
#define FAIL(code, ...)                                                                            \
    do {                                                                                           \
        snprintf(why, sizeof(why), __VA_ARGS__);                                                   \
        sink(NULL, (code), idp, why, arg);                                                         \
        return 1;                                                                                  \
    } while (0)
    if (!we)
        FAIL(LH_EMISSING, "field 'webhookEvent' is missing: not a Jira webhook");
    int created = !strcmp(we, "jira:issue_created");
    if (!strcmp(we, "jira:issue_deleted"))
        return lh__source_ignore(sink, arg, idp,
                                 "jira:issue_deleted: a deleted issue approves nothing, and its "
                                 "earlier events stay");
    if (!created && strcmp(we, "jira:issue_updated"))
        return lh__source_ignore(sink, arg, idp,
                                 "%s: not an event loophub reads (jira:issue_created and "
                                 "jira:issue_updated are)",
                                 we);
    /* Jira also reports a comment as an issue update (issue_event_type_name issue_commented,
     * issue_comment_edited, issue_comment_deleted): one that changed no field is only talk */
    const char *itype = lh__jstr(obj, "issue_event_type_name");
    if (!created && itype && !strncmp(itype, "issue_comment", 13) &&
        json_array_size(json_object_get(json_object_get(obj, "changelog"), "items")) == 0)
        return lh__source_ignore(
            sink, arg, idp, "%s %s: a comment, which changes nothing of the ticket", we, itype);
    if (!json_is_object(issue))
        FAIL(LH_EMISSING, "field 'issue' is missing");
    const char *key = lh__jstr(issue, "key");
    if (!key)
        FAIL(LH_EMISSING, "field 'issue.key' is missing: it names the ticket");
    if (!json_is_number(ts) || json_number_value(ts) <= 0)
        FAIL(LH_EDECODE, "field 'timestamp' is missing or not a number (ms since the epoch)");
    double ms = json_number_value(ts);
    if (ms > 9.2e12) /* past int64 nanoseconds */
        FAIL(LH_EDECODE, "field 'timestamp' %g is out of range (ms since the epoch)", ms);
    if (!id[0])
        FAIL(LH_EMISSING, "field 'issue.id' is missing (and no X-Atlassian-Webhook-Identifier "
                          "header)");

    /* the type: the issue's, else the one an update changed it to */
    const char *type = lh__jstr(fields, "issuetype.name");
    json_t *tchange = change_of(obj, "issuetype");
    if (!type)
        type = lh__jstr(tchange, "toString");
    const char *change_types =
        c && c->jira_change_types ? c->jira_change_types : "Change,Change Request";
    lh_ticket_type_t tt = type && lh__glob_list_match(change_types, type) ? LH_TICKET_CHANGE
                          : type && !strcasecmp(type, "Incident")         ? LH_TICKET_INCIDENT
                                                                          : LH_TICKET_TASK;
    /* the state: what a status transition (or a new issue's status) says */
    const char *approved = c && c->jira_approved ? c->jira_approved : "Approved";
    const char *rejected = c && c->jira_rejected ? c->jira_rejected : "Rejected,Declined";
    json_t *schange = created ? NULL : change_of(obj, "status");
    const char *status = lh__jstr(schange, "toString");
    const char *cur = lh__jstr(fields, "status.name");
    const char *cat = lh__jstr(fields, "status.statusCategory.key");
    /* only a change ticket approves or rejects: a task moved to "Approved" decides no change */
    int change = tt == LH_TICKET_CHANGE;
    lh_ticket_state_t st;
    if (created)
        st = change && cur && lh__glob_list_match(approved, cur) ? LH_TICKET_APPROVED
                                                                 : LH_TICKET_CREATED;
    else if (change && status && lh__glob_list_match(approved, status))
        st = LH_TICKET_APPROVED;
    else if (change && status && lh__glob_list_match(rejected, status))
        st = LH_TICKET_REJECTED;
    else if (schange && cat && !strcmp(cat, "done"))
        st = LH_TICKET_CLOSED;
    else
        st = LH_TICKET_UPDATED;

    /* the service */
    const char *svc = NULL;
    char svcbuf[80], keybuf[64];
    if (c && c->jira_service_field)
        svc = field_text(json_object_get(fields, c->jira_service_field), svcbuf, sizeof(svcbuf));
    if (!svc)
        svc = lh__jstr(fields, "project.key");
    if (!svc) {
        size_t n = strcspn(key, "-");
        if (key[n] == '-' && n > 0 && n < sizeof(keybuf)) {
            memcpy(keybuf, key, n);
            keybuf[n] = 0;
            svc = keybuf;
        }
    }
    const char *actor = lh__jstr(obj, "user.displayName");
    if (!actor)
        actor = lh__jstr(obj, "user.accountId");
    if (!actor)
        actor = lh__jstr(obj, "user.name");
    /* the browse page: https://site/browse/KEY from https://site/rest/api/2/issue/ID */
    const char *self = lh__jstr(issue, "self"), *url = self;
    char urlbuf[600];
    const char *rest = self ? strstr(self, "/rest/api/") : NULL;
    if (rest && (size_t)snprintf(urlbuf, sizeof(urlbuf), "%.*s/browse/%s", (int)(rest - self), self,
                                 key) < sizeof(urlbuf))
        url = urlbuf;
#undef FAIL

    lh_event_t *ev = lh_event_new();
    if (!ev)
        return LH_ENOMEM;
    ev->kind = LH_KIND_TICKET;
    ev->time_ns = (int64_t)ms * LH_NS_PER_MS;
    ev->ticket.type = tt;
    ev->ticket.state = st;
    int rc = 0;
    if (lh__event_set_str(ev, &ev->id, id) < 0 || lh__event_set_str(ev, &ev->source, "jira") < 0 ||
        lh__event_set_str(ev, &ev->service, svc) < 0 ||
        lh__event_set_str(ev, &ev->environment, lh__source_env(m)) < 0 ||
        lh__event_set_str(ev, &ev->actor, actor) < 0 ||
        lh__event_set_str(ev, &ev->ticket.ticket_id, key) < 0 ||
        lh__event_set_str(ev, &ev->ticket.url, url) < 0 ||
        lh__event_set_str(ev, &ev->ticket.summary, lh__jstr(fields, "summary")) < 0 ||
        (c && c->jira_deploy_field &&
         add_links(ev, json_object_get(fields, c->jira_deploy_field)) < 0) ||
        add_label(ev, "jira_event", we) < 0 || add_label(ev, "issue_type", type) < 0 ||
        add_label(ev, "status", status ? status : cur) < 0 ||
        add_label(ev, "priority", lh__jstr(fields, "priority.name")) < 0 ||
        add_label(ev, "url", url) < 0)
        rc = LH_ENOMEM;
    if (rc) {
        lh_event_destroy(&ev);
        return rc;
    }
    sink(ev, 0, ev->id, NULL, arg);
    return 1;
}
