/*
 * http_def.c - the HTTP adapter's definition for the registry: the [http] settings and the
 * build step (the bearer token is read from its file here, so a bad file stops the start).
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

#include "http_adapter.h"
#include "loophub/error.h"
#include "loophub/registry.h"

typedef struct {
    char *listen;
    char *token_file;
} http_settings_t;

#define OFF(f) offsetof(http_settings_t, f)

/* clang-format off */
static const lh_conf_opt_t http_opts[] = {
    {"http", "http", "listen", LH_CONF_STR, OFF(listen), "127.0.0.1:7780", "ADDR:PORT", "HTTP API and page ('off' to disable)"},
    {"http-token-file", "http", "token_file", LH_CONF_STR, OFF(token_file), NULL, "FILE", "require this bearer token for HTTP writes"},
};
/* clang-format on */

static int
http_build(lh_hub_t *hub, const void *conf, char *why, size_t whylen)
{
    const http_settings_t *s = conf;
    if (lh_conf_off(s->listen))
        return 0;
    char *token = NULL;
    int rc;
    if (s->token_file && (rc = lh_http_read_token_file(s->token_file, &token)) < 0) {
        snprintf(why, whylen, "cannot read the HTTP token from %s", s->token_file);
        return rc;
    }
    const lh_adapter_ops_t *ops = NULL;
    void *ctx = NULL;
    rc = lh_http_new(s->listen, token, &ops, &ctx);
    free(token);
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
