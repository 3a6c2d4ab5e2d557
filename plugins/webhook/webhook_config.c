#include "webhook.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "wharf/sdk/settings.h"

static const char content_type_name[] = "Content-Type";
static const char content_type_json[] = "application/json";

static int starts_with_ignoring_case(const char *text, const char *prefix)
{
    return strncasecmp(text, prefix, strlen(prefix)) == 0;
}

static int validate_url(const char *url, char *error, size_t error_size)
{
    const char *authority;
    const char *at;

    if (starts_with_ignoring_case(url, "https://"))
        authority = url + 8;
    else if (starts_with_ignoring_case(url, "http://"))
        authority = url + 7;
    else {
        snprintf(error, error_size,
                 "setting \"url\" must start with http:// or https://, got \"%.100s\"; "
                 "give the full address of the endpoint",
                 url);
        return -EINVAL;
    }

    if (*authority == '\0' || *authority == '/' || *authority == '?' || *authority == '#') {
        snprintf(error, error_size,
                 "setting \"url\" has no host name after the scheme; "
                 "use a URL such as https://example.com/hooks/wharf");
        return -EINVAL;
    }

    /* A URL with spaces or control characters would reach the wire as
     * something other than what the operator reads in the settings. */
    for (at = url; *at != '\0'; at++) {
        unsigned char byte = (unsigned char)*at;

        if (byte <= 0x20 || byte == 0x7f) {
            snprintf(error, error_size,
                     "setting \"url\" contains a space or control character at "
                     "position %zu; percent-encode it (a space is %%20)",
                     (size_t)(at - url));
            return -EINVAL;
        }
    }
    return 0;
}

/* tchar from RFC 9110, section 5.6.2. */
static int is_token_char(unsigned char c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
        return 1;
    return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* Header values are secret: messages name the header, never its value. */
static int validate_header(const wharf_http_header *header, char *error, size_t error_size)
{
    const unsigned char *at;

    if (header->name[0] == '\0') {
        snprintf(error, error_size,
                 "setting \"headers\" has an empty header name; remove that entry");
        return -EINVAL;
    }
    for (at = (const unsigned char *)header->name; *at != '\0'; at++) {
        if (!is_token_char(*at)) {
            snprintf(error, error_size,
                     "setting \"headers\" has an invalid header name \"%.64s\"; use "
                     "letters, digits and !#$%%&'*+-.^_`|~ only",
                     header->name);
            return -EINVAL;
        }
    }

    for (at = (const unsigned char *)header->value; *at != '\0'; at++) {
        if (*at == '\r' || *at == '\n' || (*at < 0x20 && *at != '\t') || *at == 0x7f) {
            snprintf(error, error_size,
                     "setting \"headers\": the value of \"%.64s\" contains a line break "
                     "or control character; remove it",
                     header->name);
            return -EINVAL;
        }
    }
    return 0;
}

/* Validate the configured headers and add Content-Type unless present. */
static int read_headers(const struct json_object *settings, webhook_config *config,
                        char *error, size_t error_size)
{
    wharf_http_header *configured = NULL;
    wharf_http_header *headers;
    size_t count = 0;
    int has_content_type = 0;
    size_t i;
    int rc;

    rc = wharf_settings_string_map(settings, "headers", &configured, &count);
    if (rc != 0 && rc != -ENOENT) {
        wharf_settings_format_error(error, error_size, settings, "headers", rc,
                                    WHARF_SETTING_STRING_MAP);
        return rc;
    }

    for (i = 0; i < count; i++) {
        rc = validate_header(&configured[i], error, error_size);
        if (rc != 0) {
            wharf_http_headers_free(configured, count);
            return rc;
        }
        if (strcasecmp(configured[i].name, content_type_name) == 0)
            has_content_type = 1;
    }

    if (has_content_type) {
        config->headers = configured;
        config->header_count = count;
        return 0;
    }

    headers = realloc(configured, (count + 1) * sizeof(*headers));
    if (headers == NULL) {
        wharf_http_headers_free(configured, count);
        snprintf(error, error_size, "out of memory while reading setting \"headers\"");
        return -ENOMEM;
    }
    headers[count].name = strdup(content_type_name);
    headers[count].value = strdup(content_type_json);
    config->headers = headers;
    config->header_count = count + 1;
    if (headers[count].name == NULL || headers[count].value == NULL) {
        snprintf(error, error_size, "out of memory while reading setting \"headers\"");
        return -ENOMEM;
    }
    return 0;
}

static int read_range(const struct json_object *settings, const char *name,
                      int64_t default_value, int64_t min, int64_t max, int64_t *value,
                      const char *unit, char *error, size_t error_size)
{
    int rc = wharf_settings_integer(settings, name, value);

    if (rc == -ENOENT) {
        *value = default_value;
        return 0;
    }
    if (rc != 0) {
        wharf_settings_format_error(error, error_size, settings, name, rc,
                                    WHARF_SETTING_INTEGER);
        return rc;
    }

    if (*value < min || *value > max) {
        snprintf(error, error_size,
                 "setting \"%s\" must be between %lld and %lld%s, got %lld; "
                 "set it within that range",
                 name, (long long)min, (long long)max, unit, (long long)*value);
        return -EINVAL;
    }
    return 0;
}

int webhook_config_read(const struct json_object *settings, webhook_config *config,
                        char *error, size_t error_size)
{
    const char *url = NULL;
    int64_t batch_size;
    int64_t timeout_ms;
    int rc;

    memset(config, 0, sizeof(*config));

    rc = wharf_settings_string(settings, "url", &url);
    if (rc != 0) {
        wharf_settings_format_error(error, error_size, settings, "url", rc,
                                    WHARF_SETTING_STRING);
        goto fail;
    }
    rc = validate_url(url, error, error_size);
    if (rc != 0)
        goto fail;

    rc = read_range(settings, "batch_size", 100, 1, WEBHOOK_MAX_BATCH_SIZE, &batch_size,
                    " messages", error, error_size);
    if (rc != 0)
        goto fail;

    rc = read_range(settings, "timeout_ms", 10000, 1, WEBHOOK_MAX_TIMEOUT_MS, &timeout_ms,
                    " milliseconds", error, error_size);
    if (rc != 0)
        goto fail;

    config->url = strdup(url);
    if (config->url == NULL) {
        snprintf(error, error_size, "out of memory while reading setting \"url\"");
        rc = -ENOMEM;
        goto fail;
    }
    config->batch_size = (size_t)batch_size;
    config->timeout_ms = (uint32_t)timeout_ms;

    rc = read_headers(settings, config, error, error_size);
    if (rc != 0)
        goto fail;
    return 0;

fail:
    webhook_config_free(config);
    return rc;
}

void webhook_config_free(webhook_config *config)
{
    free(config->url);
    wharf_http_headers_free(config->headers, config->header_count);
    memset(config, 0, sizeof(*config));
}
