/*
 * The harness: the host table, the plugin instance's lifecycle and the run
 * loop of one send.
 */
#include "harness_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <json-c/json.h>

#include "wharf/sdk/json_writer.h"

#define DEFAULT_SEND_TIMEOUT_MS 60000

static const char *level_name(wharf_log_level level)
{
    switch (level) {
    case WHARF_LOG_DEBUG:
        return "DEBUG";
    case WHARF_LOG_INFO:
        return "INFO";
    case WHARF_LOG_WARN:
        return "WARN";
    case WHARF_LOG_ERROR:
        return "ERROR";
    }
    return "LOG";
}

const char *wharf_harness_result_kind_name(wharf_result_kind kind)
{
    switch (kind) {
    case WHARF_RESULT_SUCCESS:
        return "success";
    case WHARF_RESULT_SKIP:
        return "skip";
    case WHARF_RESULT_RETRY:
        return "retry";
    case WHARF_RESULT_ERROR:
        return "error";
    }
    return "invalid";
}

void harness_violation(wharf_harness *harness, const char *format, ...)
{
    va_list arguments;

    pthread_mutex_lock(&harness->lock);
    va_start(arguments, format);
    wharf_buffer_append_vformat(&harness->violations, format, arguments);
    va_end(arguments);
    wharf_buffer_append_char(&harness->violations, '\n');
    harness->send_violations++;
    pthread_mutex_unlock(&harness->lock);
}

int harness_on_loop_thread(wharf_harness *harness, const char *function)
{
    if (pthread_equal(pthread_self(), harness->loop_thread))
        return 1;
    harness_violation(harness, "%s: called from a worker thread (encode() runs there); "
                               "only the host functions marked thread-safe may be",
                      function);
    return 0;
}

/* Host functions that only need the connector. */

static void host_log(wharf_connector *connector, wharf_log_level level,
                     const char *format, ...)
{
    wharf_harness *harness = connector->harness;
    wharf_buffer line = WHARF_BUFFER_INIT;
    va_list arguments;
    char **grown;
    char *text;

    wharf_buffer_append_format(&line, "%s %s: ", level_name(level),
                               harness->plugin->header.name);
    va_start(arguments, format);
    wharf_buffer_append_vformat(&line, format, arguments);
    va_end(arguments);
    text = wharf_buffer_detach(&line, NULL);
    if (text == NULL)
        return;

    fprintf(stderr, "harness %s\n", text);

    pthread_mutex_lock(&harness->lock);
    grown = realloc(harness->log_lines, (harness->log_count + 1) * sizeof(*grown));
    if (grown != NULL) {
        grown[harness->log_count++] = text;
        harness->log_lines = grown;
        text = NULL;
    }
    pthread_mutex_unlock(&harness->lock);
    free(text);
}

static const char *host_connector_id(const wharf_connector *connector)
{
    return connector->id;
}

static const char *host_connector_name(const wharf_connector *connector)
{
    return connector->name;
}

static const struct json_object *host_connector_settings(const wharf_connector *connector)
{
    return connector->settings;
}

static void install_host(wharf_host *host)
{
    memset(host, 0, sizeof(*host));
    host->struct_size = sizeof(*host);
    host->abi_major = WHARF_ABI_MAJOR;
    host->abi_minor = WHARF_ABI_MINOR;
    host->log = host_log;
    host->connector_id = host_connector_id;
    host->connector_name = host_connector_name;
    host->connector_settings = host_connector_settings;
    harness_batch_install(host);
    harness_http_install(host);
    harness_timer_install(host);
}

/* Lifecycle. */

static void free_results(wharf_harness *harness)
{
    size_t i;

    for (i = 0; i < harness->result_count; i++)
        free((char *)harness->results[i].reason);
    free(harness->results);
    harness->results = NULL;
    harness->result_count = 0;
}

static void harness_free(wharf_harness *harness)
{
    size_t i;

    harness_http_cleanup(harness);
    harness_timer_free_all(harness);
    free_results(harness);
    for (i = 0; i < harness->log_count; i++)
        free(harness->log_lines[i]);
    free(harness->log_lines);
    wharf_buffer_free(&harness->violations);
    json_object_put(harness->connector.settings);
    pthread_mutex_destroy(&harness->lock);
    free(harness);
}

int wharf_harness_create(const wharf_plugin *plugin, const char *settings_json,
                         wharf_harness **result, char *error, size_t error_size)
{
    static int curl_ready;
    wharf_harness *harness;
    char create_error[512] = "";
    int rc;

    *result = NULL;
    rc = wharf_harness_check_descriptor(plugin, error, error_size);
    if (rc != 0)
        return rc;

    /* curl_global_init() is not thread-safe in every libcurl; the harness
     * runs on one thread, so a flag is enough. */
    if (!curl_ready) {
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
            snprintf(error, error_size, "curl_global_init failed");
            return -ENOMEM;
        }
        curl_ready = 1;
    }

    harness = calloc(1, sizeof(*harness));
    if (harness == NULL || pthread_mutex_init(&harness->lock, NULL) != 0) {
        free(harness);
        snprintf(error, error_size, "out of memory while creating the harness");
        return -ENOMEM;
    }
    harness->plugin = plugin;
    harness->loop_thread = pthread_self();
    harness->send_timeout_ms = DEFAULT_SEND_TIMEOUT_MS;
    harness->offer_texts = 1;
    install_host(&harness->host);
    harness->connector.harness = harness;
    snprintf(harness->connector.id, sizeof(harness->connector.id), "harness-1");
    snprintf(harness->connector.name, sizeof(harness->connector.name), "%s under test",
             plugin->header.name);

    rc = harness_settings_prepare(plugin, settings_json, &harness->connector.settings,
                                  error, error_size);
    if (rc != 0) {
        harness_free(harness);
        return rc;
    }

    rc = plugin->create(&harness->host, &harness->connector, harness->connector.settings,
                        &harness->instance, create_error, sizeof(create_error));
    if (rc != 0) {
        /* The error buffer is the plugin's to fill; make sure it ends. */
        create_error[sizeof(create_error) - 1] = '\0';
        snprintf(error, error_size, "%s",
                 create_error[0] != '\0' ? create_error : "create() failed without a message");
        harness_free(harness);
        return -ECANCELED;
    }
    harness->instance_created = 1;

    *result = harness;
    return 0;
}

void wharf_harness_set_send_timeout_ms(wharf_harness *harness, uint64_t timeout_ms)
{
    harness->send_timeout_ms = timeout_ms;
}

void wharf_harness_offer_message_texts(wharf_harness *harness, int offer)
{
    harness->offer_texts = offer != 0;
    harness->host.batch_message_text = NULL;
    if (harness->offer_texts)
        harness_batch_install(&harness->host);
}

void wharf_harness_destroy(wharf_harness *harness)
{
    if (harness == NULL)
        return;
    if (harness->instance_created)
        harness->plugin->destroy(harness->instance);
    harness_free(harness);
}

/* One send. */

static int parse_messages(const char *const *messages_json, size_t count,
                          struct json_object ***messages)
{
    struct json_object **parsed = calloc(count > 0 ? count : 1, sizeof(*parsed));
    size_t i;

    if (parsed == NULL)
        return -ENOMEM;

    for (i = 0; i < count; i++) {
        parsed[i] = json_tokener_parse(messages_json[i]);
        if (!json_object_is_type(parsed[i], json_type_object)) {
            size_t j;

            fprintf(stderr, "harness: message %zu is not a JSON object: %.80s\n", i,
                    messages_json[i]);
            for (j = 0; j <= i; j++)
                json_object_put(parsed[j]);
            free(parsed);
            return -EINVAL;
        }
    }

    *messages = parsed;
    return 0;
}

/* Call filter() on every message, as wharfd does before encode(): a
 * skipped message gets its SKIP result and stays out of the plugin's view. */
static void run_filter(wharf_harness *harness, wharf_batch *batch)
{
    char reason[512];
    size_t i;

    for (i = 0; i < batch->count; i++) {
        reason[0] = '\0';
        if (harness->plugin->filter == NULL ||
            harness->plugin->filter(harness->instance, batch->messages[i], reason,
                                    sizeof(reason)) == 0) {
            batch->view[batch->view_count++] = i;
            continue;
        }

        reason[sizeof(reason) - 1] = '\0';
        if (reason[0] == '\0') {
            harness_violation(harness, "filter: skipped message %zu without a reason", i);
            snprintf(reason, sizeof(reason), "skipped by the plugin's filter");
        }
        harness_batch_record(batch, i, WHARF_RESULT_SKIP, 0, -1, reason);
    }
}

typedef struct worker_job {
    wharf_harness *harness;
    wharf_batch *batch;
    int blocking_send;
} worker_job;

static void *worker_thread(void *argument)
{
    worker_job *job = argument;
    const wharf_plugin *plugin = job->harness->plugin;

    if (plugin->encode != NULL)
        plugin->encode(job->harness->instance, job->batch);
    if (job->blocking_send)
        plugin->send(job->harness->instance, job->batch);
    return NULL;
}

/* Run encode(), and send() too for a WHARF_PLUGIN_SEND_BLOCKING plugin, on
 * a second thread as wharfd does, so that calls to host functions that are
 * not thread-safe show up as violations. */
static void run_on_worker(wharf_harness *harness, wharf_batch *batch, int blocking_send)
{
    worker_job job = {harness, batch, blocking_send};
    pthread_t thread;

    harness->blocking_send_running = blocking_send;
    if (pthread_create(&thread, NULL, worker_thread, &job) == 0)
        pthread_join(thread, NULL);
    else
        worker_thread(&job);
    harness->blocking_send_running = 0;
}

static void sleep_ms(uint64_t milliseconds)
{
    struct timespec delay;

    delay.tv_sec = (time_t)(milliseconds / 1000);
    delay.tv_nsec = (long)(milliseconds % 1000) * 1000000L;
    nanosleep(&delay, NULL);
}

/* Perform requests and fire timers until the batch is complete and no
 * request is queued, or until the deadline. */
static int run_loop(wharf_harness *harness, wharf_batch *batch, uint64_t deadline)
{
    for (;;) {
        uint64_t now = harness_monotonic_ms();
        uint64_t next_timer;

        if (batch->complete_calls > 0 && !harness_http_has_queued(harness))
            return 0;
        if (now >= deadline) {
            harness_violation(harness, "send: no batch_complete() within %llu ms",
                              (unsigned long long)harness->send_timeout_ms);
            return -ETIMEDOUT;
        }

        if (harness_http_has_queued(harness)) {
            harness_http_run_next(harness);
            continue;
        }

        next_timer = harness_timer_next_due(harness);
        if (next_timer == UINT64_MAX) {
            harness_violation(harness, "send: nothing left to wait for (no request queued, "
                                       "no timer running) and batch_complete() was not "
                                       "called");
            return -EPROTO;
        }
        if (next_timer > now)
            sleep_ms((next_timer < deadline ? next_timer : deadline) - now);
        harness_timer_fire_due(harness, harness_monotonic_ms());
    }
}

static int collect_results(wharf_harness *harness, wharf_batch *batch)
{
    size_t i;

    harness->results = calloc(batch->count > 0 ? batch->count : 1, sizeof(*harness->results));
    if (harness->results == NULL)
        return -ENOMEM;
    harness->result_count = batch->count;

    for (i = 0; i < batch->count; i++) {
        harness_slot *slot = &batch->slots[i];
        wharf_harness_result *result = &harness->results[i];

        result->has_result = slot->has_result;
        if (!slot->has_result) {
            /* What wharfd records for a message without a result. */
            result->kind = WHARF_RESULT_ERROR;
            result->retry_after_ms = -1;
            result->reason = strdup("plugin set no result");
            continue;
        }
        result->kind = slot->kind;
        result->status_code = slot->status_code;
        result->retry_after_ms = slot->retry_after_ms;
        result->reason = slot->reason;
        slot->reason = NULL;
    }
    return 0;
}

int wharf_harness_send(wharf_harness *harness, const char *const *messages_json,
                       size_t count)
{
    struct json_object **messages = NULL;
    wharf_batch *batch = NULL;
    uint64_t deadline;
    size_t i;
    int rc;

    free_results(harness);
    harness->send_violations = 0;

    rc = parse_messages(messages_json, count, &messages);
    if (rc != 0)
        return rc;

    batch = harness_batch_create(harness, messages, count);
    if (batch == NULL) {
        rc = -ENOMEM;
        goto out;
    }
    harness->batch = batch;
    deadline = harness_monotonic_ms() + harness->send_timeout_ms;

    run_filter(harness, batch);

    /* Like wharfd: no encode() or send() when filter() skipped everything. */
    if (batch->view_count > 0) {
        int blocking = (harness->plugin->flags & WHARF_PLUGIN_SEND_BLOCKING) != 0;

        if (harness->plugin->encode != NULL || blocking)
            run_on_worker(harness, batch, blocking);
        if (!blocking)
            harness->plugin->send(harness->instance, batch);
        rc = run_loop(harness, batch, deadline);
        if (rc != 0) {
            /* Requests the plugin started still owe it a done callback. */
            harness_http_cancel_all(harness);
        }
    }

    if (collect_results(harness, batch) != 0 && rc == 0)
        rc = -ENOMEM;
    if (rc == 0 && harness->send_violations > 0)
        rc = -EPROTO;

out:
    harness->batch = NULL;
    harness_batch_free(batch);
    for (i = 0; i < count && messages != NULL; i++)
        json_object_put(messages[i]);
    free(messages);
    return rc;
}

/* Accessors. */

size_t wharf_harness_result_count(const wharf_harness *harness)
{
    return harness->result_count;
}

const wharf_harness_result *wharf_harness_result_at(const wharf_harness *harness,
                                                    size_t index)
{
    if (index >= harness->result_count)
        return NULL;
    return &harness->results[index];
}

const char *wharf_harness_violations(const wharf_harness *harness)
{
    return harness->violations.data != NULL ? harness->violations.data : "";
}

size_t wharf_harness_log_count(const wharf_harness *harness)
{
    return harness->log_count;
}

const char *wharf_harness_log_line(const wharf_harness *harness, size_t index)
{
    if (index >= harness->log_count)
        return NULL;
    return harness->log_lines[index];
}

char *wharf_harness_sample_user_message(const char *user_id, const char *email)
{
    wharf_buffer message = WHARF_BUFFER_INIT;
    wharf_buffer message_id = WHARF_BUFFER_INIT;
    int rc = 0;

    /* Any failed append leaves rc non-zero: each returns 0 or a negative code. */
    rc |= wharf_buffer_append_format(&message_id, "harness-%s", user_id);
    rc |= wharf_buffer_append_string(&message, "{\"type\":\"user\",\"message_id\":");
    if (rc == 0)
        rc |= wharf_json_append_string(&message, message_id.data, message_id.length);
    wharf_buffer_free(&message_id);
    rc |= wharf_buffer_append_string(&message, ",\"user\":{\"id\":");
    rc |= wharf_json_append_string(&message, user_id, strlen(user_id));
    rc |= wharf_buffer_append_string(&message, ",\"external_id\":null,\"email\":");
    if (email != NULL)
        rc |= wharf_json_append_string(&message, email, strlen(email));
    else
        rc |= wharf_buffer_append_string(&message, "null");
    rc |= wharf_buffer_append_string(
        &message, ",\"anonymous_ids\":[],\"attributes\":{}},\"account\":null,"
                  "\"segments\":[],\"account_segments\":[],\"changes\":{\"attributes\":{},"
                  "\"segments\":{\"entered\":[],\"left\":[]},\"account\":{},"
                  "\"is_new\":false},\"events\":[],\"is_export\":false}");

    if (rc != 0) {
        wharf_buffer_free(&message);
        return NULL;
    }
    return wharf_buffer_detach(&message, NULL);
}
