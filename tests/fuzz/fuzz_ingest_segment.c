/*
 * Fuzz target: a request body sent to the Segment-compatible ingest API,
 * read as wharfd reads it (gzip_body_decode(), then ingest_segment_parse()
 * and the response builders).
 *
 * Input layout: the request path ("/v1/batch", "/v1/identify", "/v1/group"
 * or "/v1/track"), a newline, then the body, which may be gzip.
 *
 * Checks beyond the sanitizers:
 * - a body that was read accounts for every message exactly once (a
 *   change, a rejection or an ignored message), and its response status
 *   matches its rejections;
 * - an error message is non-empty valid UTF-8, because it goes into a JSON
 *   response;
 * - ingest_json_parse(), whose own parser reads most bodies, accepts
 *   exactly the bodies that json-c's strict parser accepts, and builds the
 *   same document;
 * - a /v1/batch body gives the same result whether wharfd's own parser
 *   reads it (building only the members that ingest reads, and checking
 *   each message by its text) or json-c does. The target makes json-c read
 *   the body by adding a root member with a \u escape, which the own
 *   parser gives up on and ingest never reads.
 */
#include <errno.h>
#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gzip_body.h"
#include "ingest_json.h"
#include "ingest_result.h"
#include "ingest_segment.h"

/* 2024-03-05T14:30:00Z, the arrival time of every request. */
#define FUZZ_RECEIVED_AT_MS INT64_C(1709649000000)

static void fail(const char *message, const char *detail)
{
    fprintf(stderr, "fuzz_ingest_segment: %s%s%s\n", message, detail ? ": " : "",
            detail ? detail : "");
    abort();
}

static void check_error_message(const char *error)
{
    if (error[0] == '\0')
        fail("an error was returned without a message", NULL);
    if (!ingest_utf8_valid(error, strlen(error), NULL))
        fail("an error message is not valid UTF-8", NULL);
}

/* Parse body with json-c's strict parser, skipping a UTF-8 byte order mark
 * and allowing whitespace after the document, as ingest_json_parse()
 * documents. Returns 0 with *root, or -EINVAL. */
static int parse_with_json_c(const char *body, size_t size, json_object **root)
{
    json_tokener *tokener = json_tokener_new();
    json_object *document;
    enum json_tokener_error status;
    size_t end;
    int rc = -EINVAL;

    *root = NULL;
    if (tokener == NULL)
        fail("out of memory", NULL);
    if (size >= 3 && memcmp(body, "\xEF\xBB\xBF", 3) == 0) {
        body += 3;
        size -= 3;
    }
    json_tokener_set_flags(tokener, JSON_TOKENER_STRICT);
    document = json_tokener_parse_ex(tokener, body, (int)size);
    status = json_tokener_get_error(tokener);
    end = json_tokener_get_parse_end(tokener);
    if (status == json_tokener_continue) {
        document = json_tokener_parse_ex(tokener, " ", 1);
        status = json_tokener_get_error(tokener);
        end = size;
    }
    if (status == json_tokener_success) {
        while (end < size && strchr(" \t\r\n", body[end]) != NULL && body[end] != '\0')
            end++;
        if (end == size) {
            *root = document;
            document = NULL;
            rc = 0;
        }
    }
    json_object_put(document);
    json_tokener_free(tokener);
    return rc;
}

/* ingest_json_parse() against json-c's strict parser on the same body. */
static void compare_parsers(const char *body, size_t size)
{
    json_object *fast = NULL;
    json_object *reference = NULL;
    char error[256] = "";
    int fast_rc = ingest_json_parse(body, size, &fast, error, sizeof(error));
    int reference_rc = parse_with_json_c(body, size, &reference);

    if (fast_rc == -ENOMEM)
        fail("out of memory", NULL);
    if (fast_rc < 0)
        check_error_message(error);
    if ((fast_rc == 0) != (reference_rc == 0))
        fail(fast_rc == 0 ? "ingest_json_parse accepted a body that json-c rejects"
                          : "ingest_json_parse rejected a body that json-c accepts",
             error);
    if (fast_rc == 0 && !json_object_equal(fast, reference))
        fail("ingest_json_parse built another document than json-c",
             json_object_to_json_string(fast));
    json_object_put(fast);
    json_object_put(reference);
}

static bool strings_equal(const char *a, const char *b)
{
    return (a == NULL && b == NULL) || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

static bool claims_equal(const entity_claims *a, const entity_claims *b)
{
    return strings_equal(a->external_id, b->external_id) && strings_equal(a->email, b->email) &&
           strings_equal(a->domain, b->domain) &&
           strings_equal(a->anonymous_id, b->anonymous_id);
}

static bool changes_equal(const entity_change *a, const entity_change *b)
{
    return a->kind == b->kind && claims_equal(&a->user, &b->user) &&
           claims_equal(&a->account, &b->account) &&
           json_object_equal(a->attributes, b->attributes) &&
           json_object_equal(a->account_attributes, b->account_attributes) &&
           strings_equal(a->event, b->event) &&
           json_object_equal(a->properties, b->properties) &&
           a->timestamp_ms == b->timestamp_ms && strings_equal(a->message_id, b->message_id);
}

/* Parse the /v1/batch body again with a root member "\u0078" (that is,
 * "x") added at its start, so that json-c reads the body, and compare the
 * result with the one of wharfd's own parser. */
static void compare_batch_paths(const char *body, size_t size, const ingest_result *fast)
{
    static const char added_member[] = "\"\\u0078\": 0";
    ingest_result slow = {0};
    char error[512] = "";
    size_t start = 0;
    size_t rest;
    char *changed;
    size_t changed_size;
    int rc;

    if (size >= 3 && memcmp(body, "\xEF\xBB\xBF", 3) == 0)
        start = 3;
    while (start < size && strchr(" \t\r\n", body[start]) != NULL && body[start] != '\0')
        start++;
    if (start == size || body[start] != '{')
        fail("a body that was read does not start with an object", NULL);

    /* An empty object gets only the new member, any other a comma after it. */
    rest = start + 1;
    while (rest < size && strchr(" \t\r\n", body[rest]) != NULL && body[rest] != '\0')
        rest++;
    changed_size = size + sizeof(added_member) + 1;
    changed = malloc(changed_size + 1);
    if (changed == NULL)
        fail("out of memory", NULL);
    memcpy(changed, body, start + 1);
    memcpy(changed + start + 1, added_member, sizeof(added_member) - 1);
    changed_size = start + sizeof(added_member);
    if (rest < size && body[rest] != '}')
        changed[changed_size++] = ',';
    memcpy(changed + changed_size, body + start + 1, size - start - 1);
    changed_size += size - start - 1;
    changed[changed_size] = '\0';

    rc = ingest_segment_parse(changed, changed_size, INGEST_SEGMENT_BATCH, FUZZ_RECEIVED_AT_MS,
                              &slow, error, sizeof(error));
    if (rc == -ENOMEM)
        fail("out of memory", NULL);
    if (rc != 0)
        fail("json-c's parse rejected a batch that wharfd's own parser read", error);
    if (!strings_equal(fast->write_key, slow.write_key))
        fail("the parsers read different write keys", NULL);
    if (fast->input_count != slow.input_count || fast->count != slow.count ||
        fast->ignored_count != slow.ignored_count)
        fail("the parsers counted the messages differently", changed);
    if (!json_object_equal(fast->rejected, slow.rejected))
        fail("the parsers rejected different messages",
             json_object_to_json_string(slow.rejected));
    if (!json_object_equal(fast->warnings, slow.warnings))
        fail("the parsers gave different warnings", json_object_to_json_string(slow.warnings));
    for (size_t i = 0; i < fast->count; i++) {
        if (fast->indexes[i] != slow.indexes[i] ||
            !changes_equal(&fast->changes[i], &slow.changes[i]))
            fail("the parsers built different changes", changed);
    }

    ingest_result_clear(&slow);
    free(changed);
}

static void check_read_body(const ingest_result *result)
{
    size_t rejected = ingest_result_rejected_count(result);
    json_object *response;
    int status = 0;

    if (result->count + rejected + result->ignored_count != result->input_count)
        fail("changes, rejections and ignored messages do not add up to the messages", NULL);

    response = ingest_segment_response(result, &status);
    if (response == NULL)
        fail("out of memory", NULL);
    if (status != (result->input_count > 0 && rejected == result->input_count ? 400 : 200))
        fail("the response status does not match the rejections",
             json_object_to_json_string(response));
    (void)json_object_to_json_string(response);
    json_object_put(response);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    const char *newline = memchr(text, '\n', size);
    char path[32];
    ingest_segment_endpoint endpoint;
    gzip_body body = {0};
    ingest_result result = {0};
    char error[512] = "";
    size_t path_length;
    int rc;

    if (newline == NULL || (path_length = (size_t)(newline - text)) >= sizeof(path))
        return 0;
    memcpy(path, text, path_length);
    path[path_length] = '\0';
    if (ingest_segment_endpoint_from_path(path, &endpoint) != 0)
        return 0;

    rc = gzip_body_decode(&body, newline + 1, size - path_length - 1, INGEST_SEGMENT_BODY_MAX,
                          error, sizeof(error));
    if (rc == -ENOMEM)
        fail("out of memory", NULL);
    if (rc != 0) {
        check_error_message(error);
        return 0;
    }

    rc = ingest_segment_parse(body.data, body.size, endpoint, FUZZ_RECEIVED_AT_MS, &result,
                              error, sizeof(error));
    if (rc == -ENOMEM)
        fail("out of memory", NULL);
    if (rc == 0) {
        check_read_body(&result);
        if (endpoint == INGEST_SEGMENT_BATCH)
            compare_batch_paths(body.data, body.size, &result);
    } else {
        json_object *response;

        if (rc != -EINVAL && rc != -E2BIG)
            fail("ingest_segment_parse returned an undocumented code", NULL);
        check_error_message(error);
        response = ingest_segment_error_response(error);
        if (response == NULL)
            fail("out of memory", NULL);
        (void)json_object_to_json_string(response);
        json_object_put(response);
    }
    ingest_result_clear(&result);

    compare_parsers(body.data, body.size);
    gzip_body_free(&body);
    return 0;
}
