/*
 * replay.c - replays a fuzz target's regression corpus without libFuzzer, so `make test` (gcc,
 * ASan+UBSan with leak detection) runs every crash, leak and interesting input ever found.
 *
 * Usage: fuzz_replay_<target> CORPUS_DIR. A Check program with one test that feeds every regular
 * file of the directory, in name order, to the target's LLVMFuzzerTestOneInput(). The test runs
 * in a forked child: a sanitizer report, a failed property (abort) or a leak fails it, and
 * Check's "(after this point)" location names the corpus file that was being replayed.
 */
#include <check.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"
#include "testutil.h"

static const char *corpus_dir;

typedef struct {
    char **paths;
    size_t n;
} corpus_t;

static int
cmp_path(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The regular files of dir, sorted. Returns 0, or -1 when dir cannot be read. */
static int
corpus_list(const char *dir, corpus_t *c)
{
    DIR *d = opendir(dir);
    struct dirent *e;

    c->paths = NULL;
    c->n = 0;
    if (!d)
        return -1;
    while ((e = readdir(d)) != NULL) {
        char *p;
        struct stat st;
        if (e->d_name[0] == '.')
            continue;
        if (asprintf(&p, "%s/%s", dir, e->d_name) < 0)
            break;
        if (stat(p, &st) != 0 || !S_ISREG(st.st_mode)) {
            free(p);
            continue;
        }
        char **np = realloc(c->paths, (c->n + 1) * sizeof(*np));
        if (!np) {
            free(p);
            break;
        }
        c->paths = np;
        c->paths[c->n++] = p;
    }
    closedir(d);
    qsort(c->paths, c->n, sizeof(*c->paths), cmp_path);
    return 0;
}

static void
corpus_free(corpus_t *c)
{
    for (size_t i = 0; i < c->n; i++)
        free(c->paths[i]);
    free(c->paths);
    c->paths = NULL;
    c->n = 0;
}

/* Reads a whole file into an exact-size allocation (so an overread is caught). */
static uint8_t *
read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    uint8_t *buf = NULL;
    long n;

    if (!f)
        return NULL;
    if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0) {
        buf = malloc(n ? (size_t)n : 1);
        if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
            free(buf);
            buf = NULL;
        }
        *len = (size_t)n;
    }
    fclose(f);
    return buf;
}

START_TEST(replay_corpus)
{
    corpus_t c;
    ck_assert_msg(corpus_list(corpus_dir, &c) == 0, "cannot read corpus directory %s", corpus_dir);
    ck_assert_msg(c.n > 0, "corpus directory %s is empty", corpus_dir);
    for (size_t i = 0; i < c.n; i++) {
        size_t len = 0;
        uint8_t *data = read_all(c.paths[i], &len);
        ck_assert_msg(data != NULL, "cannot read %s", c.paths[i]);
        /* a crash now is reported "after this point": the file's name */
        _mark_point(c.paths[i], 0);
        LLVMFuzzerTestOneInput(data, len);
        free(data);
    }
    printf("replayed %zu inputs from %s\n", c.n, corpus_dir);
    corpus_free(&c);
}
END_TEST

int
main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s CORPUS_DIR\n", argv[0]);
        return 2;
    }
    corpus_dir = argv[1];

    Suite *s = suite_create("fuzz_replay");
    TCase *tc = tcase_create("corpus");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, replay_corpus);
    suite_add_tcase(s, tc);

    return lh_test_run_suite(s);
}
