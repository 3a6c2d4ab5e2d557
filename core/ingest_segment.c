#include "ingest_segment.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ingest_attributes.h"
#include "ingest_claims.h"
#include "ingest_json.h"
#include "ingest_timestamp.h"

/* Maximum bytes of a client's value quoted in a message. */
#define QUOTE_MAX 64

typedef enum message_type {
    MESSAGE_IDENTIFY,
    MESSAGE_GROUP,
    MESSAGE_TRACK,
    MESSAGE_IGNORED /* page, screen, alias */
} message_type;

static const struct {
    const char *name;
    message_type type;
} message_types[] = {
    {"identify", MESSAGE_IDENTIFY}, {"group", MESSAGE_GROUP},   {"track", MESSAGE_TRACK},
    {"page", MESSAGE_IGNORED},      {"screen", MESSAGE_IGNORED}, {"alias", MESSAGE_IGNORED},
};

static const struct {
    const char *path;
    ingest_segment_endpoint endpoint;
    const char *type_name; /* the one message type it takes, or NULL */
} endpoints[] = {
    {"/v1/identify", INGEST_SEGMENT_IDENTIFY, "identify"},
    {"/v1/group", INGEST_SEGMENT_GROUP, "group"},
    {"/v1/track", INGEST_SEGMENT_TRACK, "track"},
    {"/v1/batch", INGEST_SEGMENT_BATCH, NULL},
};

/* What one message is read with, besides the message itself. */
typedef struct message_context {
    ingest_segment_endpoint endpoint;
    json_object *batch_sent_at; /* the batch's "sentAt", or NULL */
    int64_t received_at_ms;
    char *warning; /* a kept message's dropped part, "" when none */
    size_t warning_size;
} message_context;

int ingest_segment_endpoint_from_path(const char *path, ingest_segment_endpoint *endpoint)
{
    for (size_t i = 0; i < sizeof(endpoints) / sizeof(endpoints[0]); i++) {
        if (strcmp(path, endpoints[i].path) == 0) {
            *endpoint = endpoints[i].endpoint;
            return 0;
        }
    }
    return -ENOENT;
}

static const char *endpoint_path(ingest_segment_endpoint endpoint)
{
    for (size_t i = 0; i < sizeof(endpoints) / sizeof(endpoints[0]); i++) {
        if (endpoints[i].endpoint == endpoint)
            return endpoints[i].path;
    }
    return "/v1/batch";
}

static const char *endpoint_type_name(ingest_segment_endpoint endpoint)
{
    for (size_t i = 0; i < sizeof(endpoints) / sizeof(endpoints[0]); i++) {
        if (endpoints[i].endpoint == endpoint)
            return endpoints[i].type_name;
    }
    return NULL;
}

/* The member name of object, or NULL when absent or JSON null. */
static json_object *member(json_object *object, const char *name)
{
    json_object *value = NULL;

    json_object_object_get_ex(object, name, &value);
    return value;
}

static int read_type(json_object *message, const message_context *context,
                     message_type *type, char *error, size_t error_size)
{
    json_object *value = member(message, "type");
    const char *expected = endpoint_type_name(context->endpoint);
    const char *name;

    if (value == NULL) {
        if (expected == NULL) {
            snprintf(error, error_size,
                     "missing type: each message in a batch needs \"type\" "
                     "(identify, group or track)");
            return -EINVAL;
        }
        name = expected;
    } else if (!json_object_is_type(value, json_type_string)) {
        snprintf(error, error_size, "type must be a string, got %s",
                 ingest_json_type_name(value));
        return -EINVAL;
    } else {
        name = json_object_get_string(value);
    }

    if (expected != NULL && strcmp(name, expected) != 0) {
        snprintf(error, error_size,
                 "type \"%.*s\" does not match the endpoint %s; send it to /v1/batch",
                 ingest_utf8_clip(name, QUOTE_MAX), name, endpoint_path(context->endpoint));
        return -EINVAL;
    }
    for (size_t i = 0; i < sizeof(message_types) / sizeof(message_types[0]); i++) {
        if (strcmp(name, message_types[i].name) == 0) {
            *type = message_types[i].type;
            return 0;
        }
    }
    snprintf(error, error_size,
             "unknown message type \"%.*s\"; wharfd reads identify, group and track, "
             "and ignores page, screen and alias",
             ingest_utf8_clip(name, QUOTE_MAX), name);
    return -EINVAL;
}

/* *object is the member name when it is an object, NULL when absent or
 * null; any other type is an error. */
static int read_object_member(json_object *message, const char *name, json_object **object,
                              char *error, size_t error_size)
{
    json_object *value = member(message, name);

    *object = NULL;
    if (value == NULL)
        return 0;
    if (!json_object_is_type(value, json_type_object)) {
        snprintf(error, error_size, "%s must be an object, got %s", name,
                 ingest_json_type_name(value));
        return -EINVAL;
    }
    *object = value;
    return 0;
}

static int read_user_claims(json_object *message, entity_change *change, char *error,
                            size_t error_size)
{
    int rc;

    rc = ingest_claim_id(member(message, "userId"), "userId", true, &change->user.external_id,
                         error, error_size);
    if (rc < 0)
        return rc;
    rc = ingest_claim_id(member(message, "anonymousId"), "anonymousId", true,
                         &change->user.anonymous_id, error, error_size);
    if (rc < 0)
        return rc;

    if (change->user.external_id == NULL && change->user.anonymous_id == NULL) {
        snprintf(error, error_size,
                 "missing userId or anonymousId: every identify, group and track message "
                 "needs at least one of them");
        return -EINVAL;
    }
    return 0;
}

static int read_identify(json_object *message, entity_change *change, char *error,
                         size_t error_size)
{
    json_object *traits;
    json_object *email;
    int rc;

    change->kind = CHANGE_USER;
    rc = read_object_member(message, "traits", &traits, error, error_size);
    if (rc < 0 || traits == NULL)
        return rc;

    /* The email stays an attribute too: it is what segments and
     * destinations read, while the claim is its normal form for identity. */
    email = member(traits, "email");
    if (email != NULL) {
        if (!json_object_is_type(email, json_type_string)) {
            snprintf(error, error_size, "traits.email must be a string, got %s",
                     ingest_json_type_name(email));
            return -EINVAL;
        }
        rc = ingest_claim_email(json_object_get_string(email), &change->user.email);
        if (rc < 0)
            return rc;
    }

    return ingest_attributes_from_traits(traits, "traits", &change->attributes, error,
                                         error_size);
}

/* Set the account's domain from traits.domain, else from the host of
 * traits.website. A value that is not a domain is left out of the claims
 * with a warning and the message is kept. */
static int read_group_domain(json_object *traits, entity_change *change,
                             const message_context *context)
{
    static const char *const sources[] = {"domain", "website"};
    char why[128];

    for (size_t i = 0; i < sizeof(sources) / sizeof(sources[0]); i++) {
        json_object *value = member(traits, sources[i]);
        const char *text;
        int rc;

        if (!json_object_is_type(value, json_type_string) ||
            json_object_get_string_len(value) == 0)
            continue;
        text = json_object_get_string(value);
        rc = ingest_claim_domain(text, &change->account.domain, why, sizeof(why));
        if (rc == -EINVAL) {
            snprintf(context->warning, context->warning_size,
                     "traits.%s \"%.*s\" is not used as the account's domain: %s", sources[i],
                     ingest_utf8_clip(text, QUOTE_MAX), text, why);
            continue;
        }
        return rc;
    }
    return 0;
}

static int read_group(json_object *message, entity_change *change,
                      const message_context *context, char *error, size_t error_size)
{
    json_object *traits;
    int rc;

    change->kind = CHANGE_ACCOUNT;
    rc = ingest_claim_id(member(message, "groupId"), "groupId", true,
                         &change->account.external_id, error, error_size);
    if (rc < 0)
        return rc;
    if (change->account.external_id == NULL) {
        snprintf(error, error_size,
                 "missing groupId: a group message names the account in \"groupId\"");
        return -EINVAL;
    }

    rc = read_object_member(message, "traits", &traits, error, error_size);
    if (rc < 0 || traits == NULL)
        return rc;
    rc = read_group_domain(traits, change, context);
    if (rc < 0)
        return rc;
    return ingest_attributes_from_traits(traits, "traits", &change->attributes, error,
                                         error_size);
}

/* Parse the date-time in value (named name in messages) into *epoch_ms. */
static int read_time_value(json_object *value, const char *name, int64_t *epoch_ms,
                           char *error, size_t error_size)
{
    const char *text;

    if (!json_object_is_type(value, json_type_string)) {
        snprintf(error, error_size,
                 "%s must be an ISO 8601 date-time string such as "
                 "2024-03-05T14:30:00.000Z, got %s",
                 name, ingest_json_type_name(value));
        return -EINVAL;
    }
    text = json_object_get_string(value);
    if (ingest_timestamp_parse(text, epoch_ms) < 0) {
        snprintf(error, error_size,
                 "%s \"%.*s\" is not an ISO 8601 date-time such as 2024-03-05T14:30:00.000Z",
                 name, ingest_utf8_clip(text, QUOTE_MAX), text);
        return -EINVAL;
    }
    return 0;
}

/* The event's time: the first of the message's "timestamp",
 * "originalTimestamp" (RudderStack), "sentAt", the batch's "sentAt", the
 * message's "receivedAt", and the time the request arrived. The first one
 * present must be valid; later ones are not consulted.
 * NOTE: client clocks are trusted as they are. Segment corrects an event
 * time for clock skew with receivedAt - (sentAt - timestamp); wharfd does
 * not yet. */
static int read_event_time(json_object *message, const message_context *context,
                           int64_t *epoch_ms, char *error, size_t error_size)
{
    static const char *const fields[] = {"timestamp", "originalTimestamp", "sentAt"};
    json_object *value;

    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
        value = member(message, fields[i]);
        if (value != NULL)
            return read_time_value(value, fields[i], epoch_ms, error, error_size);
    }
    if (context->batch_sent_at != NULL)
        return read_time_value(context->batch_sent_at, "the batch's sentAt", epoch_ms, error,
                               error_size);
    value = member(message, "receivedAt");
    if (value != NULL)
        return read_time_value(value, "receivedAt", epoch_ms, error, error_size);

    *epoch_ms = context->received_at_ms;
    return 0;
}

static int read_track(json_object *message, entity_change *change,
                      const message_context *context, char *error, size_t error_size)
{
    json_object *event = member(message, "event");
    json_object *properties;
    int rc;

    change->kind = CHANGE_EVENT;
    if (event != NULL && !json_object_is_type(event, json_type_string)) {
        snprintf(error, error_size, "event must be a string, got %s",
                 ingest_json_type_name(event));
        return -EINVAL;
    }
    if (event == NULL || json_object_get_string_len(event) == 0) {
        snprintf(error, error_size,
                 "missing event: a track message names the event in \"event\"");
        return -EINVAL;
    }
    change->event = strdup(json_object_get_string(event));
    if (change->event == NULL)
        return -ENOMEM;

    rc = read_object_member(message, "properties", &properties, error, error_size);
    if (rc < 0)
        return rc;
    change->properties = json_object_get(properties);

    return read_event_time(message, context, &change->timestamp_ms, error, error_size);
}

/* An upper bound of the length of value's compact JSON text as json-c
 * 0.16 writes it. A string byte takes at most 6 bytes (\u00xx) and an
 * integer at most 20 characters. A parsed number with a fraction is
 * written as the text it was parsed from, which json-c keeps as the
 * object's user data, and a double made in code takes at most 26. */
static size_t compact_length_bound(json_object *value)
{
    size_t bound;

    switch (json_object_get_type(value)) {
    case json_type_null:
        return 4;
    case json_type_boolean:
        return 5;
    case json_type_int:
        return 20;
    case json_type_double: {
        const char *text = json_object_get_userdata(value);

        return text != NULL ? strlen(text) : 32;
    }
    case json_type_string:
        return 2 + 6 * (size_t)json_object_get_string_len(value);
    case json_type_array:
        bound = 2;
        for (size_t i = 0; i < json_object_array_length(value); i++)
            bound += 1 + compact_length_bound(json_object_array_get_idx(value, i));
        return bound;
    case json_type_object:
        bound = 2;
        json_object_object_foreach(value, key, member)
            bound += 4 + 6 * strlen(key) + compact_length_bound(member);
        return bound;
    }
    return 32;
}

static int check_message_size(json_object *message, char *error, size_t error_size)
{
    size_t length = 0;

    /* Writing the text of every message just to measure it cost a seventh
     * of ingest time; the exact length is needed only near the limit. */
    if (compact_length_bound(message) <= INGEST_SEGMENT_MESSAGE_MAX)
        return 0;

    /* Compact text without "\/" escapes is what Segment libraries measure
     * (JSON.stringify in analytics-node). */
    if (json_object_to_json_string_length(
            message, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &length) == NULL)
        return -ENOMEM;
    if (length > INGEST_SEGMENT_MESSAGE_MAX) {
        snprintf(error, error_size,
                 "message exceeds 32 KB (%zu bytes of JSON, the limit is %d bytes); "
                 "send fewer or smaller traits or properties",
                 length, INGEST_SEGMENT_MESSAGE_MAX);
        return -EINVAL;
    }
    return 0;
}

/* Read one message into change (which the caller clears on failure).
 * *ignored is set for the message types that produce no change. */
static int read_message(json_object *message, const message_context *context,
                        bool checked, entity_change *change, bool *ignored, char *error,
                        size_t error_size)
{
    message_type type;
    int rc;

    *ignored = false;
    if (!json_object_is_type(message, json_type_object)) {
        snprintf(error, error_size, "message must be an object, got %s",
                 ingest_json_type_name(message));
        return -EINVAL;
    }
    /* checked: the message's text passed message_text_acceptable(). */
    if (!checked) {
        rc = check_message_size(message, error, error_size);
        if (rc < 0)
            return rc;
        rc = ingest_json_check_values(message, "", error, error_size);
        if (rc < 0)
            return rc;
    }

    rc = read_type(message, context, &type, error, error_size);
    if (rc < 0)
        return rc;
    if (type == MESSAGE_IGNORED) {
        *ignored = true;
        return 0;
    }

    rc = ingest_claim_id(member(message, "messageId"), "messageId", true, &change->message_id,
                         error, error_size);
    if (rc < 0)
        return rc;
    rc = read_user_claims(message, change, error, error_size);
    if (rc < 0)
        return rc;

    switch (type) {
    case MESSAGE_IDENTIFY:
        return read_identify(message, change, error, error_size);
    case MESSAGE_GROUP:
        return read_group(message, change, context, error, error_size);
    case MESSAGE_TRACK:
        return read_track(message, change, context, error, error_size);
    case MESSAGE_IGNORED:
        break;
    }
    return 0;
}

/* The messageId of a message to show next to its error, or NULL. */
static const char *shown_message_id(json_object *message)
{
    json_object *value;
    const char *text;

    if (!json_object_is_type(message, json_type_object))
        return NULL;
    value = member(message, "messageId");
    if (!json_object_is_type(value, json_type_string))
        return NULL;
    text = json_object_get_string(value);
    if ((size_t)json_object_get_string_len(value) != strlen(text))
        return NULL; /* contains a NUL character */
    return text;
}

/* Read one message and add its change to result. Returns 0 when the
 * message was kept, ignored or rejected (then recorded in result), or
 * -ENOMEM. */
/* Whether the text of a message, as the filtered parse read it (so in its
 * subset of JSON: no \u escape, no control character, finite numbers),
 * passes the checks of check_message_size() and
 * ingest_json_check_values(). Compact JSON text is never longer than that
 * subset's text, and outside strings the text is ASCII, so valid UTF-8
 * text means valid UTF-8 strings and keys. */
static bool message_text_acceptable(const char *text, size_t length)
{
    return length <= INGEST_SEGMENT_MESSAGE_MAX && ingest_utf8_valid(text, length, NULL);
}

/* Read one message and add its change to result. When text (the
 * message's text in the body) is given, message may lack the members that
 * read_message() never reads. A message whose text fails the checks is
 * then parsed again from text, whole, so that the checks report as before.
 * Returns 0 when the message was kept, ignored or rejected (then recorded
 * in result), or -ENOMEM. */
static int add_message(json_object *message, size_t index, const message_context *context,
                       const char *text, size_t text_length, ingest_result *result)
{
    entity_change change = {0};
    json_object *whole = NULL;
    char error[512];
    bool ignored;
    int rc;

    context->warning[0] = '\0';
    if (text != NULL && !message_text_acceptable(text, text_length)) {
        rc = ingest_json_parse(text, text_length, &whole, error, sizeof(error));
        if (rc < 0)
            return -ENOMEM;
        message = whole;
    }
    rc = read_message(message, context, text != NULL && whole == NULL, &change, &ignored,
                      error, sizeof(error));
    if (rc == -EINVAL) {
        entity_change_clear(&change);
        rc = ingest_result_reject(result, index, shown_message_id(message), error);
        json_object_put(whole);
        return rc;
    }
    json_object_put(whole);
    if (rc < 0)
        goto fail;
    if (ignored) {
        result->ignored_count++;
        return 0;
    }
    if (context->warning[0] != '\0' && ingest_result_warn(result, index, context->warning) < 0)
        goto fail;
    if (ingest_result_add_change(result, index, &change) < 0)
        goto fail;
    return 0;

fail:
    entity_change_clear(&change);
    return -ENOMEM;
}

/* The text of each message of "batch" in the body. */
typedef struct batch_texts {
    struct {
        const char *text;
        size_t length;
    } *items;
    size_t count;
    size_t capacity;
    bool failed; /* out of memory */
} batch_texts;

/* The entry of names equal to key, or NULL. */
static const char *find_name(const char *const *names, size_t count, const char *key)
{
    for (size_t i = 0; i < count; i++) {
        if (strcmp(key, names[i]) == 0)
            return names[i];
    }
    return NULL;
}

/* ingest_json_filter.keep: build only what reading a batch reads. The
 * other members of the root object are never read, and the other members
 * of a message (context, integrations, ...) are only checked, which its
 * text can show without a tree (message_text_acceptable()). Keys are
 * strings that outlive the document where possible: the names below, and
 * for traits and properties the attribute names that ingest keeps. */
static const char *keep_batch_member(void *data, int depth, const char *key)
{
    static const char *const root_members[] = {"batch", "sentAt", "writeKey"};
    static const char *const message_members[] = {
        "type",      "messageId",         "userId", "anonymousId", "traits",    "groupId",
        "event",     "properties",        "timestamp", "originalTimestamp", "sentAt",
        "receivedAt",
    };
    const char *name_key;

    (void)data;
    switch (depth) {
    case 1:
        return find_name(root_members, sizeof(root_members) / sizeof(root_members[0]), key);
    case 3:
        return find_name(message_members, sizeof(message_members) / sizeof(message_members[0]),
                         key);
    case 4:
        name_key = ingest_attributes_name_key(key);
        return name_key != NULL ? name_key : key;
    default:
        return key;
    }
}

/* ingest_json_filter.element for the arrays in the root object. */
static void note_message_text(void *data, const char *member, size_t index, const char *text,
                              size_t length)
{
    batch_texts *texts = data;

    if (member == NULL || strcmp(member, "batch") != 0 || texts->failed)
        return;
    /* A repeated "batch" replaces the earlier one, in json-c as here. */
    if (index == 0)
        texts->count = 0;
    if (texts->count == texts->capacity) {
        size_t capacity = texts->capacity == 0 ? 512 : texts->capacity * 2;
        void *grown = realloc(texts->items, capacity * sizeof(texts->items[0]));

        if (grown == NULL) {
            texts->failed = true;
            return;
        }
        texts->items = grown;
        texts->capacity = capacity;
    }
    texts->items[texts->count].text = text;
    texts->items[texts->count].length = length;
    texts->count++;
}

/* Whether texts contains the text of each message of root's "batch" (or
 * "batch" is no array, and reading it fails before any text is used). */
static bool has_every_text(json_object *root, const batch_texts *texts)
{
    json_object *batch = member(root, "batch");

    return !json_object_is_type(batch, json_type_array) ||
           json_object_array_length(batch) == texts->count;
}

static int read_batch(json_object *root, message_context *context, const batch_texts *texts,
                      ingest_result *result, char *error, size_t error_size)
{
    json_object *batch = member(root, "batch");
    size_t count;

    if (batch == NULL) {
        snprintf(error, error_size,
                 "missing \"batch\": send {\"batch\": [messages]} to /v1/batch");
        return -EINVAL;
    }
    if (!json_object_is_type(batch, json_type_array)) {
        snprintf(error, error_size, "\"batch\" must be an array of messages, got %s",
                 ingest_json_type_name(batch));
        return -EINVAL;
    }
    context->batch_sent_at = member(root, "sentAt");

    count = json_object_array_length(batch);
    result->input_count = count;

    for (size_t i = 0; i < count; i++) {
        json_object *message = json_object_array_get_idx(batch, i);
        int rc;

        if (i >= INGEST_SEGMENT_BATCH_MESSAGES_MAX) {
            char limit_error[128];

            snprintf(limit_error, sizeof(limit_error),
                     "the batch holds more than %d messages, the limit per request; "
                     "send the rest in another batch",
                     INGEST_SEGMENT_BATCH_MESSAGES_MAX);
            rc = ingest_result_reject(result, i, shown_message_id(message), limit_error);
        } else if (texts != NULL) {
            rc = add_message(message, i, context, texts->items[i].text, texts->items[i].length,
                             result);
        } else {
            rc = add_message(message, i, context, NULL, 0, result);
        }
        if (rc < 0) {
            snprintf(error, error_size, "out of memory while reading message %zu", i);
            return rc;
        }
    }
    return 0;
}

static int read_single(json_object *root, message_context *context, ingest_result *result,
                       char *error, size_t error_size)
{
    entity_change change = {0};
    bool ignored;
    int rc;

    result->input_count = 1;
    rc = read_message(root, context, false, &change, &ignored, error, error_size);
    if (rc == 0 && context->warning[0] != '\0')
        rc = ingest_result_warn(result, 0, context->warning);
    if (rc == 0)
        rc = ingest_result_add_change(result, 0, &change);
    if (rc == -ENOMEM)
        snprintf(error, error_size, "out of memory while reading the message");
    entity_change_clear(&change);
    return rc;
}

int ingest_segment_parse(const char *body, size_t size, ingest_segment_endpoint endpoint,
                         int64_t received_at_ms, ingest_result *result, char *error,
                         size_t error_size)
{
    json_object *root = NULL;
    json_object *write_key;
    batch_texts texts = {0};
    bool filtered = false;
    char warning[256];
    message_context context = {
        .endpoint = endpoint,
        .received_at_ms = received_at_ms,
        .warning = warning,
        .warning_size = sizeof(warning),
    };
    int rc;

    warning[0] = '\0';
    rc = ingest_result_prepare(result);
    if (rc < 0) {
        snprintf(error, error_size, "out of memory");
        return rc;
    }
    if (size > INGEST_SEGMENT_BODY_MAX) {
        snprintf(error, error_size,
                 "request body exceeds 500 KB (%zu bytes, the limit is %d bytes); "
                 "send fewer messages per batch",
                 size, INGEST_SEGMENT_BODY_MAX);
        return -E2BIG;
    }

    if (endpoint == INGEST_SEGMENT_BATCH) {
        ingest_json_filter filter = {
            .keep = keep_batch_member,
            .element = note_message_text,
            .element_depth = 2,
            .data = &texts,
        };

        rc = ingest_json_parse_filtered(body, size, &filter, &root, error, error_size);
        filtered = rc == 1 && !texts.failed && has_every_text(root, &texts);
        /* Without the text of every message, read the whole tree. */
        if (rc == 1 && !filtered) {
            json_object_put(root);
            root = NULL;
            rc = ingest_json_parse(body, size, &root, error, error_size);
        }
    } else {
        rc = ingest_json_parse(body, size, &root, error, error_size);
    }
    if (rc < 0)
        goto out;
    rc = 0;
    if (!json_object_is_type(root, json_type_object)) {
        snprintf(error, error_size, "request body must be a JSON object, got %s",
                 ingest_json_type_name(root));
        rc = -EINVAL;
        goto out;
    }

    /* Read before anything else can fail, so that the caller can tell an
     * unauthenticated request (401) from a bad one (400). */
    write_key = member(root, "writeKey");
    if (json_object_is_type(write_key, json_type_string)) {
        result->write_key = strdup(json_object_get_string(write_key));
        if (result->write_key == NULL) {
            snprintf(error, error_size, "out of memory");
            rc = -ENOMEM;
            goto out;
        }
    }

    if (endpoint == INGEST_SEGMENT_BATCH)
        rc = read_batch(root, &context, filtered ? &texts : NULL, result, error, error_size);
    else
        rc = read_single(root, &context, result, error, error_size);

out:
    if (rc < 0)
        ingest_utf8_cut_invalid(error);
    json_object_put(root);
    free(texts.items);
    return rc;
}

/* Add key: value to object, taking over the reference to value. */
static bool add_owned(json_object *object, const char *key, json_object *value)
{
    if (value == NULL || json_object_object_add(object, key, value) < 0) {
        json_object_put(value);
        return false;
    }
    return true;
}

json_object *ingest_segment_response(const ingest_result *result, int *status)
{
    json_object *response = json_object_new_object();
    size_t rejected = ingest_result_rejected_count(result);
    bool all_rejected = result->input_count > 0 && rejected == result->input_count;

    *status = all_rejected ? 400 : 200;
    if (response == NULL)
        return NULL;
    if (!add_owned(response, "success", json_object_new_boolean(!all_rejected)))
        goto fail;
    if (all_rejected &&
        !add_owned(response, "error",
                   json_object_new_string("every message in the batch was rejected; "
                                          "\"rejected\" gives the reason for each")))
        goto fail;
    if (rejected > 0 && !add_owned(response, "rejected", json_object_get(result->rejected)))
        goto fail;
    if (json_object_array_length(result->warnings) > 0 &&
        !add_owned(response, "warnings", json_object_get(result->warnings)))
        goto fail;
    return response;

fail:
    json_object_put(response);
    return NULL;
}

json_object *ingest_segment_error_response(const char *message)
{
    json_object *response = json_object_new_object();

    if (response == NULL)
        return NULL;
    if (!add_owned(response, "success", json_object_new_boolean(false)) ||
        !add_owned(response, "error", json_object_new_string(message))) {
        json_object_put(response);
        return NULL;
    }
    return response;
}
