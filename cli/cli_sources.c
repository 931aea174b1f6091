/*
 * cli_sources.c - `loophub sources`: the webhook sources of a running hub (its GET /v1/sources):
 * each one's route, how it is told and checked, whether it is on and has a secret, and its
 * payloads accepted / ignored / rejected since the hub started; the aliases in force.
 *
 * The counts live in the running hub, so this asks it over HTTP (libcurl, one request with a
 * timeout: lh_cli_ask_hub(), which `loophub sinks` shares); the hub's bearer token comes from
 * --token-file or LOOPHUB_TOKEN_FILE, the address from --url or LOOPHUB_URL. Exit codes: 0 ok, 1
 * error (no hub there, a refusal), 2 bad usage.
 */
#include <curl/curl.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "loophub/buf.h"
#include "loophub/error.h"
#include "loophub/secret.h"

#define CMD "sources"
#define DEFAULT_URL "http://127.0.0.1:7780"
#define TIMEOUT_MS 5000L
#define MAX_ANSWER (1L << 20)

static const char usage_text[] =
    "Usage: loophub sources [--url URL] [--token-file FILE] [--format text|json]\n"
    "\n"
    "Lists the webhook sources of a running hub (GitHub, GitLab, Grafana, PagerDuty, Jira,\n"
    "Flux, Tekton): the route each posts to, how a request is told to be its, what its secret\n"
    "checks and whether one is set, and the payloads it sent since the hub started: accepted\n"
    "(stored, or already there), ignored (a ping and the like: read, nothing to record) and\n"
    "rejected (a bad payload or signature: see `loophub quarantine`). Then the default\n"
    "environment and the aliases in force. docs/sources.md says what each source's payloads\n"
    "become.\n"
    "\n"
    "Options:\n"
    "  --url URL          the hub's HTTP address (default $LOOPHUB_URL, else " DEFAULT_URL ")\n"
    "  --token-file FILE  its bearer token, when it has one (default $LOOPHUB_TOKEN_FILE)\n"
    "  --format FMT       text (default) or json (the hub's document as it is)\n"
    "  -h, --help         show this help\n"
    "\n"
    "Exit status: 0 ok, 1 error (no hub at the address, a refused token), 2 bad usage.\n";

static size_t
take(char *p, size_t size, size_t n, void *arg)
{
    lh_buf_t *b = arg;
    if (b->len + size * n > (size_t)MAX_ANSWER || lh_buf_append(b, p, size * n) < 0)
        return 0; /* curl reports a write error */
    return size * n;
}

/* GET base + path into b. Returns 0, or LH_EXIT_ERROR after saying why (as cmd). */
static int
fetch(const char *cmd, const char *base, const char *path, const char *token, lh_buf_t *b)
{
    char url[512], auth[LH_SECRET_MAX + 32];
    size_t bl = strlen(base);
    while (bl && base[bl - 1] == '/')
        bl--;
    snprintf(url, sizeof(url), "%.*s%s", (int)bl, base, path);
    CURL *c = curl_easy_init();
    if (!c) {
        lh_cli_error(cmd, "cannot start libcurl");
        return LH_EXIT_ERROR;
    }
    struct curl_slist *h = NULL;
    if (token) {
        snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
        h = curl_slist_append(h, auth);
    }
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, TIMEOUT_MS);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, take);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, b);
    CURLcode rc = curl_easy_perform(c);
    long code = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    if (rc != CURLE_OK) {
        lh_cli_error(cmd, "no answer from a hub at %s: %s (is it running? --url)", url,
                     curl_easy_strerror(rc));
        return LH_EXIT_ERROR;
    }
    if (code != 200) {
        lh_cli_error(cmd, "%s answered %ld%s: %.*s", url, code,
                     code == 401 || code == 403 ? " (give its token: --token-file)" : "",
                     (int)(b->len > 300 ? 300 : b->len), b->data ? (const char *)b->data : "");
        return LH_EXIT_ERROR;
    }
    return 0;
}

static void
print_aliases(FILE *out, const char *what, json_t *map)
{
    const char *k;
    json_t *v;
    int first = 1;
    fprintf(out, "%s aliases:", what);
    json_object_foreach(map, k, v)
    {
        fprintf(out, "%s %s -> %s", first ? "" : ",", k, json_string_value(v));
        first = 0;
    }
    fprintf(out, "%s\n", first ? " none" : "");
}

static int
print_text(const char *cmd, FILE *out, const char *text)
{
    json_error_t e;
    json_t *doc = json_loads(text, 0, &e);
    json_t *list = json_object_get(doc, "sources");
    if (!json_is_array(list)) {
        json_decref(doc);
        lh_cli_error(cmd, "the hub's answer is not a sources document");
        return LH_EXIT_ERROR;
    }
    fprintf(out, "%-10s %-22s %-6s %-4s %9s %8s %9s  %s\n", "source", "route", "secret", "on",
            "accepted", "ignored", "rejected", "told by");
    size_t i;
    json_t *s;
    json_array_foreach(list, i, s)
    {
        json_t *p = json_object_get(s, "payloads");
        fprintf(out, "%-10s %-22s %-6s %-4s %9lld %8lld %9lld  %s\n",
                json_string_value(json_object_get(s, "name")),
                json_string_value(json_object_get(s, "route")),
                json_is_true(json_object_get(s, "secret")) ? "yes" : "no",
                json_is_true(json_object_get(s, "enabled")) ? "yes" : "off",
                (long long)json_integer_value(json_object_get(p, "accepted")),
                (long long)json_integer_value(json_object_get(p, "ignored")),
                (long long)json_integer_value(json_object_get(p, "rejected")),
                json_string_value(json_object_get(s, "detect")));
    }
    fprintf(out, "default environment: %s\n",
            json_string_value(json_object_get(doc, "default_environment")));
    print_aliases(out, "environment", json_object_get(doc, "environment_aliases"));
    print_aliases(out, "service", json_object_get(doc, "service_aliases"));
    json_decref(doc);
    return LH_EXIT_OK;
}

int
lh_cli_ask_hub(const char *cmd, const char *usage, const char *path, lh_cli_hub_printer_fn print,
               int argc, char **argv)
{
    static const struct option opts[] = {
        {"url", required_argument, NULL, 'u'},
        {"token-file", required_argument, NULL, 't'},
        {"format", required_argument, NULL, 'f'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *url = getenv("LOOPHUB_URL"), *token_file = getenv("LOOPHUB_TOKEN_FILE");
    const char *format = "text";
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        switch (c) {
        case 'u':
            url = optarg;
            break;
        case 't':
            token_file = optarg;
            break;
        case 'f':
            format = optarg;
            break;
        case 'h':
            fputs(usage, stdout);
            return LH_EXIT_OK;
        default:
            return lh_cli_getopt_error(cmd, c, argv);
        }
    }
    if (optind < argc)
        return lh_cli_usage_error(cmd, "unexpected argument '%s'", argv[optind]);
    if (strcmp(format, "text") && strcmp(format, "json"))
        return lh_cli_usage_error(cmd, "--format: '%s' is not text or json", format);
    if (!url || !*url)
        url = DEFAULT_URL;
    if (strncmp(url, "http://", 7) && strncmp(url, "https://", 8))
        return lh_cli_usage_error(cmd, "--url: '%s' is not an http:// or https:// address", url);
    char *token = NULL;
    if (token_file && *token_file) {
        char why[400];
        if (lh_secret_file_read(token_file, "token", &token, why, sizeof(why)) < 0) {
            lh_cli_error(cmd, "%s", why);
            return LH_EXIT_ERROR;
        }
    }
    lh_buf_t b = LH_BUF_INIT;
    int rc = fetch(cmd, url, path, token, &b);
    free(token);
    if (rc == 0 && lh_buf_append(&b, "", 1) < 0)
        rc = LH_EXIT_ERROR;
    if (rc == 0) {
        if (!strcmp(format, "json"))
            fputs((const char *)b.data, stdout);
        else
            rc = print(cmd, stdout, (const char *)b.data);
    }
    lh_buf_free(&b);
    return rc;
}

int
lh_cli_sources(int argc, char **argv)
{
    return lh_cli_ask_hub(CMD, usage_text, "/v1/sources", print_text, argc, argv);
}
