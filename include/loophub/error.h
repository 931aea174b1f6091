/*
 * error.h - loophub's one list of error codes.
 *
 * Every fallible function in loophub returns int: 0 on success, a negative LH_E* code on
 * failure (a few document the one positive value, LH_PENDING, below). Each code has one
 * meaning: LH_EAGAIN is "try again later" (nothing was taken), LH_EBUSY is "a resource is held
 * by someone else", LH_ETRANSPORT is any transport failure (zmq, librdkafka, HTTP), whose
 * native message is in the log. The list below is the single source of truth: it defines the enum
 * and the message lh_strerror() returns. Library errors (zmq, sqlite, librdkafka, ...) are
 * translated into these codes at the boundary, where the native message is logged once.
 */
#ifndef LOOPHUB_ERROR_H
#define LOOPHUB_ERROR_H

#define LH_ERRNO_MAP(X)                                                                            \
    X(NOMEM, "out of memory")                                                                      \
    X(INVAL, "invalid argument")                                                                   \
    X(IO, "input/output error")                                                                    \
    X(STORE, "store error")                                                                        \
    X(BUSY, "resource busy")                                                                       \
    X(NOTFOUND, "not found")                                                                       \
    X(DECODE, "cannot decode payload")                                                             \
    X(TOOBIG, "payload too large")                                                                 \
    X(MISSING, "mandatory field missing")                                                          \
    X(UNKNOWN_KIND, "unknown event kind")                                                          \
    X(RANGE, "value out of range")                                                                 \
    X(TRANSPORT, "transport error (see the log)")                                                  \
    X(CONFIG, "configuration error")                                                               \
    X(TIMEOUT, "timed out")                                                                        \
    X(AGAIN, "try again later")                                                                    \
    X(DUPLICATE, "duplicate")                                                                      \
    X(SCHEMA, "store schema does not match this binary")                                           \
    X(LOCKED, "store is in use by another hub")                                                    \
    X(AMBIGUOUS, "more than one thing matches: say which")                                         \
    X(AUTH, "signature or token does not match")

typedef enum {
    LH_OK = 0,
    /* Not an error: accepted; the outcome is reported later (e.g. an output adapter's publish()
     * whose delivery report follows through lh_hub_alert_done/failed). Positive, so `rc < 0`
     * still tests for failure; lh_strerror() says "pending". */
    LH_PENDING = 1,
    /* Not an error: read and deliberately not stored (a webhook source's ping, a Jira comment);
     * a decoder reports it to its sink with a reason. lh_strerror() says "ignored". */
    LH_IGNORED = 2,
#define LH__ERR_ENUM(name, msg) LH_E##name,
    LH__ERR_FIRST = -1000,
    LH_ERRNO_MAP(LH__ERR_ENUM)
#undef LH__ERR_ENUM
        LH__ERR_LAST
} lh_err_t;

/* In a sequence of calls that each return 0 or LH_E*: runs expr always (a call that takes
 * ownership, like jansson's *_new setters, must still run) and keeps in rc the first failure,
 * never several codes OR-ed together. */
#define LH_KEEP_FIRST(rc, expr)                                                                    \
    do {                                                                                           \
        int lh__r = (expr);                                                                        \
        if ((rc) == 0)                                                                             \
            (rc) = lh__r;                                                                          \
    } while (0)

/* Returns a static, human-readable message for an LH_E* code (or "ok" for 0). */
const char *lh_strerror(int err);

/* Returns the symbolic name ("LH_ENOMEM") for an LH_E* code. */
const char *lh_err_name(int err);

#endif
