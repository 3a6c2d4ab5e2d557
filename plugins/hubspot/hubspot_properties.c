/*
 * Property definitions of a HubSpot object type, from
 * GET /crm/v3/properties/{object}: {"results": [{"name": "firstname",
 * "type": "string", "modificationMetadata": {"readOnlyValue": false}}, ...]}.
 */
#include "hubspot.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "wharf/sdk/clock.h"

/* Maximum length of a string property value.
 * NOTE: 65,536 characters is the limit HubSpot is widely reported to apply;
 * it was not checked against a HubSpot documentation page. The check counts
 * bytes, so non-ASCII text near the limit is rejected a little early. */
#define HUBSPOT_STRING_MAX 65536

void hubspot_catalog_free(hubspot_catalog *catalog)
{
    for (size_t i = 0; i < catalog->count; i++)
        free((char *)catalog->fields[i].name);
    free(catalog->fields);
    memset(catalog, 0, sizeof(*catalog));
}

int hubspot_catalog_needed(const hubspot *plugin, hubspot_object object, int64_t now_ms)
{
    const hubspot_catalog *catalog = &plugin->catalogs[object];

    if (plugin->config.mappings[object].count == 0)
        return 0;
    return catalog->fetched_at_ms == 0 || now_ms - catalog->fetched_at_ms >= HUBSPOT_CATALOG_TTL_MS;
}

/* HubSpot property types as field types. enumeration and phone_number
 * values travel as strings too. */
static wharf_field_type field_type_for(const char *type)
{
    if (strcmp(type, "number") == 0)
        return WHARF_FIELD_NUMBER;
    if (strcmp(type, "bool") == 0)
        return WHARF_FIELD_BOOLEAN;
    if (strcmp(type, "date") == 0)
        return WHARF_FIELD_DATE;
    if (strcmp(type, "datetime") == 0)
        return WHARF_FIELD_DATETIME;
    return WHARF_FIELD_STRING;
}

static int is_read_only(struct json_object *property)
{
    struct json_object *metadata = NULL;
    struct json_object *read_only = NULL;

    return json_object_object_get_ex(property, "modificationMetadata", &metadata) &&
           json_object_object_get_ex(metadata, "readOnlyValue", &read_only) &&
           json_object_get_boolean(read_only);
}

static int parse_catalog(struct json_object *root, hubspot_catalog *catalog)
{
    struct json_object *results = NULL;
    size_t length;

    if (!json_object_object_get_ex(root, "results", &results) ||
        !json_object_is_type(results, json_type_array))
        return -EINVAL;

    length = json_object_array_length(results);
    catalog->fields = calloc(length > 0 ? length : 1, sizeof(*catalog->fields));
    if (catalog->fields == NULL)
        return -ENOMEM;

    for (size_t i = 0; i < length; i++) {
        struct json_object *property = json_object_array_get_idx(results, i);
        struct json_object *name = NULL;
        struct json_object *type = NULL;
        wharf_field *field = &catalog->fields[catalog->count];

        if (!json_object_object_get_ex(property, "name", &name) ||
            !json_object_is_type(name, json_type_string) ||
            !json_object_object_get_ex(property, "type", &type) ||
            !json_object_is_type(type, json_type_string) || is_read_only(property))
            continue;

        field->name = strdup(json_object_get_string(name));
        if (field->name == NULL)
            return -ENOMEM;
        field->type = field_type_for(json_object_get_string(type));
        field->max_length = field->type == WHARF_FIELD_STRING ? HUBSPOT_STRING_MAX : 0;
        catalog->count++;
    }
    return 0;
}

int hubspot_catalog_update(hubspot *plugin, hubspot_object object, const char *body,
                           size_t body_size, char *reason, size_t reason_size)
{
    hubspot_catalog fresh = {0};
    struct json_object *root;
    size_t unknown;
    int rc;

    root = json_tokener_parse(body_size > 0 ? body : "");
    rc = root != NULL && json_object_is_type(root, json_type_object) ? parse_catalog(root, &fresh)
                                                                     : -EINVAL;
    json_object_put(root);
    if (rc != 0) {
        hubspot_catalog_free(&fresh);
        if (rc == -ENOMEM)
            snprintf(reason, reason_size, "out of memory while reading HubSpot's %s properties",
                     hubspot_object_path(object));
        else
            snprintf(reason, reason_size,
                     "HubSpot's list of %s properties is not the expected JSON "
                     "({\"results\": [...]}); check setting \"base_url\"",
                     hubspot_object_path(object));
        return rc;
    }

    hubspot_catalog_free(&plugin->catalogs[object]);
    plugin->catalogs[object] = fresh;
    plugin->catalogs[object].fetched_at_ms = wharf_clock_now_ms();
    unknown = wharf_field_mapping_resolve(&plugin->config.mappings[object], fresh.fields,
                                          fresh.count);
    if (unknown > 0)
        plugin->host->log(plugin->connector, WHARF_LOG_WARN,
                          "%zu mapped %s properties do not exist in HubSpot or are read-only; "
                          "messages with values for them get an error",
                          unknown, hubspot_object_path(object));
    return 0;
}
