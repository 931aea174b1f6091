/*
 * http_def.c - the HTTP adapter's definition for the registry: the [http] settings and the
 * build step (the tokens are read from their files here, so a bad file stops the start with a
 * line naming the file and what is wrong with it).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "http_adapter.h"
#include "loophub/error.h"
#include "loophub/registry.h"

typedef struct {
    char *listen;
    char *token_file;
    char *read_token_file;
    int64_t header_timeout_ns;
    int64_t body_timeout_ns;
    int64_t per_address;
} http_settings_t;

#define OFF(f) offsetof(http_settings_t, f)

/* clang-format off */
static const lh_conf_opt_t http_opts[] = {
    {"http", "http", "listen", LH_CONF_STR, OFF(listen), "127.0.0.1:7780", "ADDR:PORT", "HTTP API and page ('off' to disable)"},
    {"http-token-file", "http", "token_file", LH_CONF_STR, OFF(token_file), NULL, "FILE", "require this bearer token (the whole file, trailing newline stripped) for HTTP writes, and for reads without --http-read-token-file"},
    {"http-read-token-file", "http", "read_token_file", LH_CONF_STR, OFF(read_token_file), NULL, "FILE", "require this bearer token for every HTTP GET but /healthz and /readyz (/metrics included)"},
    {"http-header-timeout", "http", "header_timeout", LH_CONF_DUR, OFF(header_timeout_ns), "10s", "DUR", "close an HTTP connection whose request headers are not in by then, however slowly they trickle"},
    {"http-body-timeout", "http", "body_timeout", LH_CONF_DUR, OFF(body_timeout_ns), "30s", "DUR", "close an HTTP connection whose request body is not in this long after its headers"},
    {"http-per-address", "http", "per_address", LH_CONF_INT, OFF(per_address), "64", "N", "HTTP connections one client address may hold (of 256 in all; raise it behind a proxy)"},
};
/* clang-format on */

static int
http_build(lh_hub_t *hub, const void *conf, char *why, size_t whylen)
{
    const http_settings_t *s = conf;
    if (lh_conf_off(s->listen))
        return 0;
    char *token = NULL, *read_token = NULL;
    int rc = 0;
    if (s->token_file)
        rc = lh_http_read_token_file(s->token_file, &token, why, whylen);
    if (rc == 0 && s->read_token_file)
        rc = lh_http_read_token_file(s->read_token_file, &read_token, why, whylen);
    if (rc < 0) {
        free(token);
        return rc;
    }
    lh_http_opts_t o;
    lh_http_opts_default(&o);
    o.listen = s->listen;
    o.token = token;
    o.read_token = read_token;
    o.header_timeout_ns = s->header_timeout_ns;
    o.body_timeout_ns = s->body_timeout_ns;
    o.per_address = s->per_address > (int64_t)LH_HTTP_MAX_CONNECTIONS
                        ? (unsigned)LH_HTTP_MAX_CONNECTIONS
                        : (unsigned)s->per_address;
    const lh_adapter_ops_t *ops = NULL;
    void *ctx = NULL;
    rc = lh_http_new(&o, &ops, &ctx);
    free(token);
    free(read_token);
    if (rc == LH_EINVAL)
        snprintf(why, whylen, "cannot listen on %s: expected ADDR:PORT", s->listen);
    if (rc == 0)
        rc = lh_hub_add_adapter(hub, ops, ctx, NULL);
    return rc;
}

const lh_adapter_def_t lh_adapter_def_http = {
    .name = "http",
    .opts = http_opts,
    .n_opts = sizeof(http_opts) / sizeof(http_opts[0]),
    .conf_size = sizeof(http_settings_t),
    .build = http_build,
};
