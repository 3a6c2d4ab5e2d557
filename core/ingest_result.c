#include "ingest_result.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

#include "ingest_json.h"

int ingest_result_init(ingest_result *result)
{
    memset(result, 0, sizeof(*result));
    result->rejected = json_object_new_array();
    result->warnings = json_object_new_array();
    if (result->rejected == NULL || result->warnings == NULL) {
        ingest_result_clear(result);
        return -ENOMEM;
    }
    return 0;
}

int ingest_result_prepare(ingest_result *result)
{
    if (result->rejected != NULL && result->warnings != NULL)
        return 0;
    ingest_result_clear(result);
    return ingest_result_init(result);
}

void ingest_result_clear(ingest_result *result)
{
    for (size_t i = 0; i < result->count; i++)
        entity_change_clear(&result->changes[i]);
    free(result->changes);
    free(result->indexes);
    json_object_put(result->rejected);
    json_object_put(result->warnings);
    free(result->write_key);
    memset(result, 0, sizeof(*result));
}

static int grow(ingest_result *result)
{
    size_t capacity = result->capacity > 0 ? result->capacity * 2 : 16;
    entity_change *changes;
    size_t *indexes;

    changes = realloc(result->changes, capacity * sizeof(*changes));
    if (changes == NULL)
        return -ENOMEM;
    result->changes = changes;

    indexes = realloc(result->indexes, capacity * sizeof(*indexes));
    if (indexes == NULL)
        return -ENOMEM;
    result->indexes = indexes;

    result->capacity = capacity;
    return 0;
}

int ingest_result_add_change(ingest_result *result, size_t index, entity_change *change)
{
    if (result->count == result->capacity && grow(result) < 0)
        return -ENOMEM;

    result->changes[result->count] = *change;
    result->indexes[result->count] = index;
    result->count++;
    memset(change, 0, sizeof(*change));
    return 0;
}

/* Add key: value to object, taking over the caller's reference to value
 * even on failure (json-c keeps it only on success). */
static int add_owned(json_object *object, const char *key, json_object *value)
{
    if (value == NULL || json_object_object_add(object, key, value) < 0) {
        json_object_put(value);
        return -ENOMEM;
    }
    return 0;
}

/* A JSON string of text cut at its first invalid UTF-8 sequence, because
 * a message may quote input that a client sent. */
static json_object *new_utf8_string(const char *text)
{
    size_t length = strlen(text);
    size_t bad_offset;

    if (!ingest_utf8_valid(text, length, &bad_offset))
        length = bad_offset;
    return json_object_new_string_len(text, (int)length);
}

/* Append {"index": index, key: text} (and "messageId") to list. */
static int append_item(json_object *list, size_t index, const char *key, const char *text,
                       const char *message_id)
{
    json_object *item = json_object_new_object();

    if (item == NULL)
        return -ENOMEM;
    if (add_owned(item, "index", json_object_new_int64((int64_t)index)) < 0 ||
        add_owned(item, key, new_utf8_string(text)) < 0 ||
        (message_id != NULL &&
         add_owned(item, "messageId", new_utf8_string(message_id)) < 0) ||
        json_object_array_add(list, item) < 0) {
        json_object_put(item);
        return -ENOMEM;
    }
    return 0;
}

int ingest_result_reject(ingest_result *result, size_t index, const char *message_id,
                         const char *error)
{
    return append_item(result->rejected, index, "error", error, message_id);
}

int ingest_result_warn(ingest_result *result, size_t index, const char *warning)
{
    return append_item(result->warnings, index, "warning", warning, NULL);
}

size_t ingest_result_rejected_count(const ingest_result *result)
{
    return json_object_array_length(result->rejected);
}
