#include "webhook.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

static const wharf_setting webhook_settings[] = {
    {"url", WHARF_SETTING_STRING, 1, 0, NULL,
     "Address that receives the messages as an HTTP POST; must start with "
     "http:// or https://."},
    {"headers", WHARF_SETTING_STRING_MAP, 0, 1, "{}",
     "Extra request headers as a JSON object of name to value, such as "
     "{\"Authorization\": \"Bearer ...\"}; secret because they usually carry "
     "credentials. A Content-Type here replaces application/json."},
    {"batch_size", WHARF_SETTING_INTEGER, 0, 0, "100",
     "Maximum number of messages in one request body, from 1 to 1000."},
    {"timeout_ms", WHARF_SETTING_INTEGER, 0, 0, "10000",
     "Time limit for one request in milliseconds, from 1 to 600000; a request "
     "that runs out of time is retried."},
};

static int webhook_create(const wharf_host *host, wharf_connector *connector,
                          const struct json_object *settings, void **instance,
                          char *error, size_t error_size)
{
    webhook *hook = calloc(1, sizeof(*hook));
    int rc;

    if (hook == NULL) {
        snprintf(error, error_size, "out of memory while creating the webhook connector");
        return -ENOMEM;
    }

    rc = webhook_config_read(settings, &hook->config, error, error_size);
    if (rc != 0) {
        free(hook);
        return rc;
    }

    hook->host = host;
    hook->connector = connector;
    *instance = hook;
    return 0;
}

static void webhook_destroy(void *instance)
{
    webhook *hook = instance;

    webhook_config_free(&hook->config);
    free(hook);
}

static const wharf_plugin webhook_plugin = {
    .header = WHARF_PLUGIN_HEADER_INIT("webhook", "1.0.0"),
    .batch_policy = WHARF_BATCH_IGNORES_WHITELIST,
    .entity_types = WHARF_ENTITY_USER | WHARF_ENTITY_ACCOUNT,
    .flags = 0,
    .settings = webhook_settings,
    .settings_count = sizeof(webhook_settings) / sizeof(webhook_settings[0]),
    .max_batch_size = WEBHOOK_MAX_BATCH_SIZE,
    .create = webhook_create,
    .filter = NULL,
    .encode = webhook_encode,
    .send = webhook_send,
    .destroy = webhook_destroy,
};

WHARF_PLUGIN_EXPORT const wharf_plugin *wharf_plugin_entry(void)
{
    return &webhook_plugin;
}
