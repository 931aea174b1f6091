/*
 * fuzz_time.c - libFuzzer target for the text forms of times and durations: lh_time_parse()
 * (every RFC 3339 field of every format goes through it) and lh_duration_parse() (configuration
 * and command-line options), on the input as a NUL-terminated string; and lh_time_format() on
 * the first 8 bytes read as nanoseconds.
 *
 * Properties checked: a parsed time formats (36 bytes suffice) and parses back to the same
 * nanoseconds; any int64 time formats, and what lh_time_format() writes parses back to the same
 * value (the representable range is all of int64); a parsed duration is not negative, formats,
 * and parses back to the same value.
 */
#include "fuzz.h"

#include "loophub/error.h"
#include "loophub/timeutil.h"

static void
time_round_trip(int64_t ns, const char *from)
{
    char buf[36], again[36];
    int64_t back = 0;

    int n = lh_time_format(ns, buf, sizeof buf);
    FUZZ_CHECK(n > 0 && (size_t)n < sizeof buf, "format(%lld) gave %d", (long long)ns, n);
    FUZZ_CHECK(lh_time_parse(buf, &back) == 0, "'%s' (from %s, %lld) does not parse back", buf,
               from, (long long)ns);
    FUZZ_CHECK(back == ns, "'%s' (from %s) is %lld, parsed back as %lld", buf, from, (long long)ns,
               (long long)back);
    n = lh_time_format(back, again, sizeof again);
    FUZZ_CHECK(n > 0 && strcmp(buf, again) == 0, "'%s' formatted again as '%s'", buf, again);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (!s)
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';

    int64_t ns = 0;
    if (lh_time_parse(s, &ns) == 0)
        time_round_trip(ns, "a parsed time");

    int64_t d = -1, d2 = -1;
    if (lh_duration_parse(s, &d) == 0) {
        char buf[64];
        FUZZ_CHECK(d >= 0, "'%s' parsed as a negative duration %lld", s, (long long)d);
        int n = lh_duration_format(d, buf, sizeof buf);
        FUZZ_CHECK(n > 0, "duration %lld does not format", (long long)d);
        FUZZ_CHECK(lh_duration_parse(buf, &d2) == 0 && d2 == d,
                   "duration '%s' = %lld formatted as '%s', parsed back as %lld", s, (long long)d,
                   buf, (long long)d2);
        FUZZ_CHECK(lh_duration_human(d, buf, sizeof buf) > 0, "duration %lld: no human form",
                   (long long)d);
    }
    free(s);

    if (size >= 8) {
        int64_t raw;
        memcpy(&raw, data, sizeof raw);
        time_round_trip(raw, "raw bytes");
    }
    return 0;
}
