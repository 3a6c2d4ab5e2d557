/*
 * Write endpoints for customer data: the Segment Tracking API (/v1/identify,
 * /v1/group, /v1/track, /v1/batch) and the native POST /api/v1/users and
 * /api/v1/accounts. Both inflate gzip bodies (whatever the Content-Type
 * says), parse into entity changes and apply them in one store transaction.
 * Segment bodies are inflated and parsed on the libuv thread pool.
 */
#include <errno.h>
#include <json-c/json.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <uv.h>

#include "api.h"
#include "entities.h"
#include "gzip_body.h"
#include "ingest_native.h"
#include "ingest_segment.h"
#include "log.h"
#include "service.h"
#include "write_key.h"

/* Largest inflated native body; Segment bodies have their own, smaller limit. */
#define NATIVE_BODY_MAX (8u * 1024 * 1024)
#define ERROR_SIZE 1024

static int64_t now_ms(void)
{
    struct timeval now;

    gettimeofday(&now, NULL);
    return (int64_t)now.tv_sec * 1000 + now.tv_usec / 1000;
}

/* Inflate a gzip body or pass it through. Responds with 400 and returns
 * -1 on failure. */
static int read_body(http_request *request, size_t max_size, gzip_body *body)
{
    size_t size;
    const char *data = http_request_body(request, &size);
    char error[ERROR_SIZE];

    if (gzip_body_decode(body, data, size, max_size, error, sizeof(error)) != 0) {
        http_respond_error(request, 400, "%s", error);
        return -1;
    }
    return 0;
}

/* Apply the parsed changes; rejects the ones that fail by their input index. */
static int apply(service *svc, ingest_result *parsed, entity_result **results_out)
{
    entity_result *results = calloc(parsed->count > 0 ? parsed->count : 1, sizeof(*results));

    *results_out = results;
    if (results == NULL)
        return -ENOMEM;
    entities_apply(svc->entities, parsed->changes, parsed->count, results);
    for (size_t i = 0; i < parsed->count; i++) {
        if (!results[i].ok)
            ingest_result_reject(parsed, parsed->indexes[i], parsed->changes[i].message_id,
                                 results[i].error);
    }
    return 0;
}

/* One Segment request on its way through the thread pool. A worker
 * inflates and parses the body, because that took two fifths of ingest's
 * instructions and needs none of the loop's state. Authentication,
 * applying the changes and the response stay on the loop thread. */
typedef struct segment_job {
    uv_work_t work;
    struct segment_job *next_waiting; /* in parse_queue */
    service *svc;
    http_request *request;
    ingest_segment_endpoint endpoint;
    /* Whether the Authorization header carried the key: without it, a body
     * that cannot be read is unauthenticated (401), else invalid (400). */
    bool header_authenticated;
    int64_t received_at_ms;
    const char *input; /* the request's body, valid until the response is sent */
    size_t input_size;
    gzip_body body;
    int body_rc; /* of gzip_body_decode() */
    ingest_result parsed;
    int parse_rc; /* of ingest_segment_parse() */
    char error[ERROR_SIZE];
} segment_job;

/* Worker thread: touches only the job. */
static void segment_job_parse(uv_work_t *work)
{
    segment_job *job = work->data;

    job->body_rc = gzip_body_decode(&job->body, job->input, job->input_size,
                                    INGEST_SEGMENT_BODY_MAX, job->error, sizeof(job->error));
    if (job->body_rc != 0)
        return;
    job->parse_rc = ingest_segment_parse(job->body.data, job->body.size, job->endpoint,
                                         job->received_at_ms, &job->parsed, job->error,
                                         sizeof(job->error));
}

/* Segment jobs not yet freed, and whether a trim of malloc's arenas is
 * queued (loop thread only). Parsing on several workers leaves freed
 * memory in each worker's arena, about 36 MB of resident memory after a
 * million new users (docs/benchmarks.md). malloc_trim() gives back what
 * it can once ingest has been idle for TRIM_IDLE_MS: a trim costs most of
 * a millisecond of CPU, too much after every request of a steady stream
 * of small ones. */
#define TRIM_IDLE_MS 1000

static unsigned segment_jobs;
static bool trim_queued;
static uv_work_t trim_work;
static uv_timer_t trim_timer;
static bool trim_timer_open;
static bool trim_stopped; /* wharfd is stopping: no new timer */

static void trim_arenas(uv_work_t *work)
{
    (void)work;
#ifdef __GLIBC__
    malloc_trim(0);
#endif
}

static void trim_finished(uv_work_t *work, int status)
{
    (void)work;
    (void)status;
    trim_queued = false;
}

static void on_trim_timer(uv_timer_t *timer)
{
    if (segment_jobs > 0 || trim_queued)
        return;
    if (uv_queue_work(timer->loop, &trim_work, trim_arenas, trim_finished) == 0)
        trim_queued = true;
}

/* Note that a job was freed; the last one of a burst (re)starts the idle
 * timer that queues a trim. */
static void segment_job_gone(uv_loop_t *loop)
{
    if (--segment_jobs > 0 || trim_stopped)
        return;
    if (!trim_timer_open) {
        if (uv_timer_init(loop, &trim_timer) != 0)
            return;
        trim_timer_open = true;
    }
    uv_timer_start(&trim_timer, on_trim_timer, TRIM_IDLE_MS, 0);
}

void api_ingest_close(void)
{
    trim_stopped = true;
    if (!trim_timer_open)
        return;
    trim_timer_open = false;
    uv_close((uv_handle_t *)&trim_timer, NULL);
}

/* Worker thread: free what the parser made. */
static void segment_job_clear(uv_work_t *work)
{
    segment_job *job = work->data;

    ingest_result_clear(&job->parsed);
    gzip_body_free(&job->body);
}

static void segment_job_cleared(uv_work_t *work, int status)
{
    segment_job *job = work->data;
    uv_loop_t *loop = job->svc->loop;

    (void)status;
    free(job);
    segment_job_gone(loop);
}

/* Free the job once the response is sent. Freeing hundreds of parsed
 * messages took a fifth of the loop thread's time, so a worker does it,
 * unless the loop may still hold a reference into them. Entity updates
 * keep no attribute value of a change, but keep the properties of events. */
static void segment_job_release(segment_job *job)
{
    bool has_event = false;

    for (size_t i = 0; i < job->parsed.count && !has_event; i++)
        has_event = job->parsed.changes[i].kind == CHANGE_EVENT;
    if (!has_event &&
        uv_queue_work(job->svc->loop, &job->work, segment_job_clear, segment_job_cleared) == 0)
        return;
    segment_job_clear(&job->work);
    segment_job_cleared(&job->work, 0);
}

/* Loop thread: authenticate, apply and respond, in the order that the
 * synchronous handler used. */
static void segment_job_finish(segment_job *job)
{
    service *svc = job->svc;
    http_request *request = job->request;
    const char *authorization = http_request_header(request, "Authorization");
    entity_result *results = NULL;
    char error[ERROR_SIZE];
    json_object *response;
    int status = 200;

    if (job->body_rc != 0) {
        if (!job->header_authenticated)
            http_respond_json(request, 401,
                              ingest_segment_error_response(
                                  "missing or wrong write key: send it as the user name of "
                                  "HTTP Basic authentication"));
        else
            http_respond_json(request, 400, ingest_segment_error_response(job->error));
        goto out;
    }

    /* Authenticate before reporting anything about the body. */
    if (write_key_check(svc->config.write_key, authorization, job->parsed.write_key, error,
                        sizeof(error)) != 0) {
        http_respond_json(request, 401, ingest_segment_error_response(error));
        goto out;
    }
    if (job->parse_rc == -ENOMEM) {
        http_respond_json(request, 500, ingest_segment_error_response("out of memory"));
        goto out;
    }
    if (job->parse_rc != 0) {
        http_respond_json(request, 400, ingest_segment_error_response(job->error));
        goto out;
    }

    if (apply(svc, &job->parsed, &results) != 0) {
        http_respond_json(request, 500, ingest_segment_error_response("out of memory"));
        goto out;
    }
    response = ingest_segment_response(&job->parsed, &status);
    if (response == NULL) {
        http_respond_json(request, 500, ingest_segment_error_response("out of memory"));
        goto out;
    }
    http_respond_json(request, status, response);

out:
    free(results);
    segment_job_release(job);
}

/* Jobs waiting for a parse slot, oldest first, and the parses running
 * (loop thread only). At most one parse runs per CPU, leaving one CPU for
 * the loop thread: more parses only competed with the loop thread and
 * with each other, and on 2 CPUs ingest lost 10 to 25% of its throughput
 * with them (docs/benchmarks.md). */
static struct {
    segment_job *head;
    segment_job *tail;
    unsigned running;
} parse_queue;

static void segment_job_parsed(uv_work_t *work, int status);

static void start_parses(void)
{
    unsigned cpus = uv_available_parallelism();
    unsigned limit = cpus > 1 ? cpus - 1 : 1;

    while (parse_queue.head != NULL && parse_queue.running < limit) {
        segment_job *job = parse_queue.head;

        parse_queue.head = job->next_waiting;
        if (parse_queue.head == NULL)
            parse_queue.tail = NULL;
        if (uv_queue_work(job->svc->loop, &job->work, segment_job_parse, segment_job_parsed) ==
            0) {
            parse_queue.running++;
            continue;
        }
        /* Only a failure to queue at all (never expected) makes the loop
         * parse by itself. */
        segment_job_parse(&job->work);
        segment_job_finish(job);
    }
}

static void segment_job_parsed(uv_work_t *work, int status)
{
    segment_job *job = work->data;

    /* A job is never cancelled (nothing calls uv_cancel), so status is 0;
     * it was parsed either way. */
    (void)status;
    parse_queue.running--;
    start_parses();
    segment_job_finish(job);
}

static void ingest_segment(service *svc, http_request *request, ingest_segment_endpoint endpoint)
{
    segment_job *job;

    if (svc->config.write_key == NULL) {
        http_respond_json(request, 401,
                          ingest_segment_error_response(
                              "ingest is disabled: wharfd has no write key; start it with "
                              "--write-key KEY (or write_key in its config file)"));
        return;
    }
    job = calloc(1, sizeof(*job));
    if (job == NULL) {
        http_respond_json(request, 500, ingest_segment_error_response("out of memory"));
        return;
    }
    job->work.data = job;
    segment_jobs++;
    job->svc = svc;
    job->request = request;
    job->endpoint = endpoint;
    job->header_authenticated = write_key_header_matches(
        svc->config.write_key, http_request_header(request, "Authorization"));
    job->received_at_ms = now_ms();
    job->input = http_request_body(request, &job->input_size);

    if (parse_queue.tail != NULL)
        parse_queue.tail->next_waiting = job;
    else
        parse_queue.head = job;
    parse_queue.tail = job;
    start_parses();
}

void api_ingest_identify(service *svc, http_request *request, const char *param)
{
    (void)param;
    ingest_segment(svc, request, INGEST_SEGMENT_IDENTIFY);
}

void api_ingest_group(service *svc, http_request *request, const char *param)
{
    (void)param;
    ingest_segment(svc, request, INGEST_SEGMENT_GROUP);
}

void api_ingest_track(service *svc, http_request *request, const char *param)
{
    (void)param;
    ingest_segment(svc, request, INGEST_SEGMENT_TRACK);
}

void api_ingest_batch(service *svc, http_request *request, const char *param)
{
    (void)param;
    ingest_segment(svc, request, INGEST_SEGMENT_BATCH);
}

/* True when the native body is the bulk form {"users": [...]}. */
static int is_bulk(const gzip_body *body, ingest_native_kind kind)
{
    json_object *root = json_tokener_parse(body->data);
    int bulk = root != NULL && json_object_is_type(root, json_type_object) &&
               json_object_object_get_ex(root, kind == INGEST_NATIVE_USERS ? "users" : "accounts",
                                         NULL);

    json_object_put(root);
    return bulk;
}

static void ingest_native(service *svc, http_request *request, ingest_native_kind kind)
{
    store_entity_kind entity_kind = kind == INGEST_NATIVE_USERS ? STORE_USERS : STORE_ACCOUNTS;
    gzip_body body;
    ingest_result parsed;
    entity_result *results = NULL;
    char error[ERROR_SIZE];
    json_object *response;
    json_object *list;
    int rc;

    if (read_body(request, NATIVE_BODY_MAX, &body) != 0)
        return;
    ingest_result_init(&parsed);
    rc = ingest_native_parse(body.data, body.size, kind, &parsed, error, sizeof(error));
    if (rc != 0) {
        http_respond_error(request, rc == -ENOMEM ? 500 : 400, "%s", error);
        goto out;
    }
    if (apply(svc, &parsed, &results) != 0) {
        http_respond_error(request, 500, "out of memory");
        goto out;
    }

    /* One entity: answer with its view, or the reason it failed. */
    if (!is_bulk(&body, kind)) {
        const char *id;
        uint32_t index;

        if (parsed.count != 1 || !results[0].ok) {
            http_respond_error(request, 400, "%s",
                               parsed.count == 1 ? results[0].error : "entity rejected");
            goto out;
        }
        id = entity_kind == STORE_USERS ? results[0].user_id : results[0].account_id;
        index = entities_find_by_id(entities_set(svc->entities, entity_kind), id);
        http_respond_json(request, 200, entities_to_json(svc->entities, entity_kind, index));
        goto out;
    }

    /* Bulk: one result per input entity, in input order. */
    list = json_object_new_array();
    for (size_t i = 0; i < parsed.count; i++) {
        json_object *item;

        if (!results[i].ok)
            continue;
        item = json_object_new_object();
        json_object_object_add(item, "index", json_object_new_int64((int64_t)parsed.indexes[i]));
        json_object_object_add(item, "id",
                               json_object_new_string(entity_kind == STORE_USERS
                                                          ? results[i].user_id
                                                          : results[i].account_id));
        json_object_array_add(list, item);
    }
    response = json_object_new_object();
    json_object_object_add(response, "accepted", list);
    json_object_object_add(response, "rejected", json_object_get(parsed.rejected));
    json_object_object_add(response, "warnings", json_object_get(parsed.warnings));
    /* A bulk body none of whose entities could be used is a client error. */
    if (json_object_array_length(list) == 0 && parsed.input_count > 0) {
        json_object_object_add(response, "error",
                               json_object_new_string("every entity in the body was rejected; "
                                                      "\"rejected\" gives the reason for each"));
        http_respond_json(request, 400, response);
        goto out;
    }
    http_respond_json(request, 200, response);

out:
    free(results);
    ingest_result_clear(&parsed);
    gzip_body_free(&body);
}

void api_users_create(service *svc, http_request *request, const char *param)
{
    (void)param;
    ingest_native(svc, request, INGEST_NATIVE_USERS);
}

void api_accounts_create(service *svc, http_request *request, const char *param)
{
    (void)param;
    ingest_native(svc, request, INGEST_NATIVE_ACCOUNTS);
}
