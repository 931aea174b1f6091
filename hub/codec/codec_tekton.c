/*
 * codec_tekton.c - placeholder until its decoder lands: recognises nothing, rejects everything.
 */
#include "codec_internal.h"
#include "loophub/error.h"

int
lh__is_tekton(json_t *obj)
{
    (void)obj;
    return 0;
}

int
lh__tekton_decode(json_t *obj, const lh__src_msg_t *m, lh_decode_sink_fn sink, void *arg)
{
    (void)obj;
    (void)m;
    sink(NULL, LH_EDECODE, NULL, "tekton payloads are not read yet", arg);
    return 1;
}
