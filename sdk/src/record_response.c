#include "wharf/sdk/record_response.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

/* Bytes of a body quoted when it is not JSON. */
#define QUOTED_BODY_MAX 120

typedef struct response_match {
    const char *const *keys;
    size_t key_count;
    wharf_record_outcome *outcomes;
    size_t unmatched;
} response_match;

/* Follow a dot-separated path of member names from value. */
static struct json_object *path_get(struct json_object *value, const char *path)
{
    char name[128];

    while (value != NULL && *path != '\0') {
        const char *dot = strchr(path, '.');
        size_t length = dot != NULL ? (size_t)(dot - path) : strlen(path);

        if (length >= sizeof(name) || !json_object_is_type(value, json_type_object))
            return NULL;
        memcpy(name, path, length);
        name[length] = '\0';
        if (!json_object_object_get_ex(value, name, &value))
            return NULL;
        path += length + (dot != NULL ? 1 : 0);
    }
    return value;
}

static long find_key(const response_match *match, const char *key)
{
    for (size_t i = 0; i < match->key_count; i++) {
        if (strcmp(match->keys[i], key) == 0)
            return (long)i;
    }
    return -1;
}

static void copy_text(char *target, size_t size, struct json_object *value)
{
    const char *text = value != NULL && json_object_is_type(value, json_type_string)
                           ? json_object_get_string(value)
                           : "";
    size_t i;

    for (i = 0; i + 1 < size && text[i] != '\0'; i++)
        target[i] = (unsigned char)text[i] < 0x20 ? ' ' : text[i];
    target[i] = '\0';
}

static void mark(response_match *match, struct json_object *key_value,
                 wharf_record_state state, struct json_object *entry,
                 const wharf_record_response_format *format)
{
    wharf_record_outcome *outcome;
    const char *key;
    long found;

    if (key_value == NULL)
        return;
    if (!json_object_is_type(key_value, json_type_string) &&
        !json_object_is_type(key_value, json_type_int))
        return;
    key = json_object_get_string(key_value);
    found = find_key(match, key);
    if (found < 0) {
        match->unmatched++;
        return;
    }

    outcome = &match->outcomes[found];
    if (outcome->state == WHARF_RECORD_FAILED)
        return;
    outcome->state = state;
    if (state != WHARF_RECORD_FAILED)
        return;
    copy_text(outcome->code, sizeof(outcome->code),
              format->error_code_path != NULL ? path_get(entry, format->error_code_path) : NULL);
    copy_text(outcome->message, sizeof(outcome->message),
              format->error_message_path != NULL ? path_get(entry, format->error_message_path)
                                                 : NULL);
}

/* Mark the record(s) that entry names through key_path. */
static void mark_entry(response_match *match, struct json_object *entry, const char *key_path,
                       wharf_record_state state, const wharf_record_response_format *format)
{
    struct json_object *keys = key_path != NULL ? path_get(entry, key_path) : NULL;

    if (keys != NULL && json_object_is_type(keys, json_type_array)) {
        for (size_t i = 0; i < json_object_array_length(keys); i++)
            mark(match, json_object_array_get_idx(keys, i), state, entry, format);
        return;
    }
    mark(match, keys, state, entry, format);
}

static void mark_list(response_match *match, struct json_object *root, const char *list_path,
                      const char *key_path, wharf_record_state state,
                      const wharf_record_response_format *format)
{
    struct json_object *list = list_path != NULL ? path_get(root, list_path) : NULL;

    if (list == NULL || !json_object_is_type(list, json_type_array))
        return;
    for (size_t i = 0; i < json_object_array_length(list); i++)
        mark_entry(match, json_object_array_get_idx(list, i), key_path, state, format);
}

static int only_space_after(const char *body, size_t body_size, size_t end)
{
    for (size_t i = end; i < body_size; i++) {
        if (body[i] != ' ' && body[i] != '\t' && body[i] != '\r' && body[i] != '\n')
            return 0;
    }
    return 1;
}

int wharf_record_response_parse(const char *body, size_t body_size,
                                const wharf_record_response_format *format,
                                const char *const *keys, size_t key_count,
                                wharf_record_outcome *outcomes, size_t *unmatched,
                                char *reason, size_t reason_size)
{
    response_match match = {keys, key_count, outcomes, 0};
    struct json_tokener *tokener;
    struct json_object *root;
    size_t quoted;

    memset(outcomes, 0, key_count * sizeof(*outcomes));
    if (unmatched != NULL)
        *unmatched = 0;

    tokener = json_tokener_new();
    if (tokener == NULL) {
        snprintf(reason, reason_size, "out of memory while parsing the response body");
        return -ENOMEM;
    }
    root = body_size > 0 ? json_tokener_parse_ex(tokener, body, (int)body_size) : NULL;
    if (root != NULL && !only_space_after(body, body_size, json_tokener_get_parse_end(tokener))) {
        json_object_put(root);
        root = NULL;
    }
    json_tokener_free(tokener);

    if (root == NULL || !json_object_is_type(root, json_type_object)) {
        quoted = body_size < QUOTED_BODY_MAX ? body_size : QUOTED_BODY_MAX;
        snprintf(reason, reason_size, "response body is not a JSON object: %s%.*s%s",
                 body_size == 0 ? "(empty body)" : "", (int)quoted, body_size > 0 ? body : "",
                 body_size > quoted ? "..." : "");
        for (char *at = reason; *at != '\0'; at++) {
            if ((unsigned char)*at < 0x20)
                *at = ' ';
        }
        json_object_put(root);
        return -EINVAL;
    }

    mark_list(&match, root, format->results_path, format->result_key_path,
              WHARF_RECORD_SUCCEEDED, format);
    mark_list(&match, root, format->errors_path, format->error_key_path, WHARF_RECORD_FAILED,
              format);
    json_object_put(root);

    if (unmatched != NULL)
        *unmatched = match.unmatched;
    return 0;
}
