#include "wharf/sdk/request_headers.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wharf/sdk/buffer.h"
#include "wharf/sdk/settings.h"

int wharf_http_headers_append(wharf_http_header **headers, size_t *count,
                              const char *name, const char *value)
{
    wharf_http_header *grown;
    char *name_copy = strdup(name);
    char *value_copy = strdup(value);

    if (name_copy == NULL || value_copy == NULL)
        goto fail;
    grown = realloc(*headers, (*count + 1) * sizeof(*grown));
    if (grown == NULL)
        goto fail;

    grown[*count].name = name_copy;
    grown[*count].value = value_copy;
    *headers = grown;
    (*count)++;
    return 0;

fail:
    free(name_copy);
    free(value_copy);
    return -ENOMEM;
}

int wharf_http_header_value_check(const char *value, const char *setting,
                                  char *error, size_t error_size)
{
    size_t length = strlen(value);

    if (length == 0) {
        snprintf(error, error_size, "setting \"%s\" is empty; set it to the credential "
                 "the destination issued", setting);
        return -EINVAL;
    }
    if (value[0] == ' ' || value[0] == '\t' || value[length - 1] == ' ' ||
        value[length - 1] == '\t') {
        snprintf(error, error_size, "setting \"%s\" starts or ends with a space; "
                 "remove the space", setting);
        return -EINVAL;
    }
    for (size_t i = 0; i < length; i++) {
        unsigned char byte = (unsigned char)value[i];

        if ((byte < 0x20 && byte != '\t') || byte == 0x7f) {
            snprintf(error, error_size, "setting \"%s\" contains a line break or control "
                     "character at position %zu; remove it", setting, i);
            return -EINVAL;
        }
    }
    return 0;
}

int wharf_http_headers_json_bearer(const char *token, const char *token_setting,
                                   wharf_http_header **headers, size_t *count,
                                   char *error, size_t error_size)
{
    wharf_buffer authorization = WHARF_BUFFER_INIT;
    wharf_http_header *built = NULL;
    size_t built_count = 0;
    int rc;

    rc = wharf_http_header_value_check(token, token_setting, error, error_size);
    if (rc != 0)
        return rc;

    rc = wharf_buffer_append_format(&authorization, "Bearer %s", token);
    if (rc == 0)
        rc = wharf_http_headers_append(&built, &built_count, "Authorization", authorization.data);
    if (rc == 0)
        rc = wharf_http_headers_append(&built, &built_count, "Content-Type", "application/json");
    if (rc == 0)
        rc = wharf_http_headers_append(&built, &built_count, "Accept", "application/json");

    /* The buffer contained the token, so clear it before freeing it. */
    if (authorization.data != NULL)
        memset(authorization.data, 0, authorization.length);
    wharf_buffer_free(&authorization);

    if (rc != 0) {
        wharf_http_headers_free(built, built_count);
        snprintf(error, error_size, "out of memory while building the request headers");
        return rc;
    }
    *headers = built;
    *count = built_count;
    return 0;
}
