/*
 * Wharf connector plugin ABI, version 1.1: what wharfd offers a plugin.
 *
 * wharfd hands every plugin instance a pointer to one wharf_host table. The
 * table only ever grows at its end: a plugin built against a later minor
 * checks host->struct_size (or host->abi_minor) before calling a function
 * that this header does not list. No libuv or libcurl type crosses this
 * boundary; messages cross as read-only json-c objects.
 *
 * Threads: every function runs on the event loop thread unless its comment
 * says "thread-safe". encode() may run on a worker thread and may call only
 * the thread-safe ones.
 */
#ifndef WHARF_HOST_H
#define WHARF_HOST_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define WHARF_ABI_MAJOR 1
#define WHARF_ABI_MINOR 1

#if defined(__GNUC__) || defined(__clang__)
#define WHARF_PRINTF_LIKE(fmt_index, args_index)                              \
    __attribute__((format(printf, fmt_index, args_index)))
#else
#define WHARF_PRINTF_LIKE(fmt_index, args_index)
#endif

struct json_object; /* json-c's object type; read-only across the ABI */

typedef struct wharf_connector wharf_connector; /* one configured instance */
typedef struct wharf_batch wharf_batch;         /* messages handed to send */
typedef struct wharf_timer wharf_timer;

/* Outcome of one message. */
typedef enum wharf_result_kind {
    WHARF_RESULT_SUCCESS = 1, /* the destination accepted it */
    WHARF_RESULT_SKIP = 2,    /* deliberately not sent; reason required */
    WHARF_RESULT_RETRY = 3,   /* transient failure; send again later */
    WHARF_RESULT_ERROR = 4    /* permanent failure; reason required */
} wharf_result_kind;

typedef enum wharf_log_level {
    WHARF_LOG_DEBUG = 10,
    WHARF_LOG_INFO = 20,
    WHARF_LOG_WARN = 30,
    WHARF_LOG_ERROR = 40
} wharf_log_level;

/* Transport outcome of an HTTP request, apart from its status code. */
typedef enum wharf_http_error {
    WHARF_HTTP_OK = 0,            /* a response arrived; see status */
    WHARF_HTTP_ERR_RESOLVE = 1,   /* host name did not resolve */
    WHARF_HTTP_ERR_CONNECT = 2,   /* connection refused or unreachable */
    WHARF_HTTP_ERR_TIMEOUT = 3,   /* timeout_ms elapsed */
    WHARF_HTTP_ERR_TLS = 4,       /* TLS handshake or certificate failure */
    WHARF_HTTP_ERR_TOO_LARGE = 5, /* body longer than max_response_size */
    WHARF_HTTP_ERR_CANCELLED = 6, /* wharfd is stopping or the connector went away */
    WHARF_HTTP_ERR_OTHER = 7      /* any other transport failure */
} wharf_http_error;

typedef struct wharf_http_header {
    const char *name;
    const char *value;
} wharf_http_header;

/* An outgoing request. wharfd copies everything it points to before
 * http_request() returns, so the caller may free it right after. */
typedef struct wharf_http_request {
    uint32_t struct_size; /* sizeof(wharf_http_request) */
    const char *method;   /* "GET", "POST", "PATCH", ...; NULL means GET */
    const char *url;      /* http:// or https:// only */
    const wharf_http_header *headers;
    size_t header_count;
    const void *body; /* may be NULL when body_size is 0 */
    size_t body_size;
    uint32_t timeout_ms;      /* whole request; 0 means 30000 */
    size_t max_response_size; /* 0 means 1 MiB; longer is WHARF_HTTP_ERR_TOO_LARGE */
} wharf_http_request;

/* A finished request, valid only during the completion callback. */
typedef struct wharf_http_response {
    uint32_t struct_size;
    wharf_http_error error;
    const char *error_message; /* why error is not WHARF_HTTP_OK, else "" */
    long status;               /* HTTP status, 0 when no response arrived */
    const char *body;          /* NUL-terminated; "" when empty */
    size_t body_size;
    double total_seconds;
} wharf_http_response;

typedef void (*wharf_http_done_fn)(void *user_data,
                                   const wharf_http_response *response);
typedef void (*wharf_timer_fn)(void *user_data);
typedef void (*wharf_release_fn)(void *data);

typedef struct wharf_host {
    uint32_t struct_size; /* sizeof(wharf_host) in this wharfd */
    uint16_t abi_major;
    uint16_t abi_minor;

    /* Thread-safe. Write one line to wharfd's service log, prefixed with the
     * connector's id and plugin. Never pass a secret. */
    void (*log)(wharf_connector *connector, wharf_log_level level,
                const char *format, ...) WHARF_PRINTF_LIKE(3, 4);

    /* Thread-safe. The connector's id and operator-given name. */
    const char *(*connector_id)(const wharf_connector *connector);
    const char *(*connector_name)(const wharf_connector *connector);

    /* Thread-safe. The connector's validated settings, defaults filled in.
     * Valid until the instance is destroyed. */
    const struct json_object *(*connector_settings)(const wharf_connector *connector);

    /* Thread-safe. Number of messages in the batch. */
    size_t (*batch_count)(const wharf_batch *batch);

    /* Thread-safe. Message at index, or NULL when out of range. */
    const struct json_object *(*batch_message)(const wharf_batch *batch,
                                               size_t index);

    /* Thread-safe. Record the result of the message at index. reason is
     * required for SKIP, RETRY and ERROR and is copied. status_code is the
     * destination's HTTP status or 0. retry_after_ms is the delay a RETRY
     * asks for, or -1 to let wharfd's backoff choose. A later call for the
     * same index replaces the earlier result. */
    void (*batch_set_result)(wharf_batch *batch, size_t index,
                             wharf_result_kind kind, int status_code,
                             int64_t retry_after_ms, const char *reason);

    /* Thread-safe. Non-zero when the message at index already has a result
     * (for example one that encode() could not encode). */
    int (*batch_has_result)(const wharf_batch *batch, size_t index);

    /* Thread-safe. Attach what encode() produced; release, if not NULL, is
     * called on it when the batch is freed. */
    void (*batch_set_encoded)(wharf_batch *batch, void *encoded,
                              wharf_release_fn release);
    void *(*batch_encoded)(const wharf_batch *batch);

    /* Finish a send. Messages still without a result become ERROR with the
     * reason "plugin set no result". Call exactly once per send(), possibly
     * from within send(). A plugin flagged WHARF_PLUGIN_SEND_BLOCKING does
     * not call it: its send() sets every result before returning. */
    void (*batch_complete)(wharf_batch *batch);

    /* Start an asynchronous HTTP request through wharfd's shared client.
     * Requests of one connector share its connection limit and queue behind
     * it. Returns 0 and later calls done exactly once on the loop thread, or
     * returns a negative errno-style code (invalid request, wharfd stopping)
     * and never calls done. */
    int (*http_request)(wharf_connector *connector,
                        const wharf_http_request *request,
                        wharf_http_done_fn done, void *user_data);

    /* Value of a response header (case-insensitive name), or NULL. */
    const char *(*http_response_header)(const wharf_http_response *response,
                                        const char *name);

    /* Call fn after timeout_ms, then every repeat_ms if repeat_ms is not 0.
     * Timers still running when the instance is destroyed are stopped. */
    wharf_timer *(*timer_start)(wharf_connector *connector, uint64_t timeout_ms,
                                uint64_t repeat_ms, wharf_timer_fn fn,
                                void *user_data);
    void (*timer_stop)(wharf_timer *timer);

    /* Added in ABI 1.1: check that host->struct_size covers this field and
     * that it is not NULL before calling it.
     *
     * Thread-safe. The message at index as compact JSON text with the same
     * content as batch_message() returns, and its length in *length. NULL
     * when index is out of range, or when wharfd keeps that message only as
     * an object: then use batch_message(). The text is NUL-terminated and
     * valid until the batch is freed. Copying it into a request body spares
     * the plugin json-c's serialisation. */
    const char *(*batch_message_text)(const wharf_batch *batch, size_t index,
                                      size_t *length);
} wharf_host;

#ifdef __cplusplus
}
#endif

#endif /* WHARF_HOST_H */
