/*
 * codec_pagerduty.c - PagerDuty v3 webhooks (docs/sources.md, PagerDuty): incident.triggered,
 * acknowledged, priority_updated, reopened and resolved into incident events; every other event
 * type ignored with a reason.
 *
 * Identity: the event id is "pd-" + the X-Webhook-Id header, which PagerDuty repeats on every
 * delivery attempt of one webhook, so a redelivery dedupes; a body that came without it gets
 * "pd-" + the webhook event's id (event.id). The incident is "pd-" + the incident's id, one
 * outcome across its lifecycle.
 *
 * Mapping: service = [source.pagerduty] services' name for the PagerDuty service id, else the
 * service's summary (its name); environment = [sources] default_environment (PagerDuty has
 * none); severity = the priority (P1 critical, P2 error, P3 warning, P4 and P5 info), else the
 * urgency (high critical, low warning); actor = the agent's summary.
 */
#include <stdio.h>
#include <string.h>

#include "codec_internal.h"
#include "loophub/error.h"
#include "loophub/timeutil.h"

int
lh__is_pagerduty(json_t *obj)
{
    json_t *e = json_object_get(obj, "event");
    return json_is_object(e) && json_is_string(json_object_get(e, "event_type")) &&
           json_is_string(json_object_get(e, "resource_type"));
}

static lh_severity_t
severity(json_t *inc)
{
    const char *p = lh__jstr(inc, "priority.summary"), *u = lh__jstr(inc, "urgency");
    if (p && (p[0] == 'P' || p[0] == 'p') && p[1] >= '1' && p[1] <= '5' && !p[2]) {
        static const lh_severity_t by[] = {LH_SEV_CRITICAL, LH_SEV_ERROR, LH_SEV_WARNING,
                                           LH_SEV_INFO, LH_SEV_INFO};
        return by[p[1] - '1'];
    }
    if (u && !strcmp(u, "high"))
        return LH_SEV_CRITICAL;
    if (u && !strcmp(u, "low"))
        return LH_SEV_WARNING;
    return LH_SEV_UNSPECIFIED;
}

int
lh__pagerduty_decode(json_t *obj, const lh__src_msg_t *m, lh_decode_sink_fn sink, void *arg)
{
    json_t *e = json_object_get(obj, "event");
    const char *eid = lh__jstr(e, "id"), *type = lh__jstr(e, "event_type");
    char id[160] = "";
    if (m->delivery || eid)
        snprintf(id, sizeof(id), "pd-%s", m->delivery ? m->delivery : eid);
    const char *idp = id[0] ? id : NULL;
    char why[LH__WHY_LEN];
#define FAIL(code, ...)                                                                            \
    do {                                                                                           \
        snprintf(why, sizeof(why), __VA_ARGS__);                                                   \
        sink(NULL, (code), idp, why, arg);                                                         \
        return 1;                                                                                  \
    } while (0)
    if (!json_is_object(e))
        FAIL(LH_EMISSING, "field 'event' is missing: not a PagerDuty v3 webhook");
    if (!type)
        FAIL(LH_EMISSING, "field 'event.event_type' is missing");
    if (!strcmp(type, "pagey.ping"))
        return lh__source_ignore(sink, arg, idp, "pagey.ping: the webhook reaches loophub");
    lh_incident_state_t state;
    if (!strcmp(type, "incident.triggered") || !strcmp(type, "incident.reopened") ||
        !strcmp(type, "incident.acknowledged") || !strcmp(type, "incident.priority_updated"))
        state = LH_INCIDENT_DETECTED;
    else if (!strcmp(type, "incident.resolved"))
        state = LH_INCIDENT_RESOLVED;
    else
        return lh__source_ignore(sink, arg, idp,
                                 "%s: not an event loophub reads (incident.triggered, "
                                 "acknowledged, priority_updated, reopened, resolved are)",
                                 type);
    if (!id[0])
        FAIL(LH_EMISSING, "field 'event.id' is missing (and no X-Webhook-Id header)");
    json_t *inc = json_object_get(e, "data");
    const char *iid = lh__jstr(inc, "id");
    if (!json_is_object(inc) || !iid)
        FAIL(LH_EMISSING, "field 'event.data.id' is missing: the incident is not named");
    const char *ts = lh__jstr(e, "occurred_at");
    int64_t t = 0;
    if (!ts || lh_time_parse(ts, &t) < 0)
        FAIL(LH_EDECODE, "field 'event.occurred_at' is missing or not an RFC 3339 time");
    const char *sid = lh__jstr(inc, "service.id"), *svc = lh__jstr(inc, "service.summary");
    char mapped[256];
    if (sid && m->conf && lh__map_lookup(m->conf->pagerduty_services, sid, mapped, sizeof(mapped)))
        svc = mapped;
    if (!svc)
        FAIL(LH_EMISSING, "field 'event.data.service.summary' is missing: it names the service");
#undef FAIL
    char incident[160];
    snprintf(incident, sizeof(incident), "pd-%s", iid);
    lh_event_t *ev = lh_event_new();
    if (!ev)
        return LH_ENOMEM;
    ev->kind = LH_KIND_INCIDENT;
    ev->time_ns = t;
    ev->incident.state = state;
    ev->incident.severity = severity(inc);
    const char *url = lh__jstr(inc, "html_url"), *prio = lh__jstr(inc, "priority.summary");
    const char *urg = lh__jstr(inc, "urgency");
    int rc = 0;
    if (lh__event_set_str(ev, &ev->id, id) < 0 ||
        lh__event_set_str(ev, &ev->source, "pagerduty") < 0 ||
        lh__event_set_str(ev, &ev->service, svc) < 0 ||
        lh__event_set_str(ev, &ev->environment, lh__source_env(m)) < 0 ||
        lh__event_set_str(ev, &ev->actor, lh__jstr(e, "agent.summary")) < 0 ||
        lh__event_set_str(ev, &ev->incident.incident_id, incident) < 0 ||
        lh__event_set_str(ev, &ev->incident.title, lh__jstr(inc, "title")) < 0 ||
        lh_event_add_label(ev, "pagerduty_event", 15, type, strlen(type)) < 0 ||
        (sid && lh_event_add_label(ev, "pagerduty_service", 17, sid, strlen(sid)) < 0) ||
        (prio && lh_event_add_label(ev, "priority", 8, prio, strlen(prio)) < 0) ||
        (urg && lh_event_add_label(ev, "urgency", 7, urg, strlen(urg)) < 0) ||
        (url && lh_event_add_label(ev, "url", 3, url, strlen(url)) < 0))
        rc = LH_ENOMEM;
    if (rc) {
        lh_event_destroy(&ev);
        return rc;
    }
    sink(ev, 0, ev->id, NULL, arg);
    return 1;
}
