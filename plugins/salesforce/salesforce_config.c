#include "salesforce.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <json-c/json.h>

#include "wharf/sdk/settings.h"

/* Mapping keys with this prefix read the user's account attributes. */
static const char account_prefix[] = "account.";

/* sObject Collections upsert exists from API version 46.0 on. */
#define MIN_API_MAJOR 46

static const char *const sobject_names[SALESFORCE_OBJECT_COUNT] = {"Contact", "Lead",
                                                                   "Account"};
static const char *const mapping_settings[SALESFORCE_OBJECT_COUNT] = {
    "contact_mapping", "lead_mapping", "account_mapping"};
static const char *const external_id_settings[SALESFORCE_OBJECT_COUNT] = {
    "contact_external_id_field", "lead_external_id_field", "account_external_id_field"};

static int out_of_memory(char *error, size_t error_size, const char *setting)
{
    snprintf(error, error_size, "out of memory while reading setting \"%s\"", setting);
    return -ENOMEM;
}

static int read_string(const struct json_object *settings, const char *name,
                       const char **value, char *error, size_t error_size)
{
    int rc = wharf_settings_string(settings, name, value);

    if (rc != 0)
        wharf_settings_format_error(error, error_size, settings, name, rc,
                                    WHARF_SETTING_STRING);
    return rc;
}

static int read_login_url(const struct json_object *settings, salesforce_config *config,
                          char *error, size_t error_size)
{
    const char *url;
    const char *authority;
    size_t length;
    size_t i;
    int rc = read_string(settings, "login_url", &url, error, error_size);

    if (rc != 0)
        return rc;

    if (strncasecmp(url, "https://", 8) == 0)
        authority = url + 8;
    else if (strncasecmp(url, "http://", 7) == 0)
        authority = url + 7;
    else {
        snprintf(error, error_size,
                 "setting \"login_url\" must start with https:// or http://, got \"%.100s\"; "
                 "use https://login.salesforce.com or your My Domain URL",
                 url);
        return -EINVAL;
    }
    if (*authority == '\0' || *authority == '/') {
        snprintf(error, error_size,
                 "setting \"login_url\" has no host name after the scheme; "
                 "use a URL such as https://login.salesforce.com");
        return -EINVAL;
    }
    for (i = 0; url[i] != '\0'; i++) {
        unsigned char byte = (unsigned char)url[i];

        if (byte <= 0x20 || byte == 0x7f || byte == '?' || byte == '#') {
            snprintf(error, error_size,
                     "setting \"login_url\" contains a space, control character, \"?\" or "
                     "\"#\" at position %zu; give the bare address, such as "
                     "https://login.salesforce.com",
                     i);
            return -EINVAL;
        }
    }

    length = strlen(url);
    while (length > 0 && url[length - 1] == '/')
        length--;
    config->login_url = strndup(url, length);
    if (config->login_url == NULL)
        return out_of_memory(error, error_size, "login_url");
    return 0;
}

static int read_flow(const struct json_object *settings, salesforce_config *config,
                     char *error, size_t error_size)
{
    const char *flow;
    int rc = read_string(settings, "auth_flow", &flow, error, error_size);

    if (rc != 0)
        return rc;
    if (strcmp(flow, "password") == 0)
        config->flow = SALESFORCE_FLOW_PASSWORD;
    else if (strcmp(flow, "client_credentials") == 0)
        config->flow = SALESFORCE_FLOW_CLIENT_CREDENTIALS;
    else {
        snprintf(error, error_size,
                 "setting \"auth_flow\" must be \"password\" or \"client_credentials\", "
                 "got \"%.64s\"",
                 flow);
        return -EINVAL;
    }
    return 0;
}

/* "60.0" or "v60.0"; stored as "v60.0", the form the URL path takes. */
static int read_api_version(const struct json_object *settings, salesforce_config *config,
                            char *error, size_t error_size)
{
    const char *version;
    const char *digits;
    char *end;
    long major;
    int rc = read_string(settings, "api_version", &version, error, error_size);

    if (rc != 0)
        return rc;
    digits = version[0] == 'v' ? version + 1 : version;
    major = isdigit((unsigned char)digits[0]) ? strtol(digits, &end, 10) : -1;
    if (major < 0 || *end != '.' || !isdigit((unsigned char)end[1]) || end[2] != '\0' ||
        major > 999) {
        snprintf(error, error_size,
                 "setting \"api_version\" must look like 60.0, got \"%.32s\"", version);
        return -EINVAL;
    }
    if (major < MIN_API_MAJOR) {
        snprintf(error, error_size,
                 "setting \"api_version\" is %.32s, but sObject Collections upsert needs "
                 "46.0 or later; set a later version such as 60.0",
                 version);
        return -EINVAL;
    }
    config->api_version = malloc(strlen(digits) + 2);
    if (config->api_version == NULL)
        return out_of_memory(error, error_size, "api_version");
    sprintf(config->api_version, "v%s", digits);
    return 0;
}

static int read_segments(const struct json_object *settings, const char *name,
                         char ***segments, size_t *count, char *error, size_t error_size)
{
    json_object *list;
    size_t length;
    size_t i;

    *segments = NULL;
    *count = 0;
    if (!json_object_object_get_ex((json_object *)settings, name, &list) || list == NULL)
        return 0;
    if (!json_object_is_type(list, json_type_array)) {
        wharf_settings_format_error(error, error_size, settings, name, -EINVAL,
                                    WHARF_SETTING_STRING_LIST);
        return -EINVAL;
    }

    length = json_object_array_length(list);
    if (length == 0)
        return 0;
    *segments = calloc(length, sizeof(**segments));
    if (*segments == NULL)
        return out_of_memory(error, error_size, name);
    for (i = 0; i < length; i++) {
        json_object *item = json_object_array_get_idx(list, i);

        if (!json_object_is_type(item, json_type_string) ||
            json_object_get_string_len(item) == 0) {
            snprintf(error, error_size,
                     "setting \"%s\" item %zu must be a segment id or \"ALL\"; remove or "
                     "fix it",
                     name, i);
            return -EINVAL;
        }
        (*segments)[i] = strdup(json_object_get_string(item));
        if ((*segments)[i] == NULL)
            return out_of_memory(error, error_size, name);
        *count = i + 1;
    }
    return 0;
}

/* Salesforce API names: a letter, then letters, digits and underscores
 * (custom fields end in "__c"). */
static int is_api_name(const char *name)
{
    size_t i;

    if (!isalpha((unsigned char)name[0]))
        return 0;
    for (i = 1; name[i] != '\0'; i++) {
        if (!isalnum((unsigned char)name[i]) && name[i] != '_')
            return 0;
    }
    return i <= 80;
}

static int read_external_id(const struct json_object *settings, salesforce_object_config *object,
                            char *error, size_t error_size)
{
    const char *field;
    int rc = read_string(settings, object->external_id_setting, &field, error, error_size);

    if (rc != 0)
        return rc;
    if (!is_api_name(field)) {
        snprintf(error, error_size,
                 "setting \"%s\" must be a Salesforce field API name such as "
                 "Wharf_External_Id__c, got \"%.80s\"",
                 object->external_id_setting, field);
        return -EINVAL;
    }
    object->external_id_field = strdup(field);
    if (object->external_id_field == NULL)
        return out_of_memory(error, error_size, object->external_id_setting);
    return 0;
}

static int read_mapping(const struct json_object *settings, salesforce_object_config *object,
                        int allow_account_prefix, char *error, size_t error_size)
{
    wharf_http_header *pairs = NULL;
    size_t count = 0;
    size_t i;
    int rc = wharf_settings_string_map(settings, object->mapping_setting, &pairs, &count);

    if (rc == -ENOENT)
        return 0;
    if (rc != 0) {
        wharf_settings_format_error(error, error_size, settings, object->mapping_setting, rc,
                                    WHARF_SETTING_STRING_MAP);
        return rc;
    }
    if (count == 0)
        return 0;

    object->mappings = calloc(count, sizeof(*object->mappings));
    if (object->mappings == NULL) {
        wharf_http_headers_free(pairs, count);
        return out_of_memory(error, error_size, object->mapping_setting);
    }

    for (i = 0; i < count; i++) {
        salesforce_mapping *mapping = &object->mappings[i];
        const char *attribute = pairs[i].name;

        if (allow_account_prefix &&
            strncmp(attribute, account_prefix, sizeof(account_prefix) - 1) == 0) {
            attribute += sizeof(account_prefix) - 1;
            mapping->from_account = 1;
        }
        if (attribute[0] == '\0') {
            snprintf(error, error_size,
                     "setting \"%s\" has an entry with an empty attribute name; remove it",
                     object->mapping_setting);
            rc = -EINVAL;
            break;
        }
        if (!is_api_name(pairs[i].value)) {
            snprintf(error, error_size,
                     "setting \"%s\" maps \"%.64s\" to \"%.80s\", which is not a Salesforce "
                     "field API name; use a name such as Plan__c",
                     object->mapping_setting, pairs[i].name, pairs[i].value);
            rc = -EINVAL;
            break;
        }
        if (strcasecmp(pairs[i].value, object->external_id_field) == 0) {
            snprintf(error, error_size,
                     "setting \"%s\" maps \"%.64s\" to %.80s, the upsert key set in \"%s\"; "
                     "that field always holds the external_id, so remove the entry",
                     object->mapping_setting, pairs[i].name, pairs[i].value,
                     object->external_id_setting);
            rc = -EINVAL;
            break;
        }
        mapping->attribute = strdup(attribute);
        mapping->field = strdup(pairs[i].value);
        object->mapping_count = i + 1;
        if (mapping->attribute == NULL || mapping->field == NULL) {
            rc = out_of_memory(error, error_size, object->mapping_setting);
            break;
        }
    }
    wharf_http_headers_free(pairs, count);
    return rc;
}

static int read_timeout(const struct json_object *settings, salesforce_config *config,
                        char *error, size_t error_size)
{
    int64_t value;
    int rc = wharf_settings_integer(settings, "timeout_ms", &value);

    if (rc != 0) {
        wharf_settings_format_error(error, error_size, settings, "timeout_ms", rc,
                                    WHARF_SETTING_INTEGER);
        return rc;
    }
    if (value < 1 || value > SALESFORCE_MAX_TIMEOUT_MS) {
        snprintf(error, error_size,
                 "setting \"timeout_ms\" must be between 1 and %d milliseconds, got %lld; "
                 "set it within that range",
                 SALESFORCE_MAX_TIMEOUT_MS, (long long)value);
        return -EINVAL;
    }
    config->timeout_ms = (uint32_t)value;
    return 0;
}

int salesforce_config_read(const struct json_object *settings, salesforce_config *config,
                           char *error, size_t error_size)
{
    size_t i;
    int rc;

    memset(config, 0, sizeof(*config));
    for (i = 0; i < SALESFORCE_OBJECT_COUNT; i++) {
        config->objects[i].sobject = sobject_names[i];
        config->objects[i].mapping_setting = mapping_settings[i];
        config->objects[i].external_id_setting = external_id_settings[i];
    }

    rc = read_login_url(settings, config, error, error_size);
    if (rc == 0)
        rc = read_flow(settings, config, error, error_size);
    if (rc == 0)
        rc = read_api_version(settings, config, error, error_size);
    if (rc == 0)
        rc = read_segments(settings, "contact_segments", &config->contact_segments,
                           &config->contact_segment_count, error, error_size);
    if (rc == 0)
        rc = read_segments(settings, "lead_segments", &config->lead_segments,
                           &config->lead_segment_count, error, error_size);
    for (i = 0; rc == 0 && i < SALESFORCE_OBJECT_COUNT; i++) {
        rc = read_external_id(settings, &config->objects[i], error, error_size);
        if (rc == 0)
            rc = read_mapping(settings, &config->objects[i], i != SALESFORCE_ACCOUNT, error,
                              error_size);
    }
    if (rc == 0)
        rc = read_timeout(settings, config, error, error_size);

    if (rc != 0)
        salesforce_config_free(config);
    return rc;
}

static void free_strings(char **strings, size_t count)
{
    size_t i;

    for (i = 0; i < count; i++)
        free(strings[i]);
    free(strings);
}

void salesforce_config_free(salesforce_config *config)
{
    size_t i;
    size_t j;

    free(config->login_url);
    free(config->api_version);
    free_strings(config->contact_segments, config->contact_segment_count);
    free_strings(config->lead_segments, config->lead_segment_count);
    for (i = 0; i < SALESFORCE_OBJECT_COUNT; i++) {
        salesforce_object_config *object = &config->objects[i];

        free(object->external_id_field);
        for (j = 0; j < object->mapping_count; j++) {
            free(object->mappings[j].attribute);
            free(object->mappings[j].field);
        }
        free(object->mappings);
    }
    memset(config, 0, sizeof(*config));
}
