/* Unit tests of the Segment Tracking API parser and the helpers it reads
 * messages with (timestamps, domains, UTF-8 checks). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ingest_claims.h"
#include "ingest_json.h"
#include "ingest_segment.h"
#include "ingest_timestamp.h"

/* 2024-03-05T14:30:00Z, the arrival time passed to the parser. */
#define RECEIVED_AT_MS INT64_C(1709649000000)

static char error[1024];

static int parse_endpoint(const char *body, ingest_segment_endpoint endpoint,
                          ingest_result *result)
{
    error[0] = '\0';
    return ingest_segment_parse(body, strlen(body), endpoint, RECEIVED_AT_MS, result, error,
                                sizeof(error));
}

static int parse_batch(const char *body, ingest_result *result)
{
    return parse_endpoint(body, INGEST_SEGMENT_BATCH, result);
}

/* Parse a batch of exactly one message and assert that it is rejected
 * with an error containing expected. */
static void assert_message_rejected(const char *message, const char *expected)
{
    ingest_result result = {0};
    char *body;
    const char *reason;
    json_object *item;
    json_object *value;

    assert_true(asprintf(&body, "{\"batch\": [%s]}", message) > 0);
    assert_int_equal(parse_batch(body, &result), 0);
    if (result.count != 0)
        fail_msg("message %s was accepted; expected an error containing \"%s\"", message,
                 expected);
    assert_int_equal(ingest_result_rejected_count(&result), 1);
    item = json_object_array_get_idx(result.rejected, 0);
    assert_true(json_object_object_get_ex(item, "index", &value));
    assert_int_equal(json_object_get_int(value), 0);
    assert_true(json_object_object_get_ex(item, "error", &value));
    reason = json_object_get_string(value);
    if (strstr(reason, expected) == NULL)
        fail_msg("message %s: error \"%s\" does not contain \"%s\"", message, reason, expected);
    ingest_result_clear(&result);
    free(body);
}

static const char *object_string(json_object *object, const char *key)
{
    json_object *value;

    if (!json_object_object_get_ex(object, key, &value))
        return NULL;
    return json_object_get_string(value);
}

static void identify_maps_claims_and_traits(void **state)
{
    ingest_result result = {0};
    entity_change *change;
    json_object *address;
    json_object *value;

    (void)state;
    assert_int_equal(parse_endpoint("{\"userId\": \"u-1\", \"anonymousId\": \"anon-1\", "
                                    "\"messageId\": \"m-1\", \"traits\": {"
                                    "\"email\": \" Jane.Doe@Example.COM \", \"name\": \"Jane\", "
                                    "\"logins\": 3, \"tags\": [\"a\", 1, true, null], "
                                    "\"plan\": null, \"address\": {\"city\": \"Lyon\"}}}",
                                    INGEST_SEGMENT_IDENTIFY, &result),
                     0);
    assert_int_equal(result.count, 1);
    assert_int_equal(result.input_count, 1);
    change = &result.changes[0];
    assert_int_equal(change->kind, CHANGE_USER);
    assert_string_equal(change->user.external_id, "u-1");
    assert_string_equal(change->user.anonymous_id, "anon-1");
    assert_string_equal(change->user.email, "jane.doe@example.com");
    assert_null(change->user.domain);
    assert_string_equal(change->message_id, "m-1");
    assert_null(change->account.external_id);

    /* Every trait is an attribute write; email keeps its original text. */
    assert_int_equal(json_object_object_length(change->attributes), 6);
    assert_string_equal(object_string(change->attributes, "email"), " Jane.Doe@Example.COM ");
    assert_string_equal(object_string(change->attributes, "name"), "Jane");
    assert_true(json_object_object_get_ex(change->attributes, "logins", &value));
    assert_int_equal(json_object_get_int(value), 3);
    assert_true(json_object_object_get_ex(change->attributes, "tags", &value));
    assert_int_equal(json_object_array_length(value), 4);
    assert_true(json_object_object_get_ex(change->attributes, "plan", &value));
    assert_null(value);

    /* A nested object is wrapped so that it cannot read as an operation. */
    assert_true(json_object_object_get_ex(change->attributes, "address", &address));
    assert_string_equal(object_string(address, "operation"), "set");
    assert_true(json_object_object_get_ex(address, "value", &value));
    assert_string_equal(object_string(value, "city"), "Lyon");

    assert_int_equal(ingest_result_rejected_count(&result), 0);
    ingest_result_clear(&result);
}

static void identify_without_traits(void **state)
{
    ingest_result result = {0};

    (void)state;
    assert_int_equal(parse_endpoint("{\"anonymousId\": \"anon-2\"}", INGEST_SEGMENT_IDENTIFY,
                                    &result),
                     0);
    assert_int_equal(result.count, 1);
    assert_null(result.changes[0].attributes);
    assert_null(result.changes[0].user.external_id);
    assert_string_equal(result.changes[0].user.anonymous_id, "anon-2");
    ingest_result_clear(&result);
}

static void numeric_ids_become_decimal_text(void **state)
{
    ingest_result result = {0};

    (void)state;
    assert_int_equal(parse_batch("{\"batch\": ["
                                 "{\"type\": \"identify\", \"userId\": 42},"
                                 "{\"type\": \"group\", \"anonymousId\": -7, "
                                 "\"groupId\": 18446744073709551615},"
                                 "{\"type\": \"track\", \"userId\": 0, \"event\": \"E\", "
                                 "\"messageId\": 9007199254740993}]}",
                                 &result),
                     0);
    assert_int_equal(result.count, 3);
    assert_string_equal(result.changes[0].user.external_id, "42");
    assert_string_equal(result.changes[1].user.anonymous_id, "-7");
    assert_string_equal(result.changes[1].account.external_id, "18446744073709551615");
    assert_string_equal(result.changes[2].user.external_id, "0");
    assert_string_equal(result.changes[2].message_id, "9007199254740993");
    ingest_result_clear(&result);
}

static void empty_string_ids_count_as_absent(void **state)
{
    ingest_result result = {0};

    (void)state;
    assert_int_equal(parse_endpoint("{\"userId\": \"\", \"anonymousId\": \"a\"}",
                                    INGEST_SEGMENT_IDENTIFY, &result),
                     0);
    assert_null(result.changes[0].user.external_id);
    ingest_result_clear(&result);

    assert_int_equal(parse_endpoint("{\"userId\": \"\", \"anonymousId\": null}",
                                    INGEST_SEGMENT_IDENTIFY, &result),
                     -EINVAL);
    assert_non_null(strstr(error, "missing userId or anonymousId"));
    ingest_result_clear(&result);
}

static void group_maps_account_and_user(void **state)
{
    ingest_result result = {0};
    entity_change *change;

    (void)state;
    assert_int_equal(parse_endpoint("{\"userId\": \"u-1\", \"groupId\": \"acme\", "
                                    "\"traits\": {\"name\": \"Acme\", \"employees\": 120, "
                                    "\"website\": \"https://www.Acme.com/about?x=1\"}}",
                                    INGEST_SEGMENT_GROUP, &result),
                     0);
    assert_int_equal(result.count, 1);
    change = &result.changes[0];
    assert_int_equal(change->kind, CHANGE_ACCOUNT);
    assert_string_equal(change->account.external_id, "acme");
    assert_string_equal(change->account.domain, "acme.com");
    assert_string_equal(change->user.external_id, "u-1");
    assert_int_equal(json_object_object_length(change->attributes), 3);
    assert_string_equal(object_string(change->attributes, "name"), "Acme");
    assert_string_equal(object_string(change->attributes, "website"),
                        "https://www.Acme.com/about?x=1");
    assert_int_equal(json_object_array_length(result.warnings), 0);
    ingest_result_clear(&result);
}

static void group_domain_wins_over_website(void **state)
{
    ingest_result result = {0};

    (void)state;
    assert_int_equal(parse_endpoint("{\"anonymousId\": \"a\", \"groupId\": \"g\", "
                                    "\"traits\": {\"domain\": \"Example.org\", "
                                    "\"website\": \"https://acme.com\"}}",
                                    INGEST_SEGMENT_GROUP, &result),
                     0);
    assert_string_equal(result.changes[0].account.domain, "example.org");
    ingest_result_clear(&result);
}

static void group_malformed_domain_only_warns(void **state)
{
    ingest_result result = {0};
    json_object *warning;

    (void)state;
    assert_int_equal(parse_endpoint("{\"userId\": \"u\", \"groupId\": \"g\", "
                                    "\"traits\": {\"domain\": \"not a domain\"}}",
                                    INGEST_SEGMENT_GROUP, &result),
                     0);
    assert_int_equal(result.count, 1);
    assert_null(result.changes[0].account.domain);
    assert_string_equal(object_string(result.changes[0].attributes, "domain"), "not a domain");
    assert_int_equal(json_object_array_length(result.warnings), 1);
    warning = json_object_array_get_idx(result.warnings, 0);
    assert_non_null(strstr(object_string(warning, "warning"),
                           "traits.domain \"not a domain\" is not used as the account's domain"));
    ingest_result_clear(&result);
}

static void group_malformed_domain_falls_back_to_website(void **state)
{
    ingest_result result = {0};

    (void)state;
    assert_int_equal(parse_endpoint("{\"userId\": \"u\", \"groupId\": \"g\", "
                                    "\"traits\": {\"domain\": \"localhost\", "
                                    "\"website\": \"http://shop.example.co.uk:8080/\"}}",
                                    INGEST_SEGMENT_GROUP, &result),
                     0);
    assert_string_equal(result.changes[0].account.domain, "shop.example.co.uk");
    ingest_result_clear(&result);
}

static void track_maps_event(void **state)
{
    ingest_result result = {0};
    entity_change *change;
    json_object *value;

    (void)state;
    assert_int_equal(parse_endpoint("{\"userId\": \"u-1\", \"event\": \"Order Completed\", "
                                    "\"messageId\": \"m-9\", "
                                    "\"properties\": {\"total\": 99.5, \"items\": [{\"sku\": 1}]}, "
                                    "\"timestamp\": \"2024-03-05T14:30:00.250+01:00\"}",
                                    INGEST_SEGMENT_TRACK, &result),
                     0);
    assert_int_equal(result.count, 1);
    change = &result.changes[0];
    assert_int_equal(change->kind, CHANGE_EVENT);
    assert_string_equal(change->event, "Order Completed");
    assert_string_equal(change->user.external_id, "u-1");
    assert_string_equal(change->message_id, "m-9");
    assert_true(json_object_object_get_ex(change->properties, "total", &value));
    assert_true(json_object_get_double(value) == 99.5);
    /* Event properties may nest freely: arrays of objects are kept. */
    assert_true(json_object_object_get_ex(change->properties, "items", &value));
    assert_int_equal(json_object_array_length(value), 1);
    assert_true(change->timestamp_ms == RECEIVED_AT_MS - 3600 * 1000 + 250);
    ingest_result_clear(&result);
}

static void track_time_fallbacks(void **state)
{
    static const struct {
        const char *body;
        int64_t expected_ms;
    } cases[] = {
        {"{\"sentAt\": \"2024-01-01T00:00:03Z\", \"batch\": [{\"type\": \"track\", "
         "\"userId\": \"u\", \"event\": \"E\", \"timestamp\": \"2024-01-01T00:00:00Z\", "
         "\"originalTimestamp\": \"2024-01-01T00:00:01Z\", \"sentAt\": \"2024-01-01T00:00:02Z\"}]}",
         INT64_C(1704067200000)},
        {"{\"sentAt\": \"2024-01-01T00:00:03Z\", \"batch\": [{\"type\": \"track\", "
         "\"userId\": \"u\", \"event\": \"E\", "
         "\"originalTimestamp\": \"2024-01-01T00:00:01Z\", \"sentAt\": \"2024-01-01T00:00:02Z\"}]}",
         INT64_C(1704067201000)},
        {"{\"sentAt\": \"2024-01-01T00:00:03Z\", \"batch\": [{\"type\": \"track\", "
         "\"userId\": \"u\", \"event\": \"E\", \"sentAt\": \"2024-01-01T00:00:02Z\"}]}",
         INT64_C(1704067202000)},
        {"{\"sentAt\": \"2024-01-01T00:00:03Z\", \"batch\": [{\"type\": \"track\", "
         "\"userId\": \"u\", \"event\": \"E\", \"receivedAt\": \"2024-01-01T00:00:04Z\"}]}",
         INT64_C(1704067203000)},
        {"{\"batch\": [{\"type\": \"track\", \"userId\": \"u\", \"event\": \"E\", "
         "\"receivedAt\": \"2024-01-01T00:00:04Z\"}]}",
         INT64_C(1704067204000)},
        {"{\"batch\": [{\"type\": \"track\", \"userId\": \"u\", \"event\": \"E\", "
         "\"timestamp\": null}]}",
         RECEIVED_AT_MS},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        ingest_result result = {0};

        assert_int_equal(parse_batch(cases[i].body, &result), 0);
        if (result.count != 1)
            fail_msg("case %zu was rejected: %s", i,
                     json_object_to_json_string(result.rejected));
        if (result.changes[0].timestamp_ms != cases[i].expected_ms)
            fail_msg("case %zu: timestamp %lld, expected %lld", i,
                     (long long)result.changes[0].timestamp_ms, (long long)cases[i].expected_ms);
        ingest_result_clear(&result);
    }
}

static void batch_keeps_valid_and_reports_rejected(void **state)
{
    ingest_result result = {0};
    json_object *item;

    (void)state;
    assert_int_equal(parse_batch("{\"writeKey\": \"wk\", \"batch\": ["
                                 "{\"type\": \"identify\", \"userId\": \"a\"},"
                                 "{\"type\": \"track\", \"userId\": \"b\", \"messageId\": \"m-2\"},"
                                 "{\"type\": \"page\", \"userId\": \"c\", \"name\": \"Home\"},"
                                 "{\"type\": \"group\", \"userId\": \"d\"},"
                                 "{\"type\": \"track\", \"anonymousId\": \"e\", \"event\": \"X\"}]}",
                                 &result),
                     0);
    assert_int_equal(result.input_count, 5);
    assert_int_equal(result.ignored_count, 1);
    assert_int_equal(result.count, 2);
    assert_int_equal(result.indexes[0], 0);
    assert_int_equal(result.indexes[1], 4);
    assert_string_equal(result.changes[0].user.external_id, "a");
    assert_string_equal(result.changes[1].user.anonymous_id, "e");
    assert_string_equal(result.write_key, "wk");

    assert_int_equal(ingest_result_rejected_count(&result), 2);
    item = json_object_array_get_idx(result.rejected, 0);
    assert_int_equal(json_object_get_int(json_object_object_get(item, "index")), 1);
    assert_non_null(strstr(object_string(item, "error"), "missing event"));
    assert_string_equal(object_string(item, "messageId"), "m-2");
    item = json_object_array_get_idx(result.rejected, 1);
    assert_int_equal(json_object_get_int(json_object_object_get(item, "index")), 3);
    assert_non_null(strstr(object_string(item, "error"), "missing groupId"));
    assert_null(object_string(item, "messageId"));
    ingest_result_clear(&result);
}

static void bad_messages_rejected_with_reason(void **state)
{
    static const struct {
        const char *message;
        const char *expected;
    } cases[] = {
        {"\"identify\"", "message must be an object, got a string"},
        {"{\"userId\": \"u\"}", "missing type"},
        {"{\"type\": 3, \"userId\": \"u\"}", "type must be a string, got an integer"},
        {"{\"type\": \"purchase\", \"userId\": \"u\"}", "unknown message type \"purchase\""},
        {"{\"type\": \"identify\"}", "missing userId or anonymousId"},
        {"{\"type\": \"identify\", \"userId\": null, \"anonymousId\": null}",
         "missing userId or anonymousId"},
        {"{\"type\": \"identify\", \"userId\": true}",
         "userId must be a string or an integer, got a boolean"},
        {"{\"type\": \"identify\", \"userId\": 1.5}", "got a number with a fraction"},
        {"{\"type\": \"identify\", \"anonymousId\": {}}",
         "anonymousId must be a string or an integer, got an object"},
        {"{\"type\": \"identify\", \"userId\": \"u\", \"traits\": []}",
         "traits must be an object, got an array"},
        {"{\"type\": \"identify\", \"userId\": \"u\", \"traits\": \"x\"}",
         "traits must be an object, got a string"},
        {"{\"type\": \"identify\", \"userId\": \"u\", \"traits\": {\"email\": 5}}",
         "traits.email must be a string, got an integer"},
        {"{\"type\": \"identify\", \"userId\": \"u\", \"traits\": {\"\": 1}}",
         "traits has an attribute with an empty name"},
        {"{\"type\": \"identify\", \"userId\": \"u\", \"traits\": {\"tags\": [{\"a\": 1}]}}",
         "traits.tags[0] is an object; an attribute array may hold only"},
        {"{\"type\": \"identify\", \"userId\": \"u\", \"traits\": {\"a\": {\"b\": [[1]]}}}",
         "traits.a.b[0] is an array"},
        {"{\"type\": \"identify\", \"userId\": \"u\", \"traits\": {\"score\": NaN}}",
         "the value of traits.score is not a finite number"},
        {"{\"type\": \"identify\", \"userId\": \"u\", \"messageId\": {}}",
         "messageId must be a string or an integer"},
        {"{\"type\": \"group\", \"userId\": \"u\"}", "missing groupId"},
        {"{\"type\": \"group\", \"userId\": \"u\", \"groupId\": \"\"}", "missing groupId"},
        {"{\"type\": \"group\", \"userId\": \"u\", \"groupId\": [1]}",
         "groupId must be a string or an integer, got an array"},
        {"{\"type\": \"group\", \"groupId\": \"g\"}", "missing userId or anonymousId"},
        {"{\"type\": \"group\", \"userId\": \"u\", \"groupId\": \"g\", \"traits\": 1}",
         "traits must be an object"},
        {"{\"type\": \"track\", \"userId\": \"u\"}", "missing event"},
        {"{\"type\": \"track\", \"userId\": \"u\", \"event\": \"\"}", "missing event"},
        {"{\"type\": \"track\", \"userId\": \"u\", \"event\": 5}",
         "event must be a string, got an integer"},
        {"{\"type\": \"track\", \"event\": \"E\"}", "missing userId or anonymousId"},
        {"{\"type\": \"track\", \"userId\": \"u\", \"event\": \"E\", \"properties\": \"x\"}",
         "properties must be an object, got a string"},
        {"{\"type\": \"track\", \"userId\": \"u\", \"event\": \"E\", \"properties\": [1]}",
         "properties must be an object, got an array"},
        {"{\"type\": \"track\", \"userId\": \"u\", \"event\": \"E\", \"timestamp\": \"yesterday\"}",
         "timestamp \"yesterday\" is not an ISO 8601 date-time"},
        {"{\"type\": \"track\", \"userId\": \"u\", \"event\": \"E\", \"timestamp\": 1709649000}",
         "timestamp must be an ISO 8601 date-time string"},
        {"{\"type\": \"track\", \"userId\": \"u\", \"event\": \"E\", "
         "\"timestamp\": \"2023-02-29T00:00:00Z\"}",
         "is not an ISO 8601 date-time"},
        {"{\"type\": \"track\", \"userId\": \"u\", \"event\": \"E\", \"sentAt\": \"soon\"}",
         "sentAt \"soon\" is not an ISO 8601"},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        assert_message_rejected(cases[i].message, cases[i].expected);
}

static void invalid_batch_sent_at_rejects_message_needing_it(void **state)
{
    ingest_result result = {0};

    (void)state;
    assert_int_equal(parse_batch("{\"sentAt\": 5, \"batch\": ["
                                 "{\"type\": \"track\", \"userId\": \"u\", \"event\": \"E\"},"
                                 "{\"type\": \"identify\", \"userId\": \"u\"}]}",
                                 &result),
                     0);
    assert_int_equal(result.count, 1);
    assert_int_equal(result.indexes[0], 1);
    assert_non_null(strstr(json_object_to_json_string(result.rejected),
                           "the batch's sentAt must be an ISO 8601"));
    ingest_result_clear(&result);
}

static void invalid_utf8_rejected(void **state)
{
    static const struct {
        const char *message;
        const char *expected;
    } cases[] = {
        /* A lead byte followed by a non-continuation byte, in a value. */
        {"{\"type\": \"identify\", \"userId\": \"u\", \"traits\": {\"name\": \"J\xc3\x28\"}}",
         "the value of traits.name is not valid UTF-8 (invalid byte sequence at byte 1)"},
        /* A UTF-16 surrogate encoded as UTF-8, in a key. */
        {"{\"type\": \"identify\", \"userId\": \"u\", \"traits\": {\"\xed\xa0\x80\": 1}}",
         "a key in traits is not valid UTF-8"},
        /* An overlong encoding of '/', in an id. */
        {"{\"type\": \"identify\", \"userId\": \"\xc0\xaf\"}",
         "the value of userId is not valid UTF-8"},
        /* A stray continuation byte in an event name. */
        {"{\"type\": \"track\", \"userId\": \"u\", \"event\": \"\x80\"}",
         "the value of event is not valid UTF-8"},
        /* Above U+10FFFF, deep inside properties. */
        {"{\"type\": \"track\", \"userId\": \"u\", \"event\": \"E\", "
         "\"properties\": {\"a\": [\"ok\", \"\xf4\x90\x80\x80\"]}}",
         "the value of properties.a[1] is not valid UTF-8"},
        /* Cut off in the middle of a four-byte sequence. */
        {"{\"type\": \"identify\", \"userId\": \"u\", \"context\": {\"x\": \"\xf0\x9f\x9a\"}}",
         "the value of context.x is not valid UTF-8"},
        /* An escaped NUL would cut the string short in C. */
        {"{\"type\": \"identify\", \"userId\": \"a\\u0000b\"}",
         "the value of userId contains a NUL character"},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        assert_message_rejected(cases[i].message, cases[i].expected);
}

static void other_scripts_preserved_byte_exact(void **state)
{
    static const char *const names[] = {
        "Jos\xc3\xa9 M\xc3\xbcller",                         /* José Müller */
        "\xe5\xb1\xb1\xe7\x94\xb0\xe5\xa4\xaa\xe9\x83\x8e", /* 山田太郎 */
        "\xce\x95\xce\xbb\xce\xad\xce\xbd\xce\xb7",         /* Ελένη */
        "\xd9\x84\xd9\x8a\xd9\x84\xd9\x89",                 /* ليلى */
        "\xf0\x9f\x9a\x80 launch",                          /* rocket emoji */
    };

    (void)state;
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        ingest_result result = {0};
        char *body;
        json_object *value;

        assert_true(asprintf(&body,
                             "{\"batch\": [{\"type\": \"identify\", \"userId\": \"%s\", "
                             "\"traits\": {\"%s\": \"%s\"}}, {\"type\": \"track\", "
                             "\"userId\": \"u\", \"event\": \"%s\"}]}",
                             names[i], names[i], names[i], names[i]) > 0);
        assert_int_equal(parse_batch(body, &result), 0);
        assert_int_equal(result.count, 2);
        assert_memory_equal(result.changes[0].user.external_id, names[i], strlen(names[i]) + 1);
        assert_true(json_object_object_get_ex(result.changes[0].attributes, names[i], &value));
        assert_int_equal(json_object_get_string_len(value), strlen(names[i]));
        assert_memory_equal(json_object_get_string(value), names[i], strlen(names[i]));
        assert_memory_equal(result.changes[1].event, names[i], strlen(names[i]) + 1);
        ingest_result_clear(&result);
        free(body);
    }
}

static void escaped_unicode_decoded_to_utf8(void **state)
{
    ingest_result result = {0};

    (void)state;
    assert_int_equal(parse_endpoint("{\"userId\": \"Jos\\u00e9 \\ud83d\\ude80\"}",
                                    INGEST_SEGMENT_IDENTIFY, &result),
                     0);
    assert_string_equal(result.changes[0].user.external_id, "Jos\xc3\xa9 \xf0\x9f\x9a\x80");
    ingest_result_clear(&result);
}

/* A message whose compact JSON text is exactly size bytes. */
static char *message_of_size(size_t size)
{
    static const char head[] = "{\"type\":\"track\",\"userId\":\"u\",\"event\":\"E\","
                               "\"properties\":{\"pad\":\"";
    static const char tail[] = "\"}}";
    size_t padding = size - (sizeof(head) - 1) - (sizeof(tail) - 1);
    char *message = malloc(size + 1);

    assert_non_null(message);
    memcpy(message, head, sizeof(head) - 1);
    memset(message + sizeof(head) - 1, 'x', padding);
    memcpy(message + sizeof(head) - 1 + padding, tail, sizeof(tail));
    assert_int_equal(strlen(message), size);
    return message;
}

static void message_size_limit_is_32_kb(void **state)
{
    char *at_limit = message_of_size(INGEST_SEGMENT_MESSAGE_MAX);
    char *over_limit = message_of_size(INGEST_SEGMENT_MESSAGE_MAX + 1);
    ingest_result result = {0};
    char *body;

    (void)state;
    assert_true(asprintf(&body, "{\"batch\": [%s, %s, {\"type\": \"identify\", \"userId\": "
                                "\"n\"}]}",
                         at_limit, over_limit) > 0);
    assert_int_equal(parse_batch(body, &result), 0);
    assert_int_equal(result.count, 2);
    assert_int_equal(result.indexes[0], 0);
    assert_int_equal(result.indexes[1], 2);
    assert_int_equal(ingest_result_rejected_count(&result), 1);
    assert_non_null(strstr(json_object_to_json_string(result.rejected),
                           "message exceeds 32 KB (32769 bytes of JSON"));
    ingest_result_clear(&result);

    /* On a single-message endpoint the whole request fails. */
    assert_int_equal(parse_endpoint(over_limit, INGEST_SEGMENT_TRACK, &result), -EINVAL);
    assert_non_null(strstr(error, "message exceeds 32 KB"));
    ingest_result_clear(&result);

    free(body);
    free(at_limit);
    free(over_limit);
}

static void body_over_500_kb_rejected_whole(void **state)
{
    size_t size = INGEST_SEGMENT_BODY_MAX + 1;
    char *body = malloc(size + 1);
    ingest_result result = {0};

    (void)state;
    assert_non_null(body);
    /* Valid JSON padded with whitespace: the size alone decides. */
    memset(body, ' ', size);
    memcpy(body, "{\"batch\": []}", 13);
    body[size] = '\0';
    assert_int_equal(parse_batch(body, &result), -E2BIG);
    assert_non_null(strstr(error, "request body exceeds 500 KB (512001 bytes"));
    ingest_result_clear(&result);

    body[size - 1] = '\0';
    assert_int_equal(parse_batch(body, &result), 0);
    assert_int_equal(result.input_count, 0);
    ingest_result_clear(&result);
    free(body);
}

static void batch_over_2500_messages_rejects_rest(void **state)
{
    static const char message[] = "{\"type\":\"page\",\"userId\":\"u\"},";
    size_t count = INGEST_SEGMENT_BATCH_MESSAGES_MAX + 2;
    size_t size = 16 + count * (sizeof(message) - 1);
    char *body = malloc(size);
    char *at = body;
    ingest_result result = {0};
    json_object *item;

    (void)state;
    assert_non_null(body);
    at += sprintf(at, "{\"batch\": [");
    for (size_t i = 0; i < count; i++)
        at += sprintf(at, "%s", message);
    sprintf(at - 1, "]}");
    assert_int_equal(parse_batch(body, &result), 0);
    assert_int_equal(result.input_count, count);
    assert_int_equal(result.ignored_count, INGEST_SEGMENT_BATCH_MESSAGES_MAX);
    assert_int_equal(ingest_result_rejected_count(&result), 2);
    item = json_object_array_get_idx(result.rejected, 0);
    assert_int_equal(json_object_get_int(json_object_object_get(item, "index")),
                     INGEST_SEGMENT_BATCH_MESSAGES_MAX);
    assert_non_null(strstr(object_string(item, "error"), "more than 2500 messages"));
    ingest_result_clear(&result);
    free(body);
}

static void ignored_types_accepted_without_change(void **state)
{
    ingest_result result = {0};
    json_object *response;
    int status;

    (void)state;
    assert_int_equal(parse_batch("{\"batch\": [{\"type\": \"page\", \"anonymousId\": \"a\"},"
                                 "{\"type\": \"screen\", \"userId\": \"u\"},"
                                 "{\"type\": \"alias\", \"userId\": \"u\", "
                                 "\"previousId\": \"a\"}]}",
                                 &result),
                     0);
    assert_int_equal(result.count, 0);
    assert_int_equal(result.ignored_count, 3);
    response = ingest_segment_response(&result, &status);
    assert_int_equal(status, 200);
    assert_string_equal(json_object_to_json_string_ext(response, JSON_C_TO_STRING_PLAIN),
                        "{\"success\":true}");
    json_object_put(response);
    ingest_result_clear(&result);
}

static void single_endpoint_checks_type(void **state)
{
    ingest_result result = {0};

    (void)state;
    assert_int_equal(parse_endpoint("{\"type\": \"track\", \"userId\": \"u\", \"event\": \"E\"}",
                                    INGEST_SEGMENT_IDENTIFY, &result),
                     -EINVAL);
    assert_non_null(strstr(error, "type \"track\" does not match the endpoint /v1/identify"));
    ingest_result_clear(&result);

    assert_int_equal(parse_endpoint("{\"type\": \"group\", \"userId\": \"u\", \"groupId\": \"g\"}",
                                    INGEST_SEGMENT_GROUP, &result),
                     0);
    assert_int_equal(result.count, 1);
    ingest_result_clear(&result);

    assert_int_equal(parse_endpoint("{\"userId\": \"u\"}", INGEST_SEGMENT_TRACK, &result),
                     -EINVAL);
    assert_non_null(strstr(error, "missing event"));
    ingest_result_clear(&result);
}

static void bad_bodies_rejected_whole(void **state)
{
    static const struct {
        const char *body;
        ingest_segment_endpoint endpoint;
        const char *expected;
    } cases[] = {
        {"", INGEST_SEGMENT_BATCH, "request body is empty"},
        {"  \n", INGEST_SEGMENT_BATCH, "request body is empty"},
        {"{", INGEST_SEGMENT_BATCH, "malformed JSON: the body ends inside the document"},
        {"{\"batch\": [1,]}", INGEST_SEGMENT_BATCH, "malformed JSON at byte"},
        {"{} x", INGEST_SEGMENT_BATCH, "malformed JSON at byte 3"},
        {"{}{}", INGEST_SEGMENT_BATCH, "malformed JSON"},
        {"[{\"type\": \"identify\"}]", INGEST_SEGMENT_BATCH,
         "request body must be a JSON object, got an array"},
        {"null", INGEST_SEGMENT_BATCH, "request body must be a JSON object, got null"},
        {"42", INGEST_SEGMENT_IDENTIFY, "request body must be a JSON object, got an integer"},
        {"{}", INGEST_SEGMENT_BATCH, "missing \"batch\""},
        {"{\"batch\": {}}", INGEST_SEGMENT_BATCH, "\"batch\" must be an array of messages"},
        {"{\"batch\": null}", INGEST_SEGMENT_BATCH, "missing \"batch\""},
        {"{\"userId\": 1.25}", INGEST_SEGMENT_IDENTIFY, "userId must be a string or an integer"},
        {"{}", INGEST_SEGMENT_IDENTIFY, "missing userId or anonymousId"},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        ingest_result result = {0};
        int rc = parse_endpoint(cases[i].body, cases[i].endpoint, &result);

        if (rc != -EINVAL)
            fail_msg("body %s: returned %d, expected -EINVAL", cases[i].body, rc);
        if (strstr(error, cases[i].expected) == NULL)
            fail_msg("body %s: error \"%s\" does not contain \"%s\"", cases[i].body, error,
                     cases[i].expected);
        ingest_result_clear(&result);
    }
}

static void body_with_nul_byte_rejected(void **state)
{
    static const char body[] = "{\"batch\": []}\0 ";
    ingest_result result = {0};

    (void)state;
    assert_int_equal(ingest_segment_parse(body, sizeof(body) - 1, INGEST_SEGMENT_BATCH,
                                          RECEIVED_AT_MS, &result, error, sizeof(error)),
                     -EINVAL);
    assert_non_null(strstr(error, "unexpected data at byte 13"));
    ingest_result_clear(&result);
}

static void initialized_result_kept(void **state)
{
    ingest_result result;
    json_object *rejected;
    json_object *warnings;

    (void)state;
    /* A caller may initialize the result first; the parser must use those
     * arrays rather than replace (and leak) them. */
    assert_int_equal(ingest_result_init(&result), 0);
    rejected = result.rejected;
    warnings = result.warnings;
    assert_int_equal(parse_batch("{\"batch\": [{\"type\": \"identify\"}]}", &result), 0);
    assert_ptr_equal(result.rejected, rejected);
    assert_ptr_equal(result.warnings, warnings);
    assert_int_equal(json_object_array_length(rejected), 1);
    ingest_result_clear(&result);
}

static void byte_order_mark_skipped(void **state)
{
    ingest_result result = {0};

    (void)state;
    assert_int_equal(parse_endpoint("\xEF\xBB\xBF{\"userId\": \"u\"}", INGEST_SEGMENT_IDENTIFY,
                                    &result),
                     0);
    assert_int_equal(result.count, 1);
    ingest_result_clear(&result);

    /* A mark anywhere else is no whitespace. */
    assert_int_equal(parse_endpoint(" \xEF\xBB\xBF{\"userId\": \"u\"}", INGEST_SEGMENT_IDENTIFY,
                                    &result),
                     -EINVAL);
    assert_non_null(strstr(error, "malformed JSON at byte 1"));
    ingest_result_clear(&result);
}

static void write_key_read_from_invalid_body(void **state)
{
    ingest_result result = {0};

    (void)state;
    assert_int_equal(parse_batch("{\"writeKey\": \"secret\", \"batch\": 5}", &result), -EINVAL);
    assert_string_equal(result.write_key, "secret");
    ingest_result_clear(&result);

    assert_int_equal(parse_batch("{\"writeKey\": 5, \"batch\": []}", &result), 0);
    assert_null(result.write_key);
    ingest_result_clear(&result);
}

static void responses_for_batch_outcomes(void **state)
{
    ingest_result result = {0};
    json_object *response;
    json_object *value;
    int status;

    (void)state;
    assert_int_equal(parse_batch("{\"batch\": [{\"type\": \"identify\", \"userId\": \"u\"},"
                                 "{\"type\": \"identify\"}]}",
                                 &result),
                     0);
    response = ingest_segment_response(&result, &status);
    assert_int_equal(status, 200);
    assert_true(json_object_get_boolean(json_object_object_get(response, "success")));
    assert_true(json_object_object_get_ex(response, "rejected", &value));
    assert_int_equal(json_object_array_length(value), 1);
    assert_false(json_object_object_get_ex(response, "error", NULL));
    assert_false(json_object_object_get_ex(response, "warnings", NULL));
    json_object_put(response);
    ingest_result_clear(&result);

    assert_int_equal(parse_batch("{\"batch\": [{\"type\": \"identify\"},"
                                 "{\"type\": \"track\", \"userId\": \"u\"}]}",
                                 &result),
                     0);
    response = ingest_segment_response(&result, &status);
    assert_int_equal(status, 400);
    assert_false(json_object_get_boolean(json_object_object_get(response, "success")));
    assert_non_null(strstr(object_string(response, "error"), "every message in the batch"));
    assert_true(json_object_object_get_ex(response, "rejected", &value));
    assert_int_equal(json_object_array_length(value), 2);
    json_object_put(response);
    ingest_result_clear(&result);

    assert_int_equal(parse_batch("{\"batch\": []}", &result), 0);
    response = ingest_segment_response(&result, &status);
    assert_int_equal(status, 200);
    json_object_put(response);
    ingest_result_clear(&result);

    response = ingest_segment_error_response("malformed JSON at byte 3");
    assert_string_equal(json_object_to_json_string_ext(response, JSON_C_TO_STRING_PLAIN),
                        "{\"success\":false,\"error\":\"malformed JSON at byte 3\"}");
    json_object_put(response);
}

static void endpoints_from_paths(void **state)
{
    ingest_segment_endpoint endpoint;

    (void)state;
    assert_int_equal(ingest_segment_endpoint_from_path("/v1/identify", &endpoint), 0);
    assert_int_equal(endpoint, INGEST_SEGMENT_IDENTIFY);
    assert_int_equal(ingest_segment_endpoint_from_path("/v1/group", &endpoint), 0);
    assert_int_equal(endpoint, INGEST_SEGMENT_GROUP);
    assert_int_equal(ingest_segment_endpoint_from_path("/v1/track", &endpoint), 0);
    assert_int_equal(endpoint, INGEST_SEGMENT_TRACK);
    assert_int_equal(ingest_segment_endpoint_from_path("/v1/batch", &endpoint), 0);
    assert_int_equal(endpoint, INGEST_SEGMENT_BATCH);
    assert_int_equal(ingest_segment_endpoint_from_path("/v1/page", &endpoint), -ENOENT);
    assert_int_equal(ingest_segment_endpoint_from_path("/v1/batch/", &endpoint), -ENOENT);
}

static void timestamps_parsed(void **state)
{
    static const struct {
        const char *text;
        int64_t expected_ms;
    } cases[] = {
        {"1970-01-01T00:00:00Z", 0},
        {"2024-03-05T14:30:00Z", RECEIVED_AT_MS},
        {"2024-03-05T14:30:00.123Z", RECEIVED_AT_MS + 123},
        {"2024-03-05T14:30:00.1Z", RECEIVED_AT_MS + 100},
        {"2024-03-05T14:30:00.123456789Z", RECEIVED_AT_MS + 123},
        {"2024-03-05T14:30:00,5Z", RECEIVED_AT_MS + 500},
        {"2024-03-05T16:30:00+02:00", RECEIVED_AT_MS},
        {"2024-03-05T16:30:00+0200", RECEIVED_AT_MS},
        {"2024-03-05T16:30:00+02", RECEIVED_AT_MS},
        {"2024-03-05T09:00:00-05:30", RECEIVED_AT_MS},
        {"2024-03-05t14:30:00z", RECEIVED_AT_MS},
        {"2024-03-05 14:30:00", RECEIVED_AT_MS},
        {"2024-03-05T14:30Z", RECEIVED_AT_MS},
        {"2024-03-05", RECEIVED_AT_MS - (14 * 3600 + 30 * 60) * INT64_C(1000)},
        {"2024-02-29T00:00:00Z", INT64_C(1709164800000)},
        {"2000-02-29T00:00:00Z", INT64_C(951782400000)},
        {"1969-12-31T23:59:59.999Z", -1},
        {"9999-12-31T23:59:59Z", INT64_C(253402300799000)},
    };
    static const char *const invalid[] = {
        "", "2024", "2024-03", "2024-3-05", "2024-03-05T", "2024-03-05T14", "2024-03-05T14:30:",
        "2024-13-01", "2024-00-10", "2024-04-31", "2023-02-29", "1900-02-29", "2024-03-05T24:00:00Z",
        "2024-03-05T14:60:00Z", "2024-03-05T14:30:60Z", "2024-03-05T14:30:00.Z",
        "2024-03-05T14:30:00+24:00", "2024-03-05T14:30:00+02:60", "2024-03-05T14:30:00 Z",
        "2024-03-05T14:30:00Zjunk", "+2024-03-05", "yesterday", "1709649000",
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int64_t epoch_ms = INT64_MIN;

        if (ingest_timestamp_parse(cases[i].text, &epoch_ms) != 0)
            fail_msg("\"%s\" was not parsed", cases[i].text);
        if (epoch_ms != cases[i].expected_ms)
            fail_msg("\"%s\": %lld ms, expected %lld", cases[i].text, (long long)epoch_ms,
                     (long long)cases[i].expected_ms);
    }
    for (size_t i = 0; i < sizeof(invalid) / sizeof(invalid[0]); i++) {
        int64_t epoch_ms;

        if (ingest_timestamp_parse(invalid[i], &epoch_ms) != -EINVAL)
            fail_msg("\"%s\" was parsed, expected -EINVAL", invalid[i]);
    }
}

static void domains_normalized(void **state)
{
    static const struct {
        const char *input;
        const char *expected; /* NULL: rejected, with expected_why in the reason */
        const char *expected_why;
    } cases[] = {
        {"acme.com", "acme.com", NULL},
        {"  ACME.com  ", "acme.com", NULL},
        {"www.acme.com", "acme.com", NULL},
        {"https://www.acme.com/about?x=1#top", "acme.com", NULL},
        {"http://user:pw@Shop.Acme.com:8443/", "shop.acme.com", NULL},
        {"//cdn.acme.com/x", "cdn.acme.com", NULL},
        {"acme.com.", "acme.com", NULL},
        {"acme.com/?next=http://evil.example", "acme.com", NULL},
        {"jane@acme.com", "acme.com", NULL},
        {"www.com", "www.com", NULL},
        {"xn--bcher-kva.de", "xn--bcher-kva.de", NULL},
        {"b\xc3\xbc" "cher.de", NULL, "non-ASCII character; write an internationalized domain"},
        {"", NULL, "no host name is left"},
        {"https://", NULL, "no host name is left"},
        {"localhost", NULL, "at least two labels"},
        {"acme..com", NULL, "empty label"},
        {"-acme.com", NULL, "starts or ends with '-'"},
        {"acme_corp.com", NULL, "contains the character '_'"},
        {"not a domain", NULL, "contains the character ' '"},
        {"192.168.1.10", NULL, "the top-level label must be two or more letters"},
        {"acme.c0m", NULL, "the top-level label must be two or more letters"},
        {"acme.c", NULL, "the top-level label must be two or more letters"},
        {"[::1]", NULL, "contains the character '['"},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *domain = NULL;
        char why[128] = "";
        int rc = ingest_claim_domain(cases[i].input, &domain, why, sizeof(why));

        if (cases[i].expected != NULL) {
            if (rc != 0)
                fail_msg("\"%s\" was rejected: %s", cases[i].input, why);
            assert_string_equal(domain, cases[i].expected);
        } else {
            if (rc != -EINVAL)
                fail_msg("\"%s\" was accepted as \"%s\"", cases[i].input, domain);
            assert_null(domain);
            if (strstr(why, cases[i].expected_why) == NULL)
                fail_msg("\"%s\": reason \"%s\" does not contain \"%s\"", cases[i].input, why,
                         cases[i].expected_why);
        }
        free(domain);
    }
}

static void long_labels_and_names_rejected(void **state)
{
    char text[300];
    char *domain = NULL;
    char why[128];

    (void)state;
    memset(text, 'a', 64);
    strcpy(text + 64, ".com");
    assert_int_equal(ingest_claim_domain(text, &domain, why, sizeof(why)), -EINVAL);
    assert_non_null(strstr(why, "longer than 63 bytes"));

    strcpy(text + 63, ".com");
    assert_int_equal(ingest_claim_domain(text, &domain, why, sizeof(why)), 0);
    free(domain);

    for (size_t i = 0; i < 260; i += 2) {
        text[i] = 'a';
        text[i + 1] = '.';
    }
    strcpy(text + 260, "com");
    assert_int_equal(ingest_claim_domain(text, &domain, why, sizeof(why)), -EINVAL);
    assert_non_null(strstr(why, "longer than 253 bytes"));
}

static void utf8_validator_table(void **state)
{
    static const struct {
        const char *text;
        size_t size;
        int valid;
        size_t bad_offset;
    } cases[] = {
        {"", 0, 1, 0},
        {"plain ascii", 11, 1, 0},
        {"\xc2\x80", 2, 1, 0},                 /* U+0080, smallest two-byte */
        {"\xdf\xbf", 2, 1, 0},                 /* U+07FF */
        {"\xe0\xa0\x80", 3, 1, 0},             /* U+0800 */
        {"\xed\x9f\xbf", 3, 1, 0},             /* U+D7FF, just below surrogates */
        {"\xee\x80\x80", 3, 1, 0},             /* U+E000 */
        {"\xef\xbf\xbf", 3, 1, 0},             /* U+FFFF */
        {"\xf0\x90\x80\x80", 4, 1, 0},         /* U+10000 */
        {"\xf4\x8f\xbf\xbf", 4, 1, 0},         /* U+10FFFF, the largest */
        {"a\x80", 2, 0, 1},                    /* lone continuation byte */
        {"\xc0\x80", 2, 0, 0},                 /* overlong NUL */
        {"\xc1\xbf", 2, 0, 0},                 /* overlong */
        {"\xe0\x9f\xbf", 3, 0, 0},             /* overlong three-byte */
        {"\xed\xa0\x80", 3, 0, 0},             /* U+D800 surrogate */
        {"\xed\xbf\xbf", 3, 0, 0},             /* U+DFFF surrogate */
        {"\xf0\x8f\xbf\xbf", 4, 0, 0},         /* overlong four-byte */
        {"\xf4\x90\x80\x80", 4, 0, 0},         /* U+110000 */
        {"\xf5\x80\x80\x80", 4, 0, 0},         /* lead byte never used */
        {"\xff", 1, 0, 0},
        {"ab\xe2\x82", 4, 0, 2},               /* truncated at the end */
        {"\xe2\x28\xa1", 3, 0, 0},             /* bad second byte */
        {"\xf0\x9f\x98\x28", 4, 0, 0},         /* bad fourth byte */
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t bad_offset = 999;
        bool valid = ingest_utf8_valid(cases[i].text, cases[i].size, &bad_offset);

        if (valid != (cases[i].valid != 0))
            fail_msg("case %zu: valid is %d, expected %d", i, valid, cases[i].valid);
        if (!valid && bad_offset != cases[i].bad_offset)
            fail_msg("case %zu: bad offset %zu, expected %zu", i, bad_offset,
                     cases[i].bad_offset);
    }
}

static void utf8_clip_keeps_characters_whole(void **state)
{
    static const char text[] = "ab\xc3\xa9\xe5\xb1\xb1"; /* a b é 山 */

    (void)state;
    assert_int_equal(ingest_utf8_clip(text, 2), 2);
    assert_int_equal(ingest_utf8_clip(text, 3), 2);
    assert_int_equal(ingest_utf8_clip(text, 4), 4);
    assert_int_equal(ingest_utf8_clip(text, 5), 4);
    assert_int_equal(ingest_utf8_clip(text, 6), 4);
    assert_int_equal(ingest_utf8_clip(text, 7), 7);
    assert_int_equal(ingest_utf8_clip(text, 100), 7);
}

static void long_unicode_names_cut_cleanly_in_errors(void **state)
{
    /* A 200-byte key of two-byte characters makes a path longer than the
     * message buffer keeps; the cut must not split a character. */
    char key[201];
    char *message;
    ingest_result result = {0};
    const char *reason;

    (void)state;
    for (size_t i = 0; i < 200; i += 2) {
        key[i] = '\xc3';
        key[i + 1] = '\xa9';
    }
    key[200] = '\0';
    assert_true(asprintf(&message,
                         "{\"batch\": [{\"type\": \"identify\", \"userId\": \"u\", "
                         "\"traits\": {\"%s\": {\"%s\": [[1]]}}}]}",
                         key, key) > 0);
    assert_int_equal(parse_batch(message, &result), 0);
    assert_int_equal(ingest_result_rejected_count(&result), 1);
    reason = object_string(json_object_array_get_idx(result.rejected, 0), "error");
    assert_true(ingest_utf8_valid(reason, strlen(reason), NULL));
    assert_non_null(strstr(reason, "is an array; an attribute array may hold only"));
    ingest_result_clear(&result);
    free(message);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(identify_maps_claims_and_traits),
        cmocka_unit_test(identify_without_traits),
        cmocka_unit_test(numeric_ids_become_decimal_text),
        cmocka_unit_test(empty_string_ids_count_as_absent),
        cmocka_unit_test(group_maps_account_and_user),
        cmocka_unit_test(group_domain_wins_over_website),
        cmocka_unit_test(group_malformed_domain_only_warns),
        cmocka_unit_test(group_malformed_domain_falls_back_to_website),
        cmocka_unit_test(track_maps_event),
        cmocka_unit_test(track_time_fallbacks),
        cmocka_unit_test(batch_keeps_valid_and_reports_rejected),
        cmocka_unit_test(bad_messages_rejected_with_reason),
        cmocka_unit_test(invalid_batch_sent_at_rejects_message_needing_it),
        cmocka_unit_test(invalid_utf8_rejected),
        cmocka_unit_test(other_scripts_preserved_byte_exact),
        cmocka_unit_test(escaped_unicode_decoded_to_utf8),
        cmocka_unit_test(message_size_limit_is_32_kb),
        cmocka_unit_test(body_over_500_kb_rejected_whole),
        cmocka_unit_test(batch_over_2500_messages_rejects_rest),
        cmocka_unit_test(ignored_types_accepted_without_change),
        cmocka_unit_test(single_endpoint_checks_type),
        cmocka_unit_test(bad_bodies_rejected_whole),
        cmocka_unit_test(body_with_nul_byte_rejected),
        cmocka_unit_test(initialized_result_kept),
        cmocka_unit_test(byte_order_mark_skipped),
        cmocka_unit_test(write_key_read_from_invalid_body),
        cmocka_unit_test(responses_for_batch_outcomes),
        cmocka_unit_test(endpoints_from_paths),
        cmocka_unit_test(timestamps_parsed),
        cmocka_unit_test(domains_normalized),
        cmocka_unit_test(long_labels_and_names_rejected),
        cmocka_unit_test(utf8_validator_table),
        cmocka_unit_test(utf8_clip_keeps_characters_whole),
        cmocka_unit_test(long_unicode_names_cut_cleanly_in_errors),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
