/*
 * Batch upsert inputs: a contact per user, keyed by its email, and a
 * company per account, keyed by its domain.
 */
#include "hubspot.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "wharf/sdk/json_writer.h"
#include "wharf/sdk/record_requests.h"

static const char no_email_reason[] =
    "user has no email; HubSpot contacts are matched by email, so set the user's email "
    "claim to send it";
static const char no_domain_reason[] =
    "account has no domain; HubSpot companies are matched by domain, so set the account's "
    "domain claim to send it";

static const char *member_string(struct json_object *object, const char *name)
{
    struct json_object *value = NULL;

    if (object == NULL || !json_object_object_get_ex(object, name, &value) ||
        !json_object_is_type(value, json_type_string) || json_object_get_string_len(value) == 0)
        return NULL;
    return json_object_get_string(value);
}

static struct json_object *member(const struct json_object *object, const char *name)
{
    struct json_object *value = NULL;

    if (object == NULL || !json_object_object_get_ex(object, name, &value) ||
        !json_object_is_type(value, json_type_object))
        return NULL;
    return value;
}

int hubspot_filter(void *instance, const struct json_object *message, char *reason,
                   size_t reason_size)
{
    struct json_object *type = NULL;
    const char *name;

    (void)instance;
    json_object_object_get_ex(message, "type", &type);
    name = type != NULL ? json_object_get_string(type) : "";
    if (strcmp(name, "user") == 0 &&
        member_string(member(message, "user"), "email") == NULL) {
        snprintf(reason, reason_size, "%s", no_email_reason);
        return 1;
    }
    if (strcmp(name, "account") == 0 &&
        member_string(member(message, "account"), "domain") == NULL) {
        snprintf(reason, reason_size, "%s", no_domain_reason);
        return 1;
    }
    return 0;
}

static int write_input(const hubspot *plugin, hubspot_object object, const char *id_property,
                       const char *id, struct json_object *attributes, size_t index,
                       wharf_buffer *out, char *reason, size_t reason_size)
{
    int rc;

    rc = wharf_buffer_append_string(out, "{\"idProperty\":");
    if (rc == 0)
        rc = wharf_json_append_string(out, id_property, strlen(id_property));
    if (rc == 0)
        rc = wharf_buffer_append_string(out, ",\"id\":");
    if (rc == 0)
        rc = wharf_json_append_string(out, id, strlen(id));
    /* The batch index lets the response name each input. */
    if (rc == 0)
        rc = wharf_buffer_append_format(out, ",\"objectWriteTraceId\":\"%zu\",\"properties\":",
                                        index);
    if (rc == 0)
        rc = wharf_field_mapping_append_object(&plugin->config.mappings[object], attributes,
                                               out, reason, reason_size);
    if (rc == 0)
        rc = wharf_buffer_append_char(out, '}');
    return rc;
}

int hubspot_write_contact(void *context, const struct json_object *message, size_t index,
                          wharf_buffer *out, char *reason, size_t reason_size)
{
    const hubspot *plugin = context;
    struct json_object *user = member(message, "user");
    const char *email = member_string(user, "email");

    if (email == NULL) {
        snprintf(reason, reason_size, "%s", no_email_reason);
        return WHARF_RECORD_SKIP;
    }
    return write_input(plugin, HUBSPOT_CONTACTS, "email", email, member(user, "attributes"),
                       index, out, reason, reason_size);
}

int hubspot_write_company(void *context, const struct json_object *message, size_t index,
                          wharf_buffer *out, char *reason, size_t reason_size)
{
    const hubspot *plugin = context;
    struct json_object *account = member(message, "account");
    const char *domain = member_string(account, "domain");

    if (domain == NULL) {
        snprintf(reason, reason_size, "%s", no_domain_reason);
        return WHARF_RECORD_SKIP;
    }
    return write_input(plugin, HUBSPOT_COMPANIES, "domain", domain,
                       member(account, "attributes"), index, out, reason, reason_size);
}
