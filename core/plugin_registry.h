/*
 * The plugins directory: loaded plugins, rejected files with their reasons,
 * and the periodic scan that loads new files without a restart.
 *
 * A file found at start is loaded at once. A file that appears or changes
 * later is loaded once its size and modification time have stayed the same
 * across two scans, so a slow copy is not opened half-written; an ELF file
 * shorter than its own headers is treated as still being copied and retried
 * when it changes. A loaded plugin stays loaded until wharfd stops, even if
 * its file changes or goes away.
 */
#ifndef WHARF_CORE_PLUGIN_REGISTRY_H
#define WHARF_CORE_PLUGIN_REGISTRY_H

#include <uv.h>

#include "plugin_loader.h"

struct json_object;

typedef struct plugin_registry plugin_registry;

/* Called on the loop thread after a plugin has been loaded. */
typedef void (*plugin_loaded_fn)(plugin *plugin, void *user_data);

plugin_registry *plugin_registry_create(uv_loop_t *loop, const char *directory,
                                        plugin_loaded_fn on_loaded, void *user_data);

/* Scan the directory once. At start (initial non-zero) every file is tried
 * at once; later scans wait for a file to be stable. */
void plugin_registry_scan(plugin_registry *registry, int initial);

/* Rescan every interval_ms until plugin_registry_stop_watching(). */
int plugin_registry_watch(plugin_registry *registry, unsigned interval_ms);
void plugin_registry_stop_watching(plugin_registry *registry);

plugin *plugin_registry_find(plugin_registry *registry, const char *name);

/* {"plugins": [...], "rejected": [{"file", "reason"}]} */
struct json_object *plugin_registry_to_json(plugin_registry *registry);

/* Unload every plugin and free the registry. Call after the watch timer has
 * closed (the loop has run once since stop) and after every connector
 * instance is destroyed. */
void plugin_registry_free(plugin_registry *registry);

#endif
