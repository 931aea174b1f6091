/*
 * zmq_curve.h - ZeroMQ CURVE for the hub and its clients: key files, the socket settings of a
 * server and a client, the ZAP handler that admits only listed client keys, and key generation.
 *
 * A key file holds one key as 40 Z85 characters, optionally followed by one newline (what
 * `loophub keygen` writes). An allow-list file holds client public keys, one a line, optionally
 * followed by blanks and a # comment; blank lines and lines starting with # are comments (no
 * key starts with '#', though it is a Z85 digit: its value would overflow).
 *
 * Without a ZAP handler libzmq lets in any client that knows the server's public key. The handler
 * is a REP socket on inproc://zeromq.zap.01 in the hub's ZMQ context, bound before any server
 * socket (zmq_def.c builds it first) and served by the hub's reactor like any adapter: libzmq
 * asks it about every CURVE handshake, and it answers 200 for a listed key, 400 (logged at most
 * once a second, counted in loophub_zmq_curve_refused_total) for any other. A handshake that
 * fails before ZAP is asked (a plaintext client, another hub key) is seen by a socket monitor on
 * each server socket (lh_zmq_watch), logged and counted the same way.
 */
#ifndef LOOPHUB_ZMQ_CURVE_H
#define LOOPHUB_ZMQ_CURVE_H

#include <stddef.h>
#include <stdint.h>
#include <zmq.h>

#include "loophub/adapter.h"
#include "loophub/hub.h"

#define LH_ZMQ_KEY_LEN 40 /* Z85 characters of a CURVE key */
#define LH_ZMQ_ZAP_DOMAIN "loophub"

/* 1 when this libzmq can do CURVE (zmq_has("curve")). */
int lh_zmq_curve_available(void);

/* Reads the key file at path into key (NUL-terminated). what names it in errors ("secret key",
 * "server public key"). Returns 0, or LH_ECONFIG with err saying why: the file cannot be read,
 * is empty, is larger than a key and a newline, or is not 40 Z85 characters. */
int lh_zmq_curve_key_read(const char *path, const char *what, char key[LH_ZMQ_KEY_LEN + 1],
                          char *err, size_t errlen);

/* Reads an allow-list file: *keys gets n malloc'd Z85 keys (free with lh_zmq_curve_keys_free).
 * Returns 0, or LH_ECONFIG (err names the file and line: unreadable, a line that is no key, no
 * key at all) or LH_ENOMEM. */
int lh_zmq_curve_allow_read(const char *path, char ***keys, size_t *n, char *err, size_t errlen);
void lh_zmq_curve_keys_free(char **keys, size_t n);

/* Makes sock a CURVE server with the Z85 secret key, in the ZAP domain LH_ZMQ_ZAP_DOMAIN. Before
 * bind. Returns 0 or LH_ETRANSPORT (err says why). */
int lh_zmq_curve_server(void *sock, const char *secret, char *err, size_t errlen);

/* Makes sock a CURVE client of the server with Z85 public key server_key, with the client's Z85
 * secret key (its public key is derived from it). Before connect. 0 or LH_ETRANSPORT / LH_EINVAL
 * (err says why). */
int lh_zmq_curve_client(void *sock, const char *server_key, const char *secret, char *err,
                        size_t errlen);

/* A watch on sock's events (libzmq allows one monitor a socket: every event its adapter needs
 * goes through it). On a CURVE server socket include LH_ZMQ_WATCH_REFUSALS: the failed handshakes
 * that never reach the ZAP handler (a plaintext client, a client using another hub public key).
 * *watch is a socket to poll for reading; lh_zmq_watch_read() drains it: a refusal is logged (at
 * most once a second) and counted in loophub_zmq_curve_refused_total, any other event goes to cb
 * (when not NULL) with its ZMQ_EVENT_* id and value. Close it with lh_zmq_watch_close() before
 * sock. Returns 0 or LH_ETRANSPORT (logged). */
#define LH_ZMQ_WATCH_REFUSALS                                                                      \
    (ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL | ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL)
typedef void (*lh_zmq_event_cb)(void *arg, int id, uint32_t value);
int lh_zmq_watch(void *zctx, void *sock, int events, void **watch);
void lh_zmq_watch_read(void *watch, lh_hub_t *hub, const char *origin, lh_zmq_event_cb cb,
                       void *arg);
void lh_zmq_watch_close(void *sock, void *watch);

/* The ZAP handler (register it right after the context's adapter, before any server socket):
 * binds its REP socket now. keys: the admitted client public keys, copied. Returns 0 with *ops
 * and *ctx for lh_hub_add_adapter(), or LH_ENOMEM / LH_ETRANSPORT (logged). */
int lh_zmq_zap_new(void *zctx, char *const *keys, size_t n, const lh_adapter_ops_t **ops,
                   void **ctx);

/* Writes a new key pair: <prefix>.key (the secret, mode 0600) and <prefix>.pub (mode 0644), each
 * Z85 and a newline. Refuses to overwrite either. Returns 0, or LH_EIO / LH_ETRANSPORT with err
 * saying why (nothing is left behind). */
int lh_zmq_keygen(const char *prefix, char *err, size_t errlen);

#endif
