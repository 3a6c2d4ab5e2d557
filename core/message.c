#include "message.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "ids.h"
#include "log.h"
#include "segments.h"
#include "service.h"

/* Random bytes for message ids, drawn from getrandom(2) a block at a time:
 * a manual batch makes one id per message, and one system call per id was
 * a measurable part of building a message. */
#define RANDOM_BLOCK_SIZE 4096
#define MESSAGE_ID_BYTES 16

static _Thread_local uint8_t random_block[RANDOM_BLOCK_SIZE];
static _Thread_local size_t random_used = RANDOM_BLOCK_SIZE;

static void refill_random(void)
{
    size_t filled = 0;

    while (filled < sizeof(random_block)) {
        ssize_t got = getrandom(random_block + filled, sizeof(random_block) - filled, 0);

        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0) {
            /* As in id_generate(): without random bytes ids would repeat. */
            log_error("getrandom failed: %s", strerror(errno));
            abort();
        }
        filled += (size_t)got;
    }
    random_used = 0;
}

/* A random UUID (version 4) in the form id_generate() writes. */
static void message_id_generate(char id[ID_TEXT_SIZE])
{
    uint8_t *bytes;

    if (random_used + MESSAGE_ID_BYTES > RANDOM_BLOCK_SIZE)
        refill_random();
    bytes = random_block + random_used;
    random_used += MESSAGE_ID_BYTES;

    /* RFC 9562: version 4, variant 10. */
    bytes[6] = (uint8_t)((bytes[6] & 0x0f) | 0x40);
    bytes[8] = (uint8_t)((bytes[8] & 0x3f) | 0x80);
    id_format(bytes, id);
}

/* Add a member whose key is a string literal: json-c then neither copies
 * the key nor looks for an existing one. */
static void put(json_object *object, const char *literal_key, json_object *value)
{
    json_object_object_add_ex(object, literal_key, value,
                              JSON_C_OBJECT_ADD_KEY_IS_NEW | JSON_C_OBJECT_ADD_CONSTANT_KEY);
}

static json_object *string_or_null(const char *text)
{
    return text != NULL ? json_object_new_string(text) : NULL;
}

static json_object *segment_ref(const char *id, const char *name)
{
    json_object *ref = json_object_new_object();

    put(ref, "id", json_object_new_string(id));
    put(ref, "name", string_or_null(name));
    return ref;
}

/* The segments the entity is in, as [{"id", "name"}]. */
static json_object *segment_refs_of(entities *e, store_entity_kind kind, uint32_t index)
{
    segment_type type = kind == STORE_USERS ? SEGMENT_USERS : SEGMENT_ACCOUNTS;
    json_object *refs = json_object_new_array();

    for (segment *s = segment_first(e->segments); s != NULL; s = s->next) {
        if (!s->deleted && s->type == type && segment_has_member(s, index))
            json_object_array_add(refs, segment_ref(s->id, s->name));
    }
    return refs;
}

/* The entity part of a message: claims, id and attributes. */
static json_object *entity_object(entities *e, store_entity_kind kind, uint32_t index)
{
    entity_set *set = entities_set(e, kind);
    entity_record *record = entity_at(set, index);
    json_object *object = json_object_new_object();
    /* json-c allocates the initial size at once; 0 would be malloc(0). */
    json_object *anonymous =
        json_object_new_array_ext(record->anonymous_count > 0 ? (int)record->anonymous_count : 1);

    for (uint32_t i = 0; i < record->anonymous_count; i++)
        json_object_array_add(anonymous, json_object_new_string(record->anonymous_ids[i]));
    put(object, "external_id", string_or_null(record->external_id));
    put(object, kind == STORE_USERS ? "email" : "domain", string_or_null(record->key_claim));
    put(object, "anonymous_ids", anonymous);
    put(object, "id", json_object_new_string(record->id));
    put(object, "attributes", attr_table_to_json(set->attributes, index));
    return object;
}

static json_object *changes_object(entities *e, store_entity_kind kind, uint32_t index,
                                   const entity_update *update)
{
    json_object *changes = json_object_new_object();
    json_object *segments = json_object_new_object();
    json_object *account = json_object_new_object();

    put(changes, "attributes", entities_update_attributes(e, update));
    put(segments, "entered", segment_set_refs_from_ids(e->segments, update->segments_entered));
    put(segments, "left", segment_set_refs_from_ids(e->segments, update->segments_left));
    put(changes, "segments", segments);
    if (kind == STORE_USERS && update->account_changed) {
        uint32_t current = entity_at(&e->users, index)->account;
        json_object *pair = json_object_new_array_ext(2);

        json_object_array_add(pair, string_or_null(update->previous_account_id));
        json_object_array_add(pair, current != ATTR_NO_ENTITY
                                        ? json_object_new_string(entity_at(&e->accounts, current)->id)
                                        : NULL);
        put(account, "id", pair);
    }
    put(changes, "account", account);
    put(changes, "is_new", json_object_new_boolean(update->is_new));
    return changes;
}

json_object *message_build(entities *e, store_entity_kind kind, uint32_t index,
                           const entity_update *update)
{
    json_object *message = json_object_new_object();
    char message_id[ID_TEXT_SIZE];

    message_id_generate(message_id);
    put(message, "type", json_object_new_string(kind == STORE_USERS ? "user" : "account"));
    put(message, "message_id", json_object_new_string(message_id));

    if (kind == STORE_USERS) {
        uint32_t account = entity_at(&e->users, index)->account;

        put(message, "user", entity_object(e, STORE_USERS, index));
        put(message, "account",
            account != ATTR_NO_ENTITY ? entity_object(e, STORE_ACCOUNTS, account) : NULL);
        put(message, "segments", segment_refs_of(e, STORE_USERS, index));
        put(message, "account_segments", account != ATTR_NO_ENTITY
                                             ? segment_refs_of(e, STORE_ACCOUNTS, account)
                                             : json_object_new_array());
    } else {
        put(message, "account", entity_object(e, STORE_ACCOUNTS, index));
        put(message, "account_segments", segment_refs_of(e, STORE_ACCOUNTS, index));
    }

    if (update != NULL) {
        put(message, "changes", changes_object(e, kind, index, update));
        if (kind == STORE_USERS)
            put(message, "events", json_object_get(update->events));
    }
    put(message, "is_export", json_object_new_boolean(update == NULL));
    return message;
}

static int text_reserve(message_text *text, size_t more)
{
    size_t capacity = text->capacity < 128 ? 128 : text->capacity;
    char *grown;

    if (text->failed)
        return -1;
    if (text->length + more + 1 <= text->capacity)
        return 0;
    while (capacity < text->length + more + 1)
        capacity *= 2;
    grown = realloc(text->data, capacity);
    if (grown == NULL) {
        text->failed = 1;
        return -1;
    }
    text->data = grown;
    text->capacity = capacity;
    return 0;
}

void message_text_append(message_text *text, const char *bytes, size_t length)
{
    if (text_reserve(text, length) != 0)
        return;
    memcpy(text->data + text->length, bytes, length);
    text->length += length;
    text->data[text->length] = '\0';
}

void message_text_append_literal(message_text *text, const char *literal)
{
    message_text_append(text, literal, strlen(literal));
}

/* The escapes json-c 0.16 writes with JSON_C_TO_STRING_NOSLASHESCAPE, so
 * that stored text reads the same as before: two-character forms for
 * backspace, form feed, newline, carriage return, tab, quote and
 * backslash, \u00xx for other control characters, other bytes as they are. */
void message_text_append_string(message_text *text, const char *value)
{
    static const char hex[] = "0123456789abcdef";
    size_t length;
    size_t run = 0;
    char *out;

    if (value == NULL) {
        message_text_append(text, "null", 4);
        return;
    }
    length = strlen(value);
    /* At most 6 bytes per input byte, plus the quotes. */
    if (text_reserve(text, length * 6 + 2) != 0)
        return;
    out = text->data + text->length;
    *out++ = '"';
    for (size_t i = 0; i < length; i++) {
        unsigned char c = (unsigned char)value[i];

        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        memcpy(out, value + run, i - run);
        out += i - run;
        run = i + 1;
        *out++ = '\\';
        switch (c) {
        case '\b': *out++ = 'b'; break;
        case '\f': *out++ = 'f'; break;
        case '\n': *out++ = 'n'; break;
        case '\r': *out++ = 'r'; break;
        case '\t': *out++ = 't'; break;
        case '"': *out++ = '"'; break;
        case '\\': *out++ = '\\'; break;
        default:
            *out++ = 'u';
            *out++ = '0';
            *out++ = '0';
            *out++ = hex[c >> 4];
            *out++ = hex[c & 0xf];
            break;
        }
    }
    memcpy(out, value + run, length - run);
    out += length - run;
    *out++ = '"';
    *out = '\0';
    text->length = (size_t)(out - text->data);
}

void message_text_append_integer(message_text *text, int64_t value)
{
    char digits[24];
    char *end = digits + sizeof(digits);
    char *at = end;
    /* The magnitude as unsigned, where that of INT64_MIN fits too. */
    uint64_t magnitude = value < 0 ? (uint64_t)0 - (uint64_t)value : (uint64_t)value;

    do {
        *--at = (char)('0' + magnitude % 10);
        magnitude /= 10;
    } while (magnitude > 0);
    if (value < 0)
        *--at = '-';
    message_text_append(text, at, (size_t)(end - at));
}

char *message_text_finish(message_text *text)
{
    char *data;

    if (text->failed || text_reserve(text, 0) != 0) {
        free(text->data);
        memset(text, 0, sizeof(*text));
        return NULL;
    }
    data = text->data;
    data[text->length] = '\0';
    memset(text, 0, sizeof(*text));
    return data;
}

/* Append the members of message_text_append_claims(), without the braces. */
static void append_claim_members(message_text *text, entities *e, store_entity_kind kind,
                                 uint32_t index)
{
    entity_record *record = entity_at(entities_set(e, kind), index);

    message_text_append_literal(text, "\"external_id\":");
    message_text_append_string(text, record->external_id);
    message_text_append_literal(text, kind == STORE_USERS ? ",\"email\":" : ",\"domain\":");
    message_text_append_string(text, record->key_claim);
    message_text_append_literal(text, ",\"anonymous_ids\":[");
    for (uint32_t i = 0; i < record->anonymous_count; i++) {
        if (i > 0)
            message_text_append(text, ",", 1);
        message_text_append_string(text, record->anonymous_ids[i]);
    }
    message_text_append(text, "]", 1);
}

void message_text_append_claims(message_text *text, entities *e, store_entity_kind kind,
                                uint32_t index)
{
    message_text_append(text, "{", 1);
    append_claim_members(text, e, kind, index);
    message_text_append(text, "}", 1);
}

/* Scratch for attr_table_json_text(), which writes from the start of its
 * buffer. Loop thread only, like message_build_text(). */
static char *attributes_scratch;
static size_t attributes_scratch_capacity;
/* Length of the last text message_build_text() returned. */
static size_t last_text_length;

static void append_json_value(message_text *text, json_object *value)
{
    size_t length = 0;
    const char *json = json_object_to_json_string_length(
        value, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &length);

    if (json == NULL) {
        text->failed = 1;
        return;
    }
    message_text_append(text, json, length);
}

static void append_segment_ref(message_text *text, const char *id, const char *name)
{
    message_text_append_literal(text, "{\"id\":");
    message_text_append_string(text, id);
    message_text_append_literal(text, ",\"name\":");
    message_text_append_string(text, name);
    message_text_append(text, "}", 1);
}

/* Append the text of segment_refs_of(). */
static void append_segment_refs(message_text *text, entities *e, store_entity_kind kind,
                                uint32_t index)
{
    segment_type type = kind == STORE_USERS ? SEGMENT_USERS : SEGMENT_ACCOUNTS;
    int first = 1;

    message_text_append(text, "[", 1);
    for (segment *s = segment_first(e->segments); s != NULL; s = s->next) {
        if (s->deleted || s->type != type || !segment_has_member(s, index))
            continue;
        if (!first)
            message_text_append(text, ",", 1);
        first = 0;
        append_segment_ref(text, s->id, s->name);
    }
    message_text_append(text, "]", 1);
}

/* Append the text of segment_set_refs_from_ids(). ids is a JSON array of
 * segment ids, and a segment deleted since gets a null name. */
static void append_segment_refs_from_ids(message_text *text, entities *e, json_object *ids)
{
    size_t count = json_object_array_length(ids);

    message_text_append(text, "[", 1);
    for (size_t i = 0; i < count; i++) {
        const char *id = json_object_get_string(json_object_array_get_idx(ids, i));
        segment *s = segment_find(e->segments, id);

        if (i > 0)
            message_text_append(text, ",", 1);
        append_segment_ref(text, id, s != NULL ? s->name : NULL);
    }
    message_text_append(text, "]", 1);
}

/* Append the text of entity_object(). */
static void append_entity(message_text *text, entities *e, store_entity_kind kind,
                          uint32_t index)
{
    entity_set *set = entities_set(e, kind);
    entity_record *record = entity_at(set, index);
    long length;

    message_text_append(text, "{", 1);
    append_claim_members(text, e, kind, index);
    message_text_append_literal(text, ",\"id\":");
    message_text_append_string(text, record->id);
    message_text_append_literal(text, ",\"attributes\":");
    length = attr_table_json_text(set->attributes, index, &attributes_scratch,
                                  &attributes_scratch_capacity);
    if (length == -EINVAL)
        message_text_append_literal(text, "null"); /* as attr_table_to_json() */
    else if (length < 0)
        text->failed = 1;
    else
        message_text_append(text, attributes_scratch, (size_t)length);
    message_text_append(text, "}", 1);
}

/* Append the text of changes_object(). */
static void append_changes(message_text *text, entities *e, store_entity_kind kind,
                           uint32_t index, const entity_update *update)
{
    json_object *attributes = entities_update_attributes(e, update);

    if (attributes == NULL) {
        text->failed = 1;
        return;
    }
    message_text_append_literal(text, "{\"attributes\":");
    append_json_value(text, attributes);
    json_object_put(attributes);
    message_text_append_literal(text, ",\"segments\":{\"entered\":");
    append_segment_refs_from_ids(text, e, update->segments_entered);
    message_text_append_literal(text, ",\"left\":");
    append_segment_refs_from_ids(text, e, update->segments_left);
    message_text_append_literal(text, "},\"account\":{");
    if (kind == STORE_USERS && update->account_changed) {
        uint32_t current = entity_at(&e->users, index)->account;

        message_text_append_literal(text, "\"id\":[");
        message_text_append_string(text, update->previous_account_id);
        message_text_append(text, ",", 1);
        message_text_append_string(text, current != ATTR_NO_ENTITY
                                             ? entity_at(&e->accounts, current)->id
                                             : NULL);
        message_text_append(text, "]", 1);
    }
    message_text_append_literal(text, "},\"is_new\":");
    message_text_append_literal(text, update->is_new ? "true" : "false");
    message_text_append(text, "}", 1);
}

int message_text_terminate(message_text *text)
{
    if (text->failed || text_reserve(text, 0) != 0)
        return -ENOMEM;
    text->data[text->length] = '\0';
    return 0;
}

char *message_build_text(entities *e, store_entity_kind kind, uint32_t index,
                         const entity_update *update, size_t *length)
{
    message_text text = {0};

    /* Messages of one batch have about the same size, so the last one's
     * size spares this one the reallocations of growing from empty. */
    text_reserve(&text, last_text_length + last_text_length / 4);
    if (message_write_text(&text, e, kind, index, update) != 0) {
        free(text.data);
        *length = 0;
        return NULL;
    }
    *length = text.length;
    return text.data;
}

int message_write_text(message_text *text_out, entities *e, store_entity_kind kind,
                       uint32_t index, const entity_update *update)
{
    message_text text = *text_out;
    char message_id[ID_TEXT_SIZE];
    int rc;

    text.length = 0;
    text.failed = 0;
    message_id_generate(message_id);
    message_text_append_literal(&text, kind == STORE_USERS ? "{\"type\":\"user\",\"message_id\":"
                                                           : "{\"type\":\"account\",\"message_id\":");
    message_text_append_string(&text, message_id);

    if (kind == STORE_USERS) {
        uint32_t account = entity_at(&e->users, index)->account;

        message_text_append_literal(&text, ",\"user\":");
        append_entity(&text, e, STORE_USERS, index);
        message_text_append_literal(&text, ",\"account\":");
        if (account != ATTR_NO_ENTITY)
            append_entity(&text, e, STORE_ACCOUNTS, account);
        else
            message_text_append_literal(&text, "null");
        message_text_append_literal(&text, ",\"segments\":");
        append_segment_refs(&text, e, STORE_USERS, index);
        message_text_append_literal(&text, ",\"account_segments\":");
        if (account != ATTR_NO_ENTITY)
            append_segment_refs(&text, e, STORE_ACCOUNTS, account);
        else
            message_text_append_literal(&text, "[]");
    } else {
        message_text_append_literal(&text, ",\"account\":");
        append_entity(&text, e, STORE_ACCOUNTS, index);
        message_text_append_literal(&text, ",\"account_segments\":");
        append_segment_refs(&text, e, STORE_ACCOUNTS, index);
    }

    if (update != NULL) {
        message_text_append_literal(&text, ",\"changes\":");
        append_changes(&text, e, kind, index, update);
        if (kind == STORE_USERS) {
            message_text_append_literal(&text, ",\"events\":");
            append_json_value(&text, update->events);
        }
    }
    message_text_append_literal(&text, update == NULL ? ",\"is_export\":true}"
                                                      : ",\"is_export\":false}");

    rc = message_text_terminate(&text);
    if (rc == 0)
        last_text_length = text.length;
    *text_out = text;
    return rc;
}
