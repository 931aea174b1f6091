/*
 * notify_change.c - PagerDuty's change events (Events API v2, POST /v2/change/enqueue): every
 * deploy that finished (succeeded, failed, rolled back) told to PagerDuty, so its own "recent
 * changes" view of the service lists it beside the incidents (PagerDuty documents a change event
 * as routing_key, payload {summary, timestamp, source, custom_details} and links).
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loophub/error.h"
#include "loophub/timeutil.h"
#include "notify.h"

#define SUMMARY_MAX 1024

int
lh_notify_change_wanted(const lh_event_t *ev)
{
    if (ev->kind != LH_KIND_DEPLOY)
        return 0;
    lh_deploy_status_t s = ev->deploy.status;
    return s == LH_DEPLOY_SUCCEEDED || s == LH_DEPLOY_FAILED || s == LH_DEPLOY_ROLLED_BACK;
}

static int
put(json_t *o, const char *k, const char *v)
{
    return v && *v ? json_object_set_new(o, k, json_string(v)) : 0;
}

int
lh_notify_change_body(const lh_event_t *ev, const char *routing_key, const char *hub_url,
                      lh_buf_t *out)
{
    char summary[SUMMARY_MAX + 1], t[40];
    const char *st = lh_deploy_status_name(ev->deploy.status);
    int n = snprintf(summary, sizeof(summary), "%s %s %s in %s%s%s", ev->service,
                     ev->deploy.version ? ev->deploy.version : ev->deploy.deploy_id,
                     ev->deploy.status == LH_DEPLOY_SUCCEEDED ? "deployed"
                     : ev->deploy.status == LH_DEPLOY_FAILED  ? "failed to deploy"
                                                              : "rolled back",
                     ev->environment ? ev->environment : "?", ev->actor ? " by " : "",
                     ev->actor ? ev->actor : "");
    if (n < 0 || lh_time_format(ev->time_ns, t, sizeof(t)) < 0)
        return LH_EINVAL;
    /* a summary cut at SUMMARY_MAX must not end inside a UTF-8 sequence: drop the
     * continuation bytes at its end and the lead byte they belong to */
    size_t len = strlen(summary);
    if (n > SUMMARY_MAX) {
        while (len > 0 && ((unsigned char)summary[len - 1] & 0xc0) == 0x80)
            summary[--len] = '\0';
        if (len > 0 && (unsigned char)summary[len - 1] >= 0xc0)
            summary[--len] = '\0';
    }
    /* root owns p, p owns cd, from the start: one decref frees all on every path */
    json_t *root = json_object(), *p = json_object(), *cd = json_object();
    int rc = root && p && cd ? 0 : LH_ENOMEM;
    if (rc == 0 && json_object_set_new(root, "payload", p) == 0) {
        p = NULL;
        json_t *pp = json_object_get(root, "payload");
        if (json_object_set_new(pp, "custom_details", cd) == 0) {
            cd = NULL;
            json_t *d = json_object_get(pp, "custom_details");
            rc = put(root, "routing_key", routing_key) | put(pp, "summary", summary) |
                 put(pp, "timestamp", t) | put(pp, "source", "loophub") |
                 put(d, "deploy_id", ev->deploy.deploy_id) | put(d, "service", ev->service) |
                 put(d, "environment", ev->environment) | put(d, "status", st) |
                 put(d, "version", ev->deploy.version) |
                 put(d, "previous_version", ev->deploy.previous_version) |
                 put(d, "commit", ev->deploy.commit) | put(d, "actor", ev->actor) |
                 put(d, "change_ticket", ev->deploy.change_ticket);
        } else {
            cd = NULL; /* stolen even on failure */
            rc = LH_ENOMEM;
        }
    } else if (rc == 0) {
        p = NULL;
        rc = LH_ENOMEM;
    }
    if (rc == 0 && hub_url) {
        char href[1600], id[900];
        size_t k = 0;
        static const char hex[] = "0123456789ABCDEF";
        for (const unsigned char *q = (const unsigned char *)ev->deploy.deploy_id;
             q && *q && k + 4 < sizeof(id); q++) {
            if ((*q >= 'A' && *q <= 'Z') || (*q >= 'a' && *q <= 'z') || (*q >= '0' && *q <= '9') ||
                strchr("-._~", *q)) {
                id[k++] = (char)*q;
            } else { /* percent-encoded, as a query value */
                id[k++] = '%';
                id[k++] = hex[*q >> 4];
                id[k++] = hex[*q & 15];
            }
        }
        id[k] = '\0';
        snprintf(href, sizeof(href), "%.600s/change?id=%s", hub_url, id);
        json_t *links = json_array();
        if (!links || json_object_set_new(root, "links", links) < 0)
            rc = LH_ENOMEM;
        json_t *l = rc == 0 ? json_object() : NULL;
        if (rc == 0 && (!l || json_array_append_new(links, l) < 0 || put(l, "href", href) ||
                        put(l, "text", "loophub: the change")))
            rc = LH_ENOMEM;
    }
    char *s = rc == 0 ? json_dumps(root, JSON_COMPACT) : NULL;
    if (rc == 0 && (!s || lh_buf_append(out, s, strlen(s)) < 0))
        rc = LH_ENOMEM;
    free(s);
    json_decref(cd);
    json_decref(p);
    json_decref(root);
    return rc < 0 ? rc : (rc ? LH_ENOMEM : 0);
}
