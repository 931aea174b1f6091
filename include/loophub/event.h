/*
 * event.h - the hub's in-memory event, lh_event_t.
 *
 * Every codec (protobuf, loophub JSON, CloudEvents/CDEvents, Alertmanager) decodes into an
 * lh_event_t and the rest of the hub sees nothing else: protobuf-c and jansson types stay
 * inside the codecs. An event owns all of its strings: they live in an arena that belongs
 * to the event and is freed with it, so building one costs a handful of allocations.
 *
 * Conventions: an absent string is NULL, never "" (lh_event_str() maps "" to NULL); times are
 * int64 nanoseconds since the Unix epoch, 0 meaning absent; enum fields use the numbers of
 * proto/loophub.proto, 0 meaning unspecified.
 */
#ifndef LOOPHUB_EVENT_H
#define LOOPHUB_EVENT_H

#include <stddef.h>
#include <stdint.h>

typedef enum {
    LH_KIND_NONE = 0,
    LH_KIND_DEPLOY = 1,
    LH_KIND_ALERT = 2,
    LH_KIND_INCIDENT = 3,
    LH_KIND_TICKET = 4,
} lh_kind_t;

typedef enum {
    LH_SEV_UNSPECIFIED = 0,
    LH_SEV_INFO = 1,
    LH_SEV_WARNING = 2,
    LH_SEV_ERROR = 3,
    LH_SEV_CRITICAL = 4,
} lh_severity_t;

typedef enum {
    LH_DEPLOY_UNSPECIFIED = 0,
    LH_DEPLOY_STARTED = 1,
    LH_DEPLOY_SUCCEEDED = 2,
    LH_DEPLOY_FAILED = 3,
    LH_DEPLOY_ROLLED_BACK = 4,
} lh_deploy_status_t;

typedef enum {
    LH_ALERT_UNSPECIFIED = 0,
    LH_ALERT_FIRING = 1,
    LH_ALERT_RESOLVED = 2,
} lh_alert_state_t;

typedef enum {
    LH_INCIDENT_UNSPECIFIED = 0,
    LH_INCIDENT_DETECTED = 1,
    LH_INCIDENT_REPORTED = 2,
    LH_INCIDENT_RESOLVED = 3,
} lh_incident_state_t;

typedef enum {
    LH_TICKET_TYPE_UNSPECIFIED = 0,
    LH_TICKET_CHANGE = 1,
    LH_TICKET_INCIDENT = 2,
    LH_TICKET_TASK = 3,
} lh_ticket_type_t;

typedef enum {
    LH_TICKET_UNSPECIFIED = 0,
    LH_TICKET_CREATED = 1,
    LH_TICKET_APPROVED = 2,
    LH_TICKET_REJECTED = 3,
    LH_TICKET_UPDATED = 4,
    LH_TICKET_CLOSED = 5,
} lh_ticket_state_t;

typedef struct {
    char *key;
    char *value;
} lh_label_t;

typedef struct lh_deploy {
    char *deploy_id; /* NULL on input means "the event id"; lh_event_normalize() fills it */
    lh_deploy_status_t status;
    char *version;
    char *previous_version;
    char *commit;
    int64_t commit_time_ns;
    char *artifact;
    char *change_ticket;
    int previous_version_derived; /* 1: the hub filled previous_version from the store's history */
} lh_deploy_t;

typedef struct lh_alert {
    char *name;
    char *fingerprint;
    lh_alert_state_t state;
    lh_severity_t severity;
    char *summary;
    char *artifact;
} lh_alert_t;

typedef struct lh_incident {
    char *incident_id;
    lh_incident_state_t state;
    lh_severity_t severity;
    char *title;
    char *ticket;
    char *artifact;
} lh_incident_t;

typedef struct lh_ticket {
    char *ticket_id;
    lh_ticket_type_t type;
    lh_ticket_state_t state;
    char **links;
    size_t n_links;
    char *url;
    char *summary;
} lh_ticket_t;

typedef struct lh__arena lh__arena_t;

typedef struct lh_event {
    char *id;
    char *source;
    int64_t time_ns;
    char *service;
    char *environment;
    char *actor;
    char **hosts;
    size_t n_hosts;
    lh_label_t *labels;
    size_t n_labels;
    lh_kind_t kind;
    /* Exactly one body is meaningful: the one named by kind. The others stay zeroed. */
    lh_deploy_t deploy;
    lh_alert_t alert;
    lh_incident_t incident;
    lh_ticket_t ticket;
    /* The original bytes when the event did not arrive as protobuf (kept for audit): a copy in
     * the arena, set by the codec with lh_event_set_raw(). raw_format is an lh_format_t. */
    const void *raw;
    size_t raw_len;
    int raw_format;
    lh__arena_t *arena; /* owns every string and array above */
} lh_event_t;

/* Limits every decoded event is held to; lh_limits_default() gives the embedded defaults. */
typedef struct lh_limits {
    size_t max_payload;    /* bytes of one message / request body (default 1 MiB) */
    size_t max_field;      /* bytes of one string field (default 4096) */
    size_t max_hosts;      /* default 256 */
    size_t max_labels;     /* default 64 */
    size_t max_links;      /* default 256 */
    int64_t max_future_ns; /* how far ahead of the hub's clock an event may be (default 1h) */
} lh_limits_t;

void lh_limits_default(lh_limits_t *lim);

/* Returns a new, zeroed event, or NULL when out of memory. Free with lh_event_destroy(). */
lh_event_t *lh_event_new(void);

/* Frees the event and everything it owns, and sets *ev to NULL. NULL-safe. */
void lh_event_destroy(lh_event_t **ev);

/* Copies len bytes of s into the event's arena, NUL-terminated. Returns the copy; NULL when s is
 * NULL, len is 0 (absent), or out of memory (check with s && len). Use len = (size_t)-1 for a
 * NUL-terminated s. */
char *lh_event_str(lh_event_t *ev, const char *s, size_t len);

/* Copies the original payload into the arena (see raw above). Returns 0 or LH_ENOMEM. */
int lh_event_set_raw(lh_event_t *ev, const void *raw, size_t len, int format);

/* Raw arena allocation (zeroed), for codecs that build arrays. NULL on out of memory. */
void *lh_event_alloc(lh_event_t *ev, size_t size);

/* Append to the repeated fields. Each returns 0, or LH_ENOMEM. Empty strings are skipped. */
int lh_event_add_host(lh_event_t *ev, const char *host, size_t len);
int lh_event_add_label(lh_event_t *ev, const char *key, size_t klen, const char *value,
                       size_t vlen);
int lh_event_add_link(lh_event_t *ev, const char *link, size_t len);

/* Returns the label's value or NULL. */
const char *lh_event_label(const lh_event_t *ev, const char *key);

/* Returns a deep copy of ev (NULL on out of memory). */
lh_event_t *lh_event_clone(const lh_event_t *ev);

/* Fills derived defaults: a deploy without deploy_id gets its event id; a deploy without a status
 * is "succeeded"; an alert without a state is "firing". Returns 0 or LH_ENOMEM. */
int lh_event_normalize(lh_event_t *ev);

/* Checks ev against the model's rules and lim: id and time present, a service on deploy, alert
 * and incident events, a known kind, sizes and counts within lim, strings valid UTF-8 without NUL,
 * time after 1970 and at most lim->max_future_ns ahead of now_ns. Returns 0, or a negative LH_E*
 * code with a one-line reason in why (naming the field). */
int lh_event_validate(const lh_event_t *ev, const lh_limits_t *lim, int64_t now_ns, char *why,
                      size_t whylen);

/* Enum names as in loophub's JSON form ("deploy", "succeeded", "rolled_back", "critical", ...);
 * NULL for an unspecified or out-of-range value. The parsers return 0 or LH_EINVAL and accept
 * exactly these names, case-insensitively. */
const char *lh_kind_name(lh_kind_t k);
int lh_kind_parse(const char *s, lh_kind_t *out);
const char *lh_severity_name(lh_severity_t s);
int lh_severity_parse(const char *s, lh_severity_t *out);
const char *lh_deploy_status_name(lh_deploy_status_t s);
int lh_deploy_status_parse(const char *s, lh_deploy_status_t *out);
const char *lh_alert_state_name(lh_alert_state_t s);
int lh_alert_state_parse(const char *s, lh_alert_state_t *out);
const char *lh_incident_state_name(lh_incident_state_t s);
int lh_incident_state_parse(const char *s, lh_incident_state_t *out);
const char *lh_ticket_type_name(lh_ticket_type_t t);
int lh_ticket_type_parse(const char *s, lh_ticket_type_t *out);
const char *lh_ticket_state_name(lh_ticket_state_t s);
int lh_ticket_state_parse(const char *s, lh_ticket_state_t *out);

/* The severity and whether it is an outcome candidate: incidents always; alerts when firing. */
lh_severity_t lh_event_severity(const lh_event_t *ev);

#endif
