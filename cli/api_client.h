/* HTTP client for the wharfd API: one libcurl easy handle, JSON in and out.
 *
 * wharfctl is a short-lived process that makes a handful of requests in a
 * row, so it uses the blocking easy interface and keeps the connection
 * alive between requests. */
#ifndef WHARFCTL_API_CLIENT_H
#define WHARFCTL_API_CLIENT_H

#include <json-c/json.h>
#include <stddef.h>

typedef struct api_client {
    char *base_url;   /* scheme, host and port without a trailing slash */
    long timeout_ms;  /* limit for one whole request, connection included */
    void *curl;       /* CURL *, created by the first request */
    const char *token;        /* admin token sent as a bearer token, or NULL */
    const char *token_source; /* "--token" or "WHARF_ADMIN_TOKEN", for messages */
} api_client;

/* The response from wharfd. body is the parsed JSON, or NULL when the response
 * was empty or not JSON; text is the raw body, NUL-terminated. */
typedef struct api_response {
    long status;
    json_object *body;
    char *text;
    size_t length;
} api_response;

/* Set the base URL (copied, trailing slashes removed). Returns 0, or -EINVAL
 * when url does not start with http:// or https://, or -ENOMEM. */
int api_client_set_url(api_client *client, const char *url);

/* Release the curl handle and the URL. The client may be reused after
 * api_client_set_url. */
void api_client_cleanup(api_client *client);

/* Send METHOD base_url + path, with body as JSON when body is not NULL.
 * path starts with "/" and is already escaped (see api_client_escape).
 *
 * Returns 0 when wharfd responded, whatever the status. response then
 * contains the response and must be released with api_response_cleanup. Returns a
 * negative error code when no response came: -ECANCELED, printing nothing,
 * when Ctrl-C interrupted the request (see interrupt.h), else -EIO after
 * printing the reason to stderr (connection refused, time limit), naming the
 * URL and what to do. */
int api_client_request(api_client *client, const char *method, const char *path,
                       const json_object *body, api_response *response);

/* Like api_client_request, but a status outside 200-299 is printed as
 * "wharfctl: HTTP STATUS: MESSAGE" with wharfd's own message, released, and
 * reported as -EPROTO. On success response->body may be NULL (204). */
int api_client_call(api_client *client, const char *method, const char *path,
                    const json_object *body, api_response *response);

/* Whether token can go into an Authorization header: not empty, and no
 * space, control character or byte outside ASCII. */
int api_client_token_valid(const char *token);

/* Print "wharfctl: HTTP STATUS: MESSAGE" for an error response, taking MESSAGE
 * from the JSON {"error": ...} body, else from the raw body. */
void api_response_print_error(const api_response *response);

/* Like api_response_print_error, and for a 401 also print where wharfctl
 * takes the admin token from. */
void api_client_print_error(const api_client *client, const api_response *response);

void api_response_cleanup(api_response *response);

/* Write prefix, id percent-encoded, then suffix into path, such as
 * "/api/v1/connectors/" ID "/batches". Returns 0, or -ENAMETOOLONG. */
int api_client_path(char *path, size_t size, const char *prefix, const char *id,
                    const char *suffix);

/* Percent-encode text for one path segment or query value. Returns a string
 * to free with free(), or NULL when out of memory. */
char *api_client_escape(const char *text);

#endif
