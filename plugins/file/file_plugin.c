#include "file_plugin.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const wharf_setting file_settings[] = {
    {"directory", WHARF_SETTING_STRING, 1, 0, NULL,
     "Absolute path of an existing directory that wharfd can write to; the NDJSON files "
     "go there."},
    {"file_prefix", WHARF_SETTING_STRING, 0, 0, "\"wharf\"",
     "Start of every file name: 1 to 64 letters, digits, \"_\", \"-\" or \".\"."},
    {"max_file_bytes", WHARF_SETTING_INTEGER, 0, 0, "104857600",
     "Size in bytes at which a file is closed and a new one started, from 1024 to "
     "1099511627776 (1 TiB)."},
    {"max_file_age_seconds", WHARF_SETTING_INTEGER, 0, 0, "3600",
     "Age in seconds after which a file is closed and a new one started when the next "
     "messages arrive, from 1 to 604800 (7 days)."},
    {"max_record_bytes", WHARF_SETTING_INTEGER, 0, 0, "1048576",
     "Largest line in bytes; a larger message gets an error instead of being written. From "
     "256 to 1073741824, at most max_file_bytes."},
};

static int file_create(const wharf_host *host, wharf_connector *connector,
                       const struct json_object *settings, void **instance, char *error,
                       size_t error_size)
{
    file_plugin *plugin = calloc(1, sizeof(*plugin));
    int rc;

    if (plugin == NULL) {
        snprintf(error, error_size, "out of memory while creating the file connector");
        return -ENOMEM;
    }

    rc = file_config_read(settings, &plugin->config, error, error_size);
    if (rc == 0)
        rc = file_directory_check(&plugin->config, error, error_size);
    if (rc == 0) {
        plugin->connector_id = strdup(host->connector_id(connector));
        if (plugin->connector_id == NULL) {
            snprintf(error, error_size, "out of memory while creating the file connector");
            rc = -ENOMEM;
        }
    }
    if (rc != 0) {
        file_config_free(&plugin->config);
        free(plugin);
        return rc;
    }

    plugin->host = host;
    plugin->connector = connector;
    plugin->output.fd = -1;
    pthread_mutex_init(&plugin->lock, NULL);
    *instance = plugin;
    return 0;
}

/* Runs on the event loop when the connector stops or changes. Closing the
 * file is an fsync and a rename, short enough to do here. */
static void file_destroy(void *instance)
{
    file_plugin *plugin = instance;
    char reason[1024];

    if (file_output_rotate(plugin, reason, sizeof(reason)) != 0)
        plugin->host->log(plugin->connector, WHARF_LOG_ERROR,
                          "closing the open file failed: %s; its lines stay in the .part file "
                          "and are finished at the next start",
                          reason);

    pthread_mutex_destroy(&plugin->lock);
    file_config_free(&plugin->config);
    free(plugin->connector_id);
    free(plugin);
}

static const wharf_plugin file_plugin_descriptor = {
    .header = WHARF_PLUGIN_HEADER_INIT("file", "1.0.0"),
    .batch_policy = WHARF_BATCH_IGNORES_WHITELIST,
    .entity_types = WHARF_ENTITY_USER | WHARF_ENTITY_ACCOUNT,
    .flags = WHARF_PLUGIN_SEND_BLOCKING,
    .settings = file_settings,
    .settings_count = sizeof(file_settings) / sizeof(file_settings[0]),
    .max_batch_size = FILE_PLUGIN_MAX_BATCH_SIZE,
    .create = file_create,
    .filter = NULL,
    .encode = NULL,
    .send = file_send,
    .destroy = file_destroy,
};

WHARF_PLUGIN_EXPORT const wharf_plugin *wharf_plugin_entry(void)
{
    return &file_plugin_descriptor;
}
