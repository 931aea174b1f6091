/*
 * storefix.h - building a real store for the query suites: events made with the event API,
 * encoded with the real protobuf codec, stored by the real store and correlated by the real
 * correlator, so the tables the queries read are what a hub writes.
 */
#ifndef LOOPHUB_TEST_STOREFIX_H
#define LOOPHUB_TEST_STOREFIX_H

#include <stdint.h>

#include "correlator.h"
#include "loophub/event.h"
#include "store.h"

/* A string owned by the event. */
#define FX_S(ev, s) lh_event_str((ev), (s), (size_t)-1)

/* A new event with id, kind, time, service and environment (NULL: none), source "test". */
lh_event_t *fx_event(const char *id, lh_kind_t kind, int64_t t, const char *svc, const char *env);
/* A deploy event of a change in env. */
lh_event_t *fx_deploy(const char *id, const char *did, lh_deploy_status_t st, int64_t t,
                      const char *svc, const char *env, const char *ver, const char *prev,
                      const char *actor);
/* A ticket event linking to link (NULL: none). */
lh_event_t *fx_ticket(const char *id, const char *tid, lh_ticket_type_t type, lh_ticket_state_t st,
                      int64_t t, const char *link);
/* Adds the hosts of a NULL-terminated list. */
void fx_hosts(lh_event_t *ev, const char *const *hosts);

/* Opens lh_test_fx.db for writing with a correlator (co NULL: its defaults), in a transaction. */
void fx_writer_open(lh_store_t **st, lh_correlator_t **c, const lh_correlator_opts_t *co);
/* Commits what fx_put() added and closes both. */
void fx_writer_close(lh_store_t **st, lh_correlator_t **c);
/* Stores ev (consumed) and correlates it at now, as the hub's pipeline does. */
void fx_put(lh_store_t *st, lh_correlator_t *c, lh_event_t *ev, int64_t now);

/* Runs report r on lh_test_fx.db opened read-only: its code, and the output (malloc'd,
 * NUL-terminated) in *out. */
typedef struct lh_report_req lh_report_req_t;
int fx_report(const lh_report_req_t *r, int fmt, char **out);
/* fx_report() as JSON, parsed (the test fails on an error or bad JSON). */
struct json_t;
struct json_t *fx_report_json(const lh_report_req_t *r);
/* fx_report_json() on one thread (lh__q_test_threads(1)); the test fails unless the report on
 * two threads (modes 0 and 2) is the same document. Returns the document; which names the
 * request in the failure. */
struct json_t *fx_report_threads(const lh_report_req_t *r, size_t which);

/* What a subcommand did: its exit code, and what it wrote to stdout and stderr (malloc'd). */
typedef struct {
    int code;
    char *out;
    char *err;
} fx_cli_t;

/* Runs a subcommand (lh_cli_timeline(), ...) on args (NULL-terminated, args[0] its name) with
 * stdout and stderr sent to files in the fixture's directory, then reads them back. */
fx_cli_t fx_cli(int (*fn)(int, char **), const char *const *args);
void fx_cli_free(fx_cli_t *r);

#endif
