#include "salesforce.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

static const wharf_setting salesforce_settings[] = {
    {"login_url", WHARF_SETTING_STRING, 0, 0, "\"https://login.salesforce.com\"",
     "Salesforce login address that issues OAuth tokens, such as "
     "https://login.salesforce.com, https://test.salesforce.com for a sandbox, "
     "or your My Domain URL (required for the client_credentials flow)."},
    {"auth_flow", WHARF_SETTING_STRING, 0, 0, "\"password\"",
     "OAuth 2.0 flow: \"password\" (username-password, needs username and password) "
     "or \"client_credentials\" (the connected app's Run As user)."},
    {"client_id", WHARF_SETTING_STRING, 1, 0, NULL,
     "Consumer key of the Salesforce connected app."},
    {"client_secret", WHARF_SETTING_STRING, 1, 1, NULL,
     "Consumer secret of the Salesforce connected app."},
    {"username", WHARF_SETTING_STRING, 0, 0, NULL,
     "Salesforce user to log in as; required for the password flow."},
    {"password", WHARF_SETTING_STRING, 0, 1, NULL,
     "Password of that user; required for the password flow."},
    {"security_token", WHARF_SETTING_STRING, 0, 1, NULL,
     "Security token of that user, appended to the password; needed when the "
     "login comes from an IP address outside the org's trusted ranges."},
    {"api_version", WHARF_SETTING_STRING, 0, 0, "\"60.0\"",
     "REST API version, such as 60.0; 46.0 or later, the first version with "
     "sObject Collections upsert."},
    {"contact_segments", WHARF_SETTING_STRING_LIST, 0, 0, "[]",
     "User segment ids whose members are upserted as Contacts; \"ALL\" matches every "
     "user."},
    {"lead_segments", WHARF_SETTING_STRING_LIST, 0, 0, "[]",
     "User segment ids whose members are upserted as Leads; a user in both lists "
     "becomes a Lead. \"ALL\" matches every user."},
    {"contact_external_id_field", WHARF_SETTING_STRING, 0, 0, "\"Wharf_External_Id__c\"",
     "External ID field of Contact that holds the user's external_id; upserts match "
     "on it."},
    {"lead_external_id_field", WHARF_SETTING_STRING, 0, 0, "\"Wharf_External_Id__c\"",
     "External ID field of Lead that holds the user's external_id."},
    {"account_external_id_field", WHARF_SETTING_STRING, 0, 0, "\"Wharf_External_Id__c\"",
     "External ID field of Account that holds the account's external_id."},
    {"contact_mapping", WHARF_SETTING_STRING_MAP, 0, 0,
     "{\"first_name\": \"FirstName\", \"last_name\": \"LastName\"}",
     "User attribute to Contact field, such as {\"plan\": \"Plan__c\"}; an attribute "
     "name starting with \"account.\" reads the user's account."},
    {"lead_mapping", WHARF_SETTING_STRING_MAP, 0, 0,
     "{\"first_name\": \"FirstName\", \"last_name\": \"LastName\", "
     "\"account.name\": \"Company\"}",
     "User attribute to Lead field; an attribute name starting with \"account.\" "
     "reads the user's account."},
    {"account_mapping", WHARF_SETTING_STRING_MAP, 0, 0, "{\"name\": \"Name\"}",
     "Account attribute to Account field."},
    {"timeout_ms", WHARF_SETTING_INTEGER, 0, 0, "30000",
     "Time limit for one request to Salesforce in milliseconds, from 1 to 600000."},
};

static int salesforce_create(const wharf_host *host, wharf_connector *connector,
                             const struct json_object *settings, void **instance,
                             char *error, size_t error_size)
{
    salesforce *sf = calloc(1, sizeof(*sf));
    int rc;

    if (sf == NULL) {
        snprintf(error, error_size, "out of memory while creating the Salesforce connector");
        return -ENOMEM;
    }
    sf->host = host;
    sf->connector = connector;

    rc = salesforce_config_read(settings, &sf->config, error, error_size);
    if (rc != 0) {
        free(sf);
        return rc;
    }

    rc = salesforce_login_create(sf, settings, error, error_size);
    if (rc != 0) {
        salesforce_config_free(&sf->config);
        free(sf);
        return rc;
    }

    *instance = sf;
    return 0;
}

static int salesforce_filter(void *instance, const struct json_object *message, char *reason,
                             size_t reason_size)
{
    const salesforce *sf = instance;
    salesforce_object object;

    return salesforce_classify(&sf->config, message, &object, reason, reason_size);
}

static void salesforce_destroy(void *instance)
{
    salesforce *sf = instance;
    size_t i;

    wharf_oauth_token_destroy(sf->token);
    for (i = 0; i < SALESFORCE_OBJECT_COUNT; i++)
        salesforce_describe_free(&sf->describes[i]);
    salesforce_config_free(&sf->config);
    free(sf);
}

static const wharf_plugin salesforce_plugin = {
    .header = WHARF_PLUGIN_HEADER_INIT("salesforce", "1.0.0"),
    .batch_policy = WHARF_BATCH_REQUIRES_WHITELIST,
    .entity_types = WHARF_ENTITY_USER | WHARF_ENTITY_ACCOUNT,
    .flags = 0,
    .settings = salesforce_settings,
    .settings_count = sizeof(salesforce_settings) / sizeof(salesforce_settings[0]),
    .max_batch_size = SALESFORCE_MAX_BATCH_SIZE,
    .create = salesforce_create,
    .filter = salesforce_filter,
    .encode = NULL,
    .send = salesforce_send,
    .destroy = salesforce_destroy,
};

WHARF_PLUGIN_EXPORT const wharf_plugin *wharf_plugin_entry(void)
{
    return &salesforce_plugin;
}
