/*
 * check_registry.c - the adapter registry and the config maps: the table holds the adapters
 * compiled in, an incomplete definition aborts at registration, and an adapter's config map
 * alone gives it its options, its INI section, its passthrough section and its --help lines
 * (hub/config.c walks the maps; nothing else names the adapter).
 */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "loophub/error.h"
#include "loophub/hub.h"
#include "loophub/registry.h"
#include "loophub/send.h"
#include "testutil.h"

/* --- a definition made for the test ------------------------------------------------------- */

typedef struct {
    char *listen;
    lh_strlist_t peers;
    int64_t wait_ns;
    lh_strlist_t raw;
} fake_settings_t;

static const lh_conf_opt_t fake_opts[] = {
    {"fake-listen", "fake", "listen", LH_CONF_STR, offsetof(fake_settings_t, listen), "here:1",
     "ADDR", "where the fake listens"},
    {"fake-peer", "fake", "peer", LH_CONF_LIST, offsetof(fake_settings_t, peers), NULL, "P",
     "a peer (repeatable)"},
    {"fake-wait", "fake_more", "wait", LH_CONF_DUR, offsetof(fake_settings_t, wait_ns), "5s", "DUR",
     "how long the fake waits"},
};

static int
fake_check(const void *conf, char *why, size_t whylen)
{
    const fake_settings_t *s = conf;
    if (s->listen && strcmp(s->listen, "forbidden") == 0) {
        snprintf(why, whylen, "--fake-listen: 'forbidden' is not allowed");
        return LH_EINVAL;
    }
    return 0;
}

static int
fake_build(lh_hub_t *hub, const void *conf, char *why, size_t whylen)
{
    (void)hub;
    (void)conf;
    (void)why;
    (void)whylen;
    return 0;
}

static const lh_adapter_def_t fake_def = {
    .name = "fake",
    .opts = fake_opts,
    .n_opts = sizeof(fake_opts) / sizeof(fake_opts[0]),
    .conf_size = sizeof(fake_settings_t),
    .passthrough = "fake_raw",
    .passthrough_offset = offsetof(fake_settings_t, raw),
    .check = fake_check,
    .build = fake_build,
};

/* --- the table ------------------------------------------------------------------------------ */

START_TEST(table_holds_the_adapters_built)
{
    size_t n = 0;
    const lh_adapter_def_t *const *t = lh_registry_adapters(&n);
    ck_assert_uint_ge(n, 1);
    ck_assert_ptr_nonnull(lh_registry_find("zmq"));
#ifdef LH_WITH_KAFKA
    ck_assert_ptr_nonnull(lh_registry_find("kafka"));
#endif
#ifdef LH_WITH_HTTP
    ck_assert_ptr_nonnull(lh_registry_find("http"));
#endif
    ck_assert_ptr_null(lh_registry_find("nosuch"));
    for (size_t i = 0; i < n; i++) {
        ck_assert_ptr_nonnull(t[i]->build);
        ck_assert_ptr_eq(lh_registry_find(t[i]->name), t[i]);
    }
}
END_TEST

START_TEST(incomplete_definition_aborts)
{
    lh_adapter_def_t d = fake_def;
    d.build = NULL; /* no build(): a programmer error */
    lh_registry_check(&d);
}
END_TEST

START_TEST(row_outside_settings_aborts)
{
    lh_adapter_def_t d = fake_def;
    d.conf_size = offsetof(fake_settings_t, wait_ns); /* fake-wait falls outside */
    lh_registry_check(&d);
}
END_TEST

START_TEST(row_half_outside_settings_aborts)
{
    lh_adapter_def_t d = fake_def;
    d.passthrough = NULL; /* only the row can be outside */
    d.conf_size = offsetof(fake_settings_t, wait_ns) + 4; /* fake-wait's int64_t sticks out */
    lh_registry_check(&d);
}
END_TEST

START_TEST(complete_definition_passes)
{
    lh_registry_check(&fake_def); /* returns: nothing missing */
    ck_assert_str_eq(fake_def.name, "fake");
}
END_TEST

/* --- config maps ----------------------------------------------------------------------------- */

static const lh_adapter_def_t *const fake_defs[] = {&fake_def};

START_TEST(map_gives_options_and_defaults)
{
    lh_run_conf_t c;
    ck_assert_int_eq(lh_run_conf_init(&c, fake_defs, 1), 0);
    fake_settings_t *s = lh_run_conf_adapter(&c, "fake");
    ck_assert_ptr_nonnull(s);
    ck_assert_str_eq(s->listen, "here:1");
    ck_assert_int_eq(s->wait_ns, 5 * 1000000000LL);
    char *argv[] = {"run", "--fake-listen", "there:2", "--fake-peer", "a",    "--fake-peer",
                    "b",   "--fake-wait",   "2m",      "--db",        "x.db", NULL};
    char err[256] = "";
    ck_assert_int_eq(lh_run_conf_parse(&c, 11, argv, err, sizeof(err)), 0);
    ck_assert_str_eq(s->listen, "there:2");
    ck_assert_uint_eq(s->peers.n, 2);
    ck_assert_str_eq(s->peers.v[1], "b");
    ck_assert_int_eq(s->wait_ns, 120 * 1000000000LL);
    ck_assert_str_eq(c.db, "x.db"); /* the core's map still works beside it */
    lh_run_conf_free(&c);
}
END_TEST

START_TEST(map_gives_ini_section_and_passthrough)
{
    char dir[] = "/tmp/lh-registry-XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char path[300];
    snprintf(path, sizeof(path), "%s/run.ini", dir);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs("[fake]\nlisten = from-file:3\npeer = p1\n[fake_more]\nwait = 1h\n"
          "[fake_raw]\nsome.property = 7\n[store]\npath = file.db\n",
          f);
    fclose(f);
    lh_run_conf_t c;
    ck_assert_int_eq(lh_run_conf_init(&c, fake_defs, 1), 0);
    char err[512] = "";
    ck_assert_int_eq(lh_run_conf_load(&c, path, err, sizeof(err)), 0);
    fake_settings_t *s = lh_run_conf_adapter(&c, "fake");
    ck_assert_str_eq(s->listen, "from-file:3");
    ck_assert_uint_eq(s->peers.n, 1);
    ck_assert_int_eq(s->wait_ns, 3600 * 1000000000LL);
    ck_assert_uint_eq(s->raw.n, 1);
    ck_assert_str_eq(s->raw.v[0], "some.property=7");
    ck_assert_str_eq(c.db, "file.db");
    lh_run_conf_free(&c);
    unlink(path);
    rmdir(dir);
}
END_TEST

START_TEST(map_gives_help_and_check)
{
    lh_run_conf_t c;
    ck_assert_int_eq(lh_run_conf_init(&c, fake_defs, 1), 0);
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    ck_assert_ptr_nonnull(out);
    lh_run_conf_help(&c, out);
    fclose(out);
    ck_assert_msg(strstr(text, "--fake-listen ADDR") && strstr(text, "(default here:1)") &&
                      strstr(text, "[fake.listen]") && strstr(text, "[fake_more.wait]") &&
                      strstr(text, "[fake_raw] is passed to the fake adapter"),
                  "help lacks the fake adapter's rows:\n%s", text);
    free(text);
    /* the adapter's check() runs after parsing and its reason is the error */
    char *argv[] = {"run", "--fake-listen", "forbidden", NULL};
    char err[256] = "";
    ck_assert_int_eq(lh_run_conf_parse(&c, 3, argv, err, sizeof(err)), LH_EINVAL);
    ck_assert_str_eq(err, "--fake-listen: 'forbidden' is not allowed");
    /* an unknown key in the adapter's section is named */
    lh_run_conf_free(&c);
}
END_TEST

START_TEST(run_help_lists_every_adapter)
{
    size_t n = 0;
    const lh_adapter_def_t *const *t = lh_registry_adapters(&n);
    lh_run_conf_t c;
    ck_assert_int_eq(lh_run_conf_init(&c, t, n), 0);
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    lh_run_conf_help(&c, out);
    fclose(out);
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < t[i]->n_opts; k++) {
            char want[96];
            snprintf(want, sizeof(want), "--%s %s", t[i]->opts[k].name, t[i]->opts[k].arg);
            ck_assert_msg(strstr(text, want), "--help lacks %s", want);
        }
    free(text);
    lh_run_conf_free(&c);
}
END_TEST

/* --- embedding: one adapter from settings, and sending to a hub ---------------------------- */

START_TEST(adapter_build_from_settings)
{
    char *dir = lh_test_tmpdir();
    char db[300];
    snprintf(db, sizeof(db), "%s/r.db", dir);
    lh_hub_opts_t o;
    lh_hub_opts_default(&o);
    o.db_path = db;
    lh_hub_t *hub = NULL;
    ck_assert_int_eq(lh_hub_new(&o, &hub), 0);
    char why[256] = "";
    const char *ok[] = {"fake-listen=x:1", "fake-wait=3s"};
    ck_assert_int_eq(lh_adapter_build(hub, &fake_def, ok, 2, why, sizeof(why)), 0);
    const char *unknown[] = {"fake-nosuch=1"};
    ck_assert_int_eq(lh_adapter_build(hub, &fake_def, unknown, 1, why, sizeof(why)), LH_EINVAL);
    ck_assert_str_eq(why, "adapter fake: 'fake-nosuch=1' is not one of its settings (NAME=VALUE)");
    const char *bad[] = {"fake-wait=soon"};
    ck_assert_int_eq(lh_adapter_build(hub, &fake_def, bad, 1, why, sizeof(why)), LH_EINVAL);
    ck_assert_msg(strstr(why, "--fake-wait: 'soon' is not a duration"), "why: %s", why);
    const char *refused[] = {"fake-listen=forbidden"}; /* the definition's check() runs */
    ck_assert_int_eq(lh_adapter_build(hub, &fake_def, refused, 1, why, sizeof(why)), LH_EINVAL);
    ck_assert_str_eq(why, "--fake-listen: 'forbidden' is not allowed");
    lh_hub_destroy(&hub);
    lh_test_rmrf(dir);
    free(dir);
}
END_TEST

START_TEST(send_zmq_without_hub_times_out)
{
    char *dir = lh_test_tmpdir();
    char ep[300];
    snprintf(ep, sizeof(ep), "ipc://%s/nobody", dir);
    const void *msgs[] = {"x"};
    size_t lens[] = {1};
    ck_assert_int_eq(lh_send_zmq(ep, msgs, lens, 1, 100), LH_ETIMEOUT);
    ck_assert_int_eq(lh_send_zmq(NULL, msgs, lens, 1, 100), LH_EINVAL);
    lh_test_rmrf(dir);
    free(dir);
}
END_TEST

static Suite *
registry_suite(void)
{
    Suite *s = suite_create("registry");
    const lh_test_case_t tests[] = {
        {"table", table_holds_the_adapters_built, 0, 0},
        {"complete", complete_definition_passes, 0, 0},
        {"map_options", map_gives_options_and_defaults, 0, 0},
        {"map_ini", map_gives_ini_section_and_passthrough, 0, 0},
        {"map_help", map_gives_help_and_check, 0, 0},
        {"run_help", run_help_lists_every_adapter, 0, 0},
        {"adapter_build", adapter_build_from_settings, 0, 0},
        {"send_zmq", send_zmq_without_hub_times_out, 0, 0},
    };
    lh_test_add_cases(s, tests, LH_TEST_COUNT(tests), 10, NULL, NULL);
    TCase *tc = tcase_create("incomplete");
    tcase_add_test_raise_signal(tc, incomplete_definition_aborts, SIGABRT);
    tcase_add_test_raise_signal(tc, row_outside_settings_aborts, SIGABRT);
    tcase_add_test_raise_signal(tc, row_half_outside_settings_aborts, SIGABRT);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    return lh_test_run_suite(registry_suite());
}
