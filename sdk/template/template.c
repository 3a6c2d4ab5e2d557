/*
 * A minimal wharfd connector to copy and rename: it accepts every message
 * and logs how many it got. Replace send() with calls to your destination.
 *
 * wharfd starts each line that a plugin logs with "connector ID (PLUGIN):",
 * so the messages here name neither the plugin nor the connector.
 *
 * Build it with `make` (pkg-config) or with CMake (find_package(WharfSDK)),
 * test it with `make check` or `ctest`, and copy template.so into wharfd's
 * plugins directory.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include <wharf/plugin.h>
#include <wharf/sdk/settings.h>

/* One instance per configured connector, built by create(). */
typedef struct template_connector {
    const wharf_host *host;
    wharf_connector *connector;
    char label[64];
    int verbose;
} template_connector;

static const wharf_setting template_settings[] = {
    {"label", WHARF_SETTING_STRING, 0, 0, "\"example\"",
     "Name of the destination, shown in this connector's log lines; 1 to 63 bytes."},
    {"verbose", WHARF_SETTING_BOOLEAN, 0, 0, "false",
     "Log the id of every message received when true."},
};

/* wharfd has already checked the settings against the schema above and filled
 * in the defaults, so only the rules the schema cannot express are left. */
static int template_create(const wharf_host *host, wharf_connector *connector,
                           const struct json_object *settings, void **instance,
                           char *error, size_t error_size)
{
    template_connector *self;
    const char *label = "example";
    int verbose = 0;
    int rc;

    rc = wharf_settings_string(settings, "label", &label);
    if (rc != 0 && rc != -ENOENT) {
        wharf_settings_format_error(error, error_size, settings, "label", rc,
                                    WHARF_SETTING_STRING);
        return rc;
    }
    if (label[0] == '\0') {
        snprintf(error, error_size,
                 "setting \"label\" is empty; give the destination's name (1 to 63 "
                 "bytes), or leave the setting out to use \"example\"");
        return -EINVAL;
    }
    if (strlen(label) > 63) {
        snprintf(error, error_size,
                 "setting \"label\" is %zu bytes long, more than 63; shorten it",
                 strlen(label));
        return -EINVAL;
    }

    rc = wharf_settings_boolean(settings, "verbose", &verbose);
    if (rc != 0 && rc != -ENOENT) {
        wharf_settings_format_error(error, error_size, settings, "verbose", rc,
                                    WHARF_SETTING_BOOLEAN);
        return rc;
    }

    self = calloc(1, sizeof(*self));
    if (self == NULL) {
        snprintf(error, error_size, "out of memory while creating the connector");
        return -ENOMEM;
    }
    self->host = host;
    self->connector = connector;
    snprintf(self->label, sizeof(self->label), "%s", label);
    self->verbose = verbose;

    *instance = self;
    return 0;
}

/* Runs on wharfd's event loop thread, so it must not block. A real connector
 * starts host->http_request() here and sets the results in its completion
 * callback. This one sets them at once. */
static void template_send(void *instance, wharf_batch *batch)
{
    template_connector *self = instance;
    const wharf_host *host = self->host;
    size_t count = host->batch_count(batch);
    size_t i;

    for (i = 0; i < count; i++) {
        if (self->verbose) {
            const struct json_object *message = host->batch_message(batch, i);
            struct json_object *id = NULL;

            json_object_object_get_ex(message, "message_id", &id);
            host->log(self->connector, WHARF_LOG_INFO, "accepted message %s for %s",
                      id != NULL ? json_object_get_string(id) : "(no id)", self->label);
        }

        host->batch_set_result(batch, i, WHARF_RESULT_SUCCESS, 0, -1, NULL);
    }

    host->log(self->connector, WHARF_LOG_INFO, "accepted %zu %s for %s", count,
              count == 1 ? "message" : "messages", self->label);
    host->batch_complete(batch);
}

static void template_destroy(void *instance)
{
    free(instance);
}

static const wharf_plugin template_plugin = {
    .header = WHARF_PLUGIN_HEADER_INIT("template", "0.1.0"),
    .batch_policy = WHARF_BATCH_IGNORES_WHITELIST,
    .entity_types = WHARF_ENTITY_USER | WHARF_ENTITY_ACCOUNT,
    .settings = template_settings,
    .settings_count = sizeof(template_settings) / sizeof(template_settings[0]),
    .max_batch_size = 100,
    .create = template_create,
    .send = template_send,
    .destroy = template_destroy,
};

WHARF_PLUGIN_EXPORT const wharf_plugin *wharf_plugin_entry(void)
{
    return &template_plugin;
}
