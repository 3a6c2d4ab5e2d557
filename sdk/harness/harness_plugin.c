/*
 * Loading a plugin and checking its descriptor by the rules wharfd applies,
 * so that a plugin that passes here also loads in wharfd.
 */
#include "harness_internal.h"

#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Limits wharfd's loader applies. */
#define MAX_NAME_LENGTH 63
#define MAX_SETTINGS 256

struct wharf_harness_plugin {
    void *handle;
    wharf_plugin descriptor; /* zeroed, then the fields the plugin has */
};

static int name_is_valid(const char *name)
{
    size_t length = strlen(name);
    size_t i;

    if (length < 1 || length > MAX_NAME_LENGTH)
        return 0;
    for (i = 0; i < length; i++) {
        char c = name[i];

        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-'))
            return 0;
    }
    return 1;
}

/* Setting names: 1 to 63 of A-Z, a-z, 0-9 and _. */
static int setting_name_is_valid(const char *name)
{
    size_t length = strlen(name);
    size_t i;

    if (length < 1 || length > MAX_NAME_LENGTH)
        return 0;
    for (i = 0; i < length; i++) {
        char c = name[i];

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_'))
            return 0;
    }
    return 1;
}

static int check_settings(const wharf_plugin *plugin, char *error, size_t error_size)
{
    size_t i;
    size_t j;

    if (plugin->settings_count > 0 && plugin->settings == NULL) {
        snprintf(error, error_size, "settings_count is %zu but settings is NULL",
                 plugin->settings_count);
        return -EINVAL;
    }
    if (plugin->settings_count > MAX_SETTINGS) {
        snprintf(error, error_size, "settings schema has %zu entries; at most %d are allowed",
                 plugin->settings_count, MAX_SETTINGS);
        return -EINVAL;
    }

    for (i = 0; i < plugin->settings_count; i++) {
        const wharf_setting *setting = &plugin->settings[i];

        if (setting->name == NULL || !setting_name_is_valid(setting->name)) {
            snprintf(error, error_size, "setting %zu has a missing or invalid name; use 1 to "
                                        "63 letters, digits or _",
                     i);
            return -EINVAL;
        }
        if (setting->type < WHARF_SETTING_STRING || setting->type > WHARF_SETTING_STRING_LIST) {
            snprintf(error, error_size, "setting \"%s\" has unknown type %d", setting->name,
                     (int)setting->type);
            return -EINVAL;
        }
        for (j = 0; j < i; j++) {
            if (strcmp(plugin->settings[j].name, setting->name) == 0) {
                snprintf(error, error_size, "setting \"%s\" is declared twice", setting->name);
                return -EINVAL;
            }
        }
        if (!harness_setting_default_is_valid(setting)) {
            snprintf(error, error_size, "default %.64s of setting \"%s\" is not valid JSON "
                                        "of the setting's type",
                     setting->default_json, setting->name);
            return -EINVAL;
        }
    }
    return 0;
}

int wharf_harness_check_descriptor(const wharf_plugin *plugin, char *error,
                                   size_t error_size)
{
    const wharf_plugin_header *header = &plugin->header;

    if (header->magic != WHARF_PLUGIN_MAGIC) {
        snprintf(error, error_size, "bad magic 0x%08x; the descriptor must start with "
                                    "WHARF_PLUGIN_HEADER_INIT",
                 (unsigned)header->magic);
        return -EINVAL;
    }
    if (header->abi_major != WHARF_ABI_MAJOR) {
        snprintf(error, error_size, "ABI major %u, this SDK speaks %u; rebuild the plugin "
                                    "against these headers",
                 (unsigned)header->abi_major, (unsigned)WHARF_ABI_MAJOR);
        return -EINVAL;
    }
    if (header->struct_size < WHARF_PLUGIN_V1_0_SIZE) {
        snprintf(error, error_size, "struct_size %u is smaller than the ABI 1.0 "
                                    "descriptor (%zu bytes)",
                 (unsigned)header->struct_size, (size_t)WHARF_PLUGIN_V1_0_SIZE);
        return -EINVAL;
    }
    if (header->name == NULL || header->version == NULL || header->version[0] == '\0' ||
        strlen(header->version) > MAX_NAME_LENGTH) {
        snprintf(error, error_size, "the descriptor has no name, or no version of 1 to 63 "
                                    "characters");
        return -EINVAL;
    }
    if (!name_is_valid(header->name)) {
        snprintf(error, error_size, "plugin name \"%.80s\" is invalid; use 1 to 63 of "
                                    "a-z, 0-9, _ and -",
                 header->name);
        return -EINVAL;
    }
    if (plugin->create == NULL || plugin->send == NULL || plugin->destroy == NULL) {
        snprintf(error, error_size, "plugin \"%s\" lacks a required callback (create, "
                                    "send and destroy are required)",
                 header->name);
        return -EINVAL;
    }
    if (plugin->entity_types == 0 ||
        (plugin->entity_types & ~(WHARF_ENTITY_USER | WHARF_ENTITY_ACCOUNT)) != 0) {
        snprintf(error, error_size, "plugin \"%s\" has invalid entity_types 0x%x; set "
                                    "WHARF_ENTITY_USER and/or WHARF_ENTITY_ACCOUNT",
                 header->name, (unsigned)plugin->entity_types);
        return -EINVAL;
    }
    if (plugin->batch_policy != WHARF_BATCH_IGNORES_WHITELIST &&
        plugin->batch_policy != WHARF_BATCH_REQUIRES_WHITELIST) {
        snprintf(error, error_size, "plugin \"%s\" has unknown batch policy %d",
                 header->name, (int)plugin->batch_policy);
        return -EINVAL;
    }
    return check_settings(plugin, error, error_size);
}

int wharf_harness_plugin_open(const char *path, wharf_harness_plugin **plugin,
                              char *error, size_t error_size)
{
    wharf_harness_plugin *loaded;
    wharf_plugin_entry_fn entry;
    const wharf_plugin *descriptor;
    void *symbol;
    size_t copy_size;
    int rc = -EINVAL;

    *plugin = NULL;
    loaded = calloc(1, sizeof(*loaded));
    if (loaded == NULL) {
        snprintf(error, error_size, "out of memory while loading %s", path);
        return -ENOMEM;
    }

    loaded->handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (loaded->handle == NULL) {
        snprintf(error, error_size, "%s: dlopen failed: %s", path, dlerror());
        goto fail;
    }

    symbol = dlsym(loaded->handle, WHARF_PLUGIN_ENTRY_SYMBOL);
    if (symbol == NULL) {
        snprintf(error, error_size, "%s: missing symbol %s; export it with "
                                    "WHARF_PLUGIN_EXPORT",
                 path, WHARF_PLUGIN_ENTRY_SYMBOL);
        goto fail;
    }
    /* POSIX guarantees that a dlsym() result converts to a function pointer. */
    memcpy(&entry, &symbol, sizeof(entry));

    descriptor = entry();
    if (descriptor == NULL) {
        snprintf(error, error_size, "%s: %s returned NULL", path, WHARF_PLUGIN_ENTRY_SYMBOL);
        goto fail;
    }
    if (descriptor->header.magic != WHARF_PLUGIN_MAGIC ||
        descriptor->header.struct_size < WHARF_PLUGIN_V1_0_SIZE) {
        rc = wharf_harness_check_descriptor(descriptor, error, error_size);
        goto fail;
    }

    /* A plugin built for a later minor has a longer descriptor; copy only
     * the fields these headers know, as wharfd does. */
    copy_size = descriptor->header.struct_size < sizeof(wharf_plugin)
                    ? descriptor->header.struct_size
                    : sizeof(wharf_plugin);
    memcpy(&loaded->descriptor, descriptor, copy_size);

    rc = wharf_harness_check_descriptor(&loaded->descriptor, error, error_size);
    if (rc != 0)
        goto fail;

    *plugin = loaded;
    return 0;

fail:
    wharf_harness_plugin_close(loaded);
    return rc;
}

const wharf_plugin *wharf_harness_plugin_descriptor(const wharf_harness_plugin *plugin)
{
    return &plugin->descriptor;
}

void wharf_harness_plugin_close(wharf_harness_plugin *plugin)
{
    if (plugin == NULL)
        return;
    if (plugin->handle != NULL)
        dlclose(plugin->handle);
    free(plugin);
}
