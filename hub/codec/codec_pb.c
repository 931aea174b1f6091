/*
 * codec_pb.c - protobuf (loophub.v1.Event, loophub.v1.CorrelatedAlert) <-> lh_event_t and
 * lh_correlated_t, with the code protoc-c generates from proto/loophub.proto.
 *
 * Decoding unpacks with a bump allocator over a stack buffer (spilling to malloc for big
 * messages), copies what it needs into the event's arena, and frees the unpacked message before
 * returning: no protobuf-c memory outlives a call. Encoding builds the message on the stack with
 * pointers into the event (nothing copied), packs it straight into the caller's lh_buf_t.
 *
 * Invariants: a message with no body decodes with kind LH_KIND_NONE (validation rejects it); an
 * enum value outside the proto's list is an LH_EDECODE naming the field; the protobuf-c types
 * never leave this file.
 */
#include <stdalign.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec_internal.h"
#include "loophub.pb-c.h"
#include "loophub/error.h"
#include "loophub/log.h"
#include "pbwire.h"

/* --- allocator ------------------------------------------------------------------------------ */

#define BUMP_SIZE 8192

typedef struct {
    unsigned char *base;
    size_t used;
} bump_t;

static void *
bump_alloc(void *data, size_t size)
{
    bump_t *b = data;
    size_t need = (size + 15) & ~(size_t)15;
    if (need >= size && need <= BUMP_SIZE - b->used) {
        void *p = b->base + b->used;
        b->used += need;
        return p;
    }
    return malloc(size);
}

static void
bump_free(void *data, void *p)
{
    bump_t *b = data;
    unsigned char *c = p;
    if (c >= b->base && c < b->base + BUMP_SIZE)
        return;
    free(p);
}

/* --- decode ---------------------------------------------------------------------------------- */

/* Copies s into the arena; "" stays absent (NULL). Returns 0 or -1 when out of memory. */
static int
cp(lh_event_t *ev, char **dst, const char *s)
{
    if (!s || !*s)
        return 0;
    *dst = lh_event_str(ev, s, strlen(s));
    return *dst ? 0 : -1;
}

static int
enum_ok(int v, int max, const char *field, char *why, size_t whylen)
{
    if (v < 0 || v > max)
        LH__FAIL(LH_EDECODE, "field '%s' has unknown value %d", field, v);
    return 0;
}

static int
pb_to_event(const Loophub__V1__Event *m, lh_event_t *ev, char *why, size_t whylen)
{
    int e = 0;

    e |= cp(ev, &ev->id, m->id);
    e |= cp(ev, &ev->source, m->source);
    ev->time_ns = m->time;
    e |= cp(ev, &ev->service, m->service);
    e |= cp(ev, &ev->environment, m->environment);
    e |= cp(ev, &ev->actor, m->actor);
    for (size_t i = 0; i < m->n_hosts; i++)
        e |= lh_event_add_host(ev, m->hosts[i], strlen(m->hosts[i])) ? -1 : 0;
    for (size_t i = 0; i < m->n_labels; i++) {
        const Loophub__V1__Event__LabelsEntry *l = m->labels[i];
        e |= lh_event_add_label(ev, l->key, strlen(l->key), l->value, strlen(l->value)) ? -1 : 0;
    }
    if (e)
        LH__FAIL(LH_ENOMEM, "out of memory");

    int rc = 0;
    switch (m->body_case) {
    case LOOPHUB__V1__EVENT__BODY_DEPLOY: {
        const Loophub__V1__Deploy *d = m->deploy;
        lh_deploy_t *o = &ev->deploy;
        ev->kind = LH_KIND_DEPLOY;
        if (!d)
            break;
        rc = enum_ok(d->status, LH_DEPLOY_ROLLED_BACK, "deploy.status", why, whylen);
        o->status = (lh_deploy_status_t)d->status;
        e |= cp(ev, &o->deploy_id, d->deploy_id);
        e |= cp(ev, &o->version, d->version);
        e |= cp(ev, &o->previous_version, d->previous_version);
        e |= cp(ev, &o->commit, d->commit);
        o->commit_time_ns = d->commit_time;
        e |= cp(ev, &o->artifact, d->artifact);
        e |= cp(ev, &o->change_ticket, d->change_ticket);
        o->previous_version_derived = d->previous_version_derived ? 1 : 0;
        break;
    }
    case LOOPHUB__V1__EVENT__BODY_ALERT: {
        const Loophub__V1__Alert *a = m->alert;
        lh_alert_t *o = &ev->alert;
        ev->kind = LH_KIND_ALERT;
        if (!a)
            break;
        rc = enum_ok(a->state, LH_ALERT_RESOLVED, "alert.state", why, whylen);
        if (!rc)
            rc = enum_ok(a->severity, LH_SEV_CRITICAL, "alert.severity", why, whylen);
        o->state = (lh_alert_state_t)a->state;
        o->severity = (lh_severity_t)a->severity;
        e |= cp(ev, &o->name, a->name);
        e |= cp(ev, &o->fingerprint, a->fingerprint);
        e |= cp(ev, &o->summary, a->summary);
        e |= cp(ev, &o->artifact, a->artifact);
        break;
    }
    case LOOPHUB__V1__EVENT__BODY_INCIDENT: {
        const Loophub__V1__Incident *in = m->incident;
        lh_incident_t *o = &ev->incident;
        ev->kind = LH_KIND_INCIDENT;
        if (!in)
            break;
        rc = enum_ok(in->state, LH_INCIDENT_RESOLVED, "incident.state", why, whylen);
        if (!rc)
            rc = enum_ok(in->severity, LH_SEV_CRITICAL, "incident.severity", why, whylen);
        o->state = (lh_incident_state_t)in->state;
        o->severity = (lh_severity_t)in->severity;
        e |= cp(ev, &o->incident_id, in->incident_id);
        e |= cp(ev, &o->title, in->title);
        e |= cp(ev, &o->ticket, in->ticket);
        e |= cp(ev, &o->artifact, in->artifact);
        break;
    }
    case LOOPHUB__V1__EVENT__BODY_TICKET: {
        const Loophub__V1__Ticket *t = m->ticket;
        lh_ticket_t *o = &ev->ticket;
        ev->kind = LH_KIND_TICKET;
        if (!t)
            break;
        rc = enum_ok(t->type, LH_TICKET_TASK, "ticket.type", why, whylen);
        if (!rc)
            rc = enum_ok(t->state, LH_TICKET_CLOSED, "ticket.state", why, whylen);
        o->type = (lh_ticket_type_t)t->type;
        o->state = (lh_ticket_state_t)t->state;
        e |= cp(ev, &o->ticket_id, t->ticket_id);
        for (size_t i = 0; i < t->n_links; i++)
            e |= lh_event_add_link(ev, t->links[i], strlen(t->links[i])) ? -1 : 0;
        e |= cp(ev, &o->url, t->url);
        e |= cp(ev, &o->summary, t->summary);
        break;
    }
    default:
        ev->kind = LH_KIND_NONE;
        break;
    }
    if (rc)
        return rc;
    if (e)
        LH__FAIL(LH_ENOMEM, "out of memory");
    return 0;
}

/* ---- strings with a NUL inside ------------------------------------------------------------ */

/* Reads a varint at *p (before end); 0, or -1 when it is cut off or longer than 10 bytes. */
static int
wire_varint(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
    *v = 0;
    for (int shift = 0; shift < 70 && *p < end; shift += 7) {
        uint8_t b = *(*p)++;
        *v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80))
            return 0;
    }
    return -1;
}

/* Appends v as a varint. */
static int
put_raw_varint(lh_buf_t *b, uint64_t v)
{
    uint8_t t[10];
    size_t n = 0;
    do {
        t[n] = (uint8_t)(v & 0x7f);
        v >>= 7;
        if (v)
            t[n] |= 0x80;
        n++;
    } while (v);
    return lh_buf_append(b, t, n) < 0 ? LH_ENOMEM : 0;
}

int
lh_pb_fields(const void *buf, size_t len, uint32_t fields, lh_buf_t *copy)
{
    const uint8_t *p = buf, *end = p + len;
    int found = 0;
    while (p < end) {
        const uint8_t *at = p;
        uint64_t tag, n;
        if (wire_varint(&p, end, &tag) < 0)
            return -1;
        switch (tag & 7) {
        case 0:
            if (wire_varint(&p, end, &n) < 0)
                return -1;
            break;
        case 1:
        case 5:
            n = (tag & 7) == 1 ? 8 : 4;
            if ((size_t)(end - p) < n)
                return -1; /* a fixed-width value cut short */
            p += n;
            break;
        case 2:
            if (wire_varint(&p, end, &n) < 0 || n > (uint64_t)(end - p))
                return -1;
            p += n;
            break;
        default:
            return -1; /* groups are not in this schema */
        }
        if ((tag >> 3) >= 31)
            continue;
        found |= 1 << (tag >> 3);
        if (copy && (fields & (1u << (tag >> 3))) && lh_buf_append(copy, at, (size_t)(p - at)) < 0)
            return LH_ENOMEM;
    }
    return found;
}

int
lh_pb_put_string(lh_buf_t *b, unsigned field, const char *v)
{
    if (!v || !*v)
        return 0;
    size_t n = strlen(v);
    int rc = put_raw_varint(b, (uint64_t)field << 3 | 2);
    if (!rc)
        rc = put_raw_varint(b, n);
    return rc ? rc : lh_buf_append(b, v, n) < 0 ? LH_ENOMEM : 0;
}

int
lh_pb_put_varint(lh_buf_t *b, unsigned field, uint64_t v)
{
    if (!v)
        return 0;
    int rc = put_raw_varint(b, (uint64_t)field << 3);
    return rc ? rc : put_raw_varint(b, v);
}

/* One length-delimited value at *p: sets *v and *n, moves *p past it. 0, or -1 when cut short. */
static int
wire_bytes(const uint8_t **p, const uint8_t *end, const uint8_t **v, size_t *n)
{
    uint64_t len;
    if (wire_varint(p, end, &len) < 0 || len > (uint64_t)(end - *p))
        return -1;
    *v = *p;
    *n = (size_t)len;
    *p += len;
    return 0;
}

int
lh_pb_labels(const void *buf, size_t len, lh_event_t *ev)
{
    const uint8_t *p = buf, *end = p + len;
    while (p < end) {
        uint64_t tag;
        const uint8_t *entry;
        size_t n;
        if (wire_varint(&p, end, &tag) < 0 || tag != (8 << 3 | 2) ||
            wire_bytes(&p, end, &entry, &n) < 0)
            return LH_EDECODE; /* a label set holds map entries only */
        const uint8_t *q = entry, *qend = entry + n, *k = NULL, *v = NULL;
        size_t kn = 0, vn = 0;
        while (q < qend) {
            uint64_t t;
            const uint8_t *s;
            size_t sn;
            if (wire_varint(&q, qend, &t) < 0 || (t & 7) != 2 || wire_bytes(&q, qend, &s, &sn) < 0)
                return LH_EDECODE;
            if (t >> 3 == 1)
                k = s, kn = sn;
            else if (t >> 3 == 2)
                v = s, vn = sn;
        }
        if ((k && memchr(k, 0, kn)) || (v && memchr(v, 0, vn)))
            return LH_EDECODE; /* as the decoder refuses a NUL inside a string */
        if (k && lh_event_add_label(ev, (const char *)k, kn, v ? (const char *)v : "", vn) < 0)
            return LH_ENOMEM;
    }
    return 0;
}

/* Protobuf strings carry their length, but protobuf-c hands them over NUL-terminated: a string
 * with a NUL inside would be cut at it, and "evt\0first" and "evt\0second" would be one id. This
 * walks the wire format with the message's descriptor and names the first string field that holds
 * a NUL (path: "labels.value", "deploy.deploy_id"). Returns 1 (path filled), 0 when there is none,
 * or 0 on malformed input, which unpack then refuses with its own reason. */
static int
wire_nul(const uint8_t *p, size_t len, const ProtobufCMessageDescriptor *d, int depth, char *path,
         size_t pathlen)
{
    const uint8_t *end = p + len;
    while (p < end) {
        uint64_t tag, n;
        if (wire_varint(&p, end, &tag) < 0)
            return 0;
        switch (tag & 7) {
        case 0:
            if (wire_varint(&p, end, &n) < 0)
                return 0;
            continue;
        case 1:
            if ((size_t)(end - p) < 8)
                return 0;
            p += 8;
            continue;
        case 5:
            if ((size_t)(end - p) < 4)
                return 0;
            p += 4;
            continue;
        case 2:
            break;
        default:
            return 0; /* groups are not in this schema */
        }
        if (wire_varint(&p, end, &n) < 0 || n > (uint64_t)(end - p))
            return 0;
        const ProtobufCFieldDescriptor *f =
            tag >> 3 <= UINT32_MAX
                ? protobuf_c_message_descriptor_get_field(d, (unsigned)(tag >> 3))
                : NULL;
        if (f && f->type == PROTOBUF_C_TYPE_STRING && memchr(p, 0, (size_t)n)) {
            snprintf(path, pathlen, "%s", f->name);
            return 1;
        }
        if (f && f->type == PROTOBUF_C_TYPE_MESSAGE && depth < 8) {
            char inner[128];
            if (wire_nul(p, (size_t)n, f->descriptor, depth + 1, inner, sizeof(inner))) {
                snprintf(path, pathlen, "%s.%s", f->name, inner);
                return 1;
            }
        }
        p += n;
    }
    return 0;
}

int
lh_codec_pb_decode(const void *buf, size_t len, lh_event_t **out, char *why, size_t whylen)
{
    alignas(max_align_t) unsigned char mem[BUMP_SIZE];
    bump_t b = {mem, 0};
    ProtobufCAllocator alloc = {bump_alloc, bump_free, &b};

    *out = NULL;
    char path[160];
    if (buf && wire_nul(buf, len, &loophub__v1__event__descriptor, 0, path, sizeof(path)))
        LH__FAIL(LH_EDECODE, "field '%s' contains a NUL byte", path);
    Loophub__V1__Event *m = loophub__v1__event__unpack(&alloc, len, buf);
    if (!m)
        LH__FAIL(LH_EDECODE, "malformed protobuf (not a loophub.v1.Event of %zu bytes)", len);
    lh_event_t *ev = lh_event_new();
    int rc = ev ? pb_to_event(m, ev, why, whylen) : LH_ENOMEM;
    loophub__v1__event__free_unpacked(m, &alloc);
    if (!ev && why && whylen)
        snprintf(why, whylen, "out of memory");
    if (rc) {
        lh_event_destroy(&ev);
        return rc;
    }
    *out = ev;
    return 0;
}

/* --- encode ---------------------------------------------------------------------------------- */

/* The message for one event; points into the event, owns only the label entries. */
typedef struct {
    Loophub__V1__Event m;
    Loophub__V1__Deploy d;
    Loophub__V1__Alert a;
    Loophub__V1__Incident i;
    Loophub__V1__Ticket t;
    void *labels_mem;
} pb_event_t;

static char *
S(const char *s)
{
    return s ? (char *)s : (char *)protobuf_c_empty_string;
}

/* Builds p from ev. Returns 0 or LH_ENOMEM; release with pb_event_release() either way. */
static int
pb_event_build(pb_event_t *p, const lh_event_t *ev)
{
    Loophub__V1__Event *m = &p->m;

    loophub__v1__event__init(m);
    p->labels_mem = NULL;
    m->id = S(ev->id);
    m->source = S(ev->source);
    m->time = ev->time_ns;
    m->service = S(ev->service);
    m->environment = S(ev->environment);
    m->actor = S(ev->actor);
    m->n_hosts = ev->n_hosts;
    m->hosts = ev->hosts;
    if (ev->n_labels) {
        size_t n = ev->n_labels;
        Loophub__V1__Event__LabelsEntry **ptrs =
            malloc(n * (sizeof(*ptrs) + sizeof(Loophub__V1__Event__LabelsEntry)));
        if (!ptrs)
            return LH_ENOMEM;
        Loophub__V1__Event__LabelsEntry *ent = (void *)(ptrs + n);
        for (size_t k = 0; k < n; k++) {
            loophub__v1__event__labels_entry__init(&ent[k]);
            ent[k].key = S(ev->labels[k].key);
            ent[k].value = S(ev->labels[k].value);
            ptrs[k] = &ent[k];
        }
        p->labels_mem = ptrs;
        m->n_labels = n;
        m->labels = ptrs;
    }
    switch (ev->kind) {
    case LH_KIND_DEPLOY: {
        const lh_deploy_t *o = &ev->deploy;
        loophub__v1__deploy__init(&p->d);
        p->d.deploy_id = S(o->deploy_id);
        p->d.status = (Loophub__V1__Deploy__Status)o->status;
        p->d.version = S(o->version);
        p->d.previous_version = S(o->previous_version);
        p->d.commit = S(o->commit);
        p->d.commit_time = o->commit_time_ns;
        p->d.artifact = S(o->artifact);
        p->d.change_ticket = S(o->change_ticket);
        p->d.previous_version_derived = o->previous_version_derived ? 1 : 0;
        m->body_case = LOOPHUB__V1__EVENT__BODY_DEPLOY;
        m->deploy = &p->d;
        break;
    }
    case LH_KIND_ALERT: {
        const lh_alert_t *o = &ev->alert;
        loophub__v1__alert__init(&p->a);
        p->a.name = S(o->name);
        p->a.fingerprint = S(o->fingerprint);
        p->a.state = (Loophub__V1__Alert__State)o->state;
        p->a.severity = (Loophub__V1__Severity)o->severity;
        p->a.summary = S(o->summary);
        p->a.artifact = S(o->artifact);
        m->body_case = LOOPHUB__V1__EVENT__BODY_ALERT;
        m->alert = &p->a;
        break;
    }
    case LH_KIND_INCIDENT: {
        const lh_incident_t *o = &ev->incident;
        loophub__v1__incident__init(&p->i);
        p->i.incident_id = S(o->incident_id);
        p->i.state = (Loophub__V1__Incident__State)o->state;
        p->i.severity = (Loophub__V1__Severity)o->severity;
        p->i.title = S(o->title);
        p->i.ticket = S(o->ticket);
        p->i.artifact = S(o->artifact);
        m->body_case = LOOPHUB__V1__EVENT__BODY_INCIDENT;
        m->incident = &p->i;
        break;
    }
    case LH_KIND_TICKET: {
        const lh_ticket_t *o = &ev->ticket;
        loophub__v1__ticket__init(&p->t);
        p->t.ticket_id = S(o->ticket_id);
        p->t.type = (Loophub__V1__Ticket__Type)o->type;
        p->t.state = (Loophub__V1__Ticket__State)o->state;
        p->t.n_links = o->n_links;
        p->t.links = o->links;
        p->t.url = S(o->url);
        p->t.summary = S(o->summary);
        m->body_case = LOOPHUB__V1__EVENT__BODY_TICKET;
        m->ticket = &p->t;
        break;
    }
    default:
        break;
    }
    return 0;
}

static void
pb_event_release(pb_event_t *p)
{
    free(p->labels_mem);
    p->labels_mem = NULL;
}

/* Packs any message at the end of out. */
static int
pack_into(const ProtobufCMessage *msg, lh_buf_t *out)
{
    size_t n = protobuf_c_message_get_packed_size(msg);
    if (lh_buf_reserve(out, n) != 0)
        return LH_ENOMEM;
    out->len += protobuf_c_message_pack(msg, out->data + out->len);
    return 0;
}

int
lh_codec_pb_encode(const lh_event_t *ev, lh_buf_t *out)
{
    pb_event_t p;
    int rc = pb_event_build(&p, ev);
    if (!rc)
        rc = pack_into(&p.m.base, out);
    pb_event_release(&p);
    return rc;
}

int
lh_codec_pb_encode_field(const lh_event_t *ev, unsigned field, lh_buf_t *out)
{
    pb_event_t p;
    int rc = pb_event_build(&p, ev);
    if (!rc)
        rc = put_raw_varint(out, (uint64_t)field << 3 | 2);
    if (!rc)
        rc = put_raw_varint(out, protobuf_c_message_get_packed_size(&p.m.base));
    if (!rc)
        rc = pack_into(&p.m.base, out);
    pb_event_release(&p);
    return rc;
}

/* --- correlated alerts ---------------------------------------------------------------------- */

/* The repeated messages of an alert, in one allocation each: pointers first, then the messages
 * they point to. */
typedef struct {
    Loophub__V1__Suspect **suspects;
    Loophub__V1__CaseOutcome **outcomes;
    Loophub__V1__Rollback **rollbacks;
} pb_alert_mem_t;

/* Room for n pointers followed by the n messages of size sz they point to (the messages start
 * at p + n). NULL when out of memory. */
static void **
ptrs_and_msgs(size_t n, size_t sz)
{
    if (n > SIZE_MAX / (sizeof(void *) + sz))
        return NULL;
    return malloc(n * (sizeof(void *) + sz));
}

static int
suspects_to_pb(const lh_correlated_t *ca, Loophub__V1__CorrelatedAlert *m, pb_alert_mem_t *mem)
{
    size_t n = ca->n_suspects;
    Loophub__V1__Suspect *v;
    if (!n)
        return 0;
    void **p = ptrs_and_msgs(n, sizeof(*v));
    if (!p)
        return LH_ENOMEM;
    mem->suspects = (Loophub__V1__Suspect **)p;
    v = (Loophub__V1__Suspect *)(void *)(p + n);
    for (size_t k = 0; k < n; k++) {
        Loophub__V1__Suspect *s = &v[k];
        const lh_suspect_t *o = &ca->suspects[k];
        loophub__v1__suspect__init(s);
        s->deploy_id = S(o->deploy_id);
        s->event_id = S(o->event_id);
        s->service = S(o->service);
        s->environment = S(o->environment);
        s->version = S(o->version);
        s->previous_version = S(o->previous_version);
        s->actor = S(o->actor);
        s->lead_seconds = o->lead_seconds;
        s->score = o->score;
        s->n_reasons = o->n_reasons;
        s->reasons = o->reasons;
        s->commit = S(o->commit);
        s->artifact = S(o->artifact);
        s->n_hosts = o->n_hosts;
        s->hosts = o->hosts;
        s->deploy_time = o->deploy_time_ns;
        s->previous_version_derived = o->previous_version_derived ? 1 : 0;
        mem->suspects[k] = s;
    }
    m->n_suspects = n;
    m->suspects = mem->suspects;
    return 0;
}

static int
outcomes_to_pb(const lh_correlated_t *ca, Loophub__V1__CorrelatedAlert *m, pb_alert_mem_t *mem)
{
    size_t n = ca->n_outcomes;
    Loophub__V1__CaseOutcome *v;
    if (!n)
        return 0;
    void **p = ptrs_and_msgs(n, sizeof(*v));
    if (!p)
        return LH_ENOMEM;
    mem->outcomes = (Loophub__V1__CaseOutcome **)p;
    v = (Loophub__V1__CaseOutcome *)(void *)(p + n);
    for (size_t k = 0; k < n; k++) {
        const lh_ca_outcome_t *o = &ca->outcomes[k];
        loophub__v1__case_outcome__init(&v[k]);
        v[k].kind = S(lh_kind_name(o->kind));
        v[k].ref = S(o->ref);
        v[k].event_id = S(o->event_id);
        v[k].title = S(o->title);
        v[k].time = o->time_ns;
        v[k].resolved = o->resolved_ns;
        mem->outcomes[k] = &v[k];
    }
    m->n_outcomes = n;
    m->outcomes = mem->outcomes;
    return 0;
}

static int
rollbacks_to_pb(const lh_correlated_t *ca, Loophub__V1__CorrelatedAlert *m, pb_alert_mem_t *mem)
{
    size_t n = ca->n_rollbacks;
    Loophub__V1__Rollback *v;
    if (!n)
        return 0;
    void **p = ptrs_and_msgs(n, sizeof(*v));
    if (!p)
        return LH_ENOMEM;
    mem->rollbacks = (Loophub__V1__Rollback **)p;
    v = (Loophub__V1__Rollback *)(void *)(p + n);
    for (size_t k = 0; k < n; k++) {
        const lh_rollback_t *o = &ca->rollbacks[k];
        loophub__v1__rollback__init(&v[k]);
        v[k].service = S(o->service);
        v[k].version = S(o->version);
        v[k].deploy_id = S(o->deploy_id);
        v[k].from_version = S(o->from_version);
        v[k].derived = o->derived ? 1 : 0;
        mem->rollbacks[k] = &v[k];
    }
    m->n_rollbacks = n;
    m->rollbacks = mem->rollbacks;
    return 0;
}

int
lh_codec_alert_pb_encode(const lh_correlated_t *ca, lh_buf_t *out)
{
    Loophub__V1__CorrelatedAlert m;
    pb_event_t outcome;
    pb_alert_mem_t mem = {NULL, NULL, NULL};
    int rc = 0;

    loophub__v1__correlated_alert__init(&m);
    outcome.labels_mem = NULL;
    m.id = S(ca->id);
    m.seq = ca->seq;
    m.kind = (Loophub__V1__CorrelatedAlert__Kind)ca->kind;
    m.service = S(ca->service);
    m.environment = S(ca->environment);
    m.late = ca->late ? 1 : 0;
    m.created = ca->created_ns;
    m.rollback_version = S(ca->rollback_version);
    m.revision = ca->revision;
    m.more_suspects = ca->more_suspects;
    m.n_changes = ca->n_changes;
    m.changes = ca->changes;
    m.resolved = ca->resolved ? 1 : 0;
    m.resolved_time = ca->resolved_ns;
    if (ca->outcome) {
        rc = pb_event_build(&outcome, ca->outcome);
        m.outcome = &outcome.m;
    }
    LH_KEEP_FIRST(rc, suspects_to_pb(ca, &m, &mem));
    LH_KEEP_FIRST(rc, outcomes_to_pb(ca, &m, &mem));
    LH_KEEP_FIRST(rc, rollbacks_to_pb(ca, &m, &mem));
    if (!rc)
        rc = pack_into(&m.base, out);
    free(mem.suspects);
    free(mem.outcomes);
    free(mem.rollbacks);
    pb_event_release(&outcome);
    return rc;
}

/* strdup of a present string ("" is absent). Returns 0 or -1. */
static int
dup(char **dst, const char *s)
{
    if (!s || !*s)
        return 0;
    *dst = strdup(s);
    return *dst ? 0 : -1;
}

static int
suspect_from_pb(lh_suspect_t *o, const Loophub__V1__Suspect *s)
{
    int e = 0;
    e |= dup(&o->deploy_id, s->deploy_id);
    e |= dup(&o->event_id, s->event_id);
    e |= dup(&o->service, s->service);
    e |= dup(&o->environment, s->environment);
    e |= dup(&o->version, s->version);
    e |= dup(&o->previous_version, s->previous_version);
    e |= dup(&o->actor, s->actor);
    e |= dup(&o->commit, s->commit);
    e |= dup(&o->artifact, s->artifact);
    o->lead_seconds = s->lead_seconds;
    o->score = s->score;
    o->deploy_time_ns = s->deploy_time;
    o->previous_version_derived = s->previous_version_derived ? 1 : 0;
    for (size_t i = 0; i < s->n_hosts; i++)
        e |= lh_suspect_add_host(o, s->hosts[i]) ? -1 : 0;
    for (size_t i = 0; i < s->n_reasons; i++)
        e |= lh_suspect_add_reason(o, s->reasons[i]) ? -1 : 0;
    return e ? LH_ENOMEM : 0;
}

/* An outcome's kind is "incident" or "alert": the two kinds of event an alert can stand for. */
static int
outcome_from_pb(lh_ca_outcome_t *o, const Loophub__V1__CaseOutcome *c, size_t i, char *why,
                size_t whylen)
{
    int e = 0;
    if (lh_kind_parse(c->kind, &o->kind) != 0 ||
        (o->kind != LH_KIND_INCIDENT && o->kind != LH_KIND_ALERT))
        LH__FAIL(LH_EDECODE, "field 'outcomes[%zu].kind' must be incident or alert", i);
    e |= dup(&o->ref, c->ref);
    e |= dup(&o->event_id, c->event_id);
    e |= dup(&o->title, c->title);
    o->time_ns = c->time;
    o->resolved_ns = c->resolved;
    return e ? LH_ENOMEM : 0;
}

static int
rollback_from_pb(lh_rollback_t *o, const Loophub__V1__Rollback *r)
{
    int e = 0;
    e |= dup(&o->service, r->service);
    e |= dup(&o->version, r->version);
    e |= dup(&o->deploy_id, r->deploy_id);
    e |= dup(&o->from_version, r->from_version);
    o->derived = r->derived ? 1 : 0;
    return e ? LH_ENOMEM : 0;
}

static int
alert_from_pb(const Loophub__V1__CorrelatedAlert *m, lh_correlated_t *ca, char *why, size_t whylen)
{
    int e = 0;
    int rc;

    if ((int)m->kind < 0 || (int)m->kind > (int)LH_CA_UNAPPROVED_CHANGE)
        LH__FAIL(LH_EDECODE, "field 'kind' has unknown value %d", (int)m->kind);
    ca->kind = (lh_ca_kind_t)m->kind;
    e |= dup(&ca->id, m->id);
    ca->seq = m->seq;
    e |= dup(&ca->service, m->service);
    e |= dup(&ca->environment, m->environment);
    ca->late = m->late ? 1 : 0;
    ca->created_ns = m->created;
    e |= dup(&ca->rollback_version, m->rollback_version);
    ca->revision = m->revision;
    ca->more_suspects = m->more_suspects;
    ca->resolved = m->resolved ? 1 : 0;
    ca->resolved_ns = m->resolved_time;
    for (size_t i = 0; i < m->n_changes; i++)
        e |= lh_correlated_add_change(ca, m->changes[i]) ? -1 : 0;
    if (e)
        LH__FAIL(LH_ENOMEM, "out of memory");
    if (m->outcome) {
        char w[160];
        ca->outcome = lh_event_new();
        if (!ca->outcome)
            LH__FAIL(LH_ENOMEM, "out of memory");
        if ((rc = pb_to_event(m->outcome, ca->outcome, w, sizeof w)))
            LH__FAIL(rc, "field 'outcome': %s", w);
    }
    for (size_t i = 0; i < m->n_suspects; i++) {
        lh_suspect_t *s = lh_correlated_add_suspect(ca);
        if (!s || suspect_from_pb(s, m->suspects[i]))
            LH__FAIL(LH_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < m->n_outcomes; i++) {
        lh_ca_outcome_t *o = lh_correlated_add_outcome(ca);
        if (!o)
            LH__FAIL(LH_ENOMEM, "out of memory");
        if ((rc = outcome_from_pb(o, m->outcomes[i], i, why, whylen)))
            return rc;
    }
    for (size_t i = 0; i < m->n_rollbacks; i++) {
        lh_rollback_t *r = lh_correlated_add_rollback(ca);
        if (!r || rollback_from_pb(r, m->rollbacks[i]))
            LH__FAIL(LH_ENOMEM, "out of memory");
    }
    return 0;
}

int
lh_codec_alert_pb_decode(const void *buf, size_t len, lh_correlated_t **out)
{
    alignas(max_align_t) unsigned char mem[BUMP_SIZE];
    bump_t b = {mem, 0};
    ProtobufCAllocator alloc = {bump_alloc, bump_free, &b};

    *out = NULL;
    char path[160];
    if (buf &&
        wire_nul(buf, len, &loophub__v1__correlated_alert__descriptor, 0, path, sizeof(path))) {
        lh_log_ratelimited("codec.alert.pb", LH_LOG_DEBUG, "codec",
                           "correlated alert: field '%s' contains a NUL byte", path);
        return LH_EDECODE;
    }
    Loophub__V1__CorrelatedAlert *m = loophub__v1__correlated_alert__unpack(&alloc, len, buf);
    if (!m)
        return LH_EDECODE;
    lh_correlated_t *ca = lh_correlated_new();
    char why[200] = "out of memory";
    int rc = ca ? alert_from_pb(m, ca, why, sizeof why) : LH_ENOMEM;
    loophub__v1__correlated_alert__free_unpacked(m, &alloc);
    if (rc) {
        /* the API has no reason to give back (the callers log the code): the debug log has it */
        if (rc == LH_EDECODE)
            lh_log_ratelimited("codec.alert.pb", LH_LOG_DEBUG, "codec", "correlated alert: %s",
                               why);
        lh_correlated_destroy(&ca);
        return rc;
    }
    *out = ca;
    return 0;
}
