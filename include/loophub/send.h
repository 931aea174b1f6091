/*
 * send.h - hand encoded events to a running hub over ZeroMQ, as `loophub send --to` does
 * without --reliable: a PUSH socket to the hub's PULL endpoint, fire and forget (the hub gives
 * no answer on PULL; use its ROUTER endpoint, `loophub send --reliable`, for acknowledgements).
 */
#ifndef LOOPHUB_SEND_H
#define LOOPHUB_SEND_H

#include <stddef.h>

/* Connects to endpoint ("tcp://127.0.0.1:7701", "ipc:///run/loophub.sock") and queues the n
 * payloads (each one message: a protobuf or JSON event, as lh_codec_*_encode() write them),
 * waiting at most timeout_ms for a hub to be there, then for the messages to leave (a negative
 * timeout waits forever). Blocks; meant for programs and scripts, not for a reactor. Returns 0,
 * LH_ETIMEOUT (no hub took them within the timeout), LH_EINVAL or LH_ETRANSPORT (logged with
 * ZeroMQ's message). */
int lh_send_zmq(const char *endpoint, const void *const *payloads, const size_t *lens, size_t n,
                int timeout_ms);

#endif
