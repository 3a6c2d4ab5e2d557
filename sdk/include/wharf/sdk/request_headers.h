/*
 * Request headers for JSON APIs: building a header array one entry at a
 * time, and the usual set for a JSON API with a bearer token.
 *
 * Header arrays from these functions are freed with
 * wharf_http_headers_free() (wharf/sdk/settings.h). Messages that these
 * functions write name a header but never quote its value, which may be a
 * credential.
 */
#ifndef WHARF_SDK_REQUEST_HEADERS_H
#define WHARF_SDK_REQUEST_HEADERS_H

#include <stddef.h>

#include "wharf/host.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Append a copy of name and value to the array *headers of *count entries
 * (NULL and 0 to start a new one). Returns 0, or -ENOMEM with the array
 * unchanged. */
int wharf_http_headers_append(wharf_http_header **headers, size_t *count,
                              const char *name, const char *value);

/* Check that value can travel in a header: no control characters (tab
 * allowed), no leading or trailing space, not empty. Returns 0, or -EINVAL
 * with a message in error that names setting (the setting the value came
 * from) and never quotes the value. */
int wharf_http_header_value_check(const char *value, const char *setting,
                                  char *error, size_t error_size);

/* Build the headers of a JSON API request with a bearer token:
 * Authorization: Bearer <token>, Content-Type: application/json and
 * Accept: application/json. token_setting names the setting the token
 * came from, for the message in error. Returns 0; -EINVAL when the token
 * cannot travel in a header; -ENOMEM. */
int wharf_http_headers_json_bearer(const char *token, const char *token_setting,
                                   wharf_http_header **headers, size_t *count,
                                   char *error, size_t error_size);

#ifdef __cplusplus
}
#endif

#endif /* WHARF_SDK_REQUEST_HEADERS_H */
