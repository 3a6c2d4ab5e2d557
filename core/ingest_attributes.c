#include "ingest_attributes.h"

#include <errno.h>
#include <json-c/json.h>
#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ingest_json.h"

/* Maximum length of an attribute path in a message; longer paths are cut. */
#define PATH_CAPACITY 256

static const char *const operations[] = {"set", "setIfNull", "inc", "dec"};

/* Check value (at path) against the attribute value rules. */
static int check_value(json_object *value, const char *path, char *error, size_t error_size)
{
    char member_path[PATH_CAPACITY];

    if (json_object_is_type(value, json_type_array)) {
        for (size_t i = 0; i < json_object_array_length(value); i++) {
            json_object *item = json_object_array_get_idx(value, i);

            if (!ingest_json_is_scalar(item)) {
                snprintf(error, error_size,
                         "%s[%zu] is %s; an attribute array may hold only strings, "
                         "numbers, booleans and null",
                         path, i, ingest_json_type_name(item));
                return -EINVAL;
            }
        }
        return 0;
    }
    if (!json_object_is_type(value, json_type_object))
        return 0;

    json_object_object_foreach(value, key, member) {
        int rc;

        member_path[0] = '\0';
        ingest_path_append(member_path, sizeof(member_path), "", path);
        ingest_path_append(member_path, sizeof(member_path), ".", key);
        rc = check_value(member, member_path, error, error_size);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* Add key: value to object, taking over the caller's reference to value
 * even on failure (json-c keeps it only on success). */
static int add_owned(json_object *object, const char *key, json_object *value)
{
    if (json_object_object_add(object, key, value) < 0) {
        json_object_put(value);
        return -ENOMEM;
    }
    return 0;
}

/* Add name: {"operation": operation, "value": value} to writes. */
static int add_operation(json_object *writes, const char *name, const char *operation,
                         json_object *value)
{
    json_object *write = json_object_new_object();
    json_object *operation_text = json_object_new_string(operation);

    if (write == NULL || operation_text == NULL) {
        json_object_put(write);
        json_object_put(operation_text);
        return -ENOMEM;
    }
    if (add_owned(write, "operation", operation_text) < 0 ||
        add_owned(write, "value", json_object_get(value)) < 0) {
        json_object_put(write);
        return -ENOMEM;
    }
    return add_owned(writes, name, write);
}

/* Add a plain value: objects are wrapped so that they read as a set. */
static int add_plain_value(json_object *writes, const char *name, json_object *value)
{
    if (json_object_is_type(value, json_type_object))
        return add_operation(writes, name, "set", value);
    return add_owned(writes, name, json_object_get(value));
}

static bool is_known_operation(const char *operation)
{
    for (size_t i = 0; i < sizeof(operations) / sizeof(operations[0]); i++) {
        if (strcmp(operation, operations[i]) == 0)
            return true;
    }
    return false;
}

static bool is_number(json_object *value)
{
    return json_object_is_type(value, json_type_int) ||
           (json_object_is_type(value, json_type_double) &&
            isfinite(json_object_get_double(value)));
}

/* Check and add one {"operation": ..., "value": ...} write (at path). */
static int add_native_operation(json_object *writes, const char *name, json_object *write,
                                const char *path, char *error, size_t error_size)
{
    json_object *operation_value = NULL;
    json_object *value = NULL;
    bool has_value = json_object_object_get_ex(write, "value", &value);
    const char *operation;
    int rc;

    json_object_object_get_ex(write, "operation", &operation_value);
    if (!json_object_is_type(operation_value, json_type_string)) {
        snprintf(error, error_size,
                 "%s.operation must be a string (set, setIfNull, inc or dec), got %s", path,
                 ingest_json_type_name(operation_value));
        return -EINVAL;
    }
    operation = json_object_get_string(operation_value);
    if (!is_known_operation(operation)) {
        snprintf(error, error_size,
                 "%s has the unknown operation \"%.*s\"; use set, setIfNull, inc or dec", path,
                 ingest_utf8_clip(operation, 64), operation);
        return -EINVAL;
    }

    json_object_object_foreach(write, key, member) {
        (void)member;
        if (strcmp(key, "operation") != 0 && strcmp(key, "value") != 0) {
            snprintf(error, error_size,
                     "%s has the unknown member \"%.*s\"; an operation has only "
                     "\"operation\" and \"value\" (to store an object with an \"operation\" "
                     "member, wrap it in {\"operation\": \"set\", \"value\": ...})",
                     path, ingest_utf8_clip(key, 64), key);
            return -EINVAL;
        }
    }

    if (!has_value) {
        snprintf(error, error_size, "%s: the operation %s needs a \"value\"", path, operation);
        return -EINVAL;
    }
    if ((strcmp(operation, "inc") == 0 || strcmp(operation, "dec") == 0) && !is_number(value)) {
        snprintf(error, error_size, "%s: the operation %s needs a number as \"value\", got %s",
                 path, operation, ingest_json_type_name(value));
        return -EINVAL;
    }
    rc = check_value(value, path, error, error_size);
    if (rc < 0)
        return rc;
    return add_operation(writes, name, operation, value);
}

typedef enum attribute_source { FROM_TRAITS, FROM_NATIVE } attribute_source;

static bool has_object_value(json_object *object)
{
    json_object_object_foreach(object, name, value) {
        (void)name;
        if (json_object_is_type(value, json_type_object))
            return true;
    }
    return false;
}

/* Check input that has no object values: then every member is already a
 * write in its final form (a value sets, null unsets), so the writes are
 * input itself and need no copy. Same checks and messages, in the same
 * order, as build_writes(). */
static int share_writes(json_object *input, const char *path, json_object **writes,
                        char *error, size_t error_size)
{
    char member_path[PATH_CAPACITY];

    json_object_object_foreach(input, name, value) {
        int rc;

        if (name[0] == '\0') {
            snprintf(error, error_size, "%s has an attribute with an empty name", path);
            return -EINVAL;
        }
        /* Only arrays have rules to check; scalars always pass. */
        if (!json_object_is_type(value, json_type_array))
            continue;
        member_path[0] = '\0';
        ingest_path_append(member_path, sizeof(member_path), "", path);
        ingest_path_append(member_path, sizeof(member_path), ".", name);
        rc = check_value(value, member_path, error, error_size);
        if (rc < 0)
            return rc;
    }
    *writes = json_object_get(input);
    return 0;
}

static int build_writes(const json_object *input, const char *path, attribute_source source,
                        json_object **writes, char *error, size_t error_size)
{
    json_object *object = (json_object *)input;
    json_object *result = NULL;
    char member_path[PATH_CAPACITY];
    int rc = 0;

    *writes = NULL;
    if (json_object_object_length(object) == 0)
        return 0;
    if (!has_object_value(object))
        return share_writes(object, path, writes, error, error_size);
    result = json_object_new_object();
    if (result == NULL)
        return -ENOMEM;

    json_object_object_foreach(object, name, value) {
        if (name[0] == '\0') {
            snprintf(error, error_size, "%s has an attribute with an empty name", path);
            rc = -EINVAL;
            goto out;
        }
        member_path[0] = '\0';
        ingest_path_append(member_path, sizeof(member_path), "", path);
        ingest_path_append(member_path, sizeof(member_path), ".", name);

        if (source == FROM_NATIVE && json_object_is_type(value, json_type_object) &&
            json_object_object_get_ex(value, "operation", NULL)) {
            rc = add_native_operation(result, name, value, member_path, error, error_size);
        } else {
            rc = check_value(value, member_path, error, error_size);
            if (rc == 0)
                rc = add_plain_value(result, name, value);
        }
        if (rc == -ENOMEM)
            snprintf(error, error_size, "out of memory while reading %s", path);
        if (rc < 0)
            goto out;
    }

    *writes = result;
    result = NULL;

out:
    json_object_put(result);
    return rc;
}

int ingest_attributes_from_traits(const json_object *traits, const char *path,
                                  json_object **writes, char *error, size_t error_size)
{
    return build_writes(traits, path, FROM_TRAITS, writes, error, error_size);
}

int ingest_attributes_from_native(const json_object *attributes, const char *path,
                                  json_object **writes, char *error, size_t error_size)
{
    return build_writes(attributes, path, FROM_NATIVE, writes, error, error_size);
}

/* The names of ingest_attributes_name_key(): open addressing with linear
 * probing over a power-of-two table, at most half full. Names are never
 * removed, so their addresses stay valid as json-c keys. */
static struct {
    pthread_mutex_t lock;
    char **slots;
    uint32_t *hashes;
    size_t capacity;
    size_t count;
} name_keys = {.lock = PTHREAD_MUTEX_INITIALIZER};

/* FNV-1a, 32-bit: attribute names are short. */
static uint32_t hash_name(const char *name, size_t length)
{
    uint32_t hash = 2166136261u;

    for (size_t i = 0; i < length; i++) {
        hash ^= (unsigned char)name[i];
        hash *= 16777619u;
    }
    return hash;
}

static size_t find_name_slot(char **slots, const uint32_t *hashes, size_t capacity,
                             const char *name, uint32_t hash)
{
    size_t mask = capacity - 1;

    for (size_t slot = hash & mask;; slot = (slot + 1) & mask) {
        if (slots[slot] == NULL || (hashes[slot] == hash && strcmp(slots[slot], name) == 0))
            return slot;
    }
}

/* Double the table (name_keys.lock held). Returns false when out of memory. */
static bool grow_name_keys(void)
{
    size_t capacity = name_keys.capacity == 0 ? 256 : name_keys.capacity * 2;
    char **slots = calloc(capacity, sizeof(*slots));
    uint32_t *hashes = calloc(capacity, sizeof(*hashes));

    if (slots == NULL || hashes == NULL) {
        free(slots);
        free(hashes);
        return false;
    }
    for (size_t i = 0; i < name_keys.capacity; i++) {
        size_t slot;

        if (name_keys.slots[i] == NULL)
            continue;
        slot = find_name_slot(slots, hashes, capacity, name_keys.slots[i], name_keys.hashes[i]);
        slots[slot] = name_keys.slots[i];
        hashes[slot] = name_keys.hashes[i];
    }
    free(name_keys.slots);
    free(name_keys.hashes);
    name_keys.slots = slots;
    name_keys.hashes = hashes;
    name_keys.capacity = capacity;
    return true;
}

/* Names each thread found lately, by hash, so that most look-ups take no
 * lock: the kept names never move or go away. */
#define NAME_KEY_CACHE_SIZE 256
static _Thread_local const char *name_key_cache[NAME_KEY_CACHE_SIZE];

const char *ingest_attributes_name_key(const char *name)
{
    size_t length = strnlen(name, 256);
    uint32_t hash;
    const char *key = NULL;
    const char **cached;
    size_t slot;

    if (length > 255)
        return NULL;
    hash = hash_name(name, length);
    cached = &name_key_cache[hash % NAME_KEY_CACHE_SIZE];
    if (*cached != NULL && strcmp(*cached, name) == 0)
        return *cached;

    pthread_mutex_lock(&name_keys.lock);
    if ((name_keys.count + 1) * 2 > name_keys.capacity &&
        (name_keys.count >= INGEST_ATTRIBUTES_NAME_KEYS_MAX || !grow_name_keys())) {
        /* Full: only names already kept are found. */
        if (name_keys.capacity > 0) {
            slot = find_name_slot(name_keys.slots, name_keys.hashes, name_keys.capacity, name,
                                  hash);
            key = name_keys.slots[slot];
        }
        goto out;
    }
    slot = find_name_slot(name_keys.slots, name_keys.hashes, name_keys.capacity, name, hash);
    if (name_keys.slots[slot] == NULL) {
        name_keys.slots[slot] = strdup(name);
        if (name_keys.slots[slot] == NULL)
            goto out;
        name_keys.hashes[slot] = hash;
        name_keys.count++;
    }
    key = name_keys.slots[slot];

out:
    pthread_mutex_unlock(&name_keys.lock);
    if (key != NULL)
        *cached = key;
    return key;
}
