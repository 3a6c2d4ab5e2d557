/*
 * Wharf connector plugin ABI, version 1.1: what a plugin shared object
 * exports.
 *
 * A plugin exports one function named by WHARF_PLUGIN_ENTRY_SYMBOL that
 * returns a pointer to a constant descriptor, valid until the object is
 * unloaded. The descriptor begins with a frozen header. wharfd accepts a
 * descriptor whose major equals WHARF_ABI_MAJOR and whose struct_size is at
 * least WHARF_PLUGIN_V1_0_SIZE; it copies the fields it knows into a zeroed
 * descriptor of its own, so a NULL callback means "not supported" and fields
 * appended by a later minor are ignored by an older wharfd.
 *
 * Rules for later minors: fields are only ever appended to the end of
 * wharf_plugin; nothing before them moves or changes meaning.
 */
#ifndef WHARF_PLUGIN_H
#define WHARF_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#include "wharf/host.h"

#ifdef __cplusplus
extern "C" {
#endif

/* "WHRF" read as a little-endian 32-bit integer. */
#define WHARF_PLUGIN_MAGIC 0x46524857u

#define WHARF_PLUGIN_ENTRY_SYMBOL "wharf_plugin_entry"

/* How a manual batch ("Send to") treats the connector's whitelist. */
typedef enum wharf_batch_policy {
    /* Every member of the chosen segment is sent, whatever the whitelist. */
    WHARF_BATCH_IGNORES_WHITELIST = 1,
    /* The chosen segment (or, for one user, one of its segments) must be
     * whitelisted on the connector, else the batch is rejected. */
    WHARF_BATCH_REQUIRES_WHITELIST = 2
} wharf_batch_policy;

/* Entity types a plugin accepts, as bits of wharf_plugin.entity_types. */
#define WHARF_ENTITY_USER 0x1u
#define WHARF_ENTITY_ACCOUNT 0x2u

/* Value type of one setting. */
typedef enum wharf_setting_type {
    WHARF_SETTING_STRING = 1,
    WHARF_SETTING_INTEGER = 2,
    WHARF_SETTING_BOOLEAN = 3,
    /* A JSON object whose values are all strings (HTTP headers, mappings). */
    WHARF_SETTING_STRING_MAP = 4,
    /* A JSON array of strings. */
    WHARF_SETTING_STRING_LIST = 5
} wharf_setting_type;

/* One entry of a plugin's settings schema. */
typedef struct wharf_setting {
    const char *name;
    wharf_setting_type type;
    /* Non-zero: a connector without this setting is rejected at save. */
    int required;
    /* Non-zero: the value is never returned by the API nor written to a log. */
    int secret;
    /* Default value as JSON text (for example "100" or "\"POST\""), or NULL. */
    const char *default_json;
    /* One sentence for operators: what the setting sets, in what unit. */
    const char *help;
} wharf_setting;

/* Flags in wharf_plugin.flags. */
/* send() blocks (disk, a synchronous client library): wharfd calls it on a
 * worker thread instead of the event loop. */
#define WHARF_PLUGIN_SEND_BLOCKING 0x1u

/* The frozen header: its layout never changes within or across majors. */
typedef struct wharf_plugin_header {
    uint32_t magic;       /* WHARF_PLUGIN_MAGIC */
    uint16_t abi_major;   /* WHARF_ABI_MAJOR the plugin was built against */
    uint16_t abi_minor;   /* WHARF_ABI_MINOR the plugin was built against */
    uint32_t struct_size; /* sizeof(wharf_plugin) as the plugin was built */
    const char *name;     /* destination type: [a-z0-9_-], 1 to 63 bytes */
    const char *version;  /* the plugin's own version, such as "1.2.0" */
} wharf_plugin_header;

/*
 * Callback contracts. "instance" is whatever create() stored; wharfd passes
 * it back untouched. Every callback except encode() runs on the event loop
 * thread and must not block; encode() may run on a worker thread and may
 * only call the host functions documented as thread-safe.
 */
typedef struct wharf_plugin {
    wharf_plugin_header header;

    wharf_batch_policy batch_policy;
    uint32_t entity_types; /* WHARF_ENTITY_* bits; zero is rejected */
    uint32_t flags;        /* WHARF_PLUGIN_* bits */

    const wharf_setting *settings; /* schema, settings_count entries */
    size_t settings_count;

    /* Largest number of messages wharfd hands to one send(); 0 lets wharfd
     * choose. A plugin with a per-request limit of its own splits the batch
     * inside send(). */
    size_t max_batch_size;

    /* Required. Build an instance from validated settings (defaults already
     * filled in). On failure return non-zero and write a message for the
     * operator into error (error_size bytes, NUL-terminated). */
    int (*create)(const wharf_host *host, wharf_connector *connector,
                  const struct json_object *settings, void **instance,
                  char *error, size_t error_size);

    /* Optional. Decide whether one message goes out. Return 0 to send it, or
     * non-zero to skip it with a reason written into reason. */
    int (*filter)(void *instance, const struct json_object *message,
                  char *reason, size_t reason_size);

    /* Optional. Turn the batch's messages into what send() needs and store
     * it with host->batch_set_encoded(). A message that cannot be encoded
     * gets its own result (host->batch_set_result) and is left out; the rest
     * still go. Without encode(), send() reads the messages itself. */
    void (*encode)(void *instance, wharf_batch *batch);

    /* Required. Deliver the batch. Asynchronous: return at once, set one
     * result per message with host->batch_set_result(), then call
     * host->batch_complete() exactly once, from the loop thread. Messages
     * that already have a result (host->batch_has_result) are not sent.
     * With WHARF_PLUGIN_SEND_BLOCKING, send() runs on a worker thread and
     * sets every result before it returns instead. */
    void (*send)(void *instance, wharf_batch *batch);

    /* Required. Release the instance. wharfd calls it only after every
     * batch it handed to this instance has completed. */
    void (*destroy)(void *instance);
} wharf_plugin;

/* Size of the 1.0 layout: the smallest struct_size wharfd accepts. */
#define WHARF_PLUGIN_V1_0_SIZE (offsetof(wharf_plugin, destroy) + sizeof(void (*)(void *)))

/* The entry point every plugin exports. */
typedef const wharf_plugin *(*wharf_plugin_entry_fn)(void);

/* Fill in the header fields for the ABI this header describes. */
#define WHARF_PLUGIN_HEADER_INIT(plugin_name, plugin_version)                  \
    {WHARF_PLUGIN_MAGIC, WHARF_ABI_MAJOR, WHARF_ABI_MINOR,                     \
     (uint32_t)sizeof(wharf_plugin), (plugin_name), (plugin_version)}

#if defined(_WIN32)
#define WHARF_PLUGIN_EXPORT __declspec(dllexport)
#else
#define WHARF_PLUGIN_EXPORT __attribute__((visibility("default")))
#endif

#ifdef __cplusplus
}
#endif

#endif /* WHARF_PLUGIN_H */
