/*
 * From a message to an sObject record: which sObject a message becomes,
 * and the record's fields from the mappings, checked against the field's
 * describe entry so that one bad value fails one message with a clear
 * reason instead of a whole request.
 *
 * TODO: move to the SDK's field mapping helper (wharf/sdk/field_mapping.h)
 * once it covers what Salesforce needs: lengths in characters rather than
 * bytes, whole-number (int) and multi-select picklist fields, and
 * attribute-to-field settings.
 */
#include "salesforce.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <json-c/json.h>

#include "wharf/sdk/json_writer.h"

static const char all_segments[] = "ALL";

static json_object *member(const json_object *object, const char *name)
{
    json_object *value = NULL;

    if (object == NULL || !json_object_is_type(object, json_type_object) ||
        !json_object_object_get_ex((json_object *)object, name, &value))
        return NULL;
    return value;
}

static const char *string_member(const json_object *object, const char *name)
{
    json_object *value = member(object, name);

    return json_object_is_type(value, json_type_string) ? json_object_get_string(value)
                                                        : NULL;
}

static int list_matches(char *const *segments, size_t count, const json_object *message)
{
    json_object *member_of = member(message, "segments");
    size_t length;
    size_t i;
    size_t j;

    for (i = 0; i < count; i++) {
        if (strcmp(segments[i], all_segments) == 0)
            return 1;
    }
    if (!json_object_is_type(member_of, json_type_array))
        return 0;
    length = json_object_array_length(member_of);
    for (j = 0; j < length; j++) {
        const char *id = string_member(json_object_array_get_idx(member_of, j), "id");

        for (i = 0; id != NULL && i < count; i++) {
            if (strcmp(segments[i], id) == 0)
                return 1;
        }
    }
    return 0;
}

int salesforce_classify(const salesforce_config *config, const struct json_object *message,
                        salesforce_object *object, char *reason, size_t reason_size)
{
    const char *type = string_member(message, "type");
    const json_object *entity;
    const char *external_id;
    json_object *is_test;
    int in_contacts;
    int in_leads;

    if (type != NULL && strcmp(type, "account") == 0) {
        external_id = string_member(member(message, "account"), "external_id");
        if (external_id == NULL || external_id[0] == '\0') {
            snprintf(reason, reason_size,
                     "account has no external_id, which the Account upsert on %s needs; "
                     "give the account an external_id",
                     config->objects[SALESFORCE_ACCOUNT].external_id_field);
            return 1;
        }
        *object = SALESFORCE_ACCOUNT;
        return 0;
    }

    entity = member(message, "user");
    external_id = string_member(entity, "external_id");
    is_test = member(message, "is_test");

    /* The API's test message is in no segment. It checks the login and the
     * upsert, so it goes as a Contact unless only Leads are configured. */
    if (json_object_is_type(is_test, json_type_boolean) && json_object_get_boolean(is_test)) {
        in_contacts = config->contact_segment_count > 0 || config->lead_segment_count == 0;
        in_leads = !in_contacts;
    } else {
        in_contacts = list_matches(config->contact_segments, config->contact_segment_count,
                                   message);
        in_leads = list_matches(config->lead_segments, config->lead_segment_count, message);
    }

    if (!in_contacts && !in_leads) {
        snprintf(reason, reason_size,
                 "user is in none of the segments of \"contact_segments\" or "
                 "\"lead_segments\"; add one of its segments to either setting to send it "
                 "as a Contact or a Lead");
        return 1;
    }
    *object = in_leads ? SALESFORCE_LEAD : SALESFORCE_CONTACT;

    if (external_id == NULL || external_id[0] == '\0') {
        snprintf(reason, reason_size,
                 "user has no external_id, which the %s upsert on %s needs; send the user "
                 "with a userId",
                 config->objects[*object].sobject,
                 config->objects[*object].external_id_field);
        return 1;
    }
    return 0;
}

static int field_flag(const json_object *field, const char *name)
{
    json_object *value = member(field, name);

    return json_object_is_type(value, json_type_boolean) && json_object_get_boolean(value);
}

int salesforce_check_external_id(const salesforce *sf, salesforce_object object,
                                 char *reason, size_t reason_size)
{
    const salesforce_object_config *config = &sf->config.objects[object];
    const json_object *field = salesforce_describe_field(sf, object, config->external_id_field);

    if (field == NULL) {
        snprintf(reason, reason_size,
                 "setting \"%s\" names %s.%s, which Salesforce does not have; create it as "
                 "an External ID text field or name an existing one",
                 config->external_id_setting, config->sobject, config->external_id_field);
        return 1;
    }
    if (!field_flag(field, "externalId") && !field_flag(field, "idLookup")) {
        snprintf(reason, reason_size,
                 "setting \"%s\" names %s.%s, which is not an External ID field; tick "
                 "\"External ID\" on that field in Salesforce or name another one",
                 config->external_id_setting, config->sobject, config->external_id_field);
        return 1;
    }
    return 0;
}

static const char *json_kind(const json_object *value)
{
    switch (json_object_get_type(value)) {
    case json_type_null:
        return "null";
    case json_type_boolean:
        return "true or false";
    case json_type_int:
    case json_type_double:
        return "a number";
    case json_type_string:
        return "a string";
    case json_type_array:
        return "an array";
    case json_type_object:
        return "an object";
    }
    return "a value";
}

static size_t utf8_length(const char *text)
{
    size_t count = 0;

    for (; *text != '\0'; text++) {
        if (((unsigned char)*text & 0xC0) != 0x80)
            count++;
    }
    return count;
}

static int is_text_type(const char *type)
{
    static const char *const text_types[] = {
        "string", "textarea", "email", "phone", "url", "picklist", "combobox",
        "encryptedstring", "id", "reference"};
    size_t i;

    for (i = 0; i < sizeof(text_types) / sizeof(text_types[0]); i++) {
        if (strcmp(type, text_types[i]) == 0)
            return 1;
    }
    return 0;
}

static int is_number_type(const char *type)
{
    return strcmp(type, "double") == 0 || strcmp(type, "currency") == 0 ||
           strcmp(type, "percent") == 0 || strcmp(type, "int") == 0 ||
           strcmp(type, "long") == 0;
}

/* YYYY-MM-DD at the start of text. */
static int starts_with_date(const char *text)
{
    static const char pattern[] = "dddd-dd-dd";
    size_t i;

    for (i = 0; i < sizeof(pattern) - 1; i++) {
        if (pattern[i] == 'd' ? !isdigit((unsigned char)text[i]) : text[i] != pattern[i])
            return 0;
    }
    return 1;
}

/* What one mapping entry writes, for messages about it. */
typedef struct field_target {
    const salesforce_object_config *object;
    const char *attribute; /* as configured, with "account." when it has it */
    const char *field;
    const json_object *describe; /* the field's describe entry */
} field_target;

static int type_error(const field_target *target, const json_object *value,
                      const char *expected, char *reason, size_t reason_size)
{
    snprintf(reason, reason_size,
             "attribute \"%.64s\" is %s, but %s.%s is a %s field that takes %s; change the "
             "attribute's values or map it to another field in \"%s\"",
             target->attribute, json_kind(value), target->object->sobject, target->field,
             string_member(target->describe, "type"), expected,
             target->object->mapping_setting);
    return WHARF_RESULT_ERROR;
}

static int append_text(wharf_buffer *out, const field_target *target, const char *text,
                       size_t length, char *reason, size_t reason_size)
{
    json_object *limit = member(target->describe, "length");
    int64_t max_length = json_object_is_type(limit, json_type_int) ? json_object_get_int64(limit)
                                                                    : 0;
    size_t characters = utf8_length(text);

    if (max_length > 0 && characters > (size_t)max_length) {
        snprintf(reason, reason_size,
                 "attribute \"%.64s\" has %zu characters, but %s.%s holds at most %lld; "
                 "shorten the value or map a longer field in \"%s\"",
                 target->attribute, characters, target->object->sobject, target->field,
                 (long long)max_length, target->object->mapping_setting);
        return WHARF_RESULT_ERROR;
    }
    return wharf_json_append_string(out, text, length);
}

/* Append value converted for the field's type, or return a result kind
 * with a reason. value is not const only because json-c's getters take a
 * mutable pointer. It is never changed: json_object_get_string() is called
 * on strings only, which does not write json-c's output cache. */
static int append_value(wharf_buffer *out, const field_target *target, json_object *value,
                        char *reason, size_t reason_size)
{
    const char *type = string_member(target->describe, "type");
    enum json_type kind = json_object_get_type(value);

    if (type == NULL)
        type = "string";

    /* null clears the field in Salesforce. */
    if (kind == json_type_null)
        return wharf_buffer_append_string(out, "null");

    if (strcmp(type, "boolean") == 0) {
        if (kind != json_type_boolean)
            return type_error(target, value, "true or false", reason, reason_size);
        return wharf_json_append(out, value);
    }

    if (is_number_type(type)) {
        int integer_type = strcmp(type, "int") == 0 || strcmp(type, "long") == 0;

        if (kind == json_type_int)
            return wharf_json_append(out, value);
        if (kind == json_type_double && !integer_type)
            return wharf_json_append(out, value);
        return type_error(target, value, integer_type ? "a whole number" : "a number", reason,
                          reason_size);
    }

    if (strcmp(type, "date") == 0 || strcmp(type, "datetime") == 0) {
        int datetime = strcmp(type, "datetime") == 0;
        const char *text = kind == json_type_string ? json_object_get_string(value) : NULL;

        if (text == NULL || !starts_with_date(text) || (datetime && text[10] != 'T') ||
            (!datetime && text[10] != '\0' && text[10] != 'T'))
            return type_error(target, value,
                              datetime ? "an ISO 8601 date and time (2024-05-01T12:00:00Z)"
                                       : "a date (2024-05-01)",
                              reason, reason_size);
        /* A date field takes the date part of a date-time value. */
        return wharf_json_append_string(out, text, datetime ? strlen(text) : 10);
    }

    if (strcmp(type, "multipicklist") == 0 && kind == json_type_array) {
        wharf_buffer joined = WHARF_BUFFER_INIT;
        size_t count = json_object_array_length(value);
        size_t i;
        int rc = 0;

        /* Salesforce separates the values of a multi-select picklist with ";". */
        for (i = 0; i < count && rc == 0; i++) {
            json_object *item = json_object_array_get_idx(value, i);

            if (!json_object_is_type(item, json_type_string)) {
                wharf_buffer_free(&joined);
                return type_error(target, value, "a string or an array of strings", reason,
                                  reason_size);
            }
            if (i > 0)
                rc = wharf_buffer_append_char(&joined, ';');
            if (rc == 0)
                rc = wharf_buffer_append_string(&joined, json_object_get_string(item));
        }
        if (rc == 0)
            rc = append_text(out, target, joined.data != NULL ? joined.data : "",
                             joined.length, reason, reason_size);
        wharf_buffer_free(&joined);
        return rc;
    }

    /* Text and every other type take a string; numbers and booleans are
     * written as their JSON text, which is what a user would type. */
    if (kind == json_type_string)
        return append_text(out, target, json_object_get_string(value),
                           (size_t)json_object_get_string_len(value), reason, reason_size);
    if (is_text_type(type) && (kind == json_type_int || kind == json_type_double ||
                               kind == json_type_boolean)) {
        wharf_buffer text = WHARF_BUFFER_INIT;
        int rc = wharf_json_append(&text, value);

        if (rc == 0)
            rc = append_text(out, target, text.data, text.length, reason, reason_size);
        wharf_buffer_free(&text);
        return rc;
    }
    return type_error(target, value, "a string", reason, reason_size);
}

/* Append ,"Field":value for one mapping entry present in the message. */
static int append_mapping(const salesforce *sf, salesforce_object object,
                          const salesforce_mapping *mapping, const json_object *attributes,
                          const json_object *account_attributes, wharf_buffer *out,
                          char *reason, size_t reason_size)
{
    const salesforce_object_config *config = &sf->config.objects[object];
    const json_object *source = mapping->from_account ? account_attributes : attributes;
    json_object *value;
    field_target target;
    char attribute[160];
    int rc;

    if (source == NULL || !json_object_is_type(source, json_type_object) ||
        !json_object_object_get_ex((json_object *)source, mapping->attribute, &value))
        return 0;

    snprintf(attribute, sizeof(attribute), "%s%s", mapping->from_account ? "account." : "",
             mapping->attribute);
    target.object = config;
    target.attribute = attribute;
    target.field = mapping->field;
    target.describe = salesforce_describe_field(sf, object, mapping->field);
    if (target.describe == NULL) {
        snprintf(reason, reason_size,
                 "setting \"%s\" maps attribute \"%.64s\" to %s.%s, which Salesforce does not "
                 "have; create the field or fix the mapping",
                 config->mapping_setting, attribute, config->sobject, mapping->field);
        return WHARF_RESULT_ERROR;
    }
    if (!field_flag(target.describe, "createable") && !field_flag(target.describe, "updateable")) {
        snprintf(reason, reason_size,
                 "setting \"%s\" maps attribute \"%.64s\" to %s.%s, which is read-only in "
                 "Salesforce; map it to a field that the integration user can edit",
                 config->mapping_setting, attribute, config->sobject, mapping->field);
        return WHARF_RESULT_ERROR;
    }

    rc = wharf_buffer_append_char(out, ',');
    if (rc == 0)
        rc = wharf_json_append_string(out, mapping->field, strlen(mapping->field));
    if (rc == 0)
        rc = wharf_buffer_append_char(out, ':');
    if (rc == 0)
        rc = append_value(out, &target, value, reason, reason_size);
    return rc;
}

static int maps_field(const salesforce_object_config *config, const char *field)
{
    size_t i;

    for (i = 0; i < config->mapping_count; i++) {
        if (strcasecmp(config->mappings[i].field, field) == 0)
            return 1;
    }
    return 0;
}

int salesforce_record_append(const salesforce *sf, salesforce_object object,
                             const struct json_object *message, wharf_buffer *out,
                             char *reason, size_t reason_size)
{
    const salesforce_object_config *config = &sf->config.objects[object];
    const json_object *entity;
    const json_object *account_attributes = NULL;
    const char *external_id;
    const char *email = NULL;
    size_t old_length = out->length;
    size_t i;
    int rc;

    if (object == SALESFORCE_ACCOUNT) {
        entity = member(message, "account");
    } else {
        entity = member(message, "user");
        account_attributes = member(member(message, "account"), "attributes");
        email = string_member(entity, "email");
    }
    external_id = string_member(entity, "external_id");
    if (external_id == NULL) {
        snprintf(reason, reason_size, "message has no external_id to upsert on");
        return WHARF_RESULT_SKIP;
    }

    rc = wharf_buffer_append_format(out, "{\"attributes\":{\"type\":\"%s\"},", config->sobject);
    if (rc == 0)
        rc = wharf_json_append_string(out, config->external_id_field,
                                      strlen(config->external_id_field));
    if (rc == 0)
        rc = wharf_buffer_append_char(out, ':');
    if (rc == 0)
        rc = wharf_json_append_string(out, external_id, strlen(external_id));

    /* The email claim fills Email unless a mapping writes that field. */
    if (rc == 0 && email != NULL && !maps_field(config, "Email") &&
        salesforce_describe_field(sf, object, "Email") != NULL) {
        rc = wharf_buffer_append_string(out, ",\"Email\":");
        if (rc == 0)
            rc = wharf_json_append_string(out, email, strlen(email));
    }

    for (i = 0; rc == 0 && i < config->mapping_count; i++)
        rc = append_mapping(sf, object, &config->mappings[i], member(entity, "attributes"),
                            account_attributes, out, reason, reason_size);
    if (rc == 0)
        rc = wharf_buffer_append_char(out, '}');

    if (rc != 0) {
        out->length = old_length;
        if (out->data != NULL)
            out->data[old_length] = '\0';
        if (rc == -EINVAL) {
            snprintf(reason, reason_size, "an attribute value nests too deeply to encode");
            return WHARF_RESULT_ERROR;
        }
    }
    return rc;
}
