/*
 * codec_cloudevents.c - CloudEvents 1.0 (structured JSON and binary mode) carrying CDEvents.
 * Work in progress: these entry points compile and reject everything until the decoder lands.
 */
#include <string.h>

#include "codec_internal.h"
#include "loophub/error.h"

int
lh__is_cloudevent(json_t *obj)
{
    return json_is_object(obj) &&
           (json_object_get(obj, "specversion") != NULL ||
            (json_object_get(obj, "context") != NULL && json_object_get(obj, "subject") != NULL));
}

int
lh__cloudevents_decode(json_t *obj, const lh_codec_opts_t *o, lh_decode_sink_fn sink, void *arg)
{
    (void)obj;
    (void)o;
    sink(NULL, LH_EDECODE, NULL, "CloudEvents decoding not implemented yet", arg);
    return 1;
}

int
lh_codec_decode_ce_binary(const lh_kv_t *attrs, size_t n_attrs, const void *data, size_t len,
                          const lh_codec_opts_t *o, lh_decode_sink_fn sink, void *arg)
{
    (void)attrs;
    (void)n_attrs;
    (void)data;
    (void)len;
    (void)o;
    sink(NULL, LH_EDECODE, NULL, "CloudEvents binary mode not implemented yet", arg);
    return 1;
}

int
lh__alert_cloudevent_encode(const lh_correlated_t *ca, lh_buf_t *out)
{
    (void)ca;
    (void)out;
    return LH_EINVAL;
}
