/*
 * Loading one plugin file: checks before dlopen (regular file, permissions,
 * complete ELF shared object), dlopen with RTLD_NOW | RTLD_LOCAL, and
 * validation of the descriptor the entry symbol returns.
 */
#ifndef WHARF_CORE_PLUGIN_LOADER_H
#define WHARF_CORE_PLUGIN_LOADER_H

#include <stddef.h>

#include "wharf/plugin.h"

struct json_object;

typedef struct plugin {
    char *name;
    char *version;
    char *path;
    uint16_t abi_major;
    uint16_t abi_minor;
    /* Zeroed, then filled with the fields of the plugin's descriptor that this
     * wharfd knows; the header's name and version point into the plugin. */
    wharf_plugin descriptor;
    void *handle;
} plugin;

typedef enum plugin_load_status {
    PLUGIN_LOADED = 0,
    PLUGIN_REJECTED = -1,
    /* The file looks like an ELF object still being written: try again once
     * it changes, without reporting a rejection. */
    PLUGIN_INCOMPLETE = -2
} plugin_load_status;

/* Load and validate the plugin at path. On PLUGIN_REJECTED or
 * PLUGIN_INCOMPLETE, reason says why for the operator. */
plugin_load_status plugin_load(const char *path, plugin **loaded, char *reason,
                               size_t reason_size);

/* dlclose the plugin and free it. Only once no instance of it is left. */
void plugin_unload(plugin *plugin);

/* Names used by the API for ABI enum values. */
const char *plugin_batch_policy_name(wharf_batch_policy policy);
const char *plugin_setting_type_name(wharf_setting_type type);

/* The API view of a loaded plugin. */
struct json_object *plugin_to_json(const plugin *plugin);

#endif
