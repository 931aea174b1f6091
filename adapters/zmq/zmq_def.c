/*
 * zmq_def.c - the ZeroMQ adapters' definition for the registry: the [zmq] settings and the
 * build step that creates PULL, ROUTER, SUB and PUB from them.
 *
 * All of them share one ZMQ context, created here and held by a small adapter registered
 * first: the hub destroys adapters in reverse order of registration, so every socket is closed
 * before the context is terminated.
 */
#include <stddef.h>
#include <zmq.h>

#include "loophub/error.h"
#include "loophub/registry.h"
#include "zmq_adapter.h"

typedef struct {
    char *pull;
    char *router;
    lh_strlist_t sub;
    char *pub;
    int64_t pub_queue;
} zmq_settings_t;

#define OFF(f) offsetof(zmq_settings_t, f)

/* clang-format off */
static const lh_conf_opt_t zmq_opts[] = {
    {"zmq-pull", "zmq", "pull", LH_CONF_STR, OFF(pull), "tcp://127.0.0.1:7701", "EP", "PULL bind endpoint, fire and forget ('off' to disable)"},
    {"zmq-router", "zmq", "router", LH_CONF_STR, OFF(router), "tcp://127.0.0.1:7702", "EP", "ROUTER bind endpoint, acked after commit ('off')"},
    {"zmq-sub", "zmq", "sub", LH_CONF_LIST, OFF(sub), NULL, "EP", "connect a SUB socket to an existing publisher (repeatable)"},
    {"zmq-pub", "zmq", "pub", LH_CONF_STR, OFF(pub), "tcp://127.0.0.1:7703", "EP", "alerts PUB bind endpoint ('off')"},
    {"zmq-pub-queue", "zmq", "pub_queue", LH_CONF_INT, OFF(pub_queue), "10000", "N", "alerts queued per PUB subscriber; a subscriber that falls further behind loses alerts alone (seq shows the gap)"},
};
/* clang-format on */

static void
zctx_destroy(void *zctx)
{
    zmq_ctx_term(zctx);
}

static const lh_adapter_ops_t zctx_ops = {
    .name = "zmq-context",
    .destroy = zctx_destroy,
};

static int
zmq_build(lh_hub_t *hub, const void *conf, char *why, size_t whylen)
{
    const zmq_settings_t *s = conf;
    (void)why;
    (void)whylen;
    if (lh_conf_off(s->pull) && lh_conf_off(s->router) && s->sub.n == 0 && lh_conf_off(s->pub))
        return 0;
    void *zctx = zmq_ctx_new();
    if (!zctx)
        return LH_ENOMEM;
    int rc = lh_hub_add_adapter(hub, &zctx_ops, zctx, NULL); /* on error it was destroyed */
    const lh_adapter_ops_t *ops = NULL;
    void *ctx = NULL;
    if (rc == 0 && !lh_conf_off(s->pull)) {
        const char *ep[] = {s->pull};
        if ((rc = lh_zmq_in_new(zctx, LH_ZMQ_PULL, ep, 1, &ops, &ctx)) == 0)
            rc = lh_hub_add_adapter(hub, ops, ctx, NULL);
    }
    if (rc == 0 && !lh_conf_off(s->router)) {
        const char *ep[] = {s->router};
        if ((rc = lh_zmq_in_new(zctx, LH_ZMQ_ROUTER, ep, 1, &ops, &ctx)) == 0)
            rc = lh_hub_add_adapter(hub, ops, ctx, NULL);
    }
    if (rc == 0 && s->sub.n > 0 &&
        (rc = lh_zmq_in_new(zctx, LH_ZMQ_SUB, (const char *const *)s->sub.v, s->sub.n, &ops,
                            &ctx)) == 0)
        rc = lh_hub_add_adapter(hub, ops, ctx, NULL);
    if (rc == 0 && !lh_conf_off(s->pub) &&
        (rc = lh_zmq_pub_new(zctx, s->pub, (int)s->pub_queue, &ops, &ctx)) == 0)
        rc = lh_hub_add_adapter(hub, ops, ctx, LH_ZMQ_PUB_SINK);
    return rc;
}

const lh_adapter_def_t lh_adapter_def_zmq = {
    .name = "zmq",
    .opts = zmq_opts,
    .n_opts = sizeof(zmq_opts) / sizeof(zmq_opts[0]),
    .conf_size = sizeof(zmq_settings_t),
    .build = zmq_build,
};
