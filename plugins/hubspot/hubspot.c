#include "hubspot.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

static const wharf_setting hubspot_settings[] = {
    {"access_token", WHARF_SETTING_STRING, 1, 1, NULL,
     "Access token of the HubSpot private app (Settings > Integrations > Private Apps), sent "
     "as a bearer token; needs the crm.objects.contacts.write and "
     "crm.objects.companies.write scopes."},
    {"base_url", WHARF_SETTING_STRING, 0, 0, "\"https://api.hubapi.com\"",
     "Address of the HubSpot API; change it only for a proxy or a test server."},
    {"contact_properties", WHARF_SETTING_STRING_MAP, 0, 0, "{}",
     "Contact properties to fill, as {\"hubspot_property\": \"user_attribute\"}, such as "
     "{\"firstname\": \"first_name\"}."},
    {"company_properties", WHARF_SETTING_STRING_MAP, 0, 0, "{}",
     "Company properties to fill, as {\"hubspot_property\": \"account_attribute\"}, such as "
     "{\"name\": \"name\"}."},
    {"batch_size", WHARF_SETTING_INTEGER, 0, 0, "100",
     "Maximum number of records in one batch upsert request, from 1 to 100 (HubSpot's "
     "limit)."},
    {"timeout_ms", WHARF_SETTING_INTEGER, 0, 0, "30000",
     "Time limit for one request in milliseconds, from 1 to 600000; a request that runs out "
     "of time is retried."},
};

static int hubspot_create(const wharf_host *host, wharf_connector *connector,
                          const struct json_object *settings, void **instance, char *error,
                          size_t error_size)
{
    hubspot *plugin = calloc(1, sizeof(*plugin));
    int rc;

    if (plugin == NULL) {
        snprintf(error, error_size, "out of memory while creating the HubSpot connector");
        return -ENOMEM;
    }
    rc = hubspot_config_read(settings, &plugin->config, error, error_size);
    if (rc != 0) {
        free(plugin);
        return rc;
    }
    plugin->host = host;
    plugin->connector = connector;
    *instance = plugin;
    return 0;
}

static void hubspot_destroy(void *instance)
{
    hubspot *plugin = instance;

    for (int object = 0; object < HUBSPOT_OBJECT_COUNT; object++)
        hubspot_catalog_free(&plugin->catalogs[object]);
    hubspot_config_free(&plugin->config);
    free(plugin);
}

static const wharf_plugin hubspot_plugin = {
    .header = WHARF_PLUGIN_HEADER_INIT("hubspot", "1.0.0"),
    .batch_policy = WHARF_BATCH_IGNORES_WHITELIST,
    .entity_types = WHARF_ENTITY_USER | WHARF_ENTITY_ACCOUNT,
    .flags = 0,
    .settings = hubspot_settings,
    .settings_count = sizeof(hubspot_settings) / sizeof(hubspot_settings[0]),
    .max_batch_size = 1000,
    .create = hubspot_create,
    .filter = hubspot_filter,
    .encode = NULL,
    .send = hubspot_send,
    .destroy = hubspot_destroy,
};

WHARF_PLUGIN_EXPORT const wharf_plugin *wharf_plugin_entry(void)
{
    return &hubspot_plugin;
}
