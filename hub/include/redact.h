/*
 * redact.h - privacy scrubbing: the rules that replace secrets with "[redacted]" before an event
 * is stored, quarantined, logged or republished (hub/redact/redact.c; README.md, Privacy). The
 * pipeline scrubs each event as it is decoded, the reason of each rejection, and the bytes it
 * keeps of a message for the quarantine.
 *
 * Two kinds of rule, POSIX extended regexes matched case-insensitively, compiled once:
 *  - key rules: a label whose key matches (anywhere in the key) has its whole value replaced;
 *  - value rules: every match in a string field is replaced; when the pattern has groups, only
 *    the text of its last group (the one whose '(' comes last) is, so a rule keeps its context
 *    ("https://bob:[redacted]@db"). A group that took no part in the match means the whole
 *    match.
 * The defaults (lh_redact_opts_t.defaults) are the key rule LH_REDACT_DEFAULT_KEYS and value
 * rules for bearer tokens, AWS access key ids, passwords in URLs and key=value / key: value text
 * whose key is one of the default names. Configured rules add to them.
 *
 * What is scrubbed in an event: every string field except the ids and references that dedupe and
 * link events (id, deploy.deploy_id, deploy.change_ticket, alert.fingerprint,
 * incident.incident_id, incident.ticket, ticket.ticket_id) and except label keys. The original
 * bytes (ev->raw) are dropped when the event changed or when the value rules find anything in
 * them: the store then keeps the canonical, scrubbed protobuf only.
 *
 * A compiled lh_redact_t is read-only: one may be shared by threads.
 */
#ifndef LOOPHUB_REDACT_H
#define LOOPHUB_REDACT_H

#include <stddef.h>

#include "loophub/event.h"

#define LH_REDACTED "[redacted]"
#define LH_REDACT_DEFAULT_KEYS                                                                     \
    "password|passwd|secret|token|api[_-]?key|authorization|cookie|session"

typedef struct lh_redact_opts {
    int defaults;            /* 1 (lh_redact_opts_default): the built-in rules too */
    const char *const *keys; /* extra key rules */
    size_t n_keys;
    const char *const *values; /* extra value rules */
    size_t n_values;
} lh_redact_opts_t;

void lh_redact_opts_default(lh_redact_opts_t *o);

/* The default value rules' patterns, i = 0, 1, ...; NULL past the last. (The compiled defaults
 * also skip strings that lack their literals; the same patterns given as rules of one's own
 * match the same, only slower: the fuzz target checks the two agree.) */
const char *lh_redact_default_value(size_t i);

typedef struct lh_redact lh_redact_t;

/* Compiles the rules. Returns 0 and *out (lh_redact_destroy()), LH_EINVAL with why naming the
 * option and the pattern ("--redact-key 'a(': ..."), or LH_ENOMEM. */
int lh_redact_new(const lh_redact_opts_t *o, lh_redact_t **out, char *why, size_t whylen);
void lh_redact_destroy(lh_redact_t **r);

/* Told about each field the rules changed: its path ("labels.password", "alert.summary",
 * "hosts[1]", "raw") and its new, scrubbed value. Never the old one. */
typedef void (*lh_redact_report_fn)(const char *field, const char *after, void *arg);

/* Scrubs ev in place (new strings in its arena) and drops its raw bytes as described above.
 * fn may be NULL. Returns the number of values replaced (0: nothing changed), or LH_ENOMEM
 * (the event may be partly scrubbed: drop it or scrub again). */
int lh_redact_event(const lh_redact_t *r, lh_event_t *ev, lh_redact_report_fn fn, void *arg);

/* Applies the value rules to len bytes of s (which may hold NULs). Returns the number of
 * replacements; when > 0, *out is a malloc'd, NUL-terminated scrubbed copy of *outlen bytes.
 * LH_ENOMEM. */
int lh_redact_bytes(const lh_redact_t *r, const void *s, size_t len, char **out, size_t *outlen);

/* The value rules on a malloc'd string (NULL-safe): a changed *s is freed and replaced by the
 * scrubbed copy. Returns the number of replacements, or LH_ENOMEM (*s unchanged). */
int lh_redact_str(const lh_redact_t *r, char **s);

#endif
