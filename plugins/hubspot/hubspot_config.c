#include "hubspot.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "wharf/sdk/request_headers.h"
#include "wharf/sdk/settings.h"

static const char *const mapping_settings[HUBSPOT_OBJECT_COUNT] = {
    "contact_properties",
    "company_properties",
};

const char *hubspot_object_path(hubspot_object object)
{
    return object == HUBSPOT_CONTACTS ? "contacts" : "companies";
}

static int read_base_url(const struct json_object *settings, hubspot_config *config,
                         char *error, size_t error_size)
{
    const char *url = NULL;
    const char *authority;
    size_t length;
    int rc = wharf_settings_string(settings, "base_url", &url);

    if (rc != 0) {
        wharf_settings_format_error(error, error_size, settings, "base_url", rc,
                                    WHARF_SETTING_STRING);
        return rc;
    }
    if (strncasecmp(url, "https://", 8) == 0)
        authority = url + 8;
    else if (strncasecmp(url, "http://", 7) == 0)
        authority = url + 7;
    else {
        snprintf(error, error_size,
                 "setting \"base_url\" must start with http:// or https://, got \"%.100s\"; "
                 "leave it out to use https://api.hubapi.com",
                 url);
        return -EINVAL;
    }
    if (*authority == '\0' || *authority == '/') {
        snprintf(error, error_size, "setting \"base_url\" has no host name after the scheme; "
                 "use a URL such as https://api.hubapi.com");
        return -EINVAL;
    }
    for (const char *at = url; *at != '\0'; at++) {
        if ((unsigned char)*at <= 0x20 || *at == 0x7f || *at == '?' || *at == '#') {
            snprintf(error, error_size,
                     "setting \"base_url\" contains a space, control character, \"?\" or "
                     "\"#\" at position %zu; give only scheme, host and an optional path",
                     (size_t)(at - url));
            return -EINVAL;
        }
    }

    length = strlen(url);
    while (length > 0 && url[length - 1] == '/')
        length--;
    config->base_url = strndup(url, length);
    return config->base_url == NULL ? -ENOMEM : 0;
}

static int read_range(const struct json_object *settings, const char *name, int64_t min,
                      int64_t max, int64_t *value, const char *unit, char *error,
                      size_t error_size)
{
    int rc = wharf_settings_integer(settings, name, value);

    if (rc != 0) {
        wharf_settings_format_error(error, error_size, settings, name, rc,
                                    WHARF_SETTING_INTEGER);
        return rc;
    }
    if (*value < min || *value > max) {
        snprintf(error, error_size,
                 "setting \"%s\" must be between %lld and %lld %s, got %lld; "
                 "set it within that range",
                 name, (long long)min, (long long)max, unit, (long long)*value);
        return -EINVAL;
    }
    return 0;
}

static int read_token(const struct json_object *settings, hubspot_config *config, char *error,
                      size_t error_size)
{
    const char *token = NULL;
    int rc = wharf_settings_string(settings, "access_token", &token);

    if (rc != 0) {
        wharf_settings_format_error(error, error_size, settings, "access_token", rc,
                                    WHARF_SETTING_STRING);
        return rc;
    }
    return wharf_http_headers_json_bearer(token, "access_token", &config->headers,
                                          &config->header_count, error, error_size);
}

int hubspot_config_read(const struct json_object *settings, hubspot_config *config,
                        char *error, size_t error_size)
{
    int64_t batch_size = HUBSPOT_MAX_BATCH_INPUTS;
    int64_t timeout_ms = 30000;
    int rc;

    memset(config, 0, sizeof(*config));

    rc = read_token(settings, config, error, error_size);
    if (rc == 0)
        rc = read_base_url(settings, config, error, error_size);
    if (rc == 0)
        rc = read_range(settings, "batch_size", 1, HUBSPOT_MAX_BATCH_INPUTS, &batch_size,
                        "records", error, error_size);
    if (rc == 0)
        rc = read_range(settings, "timeout_ms", 1, HUBSPOT_MAX_TIMEOUT_MS, &timeout_ms,
                        "milliseconds", error, error_size);
    /* The property names are checked against HubSpot's definitions at the
     * first send, because create() cannot wait for a request. */
    for (int object = 0; rc == 0 && object < HUBSPOT_OBJECT_COUNT; object++)
        rc = wharf_field_mapping_read(settings, mapping_settings[object], NULL, 0,
                                      &config->mappings[object], error, error_size);

    if (rc == -ENOMEM)
        snprintf(error, error_size, "out of memory while reading the settings");
    if (rc != 0) {
        hubspot_config_free(config);
        return rc;
    }
    config->batch_size = (size_t)batch_size;
    config->timeout_ms = (uint32_t)timeout_ms;
    return 0;
}

void hubspot_config_free(hubspot_config *config)
{
    free(config->base_url);
    wharf_http_headers_free(config->headers, config->header_count);
    for (int object = 0; object < HUBSPOT_OBJECT_COUNT; object++)
        wharf_field_mapping_free(&config->mappings[object]);
    memset(config, 0, sizeof(*config));
}
