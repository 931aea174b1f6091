/*
 * check_metrics.c - the metrics registry (hub/metrics.c) and the /metrics exposition.
 *
 * The exposition is read back by a small parser of the Prometheus text format (version 0.0.4)
 * written here, stricter than Prometheus where loophub promises more: every family once, its
 * HELP and TYPE before its samples; names and label names valid; label values quoted and escaped;
 * each series once; histograms with cumulative buckets in ascending le, "+Inf" last and equal to
 * _count. On top of that the lint rules of the task: every name loophub_-prefixed, counters (and
 * only counters) ending in _total, no family with samples both with and without labels, every
 * counter series present at 0 on a fresh registry. The same text also goes through
 * `promtool check metrics` (Debian package prometheus) when it is installed: it must exit 0 and
 * print no finding. Without promtool that test says so and passes, except under CI (CI=true),
 * where it fails.
 */
#include <check.h>
#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hub.h"
#include "loophub/error.h"
#include "metrics.h"
#include "testutil.h"

/* ---- a Prometheus text-format parser ------------------------------------------------------ */

#define MAX_FAMILIES 64
#define MAX_SAMPLES 160
#define MAX_LABELS 2
#define STR 96

typedef struct {
    char name[STR];
    int n_labels;
    char lname[MAX_LABELS][STR];
    char lvalue[MAX_LABELS][STR]; /* unescaped */
    double value;
} sample_t;

typedef struct {
    char name[STR];
    char type[16]; /* "" when no TYPE line */
    char help[512];
    int has_help;
    int n;
    sample_t s[MAX_SAMPLES];
} family_t;

typedef struct {
    int n;
    family_t f[MAX_FAMILIES];
    char err[512]; /* the first problem, "" when none */
} expo_t;

/* Notes the first problem (line 0: a whole-family check). Returns -1. */
static int perr(expo_t *e, int line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int
perr(expo_t *e, int line, const char *fmt, ...)
{
    if (!e->err[0]) {
        int n = snprintf(e->err, sizeof(e->err), "line %d: ", line);
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(e->err + n, sizeof(e->err) - (size_t)n, fmt, ap);
        va_end(ap);
    }
    return -1;
}

static int
name_char(int c, int first, int colon)
{
    return isalpha(c) || c == '_' || (colon && c == ':') || (!first && isdigit(c));
}

/* Reads a metric name (colon: allowed) or label name at *p into out. Returns its length (0: none
 * or too long). */
static size_t
read_name(const char **p, char *out, int colon)
{
    size_t n = 0;
    while (name_char((unsigned char)(*p)[n], n == 0, colon) && n + 1 < STR)
        n++;
    if (name_char((unsigned char)(*p)[n], 0, colon))
        return 0;
    memcpy(out, *p, n);
    out[n] = 0;
    *p += n;
    return n;
}

static int
read_float(const char *s, const char *end, double *v)
{
    char buf[64];
    size_t n = (size_t)(end - s);
    if (n == 0 || n >= sizeof(buf))
        return -1;
    memcpy(buf, s, n);
    buf[n] = 0;
    if (strcmp(buf, "+Inf") == 0 || strcmp(buf, "Inf") == 0) {
        *v = INFINITY;
        return 0;
    }
    if (strcmp(buf, "-Inf") == 0) {
        *v = -INFINITY;
        return 0;
    }
    if (strcmp(buf, "NaN") == 0) {
        *v = NAN;
        return 0;
    }
    char *q;
    *v = strtod(buf, &q);
    return *q || !isfinite(*v) ? -1 : 0;
}

static family_t *
find_family(expo_t *e, const char *name)
{
    for (int i = 0; i < e->n; i++)
        if (strcmp(e->f[i].name, name) == 0)
            return &e->f[i];
    return NULL;
}

/* The family a sample named name belongs to: a histogram's _bucket/_sum/_count, else its own. */
static void
family_of(const expo_t *e, const char *name, char *out)
{
    static const char *const suffixes[] = {"_bucket", "_sum", "_count"};
    snprintf(out, STR, "%s", name);
    for (int i = 0; i < 3; i++) {
        size_t nl = strlen(name), sl = strlen(suffixes[i]);
        if (nl <= sl || strcmp(name + nl - sl, suffixes[i]) != 0)
            continue;
        char base[STR];
        snprintf(base, sizeof(base), "%.*s", (int)(nl - sl), name);
        for (int k = 0; k < e->n; k++)
            if (strcmp(e->f[k].name, base) == 0 && strcmp(e->f[k].type, "histogram") == 0)
                snprintf(out, STR, "%s", base);
    }
}

/* Opens (or continues) family name; a family that comes back after another one is an error. */
static family_t *
enter(expo_t *e, family_t **cur, const char *name, int line)
{
    if (*cur && strcmp((*cur)->name, name) == 0)
        return *cur;
    if (find_family(e, name)) {
        perr(e, line, "family %s appears twice (not one contiguous group)", name);
        return NULL;
    }
    if (e->n == MAX_FAMILIES) {
        perr(e, line, "too many families (%s)", name);
        return NULL;
    }
    family_t *f = &e->f[e->n++];
    memset(f, 0, sizeof(*f));
    snprintf(f->name, sizeof(f->name), "%s", name);
    *cur = f;
    return f;
}

static int
parse_labels(expo_t *e, int line, const char **pp, sample_t *s)
{
    const char *p = *pp + 1; /* after '{' */
    while (*p != '}') {
        if (s->n_labels == MAX_LABELS)
            return perr(e, line, "too many labels on %s", s->name);
        char *ln = s->lname[s->n_labels], *lv = s->lvalue[s->n_labels];
        if (!read_name(&p, ln, 0))
            return perr(e, line, "bad label name on %s", s->name);
        if (strncmp(ln, "__", 2) == 0)
            return perr(e, line, "reserved label name %s", ln);
        for (int i = 0; i < s->n_labels; i++)
            if (strcmp(s->lname[i], ln) == 0)
                return perr(e, line, "label %s given twice", ln);
        if (*p++ != '=' || *p++ != '"')
            return perr(e, line, "label %s: expected =\"", ln);
        size_t n = 0;
        for (; *p != '"'; p++) {
            if (!*p || *p == '\n')
                return perr(e, line, "label %s: unterminated value", ln);
            char c = *p;
            if (c == '\\') {
                p++;
                if (*p == 'n')
                    c = '\n';
                else if (*p == '\\' || *p == '"')
                    c = *p;
                else
                    return perr(e, line, "label %s: bad escape", ln);
            }
            if (n + 1 < STR)
                lv[n++] = c;
        }
        lv[n] = 0;
        p++; /* the closing quote */
        s->n_labels++;
        if (*p == ',')
            p++;
        else if (*p != '}')
            return perr(e, line, "labels of %s: expected , or }", s->name);
    }
    *pp = p + 1;
    return 0;
}

static int
same_labels(const sample_t *a, const sample_t *b)
{
    if (a->n_labels != b->n_labels)
        return 0;
    for (int i = 0; i < a->n_labels; i++) {
        int found = 0;
        for (int k = 0; k < b->n_labels; k++)
            if (strcmp(a->lname[i], b->lname[k]) == 0 && strcmp(a->lvalue[i], b->lvalue[k]) == 0)
                found = 1;
        if (!found)
            return 0;
    }
    return 1;
}

static int
parse_line(expo_t *e, family_t **cur, int line, const char *p, const char *end)
{
    char name[STR];
    if (p == end)
        return 0; /* empty lines are allowed */
    if (*p == '#') {
        const char *q = p + 1;
        while (*q == ' ')
            q++;
        int help = strncmp(q, "HELP ", 5) == 0, type = strncmp(q, "TYPE ", 5) == 0;
        if (!help && !type)
            return 0; /* a plain comment */
        q += 5;
        if (!read_name(&q, name, 1))
            return perr(e, line, "bad name in a %s line", help ? "HELP" : "TYPE");
        family_t *f = enter(e, cur, name, line);
        if (!f)
            return -1;
        if (f->n)
            return perr(e, line, "%s: HELP or TYPE after its samples", name);
        if (help) {
            if (f->has_help)
                return perr(e, line, "%s: two HELP lines", name);
            f->has_help = 1;
            if (*q == ' ')
                q++;
            snprintf(f->help, sizeof(f->help), "%.*s", (int)(end - q), q);
            return 0;
        }
        if (f->type[0])
            return perr(e, line, "%s: two TYPE lines", name);
        if (*q++ != ' ')
            return perr(e, line, "%s: TYPE without a type", name);
        snprintf(f->type, sizeof(f->type), "%.*s", (int)(end - q), q);
        static const char *const types[] = {"counter", "gauge", "histogram", "summary", "untyped"};
        for (int i = 0; i < 5; i++)
            if (strcmp(f->type, types[i]) == 0)
                return 0;
        return perr(e, line, "unknown type %s", f->type);
    }
    sample_t s;
    memset(&s, 0, sizeof(s));
    if (!read_name(&p, s.name, 1))
        return perr(e, line, "bad metric name");
    if (*p == '{' && parse_labels(e, line, &p, &s) < 0)
        return -1;
    if (*p++ != ' ')
        return perr(e, line, "%s: expected a space before the value", s.name);
    const char *ve = p;
    while (ve < end && *ve != ' ')
        ve++;
    if (read_float(p, ve, &s.value) < 0)
        return perr(e, line, "%s: bad value", s.name);
    if (ve < end) { /* a timestamp */
        char *q;
        strtoll(ve + 1, &q, 10);
        if (q != end)
            return perr(e, line, "%s: bad timestamp", s.name);
    }
    family_of(e, s.name, name);
    if (!*cur || strcmp((*cur)->name, name) != 0) {
        if (find_family(e, name))
            return perr(e, line, "family %s appears twice (not one contiguous group)", name);
        return perr(e, line, "%s: sample without HELP and TYPE before it", s.name);
    }
    family_t *f = *cur;
    if (!f->has_help || !f->type[0])
        return perr(e, line, "%s: sample without HELP and TYPE before it", s.name);
    for (int i = 0; i < f->n; i++)
        if (strcmp(f->s[i].name, s.name) == 0 && same_labels(&f->s[i], &s))
            return perr(e, line, "%s: the same series twice", s.name);
    if (f->n == MAX_SAMPLES)
        return perr(e, line, "%s: too many samples", s.name);
    f->s[f->n++] = s;
    return 0;
}

/* The checks that need a whole family: label sets, histogram buckets. */
static int
check_family(expo_t *e, const family_t *f)
{
    if (strcmp(f->type, "histogram") != 0) {
        for (int i = 0; i < f->n; i++) {
            if (strcmp(f->s[i].name, f->name) != 0)
                return perr(e, 0, "sample %s in the wrong family", f->s[i].name);
            if ((f->s[i].n_labels == 0) != (f->s[0].n_labels == 0))
                return perr(e, 0, "%s: exported both with and without labels", f->name);
            if (f->s[i].n_labels != f->s[0].n_labels)
                return perr(e, 0, "%s: samples with different label sets", f->name);
            for (int l = 0; l < f->s[i].n_labels; l++)
                if (strcmp(f->s[i].lname[l], f->s[0].lname[l]) != 0)
                    return perr(e, 0, "%s: samples with different label names", f->name);
        }
        return 0;
    }
    char bucket[STR + 8], sum[STR + 8], count[STR + 8];
    snprintf(bucket, sizeof(bucket), "%s_bucket", f->name);
    snprintf(sum, sizeof(sum), "%s_sum", f->name);
    snprintf(count, sizeof(count), "%s_count", f->name);
    double last_le = -INFINITY, last_cum = 0, inf = -1, cnt = -1;
    int n_sum = 0;
    for (int i = 0; i < f->n; i++) {
        const sample_t *s = &f->s[i];
        if (strcmp(s->name, bucket) == 0) {
            if (s->n_labels != 1 || strcmp(s->lname[0], "le") != 0)
                return perr(e, 0, "%s: a bucket needs exactly the le label", f->name);
            if (inf >= 0)
                return perr(e, 0, "%s: a bucket after le=\"+Inf\"", f->name);
            double le;
            const char *lv = s->lvalue[0];
            if (read_float(lv, lv + strlen(lv), &le) < 0 || isnan(le))
                return perr(e, 0, "%s: bad le", f->name);
            if (le <= last_le)
                return perr(e, 0, "%s: le not ascending", f->name);
            if (s->value < last_cum)
                return perr(e, 0, "%s: buckets not cumulative", f->name);
            last_le = le;
            last_cum = s->value;
            if (isinf(le))
                inf = s->value;
        } else if (strcmp(s->name, sum) == 0 && s->n_labels == 0) {
            n_sum++;
        } else if (strcmp(s->name, count) == 0 && s->n_labels == 0) {
            if (inf < 0)
                return perr(e, 0, "%s: _count before the le=\"+Inf\" bucket", f->name);
            cnt = s->value;
        } else {
            return perr(e, 0, "%s: unexpected sample", s->name);
        }
    }
    if (inf < 0 || n_sum != 1 || cnt < 0)
        return perr(e, 0, "%s: needs buckets up to +Inf, one _sum and one _count", f->name);
    if (inf != cnt)
        return perr(e, 0, "%s: le=\"+Inf\" differs from _count", f->name);
    return 0;
}

/* Parses text into e. Returns 0, or -1 with e->err. */
static int
parse_expo(const char *text, expo_t *e)
{
    memset(e, 0, sizeof(*e));
    family_t *cur = NULL;
    int line = 1;
    for (const char *p = text; *p; line++) {
        const char *end = strchr(p, '\n');
        if (!end)
            return perr(e, line, "the last line has no newline");
        if (parse_line(e, &cur, line, p, end) < 0)
            return -1;
        p = end + 1;
    }
    for (int i = 0; i < e->n; i++)
        if (check_family(e, &e->f[i]) < 0)
            return -1;
    return 0;
}

/* loophub's own rules on a parsed exposition. Returns 0, or -1 with e->err. */
static int
lint_expo(expo_t *e)
{
    for (int i = 0; i < e->n; i++) {
        const family_t *f = &e->f[i];
        size_t n = strlen(f->name);
        int total = n > 6 && strcmp(f->name + n - 6, "_total") == 0;
        if (strncmp(f->name, "loophub_", 8) != 0)
            return perr(e, 0, "%s: not loophub_-prefixed", f->name);
        if (strcmp(f->type, "counter") == 0 && !total)
            return perr(e, 0, "counter %s does not end in _total", f->name);
        if (strcmp(f->type, "counter") != 0 && total)
            return perr(e, 0, "%s ends in _total but is no counter", f->name);
        if (!f->help[0])
            return perr(e, 0, "%s: empty HELP", f->name);
        if (f->n == 0)
            return perr(e, 0, "%s: no samples", f->name);
        for (int k = 0; k < f->n; k++)
            if (strcmp(f->type, "counter") == 0 && !(f->s[k].value >= 0))
                return perr(e, 0, "%s: negative counter", f->name);
    }
    return 0;
}

/* The value of the sample name{labels} ("" for none; labels as "k=v,k=v" unescaped, in order),
 * or -1 when absent. */
static double
value_of(const expo_t *e, const char *name, const char *labels)
{
    for (int i = 0; i < e->n; i++)
        for (int k = 0; k < e->f[i].n; k++) {
            const sample_t *s = &e->f[i].s[k];
            if (strcmp(s->name, name) != 0)
                continue;
            char buf[512] = "";
            size_t len = 0;
            for (int l = 0; l < s->n_labels; l++)
                len += (size_t)snprintf(buf + len, sizeof(buf) - len, "%s%s=%s", l ? "," : "",
                                        s->lname[l], s->lvalue[l]);
            if (strcmp(buf, labels) == 0)
                return s->value;
        }
    return -1;
}

static const family_t *
family(const expo_t *e, const char *name)
{
    return find_family((expo_t *)e, name);
}

/* Parses and lints text; fails the test with the problem and the text. */
static void
must_parse(const char *text, expo_t *e)
{
    int rc = parse_expo(text, e);
    if (rc == 0)
        rc = lint_expo(e);
    if (rc < 0)
        fprintf(stderr, "--- the exposition refused:\n%s--- end\n", text); /* too long for Check */
    ck_assert_msg(rc == 0, "%s", e->err);
}

static char *
registry_text(const lh__metrics_t *reg)
{
    lh_buf_t b = LH_BUF_INIT;
    ck_assert_int_eq(lh__metrics_write(reg, &b), 0);
    ck_assert_ptr_nonnull(b.data);
    return (char *)b.data;
}

static expo_t ex; /* big: static */

/* ---- the parser itself ----------------------------------------------------------------- */

/* The parser is not vacuous: it refuses what /metrics used to write, and the usual mistakes. */
START_TEST(test_parser_refuses_bad_expositions)
{
    static const struct {
        const char *text;
        const char *err; /* a part of the message */
    } bad[] = {
        /* the old exposition: the same family with and without labels, not contiguous */
        {"# HELP loophub_events_rejected_total r\n# TYPE loophub_events_rejected_total counter\n"
         "loophub_events_rejected_total 1\n# HELP loophub_x_total x\n"
         "# TYPE loophub_x_total counter\nloophub_x_total 0\n"
         "loophub_events_rejected_total{reason=\"decode\"} 1\n",
         "appears twice"},
        {"# HELP loophub_a_total a\n# TYPE loophub_a_total counter\nloophub_a_total 1\n"
         "loophub_a_total{reason=\"decode\"} 1\n",
         "both with and without labels"},
        {"# TYPE loophub_a_total counter\nloophub_a_total 1\n", "without HELP and TYPE"},
        {"# HELP loophub_a_total a\nloophub_a_total 1\n", "without HELP and TYPE"},
        {"# HELP loophub_a_total a\n# TYPE loophub_a_total counter\nloophub_a_total 1\n"
         "# HELP loophub_a_total a\n",
         "after its samples"},
        {"# HELP loophub_a a\n# TYPE loophub_a counter\nloophub_a 1\n", "does not end in _total"},
        {"# HELP loophub_a_total a\n# TYPE loophub_a_total gauge\nloophub_a_total 1\n",
         "no counter"},
        {"# HELP a_total a\n# TYPE a_total counter\na_total 1\n", "loophub_-prefixed"},
        {"# HELP loophub_a_total a\n# TYPE loophub_a_total counter\nloophub_a_total{r=\"x} 1\n",
         "unterminated"},
        {"# HELP loophub_a_total a\n# TYPE loophub_a_total counter\nloophub_a_total{1r=\"x\"} 1\n",
         "bad label name"},
        {"# HELP loophub_a_total a\n# TYPE loophub_a_total counter\nloophub_a_total{r=\"x\"} 1\n"
         "loophub_a_total{r=\"x\"} 2\n",
         "same series twice"},
        {"# HELP loophub_a_total a\n# TYPE loophub_a_total counter\nloophub_a_total one\n",
         "bad value"},
        {"# HELP loophub_h h\n# TYPE loophub_h histogram\nloophub_h_bucket{le=\"1\"} 2\n"
         "loophub_h_bucket{le=\"2\"} 1\nloophub_h_bucket{le=\"+Inf\"} 2\nloophub_h_sum 1\n"
         "loophub_h_count 2\n",
         "not cumulative"},
        {"# HELP loophub_h h\n# TYPE loophub_h histogram\nloophub_h_bucket{le=\"1\"} 1\n"
         "loophub_h_bucket{le=\"+Inf\"} 2\nloophub_h_sum 1\nloophub_h_count 3\n",
         "differs from _count"},
        {"# HELP loophub_h h\n# TYPE loophub_h histogram\nloophub_h_bucket{le=\"2\"} 1\n"
         "loophub_h_bucket{le=\"1\"} 1\nloophub_h_bucket{le=\"+Inf\"} 1\nloophub_h_sum 1\n"
         "loophub_h_count 1\n",
         "not ascending"},
        {"# HELP loophub_h h\n# TYPE loophub_h histogram\nloophub_h_bucket{le=\"1\"} 1\n"
         "loophub_h_sum 1\nloophub_h_count 1\n",
         "+Inf"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int rc = parse_expo(bad[i].text, &ex);
        if (rc == 0)
            rc = lint_expo(&ex);
        ck_assert_msg(rc < 0, "accepted #%zu:\n%s", i, bad[i].text);
        ck_assert_msg(strstr(ex.err, bad[i].err), "#%zu: %s (wanted %s)", i, ex.err, bad[i].err);
    }
    /* and takes a good one, escapes included */
    const char *good = "# HELP loophub_a_total a \\\\ b\n# TYPE loophub_a_total counter\n"
                       "loophub_a_total{k=\"x\\\"y\\\\z\\n\",l=\"\"} 3 1700000000000\n"
                       "# a comment\n\n";
    must_parse(good, &ex);
    ck_assert(value_of(&ex, "loophub_a_total", "k=x\"y\\z\n,l=") == 3);
}
END_TEST

/* ---- the registry ---------------------------------------------------------------------- */

/* Every row of the table is filled in, and the table fits. */
START_TEST(test_table_complete)
{
    lh__metrics_t reg;
    ck_assert_int_eq(lh__metrics_init(&reg), 0);
    for (int m = 0; m < LH_M__COUNT; m++) {
        const lh_metric_def_t *d = lh__metrics_def((lh_metric_t)m);
        ck_assert_ptr_nonnull(d);
        ck_assert_msg(d->name && d->help && d->help[0], "metric %d has no name or help", m);
        for (int l = 0; l < d->n_labels; l++)
            ck_assert_msg(d->label[l] && d->n_values[l] > 0, "%s: label %d", d->name, l);
        if (d->type == LH_MT_HISTOGRAM) {
            ck_assert_int_gt(d->n_buckets, 0);
            ck_assert_int_ge(d->unit_div, 1);
            for (int b = 1; b < d->n_buckets; b++)
                ck_assert_int_gt(d->buckets[b], d->buckets[b - 1]);
        }
    }
    ck_assert_ptr_null(lh__metrics_def(LH_M__COUNT));
}
END_TEST

/* A fresh registry: every family once, HELP and TYPE first, every counter series there at 0. */
START_TEST(test_fresh_registry_all_zero)
{
    lh__metrics_t reg;
    ck_assert_int_eq(lh__metrics_init(&reg), 0);
    ck_assert_int_eq(lh__metrics_adapter(&reg, "zmq-in"), 1);
    ck_assert_int_eq(lh__metrics_adapter(&reg, "http"), 2);
    char *text = registry_text(&reg);
    must_parse(text, &ex);
    ck_assert_int_eq(ex.n, LH_M__COUNT);
    static const char *const types[] = {"counter", "gauge", "histogram"};
    for (int m = 0; m < LH_M__COUNT; m++) {
        const lh_metric_def_t *d = lh__metrics_def((lh_metric_t)m);
        const family_t *f = family(&ex, d->name);
        ck_assert_msg(f, "%s missing", d->name);
        ck_assert_str_eq(f->type, types[d->type]);
        ck_assert_str_eq(f->help, d->help);
        int want = 1;
        for (int l = 0; l < d->n_labels; l++)
            want *= d->values[l] ? d->n_values[l] : 2; /* the two adapters registered */
        if (d->type == LH_MT_HISTOGRAM)
            want = d->n_buckets + 3;
        ck_assert_msg(f->n == want, "%s: %d samples, %d expected", d->name, f->n, want);
        if (d->type != LH_MT_GAUGE)
            for (int k = 0; k < f->n; k++)
                ck_assert_msg(f->s[k].value == 0, "%s not 0", f->s[k].name);
    }
    /* the label values, spelled out */
    ck_assert(value_of(&ex, "loophub_events_total", "kind=deploy,adapter=zmq-in") == 0);
    ck_assert(value_of(&ex, "loophub_events_total", "kind=ticket,adapter=http") == 0);
    ck_assert(value_of(&ex, "loophub_events_total", "kind=ticket,adapter=none") == -1);
    ck_assert(value_of(&ex, "loophub_rejected_total", "reason=decode") == 0);
    ck_assert(value_of(&ex, "loophub_rejected_total", "reason=other") == 0);
    ck_assert(value_of(&ex, "loophub_wal_checkpoints_total", "mode=passive") == 0);
    ck_assert(value_of(&ex, "loophub_wal_writer_waits_total", "reason=cap") == 0);
    ck_assert(value_of(&ex, "loophub_http_responses_total", "code=202") == 0);
    ck_assert(value_of(&ex, "loophub_commit_seconds_bucket", "le=0.0005") == 0);
    ck_assert(value_of(&ex, "loophub_commit_seconds_bucket", "le=+Inf") == 0);
    free(text);
}
END_TEST

/* Without any adapter registered, loophub_events_total is not empty: adapter="none". */
START_TEST(test_no_adapter_shows_none)
{
    lh__metrics_t reg;
    ck_assert_int_eq(lh__metrics_init(&reg), 0);
    char *text = registry_text(&reg);
    must_parse(text, &ex);
    ck_assert_int_eq(family(&ex, "loophub_events_total")->n, 4);
    ck_assert(value_of(&ex, "loophub_events_total", "kind=alert,adapter=none") == 0);
    free(text);
    /* with adapters, "none" shows once something is counted for it (all four kinds then) */
    ck_assert_int_eq(lh__metrics_adapter(&reg, "zmq-in"), 1);
    lh__metrics_event(&reg, LH_KIND_INCIDENT, 0, 1);
    text = registry_text(&reg);
    must_parse(text, &ex);
    ck_assert_int_eq(family(&ex, "loophub_events_total")->n, 8);
    ck_assert(value_of(&ex, "loophub_events_total", "kind=incident,adapter=none") == 1);
    ck_assert(value_of(&ex, "loophub_events_total", "kind=deploy,adapter=none") == 0);
    free(text);
}
END_TEST

/* Adapter slots: one per name, "none" when full, names escaped in the exposition. */
START_TEST(test_adapter_slots)
{
    lh__metrics_t reg;
    ck_assert_int_eq(lh__metrics_init(&reg), 0);
    ck_assert_int_eq(lh__metrics_adapter(&reg, "zmq-in"), 1);
    ck_assert_int_eq(lh__metrics_adapter(&reg, "kafka-in"), 2);
    ck_assert_int_eq(lh__metrics_adapter(&reg, "zmq-in"), 1);
    ck_assert_int_eq(lh__metrics_adapter(&reg, "we\"ird\\na\nme"), 3);
    ck_assert_int_eq(lh__metrics_adapter(&reg, NULL), 4);
    char name[32];
    for (int i = 5; i < LH__M_ADAPTERS; i++) {
        snprintf(name, sizeof(name), "a%d", i);
        ck_assert_int_eq(lh__metrics_adapter(&reg, name), i);
    }
    ck_assert_int_eq(lh__metrics_adapter(&reg, "one-too-many"), 0);
    lh__metrics_event(&reg, LH_KIND_DEPLOY, 3, 2);
    lh__metrics_event(&reg, LH_KIND_DEPLOY, LH__M_ADAPTERS, 1); /* out of range: ignored */
    lh__metrics_event(&reg, LH_KIND_NONE, 1, 1);                /* not a stored kind: ignored */
    char *text = registry_text(&reg);
    must_parse(text, &ex);
    ck_assert(value_of(&ex, "loophub_events_total", "kind=deploy,adapter=we\"ird\\na\nme") == 2);
    ck_assert(value_of(&ex, "loophub_events_total", "kind=deploy,adapter=unnamed") == 0);
    ck_assert(value_of(&ex, "loophub_events_total", "kind=deploy,adapter=a32") == 0);
    ck_assert_int_eq(family(&ex, "loophub_events_total")->n, 4 * (LH__M_ADAPTERS - 1));
    double sum = 0;
    const family_t *f = family(&ex, "loophub_events_total");
    for (int k = 0; k < f->n; k++)
        sum += f->s[k].value;
    ck_assert(sum == 2);
    free(text);
}
END_TEST

/* What the hub and the adapters count lands in the right series. */
START_TEST(test_counting)
{
    lh__metrics_t reg;
    ck_assert_int_eq(lh__metrics_init(&reg), 0);
    int zin = lh__metrics_adapter(&reg, "zmq-in"), http = lh__metrics_adapter(&reg, "http");
    lh__metrics_event(&reg, LH_KIND_DEPLOY, zin, 3);
    lh__metrics_event(&reg, LH_KIND_TICKET, http, 1);
    lh__metrics_add(&reg, LH_M_EVENTS_RECEIVED_TOTAL, 0, 7);
    lh__metrics_reject(&reg, LH_EDECODE);
    lh__metrics_reject(&reg, LH_EMISSING);
    lh__metrics_reject(&reg, LH_EMISSING);
    lh__metrics_reject(&reg, LH_ENOMEM);
    lh__metrics_reject(&reg, 12345);
    for (int c = 0; c < LH_COUNT__COUNT; c++)
        lh__metrics_count(&reg, (lh_count_t)c, c + 1);
    lh__metrics_count(&reg, LH_COUNT__COUNT, 100); /* ignored */
    lh__metrics_count(&reg, (lh_count_t)-1, 100);  /* ignored */
    lh__metrics_http_response(&reg, 202);
    lh__metrics_http_response(&reg, 202);
    lh__metrics_http_response(&reg, 413);
    lh__metrics_http_response(&reg, 418);
    lh__metrics_set(&reg, LH_M_WAL_CHECKPOINTS_TOTAL, LH_M_WAL_RESTART, 5);
    lh__metrics_set(&reg, LH_M_WAL_WRITER_WAITS_TOTAL, LH_M_WAIT_CAP, 6);
    lh__metrics_set(&reg, LH_M_OUTBOX_PENDING, 0, 9);
    char *text = registry_text(&reg);
    must_parse(text, &ex);
    ck_assert(value_of(&ex, "loophub_events_total", "kind=deploy,adapter=zmq-in") == 3);
    ck_assert(value_of(&ex, "loophub_events_total", "kind=ticket,adapter=http") == 1);
    ck_assert(value_of(&ex, "loophub_events_total", "kind=deploy,adapter=http") == 0);
    ck_assert(value_of(&ex, "loophub_events_received_total", "") == 7);
    ck_assert(value_of(&ex, "loophub_rejected_total", "reason=decode") == 1);
    ck_assert(value_of(&ex, "loophub_rejected_total", "reason=missing_field") == 2);
    ck_assert(value_of(&ex, "loophub_rejected_total", "reason=other") == 2);
    ck_assert(value_of(&ex, "loophub_rejected_total", "reason=too_big") == 0);
    ck_assert(value_of(&ex, "loophub_alerts_pub_dropped_total", "") ==
              LH_COUNT_ALERTS_PUB_DROPPED + 1);
    ck_assert(value_of(&ex, "loophub_zmq_router_bad_envelope_total", "") ==
              LH_COUNT_ZMQ_BAD_ENVELOPE + 1);
    ck_assert(value_of(&ex, "loophub_zmq_router_acks_dropped_total", "") ==
              LH_COUNT_ZMQ_ACKS_DROPPED + 1);
    ck_assert(value_of(&ex, "loophub_kafka_produce_errors_total", "") ==
              LH_COUNT_KAFKA_PRODUCE_ERRORS + 1);
    ck_assert(value_of(&ex, "loophub_kafka_consume_errors_total", "") ==
              LH_COUNT_KAFKA_CONSUME_ERRORS + 1);
    ck_assert(value_of(&ex, "loophub_zmq_curve_refused_total", "") ==
              LH_COUNT_ZMQ_CURVE_REFUSED + 1);
    ck_assert(value_of(&ex, "loophub_zmq_pub_connections", "") == LH_COUNT_ZMQ_PUB_CONNECTIONS + 1);
    ck_assert(value_of(&ex, "loophub_zmq_pub_stalled_subscribers", "") ==
              LH_COUNT_ZMQ_PUB_STALLED + 1);
    ck_assert(value_of(&ex, "loophub_zmq_pub_stalls_total", "") == LH_COUNT_ZMQ_PUB_STALLS + 1);
    ck_assert(value_of(&ex, "loophub_http_responses_total", "code=202") == 2);
    ck_assert(value_of(&ex, "loophub_http_responses_total", "code=413") == 1);
    ck_assert(value_of(&ex, "loophub_http_responses_total", "code=other") == 1);
    ck_assert(value_of(&ex, "loophub_wal_checkpoints_total", "mode=restart") == 5);
    ck_assert(value_of(&ex, "loophub_wal_checkpoints_total", "mode=passive") == 0);
    ck_assert(value_of(&ex, "loophub_wal_writer_waits_total", "reason=cap") == 6);
    ck_assert(value_of(&ex, "loophub_outbox_pending", "") == 9);
    /* the reason names are the log's rate-limit keys too */
    ck_assert_str_eq(lh__metrics_reason_name(lh__metrics_reason(LH_ETOOBIG)), "too_big");
    ck_assert_str_eq(lh__metrics_reason_name(lh__metrics_reason(LH_ERANGE)), "out_of_range");
    ck_assert_str_eq(lh__metrics_reason_name(lh__metrics_reason(LH_EUNKNOWN_KIND)), "unknown_kind");
    ck_assert_str_eq(lh__metrics_reason_name(LH_REJ__COUNT), "other");
    free(text);
}
END_TEST

/* Histograms: a value on a bound falls in that bucket, buckets are cumulative, +Inf == _count,
 * the sum exact in the exported unit. */
START_TEST(test_histograms)
{
    lh__metrics_t reg;
    ck_assert_int_eq(lh__metrics_init(&reg), 0);
    lh__metrics_observe(&reg, LH_M_BATCH_EVENTS, 0);
    lh__metrics_observe(&reg, LH_M_BATCH_EVENTS, 1);
    lh__metrics_observe(&reg, LH_M_BATCH_EVENTS, 2);
    lh__metrics_observe(&reg, LH_M_BATCH_EVENTS, 4000);
    lh__metrics_observe(&reg, LH_M_BATCH_EVENTS, 100000);
    lh__metrics_observe(&reg, LH_M_COMMIT_SECONDS, 1500000);     /* 1.5 ms */
    lh__metrics_observe(&reg, LH_M_COMMIT_SECONDS, 1000000000);  /* 1 s, on a bound */
    lh__metrics_observe(&reg, LH_M_COMMIT_SECONDS, 60000000001); /* 60.000000001 s */
    char *text = registry_text(&reg);
    must_parse(text, &ex);
    ck_assert(value_of(&ex, "loophub_batch_events_bucket", "le=1") == 2);
    ck_assert(value_of(&ex, "loophub_batch_events_bucket", "le=5") == 3);
    ck_assert(value_of(&ex, "loophub_batch_events_bucket", "le=2000") == 3);
    ck_assert(value_of(&ex, "loophub_batch_events_bucket", "le=4000") == 4);
    ck_assert(value_of(&ex, "loophub_batch_events_bucket", "le=8000") == 4);
    ck_assert(value_of(&ex, "loophub_batch_events_bucket", "le=+Inf") == 5);
    ck_assert(value_of(&ex, "loophub_batch_events_count", "") == 5);
    ck_assert(value_of(&ex, "loophub_batch_events_sum", "") == 104003);
    ck_assert(value_of(&ex, "loophub_commit_seconds_bucket", "le=0.001") == 0);
    ck_assert(value_of(&ex, "loophub_commit_seconds_bucket", "le=0.0025") == 1);
    ck_assert(value_of(&ex, "loophub_commit_seconds_bucket", "le=1") == 2);
    ck_assert(value_of(&ex, "loophub_commit_seconds_bucket", "le=5") == 2);
    ck_assert(value_of(&ex, "loophub_commit_seconds_bucket", "le=+Inf") == 3);
    ck_assert(value_of(&ex, "loophub_commit_seconds_count", "") == 3);
    ck_assert_msg(strstr(text, "\nloophub_commit_seconds_sum 61.001500001\n"), "%s", text);
    free(text);
}
END_TEST

/* ---- through the hub ------------------------------------------------------------------- */

static const lh_adapter_ops_t test_in_ops = {.name = "test-in"};
/* a sink that takes every alert at once */
static int
test_publish(void *ctx, int64_t seq, const lh_correlated_t *ca, const void *p, size_t n)
{
    (void)ctx;
    (void)seq;
    (void)ca;
    (void)p;
    (void)n;
    return 0;
}

static const lh_adapter_ops_t test_out_ops = {.name = "test-out", .publish = test_publish};

static void
submit(lh_hub_t *hub, lh_adapter_t *from, const char *json)
{
    lh_submit_t m = {.from = from, .origin = "test", .data = json, .len = strlen(json)};
    ck_assert_int_eq(lh_hub_submit(hub, &m), 0);
}

/* lh_hub_metrics() after some traffic: the registry plus the store's gauges, still clean. */
static char *
hub_text(char **dir_out)
{
    char *dir = lh_test_tmpdir();
    char db[600];
    snprintf(db, sizeof(db), "%s/hub.db", dir);
    lh_hub_opts_t o;
    lh_hub_opts_default(&o);
    o.db_path = db;
    lh_hub_t *hub = NULL;
    ck_assert_int_eq(lh_hub_new(&o, &hub), 0);
    static int ctx, out_ctx;
    ck_assert_int_eq(lh_hub_add_adapter(hub, &test_in_ops, &ctx, NULL), 0);
    ck_assert_int_eq(lh_hub_add_adapter(hub, &test_out_ops, &out_ctx, "zmq-pub"), 0);
    lh_adapter_t *from = lh_hub_adapter_of(hub, &ctx);
    ck_assert_ptr_nonnull(from);
    submit(hub, from,
           "[{\"id\":\"t-1\",\"kind\":\"ticket\",\"time\":\"2026-01-10T10:00:00Z\","
           "\"ticket\":{\"ticket_id\":\"CHG-1\",\"type\":\"change\",\"state\":\"created\"}},"
           "{\"id\":\"d-1\",\"kind\":\"deploy\",\"time\":\"2026-01-10T10:00:00Z\","
           "\"service\":\"api\",\"environment\":\"prod\","
           "\"deploy\":{\"deploy_id\":\"D-1\",\"status\":\"succeeded\",\"version\":\"2\"}}]");
    submit(hub, from, "{not json");
    submit(hub, NULL,
           "{\"id\":\"t-1\",\"kind\":\"ticket\",\"time\":\"2026-01-10T10:00:00Z\","
           "\"ticket\":{\"ticket_id\":\"CHG-1\",\"type\":\"change\",\"state\":\"created\"}}");
    ck_assert_int_eq(lh_hub_flush(hub), 0);
    lh_buf_t b = LH_BUF_INIT;
    ck_assert_int_eq(lh_hub_metrics(hub, &b), 0);
    lh_hub_destroy(&hub);
    *dir_out = dir;
    return (char *)b.data;
}

START_TEST(test_hub_exposition)
{
    char *dir;
    char *text = hub_text(&dir);
    must_parse(text, &ex);
    /* the registry's families, and the outbox's per-sink backlog after them */
    ck_assert_int_eq(ex.n, LH_M__COUNT + 1);
    ck_assert(value_of(&ex, "loophub_outbox_sink_pending", "sink=zmq-pub") == 0);
    ck_assert(value_of(&ex, "loophub_outbox_pending", "") == 0);
    ck_assert(value_of(&ex, "loophub_events_received_total", "") == 4);
    ck_assert(value_of(&ex, "loophub_events_total", "kind=ticket,adapter=test-in") == 1);
    ck_assert(value_of(&ex, "loophub_events_total", "kind=deploy,adapter=test-in") == 1);
    ck_assert(value_of(&ex, "loophub_events_total", "kind=alert,adapter=test-in") == 0);
    /* the duplicate came without an adapter: nothing stored for "none", so not shown */
    ck_assert(value_of(&ex, "loophub_events_total", "kind=ticket,adapter=none") == -1);
    ck_assert(value_of(&ex, "loophub_events_duplicate_total", "") == 1);
    ck_assert(value_of(&ex, "loophub_rejected_total", "reason=decode") == 1);
    ck_assert(value_of(&ex, "loophub_batches_total", "") == 1);
    ck_assert(value_of(&ex, "loophub_batch_events_count", "") == 1);
    ck_assert(value_of(&ex, "loophub_batch_events_sum", "") == 4);
    ck_assert(value_of(&ex, "loophub_commit_seconds_count", "") == 1);
    ck_assert(value_of(&ex, "loophub_store_events", "") == 2);
    ck_assert(value_of(&ex, "loophub_store_quarantined", "") == 1);
    /* the deploy loaded its change once, from the store (nothing was cached yet); no outcome */
    ck_assert(value_of(&ex, "loophub_correlator_cache_lookups_total",
                       "cache=changes,result=miss") == 1);
    ck_assert(value_of(&ex, "loophub_correlator_cache_lookups_total",
                       "cache=changes,result=hit") == 0);
    ck_assert(value_of(&ex, "loophub_correlator_cache_lookups_total",
                       "cache=outcomes,result=miss") == 0);
    ck_assert(value_of(&ex, "loophub_correlator_cache_lookups_total",
                       "cache=conclusions,result=hit") == 0);
    ck_assert(value_of(&ex, "loophub_start_time_seconds", "") > 1.7e9);
    /* the adapter label names inputs only */
    ck_assert(value_of(&ex, "loophub_events_total", "kind=ticket,adapter=test-out") == -1);
    ck_assert_int_eq(family(&ex, "loophub_events_total")->n, 4);
    lh_test_rmrf(dir);
    free(dir);
    free(text);
}
END_TEST

/* ---- promtool --------------------------------------------------------------------------- */

/* promtool's path ($PROMTOOL, else found in $PATH), or NULL. */
static const char *
promtool(void)
{
    static char path[1024];
    const char *env = getenv("PROMTOOL");
    if (env && *env)
        return access(env, X_OK) == 0 ? env : NULL;
    const char *p = getenv("PATH");
    if (!p || !*p)
        p = "/usr/local/bin:/usr/bin:/bin";
    while (*p) {
        size_t n = strcspn(p, ":");
        snprintf(path, sizeof(path), "%.*s/promtool", (int)n, p);
        if (n && access(path, X_OK) == 0)
            return path;
        p += n + (p[n] == ':');
    }
    return NULL;
}

/* 1 when promtool can run; else skips loudly, or fails under CI. */
static int
have_promtool(void)
{
    if (promtool())
        return 1;
    const char *ci = getenv("CI");
    if (ci && strcmp(ci, "true") == 0)
        ck_abort_msg("promtool not found (Debian package prometheus, see scripts/install-deps.sh "
                     "--test); under CI=true the exposition must be checked by it");
    fprintf(stderr,
            "check_metrics: SKIPPED the promtool check: no promtool ($PROMTOOL, or in PATH) "
            "(install the Debian package prometheus); the text-format parser still ran\n");
    return 0;
}

/* Runs `promtool check metrics` on text: its exit status, its output in *out (malloc'd). */
static int
promtool_check(const char *text, char **out)
{
    const char *argv[] = {promtool(), "check", "metrics", NULL};
    char *o = NULL, *e = NULL;
    int rc = lh_test_run(argv, text, &o, &e, 30000);
    size_t n = strlen(o ? o : "") + strlen(e ? e : "") + 1;
    *out = malloc(n);
    snprintf(*out, n, "%s%s", o ? o : "", e ? e : "");
    free(o);
    free(e);
    return rc;
}

START_TEST(test_promtool_clean)
{
    if (!have_promtool())
        return;
    /* a fresh registry, one with every kind of series counted, and the hub's own */
    lh__metrics_t reg;
    ck_assert_int_eq(lh__metrics_init(&reg), 0);
    char *texts[3];
    texts[0] = registry_text(&reg);
    int a = lh__metrics_adapter(&reg, "zmq-in");
    lh__metrics_adapter(&reg, "http");
    lh__metrics_event(&reg, LH_KIND_ALERT, a, 5);
    lh__metrics_event(&reg, LH_KIND_ALERT, 0, 1);
    lh__metrics_reject(&reg, LH_EDECODE);
    lh__metrics_http_response(&reg, 999);
    lh__metrics_observe(&reg, LH_M_COMMIT_SECONDS, 123456789);
    lh__metrics_observe(&reg, LH_M_BATCH_EVENTS, 77);
    texts[1] = registry_text(&reg);
    char *dir;
    texts[2] = hub_text(&dir);
    lh_test_rmrf(dir);
    free(dir);
    for (int i = 0; i < 3; i++) {
        char *out;
        int rc = promtool_check(texts[i], &out);
        if (rc != 0 || out[0])
            fprintf(stderr, "--- promtool's findings:\n%s--- on:\n%s--- end\n", out, texts[i]);
        ck_assert_msg(rc == 0 && out[0] == 0,
                      "promtool check metrics on exposition %d: exit %d, %.300s", i, rc, out);
        free(out);
        free(texts[i]);
    }
}
END_TEST

/* The harness sees findings: what /metrics used to write (no HELP) is not clean for promtool. */
START_TEST(test_promtool_sees_findings)
{
    if (!have_promtool())
        return;
    char *out;
    int rc = promtool_check("# TYPE loophub_events_stored_total counter\n"
                            "loophub_events_stored_total 0\n"
                            "# TYPE kafka_produce_errors gauge\nkafka_produce_errors 0\n",
                            &out);
    ck_assert_msg(rc != 0 && strstr(out, "no help text"), "exit %d: %s", rc, out);
    free(out);
}
END_TEST

int
main(void)
{
    Suite *s = suite_create("metrics");
    const lh_test_case_t cases[] = {
        {"parser", test_parser_refuses_bad_expositions, 0, 0},
        {"table", test_table_complete, 0, 0},
        {"fresh", test_fresh_registry_all_zero, 0, 0},
        {"no_adapter", test_no_adapter_shows_none, 0, 0},
        {"adapter_slots", test_adapter_slots, 0, 0},
        {"counting", test_counting, 0, 0},
        {"histograms", test_histograms, 0, 0},
        {"hub", test_hub_exposition, 0, 0},
        {"promtool", test_promtool_clean, 60, 0},
        {"promtool_findings", test_promtool_sees_findings, 60, 0},
    };
    lh_test_add_cases(s, cases, LH_TEST_COUNT(cases), 30, NULL, NULL);
    return lh_test_run_suite(s);
}
