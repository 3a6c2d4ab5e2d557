/*
 * Parsing of per-message results in a 2xx response body (see
 * webhook_results.h for the format).
 */
#include "webhook_results.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* Bytes of destination text (a reason, an error payload) quoted in a
 * result's reason, the same limit as for quoted response bodies. */
#define QUOTE_MAX 200

/* Largest retry_after_seconds accepted: about 68 years, which keeps the
 * delay in milliseconds far from overflowing. */
#define RETRY_AFTER_SECONDS_MAX 2147483647.0

/* Append at most QUOTE_MAX bytes of text to reason, cut at a UTF-8
 * character boundary, with control characters replaced by spaces so that
 * the reason stays one line in logs. */
static void append_quoted(char *reason, const char *text, size_t length)
{
    size_t used = strlen(reason);
    size_t quoted = length;
    size_t i;

    if (quoted > QUOTE_MAX) {
        quoted = QUOTE_MAX;
        /* text[quoted] is the first byte left out; when it continues a
         * character, leave out that whole character. */
        while (quoted > 0 && ((unsigned char)text[quoted] & 0xC0) == 0x80)
            quoted--;
    }
    for (i = 0; i < quoted && used + 1 < WEBHOOK_RESULT_REASON_SIZE; i++) {
        unsigned char byte = (unsigned char)text[i];

        reason[used++] = (byte < 0x20 || byte == 0x7f) ? ' ' : (char)byte;
    }
    if (quoted < length && used + 4 < WEBHOOK_RESULT_REASON_SIZE) {
        memcpy(reason + used, "...", 3);
        used += 3;
    }
    reason[used] = '\0';
}

/* Replace control characters in text with spaces, for a reason that
 * quotes the destination's text (a status, a header) in a format. */
static void replace_control_characters(char *text)
{
    for (; *text != '\0'; text++) {
        if ((unsigned char)*text < 0x20 || *text == 0x7f)
            *text = ' ';
    }
}

static void set_all(webhook_item_result *items, size_t count, wharf_result_kind kind,
                    const char *reason)
{
    size_t i;

    for (i = 0; i < count; i++) {
        items[i].kind = kind;
        items[i].retry_after_ms = -1;
        snprintf(items[i].reason, sizeof(items[i].reason), "%s", reason);
    }
}

/* Every message fails because the results do not fit the request. */
static void set_mismatch(webhook_item_result *items, size_t count, long status,
                         const char *format, ...)
{
    char reason[WEBHOOK_RESULT_REASON_SIZE];
    int length;
    va_list args;

    length = snprintf(reason, sizeof(reason),
                      "HTTP %ld: the \"results\" in the response body do not match the "
                      "request: ",
                      status);
    if (length < 0 || (size_t)length >= sizeof(reason))
        length = 0;
    va_start(args, format);
    vsnprintf(reason + length, sizeof(reason) - (size_t)length, format, args);
    va_end(args);
    replace_control_characters(reason);
    set_all(items, count, WHARF_RESULT_ERROR, reason);
}

static int content_type_is_json(const char *content_type)
{
    const char *end;
    size_t length;

    if (content_type == NULL)
        return 0;
    while (*content_type == ' ' || *content_type == '\t')
        content_type++;
    end = strchr(content_type, ';');
    length = end != NULL ? (size_t)(end - content_type) : strlen(content_type);
    while (length > 0 && (content_type[length - 1] == ' ' || content_type[length - 1] == '\t'))
        length--;

    if (length == strlen("application/json") &&
        strncasecmp(content_type, "application/json", length) == 0)
        return 1;
    /* Structured syntax suffix, such as application/problem+json. */
    return length > 5 && strncasecmp(content_type + length - 5, "+json", 5) == 0;
}

static const char *status_name(wharf_result_kind kind)
{
    switch (kind) {
    case WHARF_RESULT_SUCCESS:
        return "ok";
    case WHARF_RESULT_RETRY:
        return "retry";
    case WHARF_RESULT_ERROR:
        return "error";
    case WHARF_RESULT_SKIP:
        return "skip";
    }
    return "unknown";
}

static int parse_status(const char *text, wharf_result_kind *kind)
{
    static const wharf_result_kind kinds[] = {WHARF_RESULT_SUCCESS, WHARF_RESULT_RETRY,
                                              WHARF_RESULT_ERROR, WHARF_RESULT_SKIP};
    size_t i;

    for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
        if (strcmp(text, status_name(kinds[i])) == 0) {
            *kind = kinds[i];
            return 0;
        }
    }
    return -1;
}

/* Read entry (number position of count) into item. Returns 0, or -1 with
 * problem describing the fault. */
static int read_entry(long status, struct json_object *entry, size_t position, size_t count,
                      webhook_item_result *item, char *problem, size_t problem_size)
{
    struct json_object *value;
    const char *status_text;
    const char *reason = NULL;
    size_t reason_length = 0;

    item->retry_after_ms = -1;
    item->reason[0] = '\0';

    if (!json_object_is_type(entry, json_type_object)) {
        snprintf(problem, problem_size, "entry %zu is not a JSON object", position);
        return -1;
    }
    if (!json_object_object_get_ex(entry, "status", &value) ||
        !json_object_is_type(value, json_type_string)) {
        snprintf(problem, problem_size, "entry %zu has no \"status\" string", position);
        return -1;
    }
    status_text = json_object_get_string(value);
    if (parse_status(status_text, &item->kind) != 0) {
        snprintf(problem, problem_size,
                 "entry %zu has the unknown status \"%.40s\"; use ok, retry, error or skip",
                 position, status_text);
        return -1;
    }

    if (json_object_object_get_ex(entry, "reason", &value) && value != NULL) {
        if (!json_object_is_type(value, json_type_string)) {
            snprintf(problem, problem_size, "entry %zu has a \"reason\" that is not a string",
                     position);
            return -1;
        }
        reason = json_object_get_string(value);
        reason_length = (size_t)json_object_get_string_len(value);
    }

    if (json_object_object_get_ex(entry, "retry_after_seconds", &value) && value != NULL) {
        double seconds;

        if (!json_object_is_type(value, json_type_int) &&
            !json_object_is_type(value, json_type_double)) {
            snprintf(problem, problem_size,
                     "entry %zu has a \"retry_after_seconds\" that is not a number", position);
            return -1;
        }
        seconds = json_object_get_double(value);
        if (!(seconds >= 0.0 && seconds <= RETRY_AFTER_SECONDS_MAX)) {
            snprintf(problem, problem_size,
                     "entry %zu has \"retry_after_seconds\" %g; use 0 to %.0f", position,
                     seconds, RETRY_AFTER_SECONDS_MAX);
            return -1;
        }
        if (item->kind == WHARF_RESULT_RETRY)
            item->retry_after_ms = (int64_t)(seconds * 1000.0 + 0.5);
    }

    if (item->kind == WHARF_RESULT_SUCCESS)
        return 0;

    /* Wharf requires a reason for every result but success. */
    snprintf(item->reason, sizeof(item->reason), "HTTP %ld: result %zu of %zu: ", status,
             position, count);
    if (reason != NULL && reason_length > 0)
        append_quoted(item->reason, reason, reason_length);
    else
        snprintf(item->reason + strlen(item->reason),
                 sizeof(item->reason) - strlen(item->reason),
                 "status \"%s\" without a reason", status_name(item->kind));
    return 0;
}

static void read_results(long status, struct json_object *results, webhook_item_result *items,
                         size_t count)
{
    char problem[200];
    size_t length;
    size_t i;

    if (!json_object_is_type(results, json_type_array)) {
        set_mismatch(items, count, status, "\"results\" is not an array");
        return;
    }
    length = json_object_array_length(results);
    if (length != count) {
        set_mismatch(items, count, status,
                     "the request carried %zu messages but \"results\" has %zu entries", count,
                     length);
        return;
    }

    for (i = 0; i < count; i++) {
        if (read_entry(status, json_object_array_get_idx(results, i), i + 1, count, &items[i],
                       problem, sizeof(problem)) != 0) {
            set_mismatch(items, count, status, "%s", problem);
            return;
        }
    }
}

/* Non-zero for an error member that reports nothing: null, false, "", [] or
 * {}, which some APIs send on success. */
static int payload_is_empty(struct json_object *payload)
{
    if (payload == NULL)
        return 1;
    switch (json_object_get_type(payload)) {
    case json_type_boolean:
        return !json_object_get_boolean(payload);
    case json_type_string:
        return json_object_get_string_len(payload) == 0;
    case json_type_array:
        return json_object_array_length(payload) == 0;
    case json_type_object:
        return json_object_object_length(payload) == 0;
    default:
        return 0;
    }
}

/* {"error": ...} or {"errors": ...}: every message fails with its text. */
static void read_error_payload(long status, const char *key, struct json_object *payload,
                               webhook_item_result *items, size_t count)
{
    char reason[WEBHOOK_RESULT_REASON_SIZE];
    const char *text;
    size_t length;

    if (json_object_is_type(payload, json_type_string)) {
        text = json_object_get_string(payload);
        length = (size_t)json_object_get_string_len(payload);
    } else {
        text = json_object_to_json_string_ext(payload, JSON_C_TO_STRING_PLAIN);
        length = strlen(text);
    }

    snprintf(reason, sizeof(reason), "HTTP %ld with an error payload (\"%s\"): ", status, key);
    append_quoted(reason, text, length);
    set_all(items, count, WHARF_RESULT_ERROR, reason);
}

int webhook_results_parse(long status, const char *content_type, const char *body,
                          size_t body_size, webhook_item_result *items, size_t count)
{
    struct json_tokener *tokener;
    struct json_object *root;
    struct json_object *value;
    enum json_tokener_error parse_error;

    set_all(items, count, WHARF_RESULT_SUCCESS, "");
    if (body == NULL || body_size == 0 || count == 0)
        return 0;

    tokener = json_tokener_new();
    if (tokener == NULL)
        return -ENOMEM;
    root = json_tokener_parse_ex(tokener, body, (int)(body_size > 0x7fffffff ? 0x7fffffff
                                                                            : body_size));
    parse_error = json_tokener_get_error(tokener);
    /* A body that ends inside a value leaves the tokener waiting for more. */
    if (root == NULL && parse_error == json_tokener_continue)
        parse_error = json_tokener_error_parse_eof;
    json_tokener_free(tokener);

    if (root == NULL) {
        char reason[WEBHOOK_RESULT_REASON_SIZE];

        if (!content_type_is_json(content_type))
            return 0;
        snprintf(reason, sizeof(reason),
                 "HTTP %ld: the response declares Content-Type %.60s but its body is not "
                 "valid JSON (%s), so whether the destination took the messages is unknown: ",
                 status, content_type, json_tokener_error_desc(parse_error));
        replace_control_characters(reason);
        append_quoted(reason, body, body_size);
        set_all(items, count, WHARF_RESULT_RETRY, reason);
        return 0;
    }

    if (json_object_is_type(root, json_type_object)) {
        if (json_object_object_get_ex(root, "results", &value))
            read_results(status, value, items, count);
        else if (json_object_object_get_ex(root, "error", &value) && !payload_is_empty(value))
            read_error_payload(status, "error", value, items, count);
        else if (json_object_object_get_ex(root, "errors", &value) && !payload_is_empty(value))
            read_error_payload(status, "errors", value, items, count);
    }
    json_object_put(root);
    return 0;
}
