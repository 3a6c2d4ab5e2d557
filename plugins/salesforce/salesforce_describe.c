/*
 * Field lists of the sObjects the connector writes, from
 * GET /services/data/vXX.X/sobjects/{SObject}/describe. Each field entry
 * carries "name", "type", "length", "createable", "updateable",
 * "externalId" and "idLookup"; records are checked against them before
 * they go out.
 */
#include "salesforce.h"

#include <ctype.h>
#include <errno.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

static int64_t monotonic_ms(void)
{
    struct timespec now;

    clock_gettime(CLOCK_MONOTONIC, &now);
    return (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

/* Salesforce API names are case-insensitive, so lookups use lowercase. */
static int lowercase_copy(const char *name, char *copy, size_t copy_size)
{
    size_t i;

    for (i = 0; name[i] != '\0'; i++) {
        if (i + 1 >= copy_size)
            return -EINVAL;
        copy[i] = (char)tolower((unsigned char)name[i]);
    }
    copy[i] = '\0';
    return 0;
}

void salesforce_describe_free(salesforce_describe *describe)
{
    if (describe->fields_by_name != NULL)
        json_object_put(describe->fields_by_name);
    describe->fields_by_name = NULL;
}

int salesforce_describe_store(salesforce *sf, salesforce_object object, const char *body)
{
    json_object *parsed = json_tokener_parse(body);
    json_object *fields;
    json_object *by_name;
    size_t count;
    size_t i;
    int rc = 0;

    if (parsed == NULL || !json_object_object_get_ex(parsed, "fields", &fields) ||
        !json_object_is_type(fields, json_type_array)) {
        if (parsed != NULL)
            json_object_put(parsed);
        return -EINVAL;
    }

    by_name = json_object_new_object();
    if (by_name == NULL) {
        json_object_put(parsed);
        return -ENOMEM;
    }
    count = json_object_array_length(fields);
    for (i = 0; i < count && rc == 0; i++) {
        json_object *field = json_object_array_get_idx(fields, i);
        json_object *name;
        char key[256];

        if (!json_object_object_get_ex(field, "name", &name) ||
            !json_object_is_type(name, json_type_string) ||
            lowercase_copy(json_object_get_string(name), key, sizeof(key)) != 0)
            continue;
        if (json_object_object_add(by_name, key, json_object_get(field)) != 0)
            rc = -ENOMEM;
    }
    json_object_put(parsed);
    if (rc != 0) {
        json_object_put(by_name);
        return rc;
    }

    salesforce_describe_free(&sf->describes[object]);
    sf->describes[object].fields_by_name = by_name;
    sf->describes[object].fetched_at_ms = monotonic_ms();
    return 0;
}

int salesforce_describe_is_fresh(const salesforce *sf, salesforce_object object)
{
    const salesforce_describe *describe = &sf->describes[object];

    return describe->fields_by_name != NULL &&
           monotonic_ms() - describe->fetched_at_ms < SALESFORCE_DESCRIBE_MAX_AGE_MS;
}

const struct json_object *salesforce_describe_field(const salesforce *sf,
                                                    salesforce_object object,
                                                    const char *name)
{
    json_object *field;
    char key[256];

    if (sf->describes[object].fields_by_name == NULL ||
        lowercase_copy(name, key, sizeof(key)) != 0 ||
        !json_object_object_get_ex(sf->describes[object].fields_by_name, key, &field))
        return NULL;
    return field;
}
