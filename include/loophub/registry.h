/*
 * registry.h - the adapters a hub can run, each one definition in one table.
 *
 * An adapter folder exports one lh_adapter_def_t: its name, its config map (the rows that
 * become `loophub run` options, config file keys and --help lines) and build(), which reads
 * the settings the map filled and registers zero or more adapters with the hub (an input, an
 * output, or both). The table is made by the build from the adapters it compiles in
 * (LH_WITH_KAFKA, LH_WITH_HTTP); `loophub run` walks it, so adding an adapter touches its folder
 * and one line of CMakeLists.txt.
 *
 * A config map row names the long option, where it lives in the INI file, its type and the
 * offset of its field in the adapter's settings struct (conf_size bytes, zeroed, then every
 * default applied). String fields are `char *` owned by the settings (freed by the registry),
 * lists are lh_strlist_t.
 */
#ifndef LOOPHUB_REGISTRY_H
#define LOOPHUB_REGISTRY_H

#include <stddef.h>
#include <stdint.h>

typedef struct lh_hub lh_hub_t;

/* A list of strings, every one owned by the list. */
typedef struct lh_strlist {
    char **v;
    size_t n;
} lh_strlist_t;

/* Appends a copy of s. Returns 0 or LH_ENOMEM (the list is unchanged). */
int lh_strlist_add(lh_strlist_t *l, const char *s);
/* Frees every string and empties l. */
void lh_strlist_free(lh_strlist_t *l);

/* 1 when an endpoint value means "disabled": NULL, "", "off" or "none". */
int lh_conf_off(const char *v);

typedef enum {
    LH_CONF_STR,        /* char *; NULL when unset */
    LH_CONF_LIST,       /* lh_strlist_t; repeatable option, the command line replaces the file */
    LH_CONF_DUR,        /* int64_t nanoseconds from "90s", "30m", "2h", "7d" */
    LH_CONF_INT,        /* int64_t > 0 */
    LH_CONF_SIZE,       /* int64_t bytes > 0 */
    LH_CONF_SEVERITY,   /* int (lh_severity_t) */
    LH_CONF_ALERTS_FMT, /* int (lh_alerts_format_t) */
    LH_CONF_LOGLEVEL,   /* int (lh_log_level_t) */
    LH_CONF_LOGFORMAT,  /* int (lh_log_format_t): text, json, journal, auto */
    LH_CONF_KEEP,       /* int64_t: a duration in ns, LH_CONF_FOREVER for "forever", "off" or
                         * "0"; 0 when unset */
} lh_conf_type_t;

#define LH_CONF_FOREVER (-1)

typedef struct lh_conf_opt {
    const char *name;    /* long option, without "--" */
    const char *section; /* INI section */
    const char *key;     /* INI key */
    lh_conf_type_t type;
    size_t offset;    /* of the field in the settings struct */
    const char *dflt; /* default as the user would write it, or NULL */
    const char *arg;  /* the value's name in --help ("EP", "DUR") */
    const char *help; /* one line */
} lh_conf_opt_t;

struct lh_adapter_def {
    const char *name; /* "zmq", "http", "kafka" */
    const lh_conf_opt_t *opts;
    size_t n_opts;
    size_t conf_size; /* the adapter's settings struct */
    /* Optional: an INI section whose every key = value is kept, as "key=value", in the
     * lh_strlist_t at passthrough_offset (Kafka's [kafka] goes to librdkafka as is). */
    const char *passthrough;
    size_t passthrough_offset;
    /* Optional: checks the settings after parsing. 0, or LH_EINVAL with why (one line). */
    int (*check)(const void *conf, char *why, size_t whylen);
    /* Registers this definition's adapters with hub (lh_hub_add_adapter) as the settings ask;
     * none when they are off. 0, or LH_E* with why set to one line (the hub then destroys what
     * was registered). */
    int (*build)(lh_hub_t *hub, const void *conf, char *why, size_t whylen);
};
typedef struct lh_adapter_def lh_adapter_def_t;

/* Builds the adapters of def (lh_registry_find("zmq"), ...) into hub from settings given as
 * "OPTION=VALUE" with the definition's long option names ("zmq-pull=ipc:///run/lh.sock"); every
 * other setting keeps its default, as `loophub run` would. For programs that embed the hub.
 * Returns 0, LH_EINVAL (a setting that is not the definition's, a bad value: why says which)
 * or what def's check() and build() return. */
int lh_adapter_build(lh_hub_t *hub, const lh_adapter_def_t *def, const char *const *settings,
                     size_t n, char *why, size_t whylen);

/* The adapters compiled in, in table order; *n gets their number. Every definition was checked
 * for completeness (a name, build(), conf_size covering every row) the first time: an
 * incomplete one is a programmer error and aborts. */
const lh_adapter_def_t *const *lh_registry_adapters(size_t *n);

/* The definition named name, or NULL. */
const lh_adapter_def_t *lh_registry_find(const char *name);

/* Aborts, naming what is missing, unless def is complete (a name, build(), a settings struct
 * that covers every row and the passthrough list): a programmer error, never input. */
void lh_registry_check(const lh_adapter_def_t *def);

#endif
