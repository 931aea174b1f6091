/*
 * zmq_send.c - lh_send_zmq() (include/loophub/send.h): one PUSH socket, fire and forget.
 * ZMQ_IMMEDIATE keeps a message from queueing for a peer that is not connected, so "no hub"
 * is a timeout, not a silent loss in the socket's queue; the linger gives queued messages the
 * same time to leave at close.
 */
#include <errno.h>
#include <zmq.h>

#include "loophub/error.h"
#include "loophub/log.h"
#include "loophub/send.h"

int
lh_send_zmq(const char *endpoint, const void *const *payloads, const size_t *lens, size_t n,
            int timeout_ms)
{
    if (!endpoint || (n && (!payloads || !lens)))
        return LH_EINVAL;
    void *zctx = zmq_ctx_new();
    if (!zctx)
        return LH_ENOMEM;
    void *s = zmq_socket(zctx, ZMQ_PUSH);
    int one = 1, rc = 0;
    if (!s || zmq_setsockopt(s, ZMQ_IMMEDIATE, &one, sizeof(one)) != 0 ||
        zmq_setsockopt(s, ZMQ_SNDTIMEO, &timeout_ms, sizeof(timeout_ms)) != 0 ||
        zmq_setsockopt(s, ZMQ_LINGER, &timeout_ms, sizeof(timeout_ms)) != 0 ||
        zmq_connect(s, endpoint) != 0) {
        lh_log(LH_LOG_ERROR, "send", "cannot connect to %s: %s", endpoint,
               zmq_strerror(zmq_errno()));
        rc = LH_ETRANSPORT;
    }
    for (size_t i = 0; rc == 0 && i < n; i++) {
        if (zmq_send(s, payloads[i], lens[i], 0) < 0) {
            int e = zmq_errno();
            if (e == EAGAIN) {
                rc = LH_ETIMEOUT;
            } else {
                lh_log(LH_LOG_ERROR, "send", "send to %s: %s", endpoint, zmq_strerror(e));
                rc = LH_ETRANSPORT;
            }
        }
    }
    if (s)
        zmq_close(s);
    zmq_ctx_term(zctx);
    return rc;
}
