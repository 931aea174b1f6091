/*
 * workload.c - the benchmark's event stream: deterministic, in time order, with the mix of the
 * issue (90% monitoring alerts, 5% deploys, 4% incidents, 1% tickets over 1,000 services and 3
 * environments), built as lh_event_t through the event API and encoded with the hub's own codec,
 * so every payload is exactly what a publisher would send.
 *
 * Shape of each kind (the correlator's work depends on it, bench/README.md repeats it):
 *  - alerts: 8 rule names, severity info 40% / warning 40% / error 15% / critical 5%, firing 60% /
 *    resolved 40%; so about 11% of all events are outcome alerts (firing, error or above);
 *  - deploys: a change is two events sharing a deploy_id, "started" then "succeeded" (93%),
 *    "failed" (4%) or "rolled_back" (3%), with version, previous version, commit, artifact, the
 *    service's 3 hosts and a change ticket on half of them;
 *  - incidents: "detected" then "resolved", severity error or critical (every one an outcome);
 *  - tickets: approved change tickets linking the latest change of some stream.
 * Environments: prod 50%, staging 30%, dev 20%; services uniform.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "loophub/format.h"
#include "loophub/timeutil.h"

#define N_ENVS 3
#define HOSTS_PER_SERVICE 3

const char *const wl_envs[N_ENVS] = {"prod", "staging", "dev"};

static const char *const alert_names[] = {
    "HighErrorRate",     "HighLatencyP99", "PodCrashLooping",  "DiskWillFillIn4h",
    "CPUThrottlingHigh", "TargetDown",     "KafkaConsumerLag", "CertificateExpiry",
};
#define N_ALERT_NAMES (sizeof(alert_names) / sizeof(alert_names[0]))

typedef struct stream_state {
    int64_t open_change; /* deploy number of the change in progress, 0: none */
    int64_t last_change; /* last deploy number, 0: none */
    int version;
    int64_t open_incident;
} stream_state_t;

struct wl {
    wl_opts_t o;
    uint64_t rng;
    size_t i;
    stream_state_t *st; /* services * N_ENVS */
    int64_t n_changes, n_incidents, n_tickets;
};

static uint64_t
next_u64(uint64_t *s)
{
    /* splitmix64 */
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static double
u01(uint64_t *s)
{
    return (double)(next_u64(s) >> 11) / (double)(1ULL << 53);
}

static int
pick_env(uint64_t *s)
{
    double r = u01(s);
    return r < 0.5 ? 0 : r < 0.8 ? 1 : 2;
}

void
wl_service_name(int i, char *out, size_t len)
{
    snprintf(out, len, "svc-%04d", i);
}

wl_t *
wl_new(const wl_opts_t *o)
{
    wl_t *w = calloc(1, sizeof(*w));
    if (!w)
        return NULL;
    w->o = *o;
    w->rng = o->seed;
    w->st = calloc((size_t)o->services * N_ENVS, sizeof(*w->st));
    if (!w->st) {
        free(w);
        return NULL;
    }
    return w;
}

void
wl_destroy(wl_t **w)
{
    if (!w || !*w)
        return;
    free((*w)->st);
    free(*w);
    *w = NULL;
}

static void
set_str(lh_event_t *ev, char **field, const char *s)
{
    *field = lh_event_str(ev, s, (size_t)-1);
}

static void
set_uuid(lh_event_t *ev, uint64_t *rng, const char *prefix)
{
    uint64_t a = next_u64(rng), b = next_u64(rng);
    char id[80];
    snprintf(id, sizeof(id), "%s%08x-%04x-4%03x-%04x-%012" PRIx64, prefix ? prefix : "",
             (unsigned)(a >> 32), (unsigned)(a >> 16) & 0xffff, (unsigned)a & 0xfff,
             (unsigned)(b >> 48) & 0xffff, (uint64_t)(b & 0xffffffffffffULL));
    set_str(ev, &ev->id, id);
}

static void
add_hosts(lh_event_t *ev, const char *svc, int which)
{
    char host[64];
    for (int k = 0; k < HOSTS_PER_SERVICE; k++) {
        if (which >= 0 && k != which)
            continue;
        snprintf(host, sizeof(host), "%s-%d", svc, k);
        lh_event_add_host(ev, host, strlen(host));
    }
}

static void
add_team(lh_event_t *ev, int svc)
{
    char team[32];
    snprintf(team, sizeof(team), "team-%02d", svc % 40);
    lh_event_add_label(ev, "team", 4, team, strlen(team));
}

static void
make_deploy(wl_t *w, lh_event_t *ev, int svc, int env, const char *svcname)
{
    stream_state_t *s = &w->st[svc * N_ENVS + env];
    char buf[160];
    int64_t dn;
    ev->kind = LH_KIND_DEPLOY;
    if (s->open_change) {
        dn = s->open_change;
        double r = u01(&w->rng);
        ev->deploy.status = r < 0.93   ? LH_DEPLOY_SUCCEEDED
                            : r < 0.97 ? LH_DEPLOY_FAILED
                                       : LH_DEPLOY_ROLLED_BACK;
        s->open_change = 0;
    } else {
        dn = ++w->n_changes;
        s->open_change = dn;
        s->last_change = dn;
        s->version++;
        ev->deploy.status = LH_DEPLOY_STARTED;
    }
    snprintf(buf, sizeof(buf), "D-%" PRIx64 "-%" PRId64, w->o.seed & 0xffff, dn);
    set_str(ev, &ev->deploy.deploy_id, buf);
    snprintf(buf, sizeof(buf), "2.%d.%d", s->version, env);
    set_str(ev, &ev->deploy.version, buf);
    snprintf(buf, sizeof(buf), "2.%d.%d", s->version - 1, env);
    set_str(ev, &ev->deploy.previous_version, buf);
    snprintf(buf, sizeof(buf), "%012" PRIx64,
             (uint64_t)((uint64_t)dn * 0x9e3779b97f4a7c15ULL >> 16));
    set_str(ev, &ev->deploy.commit, buf);
    ev->deploy.commit_time_ns = ev->time_ns - 40 * 60 * LH_NS_PER_SEC;
    snprintf(buf, sizeof(buf), "pkg:oci/%s@sha256:%016" PRIx64, svcname,
             (uint64_t)((uint64_t)dn * 0xc2b2ae3d27d4eb4fULL));
    set_str(ev, &ev->deploy.artifact, buf);
    if (dn % 2 == 0) {
        snprintf(buf, sizeof(buf), "CHG-%" PRId64, dn);
        set_str(ev, &ev->deploy.change_ticket, buf);
    }
    snprintf(buf, sizeof(buf), "dev%02d", (int)(dn % 97));
    set_str(ev, &ev->actor, buf);
    set_str(ev, &ev->source, "ci/jenkins");
    add_hosts(ev, svcname, -1);
}

static void
make_alert(wl_t *w, lh_event_t *ev, int svc, int env, const char *svcname)
{
    char buf[160];
    ev->kind = LH_KIND_ALERT;
    size_t name = (size_t)(next_u64(&w->rng) % N_ALERT_NAMES);
    double r = u01(&w->rng);
    ev->alert.severity = r < 0.40   ? LH_SEV_INFO
                         : r < 0.80 ? LH_SEV_WARNING
                         : r < 0.95 ? LH_SEV_ERROR
                                    : LH_SEV_CRITICAL;
    ev->alert.state = u01(&w->rng) < 0.6 ? LH_ALERT_FIRING : LH_ALERT_RESOLVED;
    set_str(ev, &ev->alert.name, alert_names[name]);
    snprintf(buf, sizeof(buf), "%016" PRIx64,
             (uint64_t)(((uint64_t)svc * 31 + (uint64_t)env * 7 + name) * 0x9e3779b97f4a7c15ULL));
    set_str(ev, &ev->alert.fingerprint, buf);
    snprintf(buf, sizeof(buf), "%s on %s in %s", alert_names[name], svcname, wl_envs[env]);
    set_str(ev, &ev->alert.summary, buf);
    set_str(ev, &ev->source, "prometheus/alertmanager");
    add_hosts(ev, svcname, (int)(next_u64(&w->rng) % HOSTS_PER_SERVICE));
}

static void
make_incident(wl_t *w, lh_event_t *ev, int svc, int env, const char *svcname)
{
    stream_state_t *s = &w->st[svc * N_ENVS + env];
    char buf[160];
    int64_t in;
    ev->kind = LH_KIND_INCIDENT;
    if (s->open_incident) {
        in = s->open_incident;
        ev->incident.state = LH_INCIDENT_RESOLVED;
        s->open_incident = 0;
    } else {
        in = ++w->n_incidents;
        s->open_incident = in;
        ev->incident.state = LH_INCIDENT_DETECTED;
    }
    ev->incident.severity = in % 3 == 0 ? LH_SEV_CRITICAL : LH_SEV_ERROR;
    snprintf(buf, sizeof(buf), "INC-%" PRIx64 "-%" PRId64, w->o.seed & 0xffff, in);
    set_str(ev, &ev->incident.incident_id, buf);
    snprintf(buf, sizeof(buf), "%s degraded in %s", svcname, wl_envs[env]);
    set_str(ev, &ev->incident.title, buf);
    set_str(ev, &ev->source, "pagerduty");
}

static void
make_ticket(wl_t *w, lh_event_t *ev)
{
    char buf[160];
    ev->kind = LH_KIND_TICKET;
    int64_t tn = ++w->n_tickets;
    snprintf(buf, sizeof(buf), "CHG-T%" PRId64, tn);
    set_str(ev, &ev->ticket.ticket_id, buf);
    ev->ticket.type = LH_TICKET_CHANGE;
    ev->ticket.state = LH_TICKET_APPROVED;
    snprintf(buf, sizeof(buf), "https://jira.example.com/browse/CHG-T%" PRId64, tn);
    set_str(ev, &ev->ticket.url, buf);
    size_t k = (size_t)(next_u64(&w->rng) % ((size_t)w->o.services * N_ENVS));
    if (w->st[k].last_change) {
        snprintf(buf, sizeof(buf), "D-%" PRIx64 "-%" PRId64, w->o.seed & 0xffff,
                 w->st[k].last_change);
        lh_event_add_link(ev, buf, strlen(buf));
    }
    set_str(ev, &ev->actor, "change-board");
    set_str(ev, &ev->source, "jira");
}

lh_event_t *
wl_next(wl_t *w)
{
    if (w->i >= w->o.n)
        return NULL;
    lh_event_t *ev = lh_event_new();
    if (!ev)
        return NULL;
    ev->time_ns = w->o.t0_ns + (int64_t)((double)w->o.span_ns * (double)w->i / (double)w->o.n);
    w->i++;
    set_uuid(ev, &w->rng, w->o.id_prefix);
    double r = u01(&w->rng);
    if (r >= 0.99) {
        make_ticket(w, ev);
        return ev;
    }
    int svc = (int)(next_u64(&w->rng) % (uint64_t)w->o.services);
    int env = pick_env(&w->rng);
    char svcname[32];
    wl_service_name(svc, svcname, sizeof(svcname));
    set_str(ev, &ev->service, svcname);
    set_str(ev, &ev->environment, wl_envs[env]);
    add_team(ev, svc);
    if (r < 0.90)
        make_alert(w, ev, svc, env, svcname);
    else if (r < 0.95)
        make_deploy(w, ev, svc, env, svcname);
    else
        make_incident(w, ev, svc, env, svcname);
    return ev;
}

/* ---- text lines for SEC ------------------------------------------------------------------- */

int
wl_text_line(const lh_event_t *ev, lh_buf_t *out)
{
    char t[64];
    lh_time_format(ev->time_ns, t, sizeof(t));
    switch (ev->kind) {
    case LH_KIND_DEPLOY:
        return lh_buf_printf(out, "%s deploy %s %s %s %s %s", t, ev->service, ev->environment,
                             ev->deploy.deploy_id, lh_deploy_status_name(ev->deploy.status),
                             ev->deploy.version ? ev->deploy.version : "-");
    case LH_KIND_ALERT:
        return lh_buf_printf(out, "%s alert %s %s %s %s %s", t, ev->service, ev->environment,
                             ev->alert.name, lh_alert_state_name(ev->alert.state),
                             lh_severity_name(ev->alert.severity));
    case LH_KIND_INCIDENT:
        return lh_buf_printf(out, "%s incident %s %s %s %s %s", t, ev->service, ev->environment,
                             ev->incident.incident_id, lh_incident_state_name(ev->incident.state),
                             lh_severity_name(ev->incident.severity));
    case LH_KIND_TICKET:
        return lh_buf_printf(out, "%s ticket %s %s %s", t, ev->ticket.ticket_id,
                             lh_ticket_type_name(ev->ticket.type),
                             lh_ticket_state_name(ev->ticket.state));
    default:
        return -1;
    }
}

/* ---- pre-encoded streams ------------------------------------------------------------------ */

static int
service_index(const lh_event_t *ev)
{
    if (!ev->service || strncmp(ev->service, "svc-", 4) != 0)
        return -1;
    return atoi(ev->service + 4);
}

static int
stream_add(wl_stream_t *s, size_t *cap, lh_buf_t *data, lh_event_t *ev, lh_buf_t *text)
{
    if (s->n + 1 >= *cap) {
        size_t c = *cap ? *cap * 2 : 4096;
        size_t *off = realloc(s->off, c * sizeof(*off));
        if (!off)
            return -1;
        s->off = off;
        int *svc = realloc(s->svc, c * sizeof(*svc));
        if (!svc)
            return -1;
        s->svc = svc;
        unsigned char *kind = realloc(s->kind, c);
        if (!kind)
            return -1;
        s->kind = kind;
        *cap = c;
    }
    s->off[s->n] = data->len;
    if (lh_codec_pb_encode(ev, data) != 0)
        return -1;
    s->svc[s->n] = service_index(ev);
    s->kind[s->n] = (unsigned char)ev->kind;
    switch (ev->kind) {
    case LH_KIND_DEPLOY:
        s->n_deploys++;
        break;
    case LH_KIND_ALERT:
        s->n_alerts++;
        if (ev->alert.state == LH_ALERT_FIRING && ev->alert.severity >= LH_SEV_ERROR)
            s->n_outcomes++;
        break;
    case LH_KIND_INCIDENT:
        s->n_incidents++;
        s->n_outcomes++;
        break;
    default:
        s->n_tickets++;
    }
    s->n++;
    s->off[s->n] = data->len;
    if (text) {
        if (wl_text_line(ev, text) != 0 || lh_buf_append(text, "\n", 1) != 0)
            return -1;
    }
    return 0;
}

int
wl_stream_build(const wl_opts_t *o, wl_stream_t *s, lh_buf_t *text)
{
    memset(s, 0, sizeof(*s));
    wl_t *w = wl_new(o);
    if (!w)
        return -1;
    lh_buf_t data = LH_BUF_INIT;
    size_t cap = 0;
    int rc = lh_buf_reserve(&data, o->n * 260);
    lh_event_t *ev;
    while (rc == 0 && (ev = wl_next(w)) != NULL) {
        rc = stream_add(s, &cap, &data, ev, text);
        lh_event_destroy(&ev);
    }
    wl_destroy(&w);
    s->data = data.data;
    s->bytes = data.len;
    if (rc != 0 || s->n != o->n) {
        wl_stream_free(s);
        return -1;
    }
    return 0;
}

void
wl_stream_free(wl_stream_t *s)
{
    free(s->data);
    free(s->off);
    free(s->svc);
    free(s->kind);
    memset(s, 0, sizeof(*s));
}

/* ---- the agreement stream ------------------------------------------------------------------ */

static int
by_time(const void *a, const void *b)
{
    const lh_event_t *x = *(lh_event_t *const *)a, *y = *(lh_event_t *const *)b;
    return x->time_ns < y->time_ns ? -1 : x->time_ns > y->time_ns;
}

int
wl_pairs_build(uint64_t seed, int services, int64_t now_ns, wl_stream_t *s, lh_buf_t *text,
               size_t *expected)
{
    memset(s, 0, sizeof(*s));
    *expected = 0;
    uint64_t rng = seed;
    size_t n_max = (size_t)services * N_ENVS * 5, n = 0;
    lh_event_t **evs = calloc(n_max, sizeof(*evs));
    if (!evs)
        return -1;
    int64_t base = now_ns - 60 * 60 * LH_NS_PER_SEC, min = 60 * LH_NS_PER_SEC;
    int rc = 0;
    int64_t dn = 0, in = 0;
    for (int svc = 0; svc < services && rc == 0; svc++) {
        char svcname[32];
        wl_service_name(svc, svcname, sizeof(svcname));
        for (int env = 0; env < N_ENVS && rc == 0; env++) {
            int scenario = (int)(next_u64(&rng) % 5); /* 0,1: pair; 2: deploy; 3: incident;
                                                         4: incident then deploy */
            int64_t t1 = base + (int64_t)(u01(&rng) * 30.0 * (double)min);
            int64_t t2 = t1 + min + (int64_t)(u01(&rng) * 20.0 * (double)min);
            int want_deploy = scenario != 3, want_incident = scenario != 2;
            int64_t td = scenario == 4 ? t2 : t1, ti = scenario == 4 ? t1 : t2;
            if (scenario <= 1)
                (*expected)++;
            for (int k = 0; k < 5; k++) {
                int kind = k == 0 ? (want_deploy ? 1 : 0) : k == 1 ? (want_incident ? 3 : 0) : 2;
                if (!kind)
                    continue;
                lh_event_t *ev = lh_event_new();
                if (!ev) {
                    rc = -1;
                    break;
                }
                evs[n++] = ev;
                set_uuid(ev, &rng, "p-");
                set_str(ev, &ev->service, svcname);
                set_str(ev, &ev->environment, wl_envs[env]);
                char buf[96];
                if (kind == 1) {
                    ev->kind = LH_KIND_DEPLOY;
                    ev->time_ns = td;
                    snprintf(buf, sizeof(buf), "D-P%" PRId64, ++dn);
                    set_str(ev, &ev->deploy.deploy_id, buf);
                    ev->deploy.status = LH_DEPLOY_SUCCEEDED;
                    set_str(ev, &ev->deploy.version, "3.0.1");
                    set_str(ev, &ev->deploy.previous_version, "3.0.0");
                    set_str(ev, &ev->source, "ci/jenkins");
                    add_hosts(ev, svcname, -1);
                } else if (kind == 3) {
                    ev->kind = LH_KIND_INCIDENT;
                    ev->time_ns = ti;
                    snprintf(buf, sizeof(buf), "INC-P%" PRId64, ++in);
                    set_str(ev, &ev->incident.incident_id, buf);
                    ev->incident.state = LH_INCIDENT_DETECTED;
                    ev->incident.severity = LH_SEV_CRITICAL;
                    set_str(ev, &ev->incident.title, "degraded");
                    set_str(ev, &ev->source, "pagerduty");
                } else {
                    /* noise: warnings are not outcomes, and SEC's rules do not match them */
                    ev->kind = LH_KIND_ALERT;
                    ev->time_ns = base + (int64_t)(u01(&rng) * 58.0 * (double)min);
                    set_str(ev, &ev->alert.name, alert_names[k]);
                    ev->alert.state = LH_ALERT_FIRING;
                    ev->alert.severity = LH_SEV_WARNING;
                    set_str(ev, &ev->source, "prometheus/alertmanager");
                    add_hosts(ev, svcname, k % HOSTS_PER_SERVICE);
                }
            }
        }
    }
    if (rc == 0)
        qsort(evs, n, sizeof(*evs), by_time);
    lh_buf_t data = LH_BUF_INIT;
    size_t cap = 0;
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = stream_add(s, &cap, &data, evs[i], text);
    for (size_t i = 0; i < n; i++)
        lh_event_destroy(&evs[i]);
    free(evs);
    s->data = data.data;
    s->bytes = data.len;
    if (rc != 0) {
        wl_stream_free(s);
        return -1;
    }
    return 0;
}
