/*
 * Internals shared by the harness files: the host-side objects behind the
 * opaque ABI types, the request queue and the timer list.
 */
#ifndef WHARF_SDK_HARNESS_INTERNAL_H
#define WHARF_SDK_HARNESS_INTERNAL_H

#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "wharf/sdk/buffer.h"
#include "wharf/sdk/harness.h"

struct wharf_connector {
    wharf_harness *harness;
    char id[32];
    char name[64];
    struct json_object *settings;
};

typedef struct harness_slot {
    int has_result;
    wharf_result_kind kind;
    int status_code;
    int64_t retry_after_ms;
    char *reason;
} harness_slot;

/* As in wharfd, the plugin receives only the messages its filter() kept.
 * Host calls take an index into view, which maps it to the message's index
 * in messages and slots. */
struct wharf_batch {
    wharf_harness *harness;
    struct json_object **messages;
    /* Each message's compact JSON text, as batch_message_text() returns
     * it; NULL when the harness offers no texts. */
    char **texts;
    size_t *text_lengths;
    size_t count;
    size_t *view;
    size_t view_count;
    /* Guards slots and encoded, which encode() may touch from its thread. */
    pthread_mutex_t lock;
    harness_slot *slots;
    void *encoded;
    wharf_release_fn release_encoded;
    int complete_calls;
};

/* A request copied from the plugin, waiting for its turn. */
typedef struct harness_request {
    struct harness_request *next;
    char *method;
    char *url;
    wharf_http_header *headers;
    size_t header_count;
    void *body;
    size_t body_size;
    uint32_t timeout_ms;
    size_t max_response_size;
    wharf_http_done_fn done;
    void *user_data;
} harness_request;

struct wharf_timer {
    struct wharf_timer *next;
    wharf_harness *harness;
    uint64_t due_ms; /* monotonic clock */
    uint64_t repeat_ms;
    wharf_timer_fn fn;
    void *user_data;
    int stopped;
};

struct wharf_harness {
    const wharf_plugin *plugin;
    wharf_host host;
    struct wharf_connector connector;
    void *instance;
    int instance_created;
    pthread_t loop_thread;
    /* Set while a WHARF_PLUGIN_SEND_BLOCKING send() runs on the worker
     * thread, where wharfd allows it to call batch_complete(). */
    int blocking_send_running;
    uint64_t send_timeout_ms;
    int offer_texts; /* wharf_harness_offer_message_texts() */

    /* Guards violations and logs, which encode() may add to. */
    pthread_mutex_t lock;
    wharf_buffer violations;
    int send_violations; /* violations recorded during the current send */
    char **log_lines;
    size_t log_count;

    harness_request *queue_head;
    harness_request *queue_tail;
    void *curl; /* CURL easy handle, kept for connection reuse */

    wharf_timer *timers;

    wharf_batch *batch; /* the batch of the running send, if any */
    wharf_harness_result *results;
    size_t result_count;
};

/* Record a contract violation. Thread-safe. */
void harness_violation(wharf_harness *harness, const char *format, ...)
    WHARF_PRINTF_LIKE(2, 3);

/* Non-zero when called from the thread that created the harness; records
 * a violation naming function otherwise. */
int harness_on_loop_thread(wharf_harness *harness, const char *function);

/* Milliseconds of CLOCK_MONOTONIC. */
uint64_t harness_monotonic_ms(void);

/* Settings: parse settings_json, check it against the schema and fill in
 * defaults, with the API's error messages. */
/* Non-zero when setting->default_json is NULL, or valid JSON of the
 * setting's type. */
int harness_setting_default_is_valid(const wharf_setting *setting);

int harness_settings_prepare(const wharf_plugin *plugin, const char *settings_json,
                             struct json_object **settings, char *error,
                             size_t error_size);

/* Batches. */
wharf_batch *harness_batch_create(wharf_harness *harness, struct json_object **messages,
                                  size_t count);
/* Record a result for the message at index of messages (not of the view). */
void harness_batch_record(wharf_batch *batch, size_t message_index, wharf_result_kind kind,
                          int status_code, int64_t retry_after_ms, const char *reason);
void harness_batch_free(wharf_batch *batch);
void harness_batch_install(wharf_host *host);

/* HTTP: queue and perform requests. */
void harness_http_install(wharf_host *host);
int harness_http_has_queued(const wharf_harness *harness);
/* Perform the first queued request and call its done callback. */
void harness_http_run_next(wharf_harness *harness);
/* Call every queued request's done callback with WHARF_HTTP_ERR_CANCELLED. */
void harness_http_cancel_all(wharf_harness *harness);
void harness_http_cleanup(wharf_harness *harness);

/* Timers. */
void harness_timer_install(wharf_host *host);
/* Due time of the earliest running timer, or UINT64_MAX when none runs. */
uint64_t harness_timer_next_due(const wharf_harness *harness);
/* Fire the timers that are due at now_ms. */
void harness_timer_fire_due(wharf_harness *harness, uint64_t now_ms);
void harness_timer_free_all(wharf_harness *harness);

#endif /* WHARF_SDK_HARNESS_INTERNAL_H */
