/*
 * codec_alertmanager.c - Prometheus Alertmanager webhook notifications (version 4).
 * Work in progress: these entry points compile and reject everything until the decoder lands.
 */
#include <string.h>

#include "codec_internal.h"
#include "loophub/error.h"

int
lh__is_alertmanager(json_t *obj)
{
    return json_is_object(obj) && json_is_array(json_object_get(obj, "alerts")) &&
           json_object_get(obj, "version") != NULL;
}

int
lh__alertmanager_decode(json_t *obj, const lh_codec_opts_t *o, lh_decode_sink_fn sink, void *arg)
{
    (void)obj;
    (void)o;
    sink(NULL, LH_EDECODE, NULL, "Alertmanager decoding not implemented yet", arg);
    return 1;
}
