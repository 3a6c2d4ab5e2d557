/* Unit tests of message_build_text(): for varied users and accounts, the
 * parsed text must equal the object that message_build() returns, apart
 * from the message_id that each call draws anew. The entities live in a
 * real SQLite store in a temporary directory, and segments are computed by
 * the real segment code on a libuv loop. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "entities.h"
#include "message.h"
#include "segments.h"
#include "service.h"
#include "store.h"

#define MAX_PAIRS 64
#define SEGMENT_WAIT_MS 10000

/* One message built both ways in the update hook, or for an export. */
typedef struct message_pair {
    json_object *built;  /* message_build() */
    char *text;          /* message_build_text() */
    size_t text_length;  /* its *length */
    int has_update;
} message_pair;

typedef struct fixture {
    char directory[64];
    uv_loop_t loop;
    service svc;
    message_pair pairs[MAX_PAIRS];
    size_t pair_count;
} fixture;

static void pair_add(fixture *f, store_entity_kind kind, uint32_t index,
                     const entity_update *update)
{
    message_pair *pair;

    if (f->pair_count == MAX_PAIRS)
        return;
    pair = &f->pairs[f->pair_count++];
    pair->built = message_build(f->svc.entities, kind, index, update);
    pair->text = message_build_text(f->svc.entities, kind, index, update, &pair->text_length);
    pair->has_update = update != NULL;
}

static void on_updates(void *user_data, const entity_update *updates, size_t count)
{
    fixture *f = user_data;

    for (size_t i = 0; i < count; i++) {
        if (updates[i].index != ATTR_NO_ENTITY)
            pair_add(f, updates[i].kind, updates[i].index, &updates[i]);
    }
}

static void pairs_clear(fixture *f)
{
    for (size_t i = 0; i < f->pair_count; i++) {
        json_object_put(f->pairs[i].built);
        free(f->pairs[i].text);
    }
    f->pair_count = 0;
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    char error[512] = "";

    assert_non_null(f);
    snprintf(f->directory, sizeof(f->directory), "/tmp/wharf-message-text-XXXXXX");
    assert_non_null(mkdtemp(f->directory));
    assert_int_equal(uv_loop_init(&f->loop), 0);
    f->svc.loop = &f->loop;
    assert_int_equal(store_open_sqlite(f->directory, &f->svc.store, error, sizeof(error)), 0);
    f->svc.entities = entities_create(&f->svc);
    assert_non_null(f->svc.entities);
    f->svc.segments = segment_set_create(&f->svc, f->svc.entities);
    assert_non_null(f->svc.segments);
    f->svc.entities->segments = f->svc.segments;
    entities_set_update_hook(f->svc.entities, on_updates, f);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    char command[128];

    pairs_clear(f);
    segment_set_stop(f->svc.segments);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    segment_set_free(f->svc.segments);
    entities_free(f->svc.entities);
    store_close(f->svc.store);
    assert_int_equal(uv_loop_close(&f->loop), 0);
    snprintf(command, sizeof(command), "rm -rf '%s'", f->directory);
    assert_int_equal(system(command), 0);
    free(f);
    return 0;
}

static void on_wait_tick(uv_timer_t *timer)
{
    (void)timer;
}

/* Run the loop until no segment is computing, for at most SEGMENT_WAIT_MS. */
static void wait_for_segments(fixture *f)
{
    uv_timer_t tick;
    uint64_t deadline = uv_now(&f->loop) + SEGMENT_WAIT_MS;
    int computing = 1;

    uv_timer_init(&f->loop, &tick);
    uv_timer_start(&tick, on_wait_tick, 5, 5);
    while (computing && uv_now(&f->loop) < deadline) {
        uv_run(&f->loop, UV_RUN_ONCE);
        computing = 0;
        for (segment *s = segment_first(f->svc.segments); s != NULL; s = s->next)
            computing |= s->computing;
    }
    uv_close((uv_handle_t *)&tick, NULL);
    uv_run(&f->loop, UV_RUN_NOWAIT);
    assert_false(computing);
}

static void create_segment(fixture *f, const char *body_text)
{
    json_object *body = json_tokener_parse(body_text);
    segment *created = NULL;
    char error[512] = "";

    assert_non_null(body);
    assert_int_equal(segment_create(f->svc.segments, body, &created, error, sizeof(error)), 0);
    json_object_put(body);
    assert_non_null(created);
    wait_for_segments(f);
}

/* Apply one change from literal parts. Attributes and properties are JSON
 * text or NULL. */
typedef struct change_spec {
    entity_change_kind kind;
    const char *user_external_id;
    const char *email;
    const char *anonymous_id;
    const char *account_external_id;
    const char *domain;
    const char *attributes;
    const char *account_attributes;
    const char *event;
    const char *properties;
} change_spec;

static char *copy_or_null(const char *text)
{
    return text != NULL ? strdup(text) : NULL;
}

static json_object *parse_or_null(const char *text)
{
    json_object *parsed;

    if (text == NULL)
        return NULL;
    parsed = json_tokener_parse(text);
    assert_non_null(parsed);
    return parsed;
}

static void apply(fixture *f, const change_spec *spec)
{
    entity_change change = {0};
    entity_result result = {0};

    change.kind = spec->kind;
    change.user.external_id = copy_or_null(spec->user_external_id);
    change.user.email = copy_or_null(spec->email);
    change.user.anonymous_id = copy_or_null(spec->anonymous_id);
    change.account.external_id = copy_or_null(spec->account_external_id);
    change.account.domain = copy_or_null(spec->domain);
    if (spec->kind == CHANGE_ACCOUNT) {
        change.attributes = parse_or_null(spec->account_attributes);
    } else {
        change.attributes = parse_or_null(spec->attributes);
        change.account_attributes = parse_or_null(spec->account_attributes);
    }
    change.event = copy_or_null(spec->event);
    change.properties = parse_or_null(spec->properties);
    change.timestamp_ms = 1733356800123;
    change.message_id = spec->event != NULL ? strdup("event-message-1") : NULL;

    assert_int_equal(entities_apply(f->svc.entities, &change, 1, &result), 0);
    if (!result.ok)
        fail_msg("change rejected: %s", result.error);
    entity_change_clear(&change);
}

/* Compare one pair. Both message ids must be UUIDs, and they must differ. */
static void check_pair(const message_pair *pair)
{
    json_tokener *tokener = json_tokener_new();
    json_object *parsed;
    json_object *built_id;
    json_object *parsed_id;

    assert_non_null(pair->built);
    assert_non_null(pair->text);
    assert_int_equal(pair->text_length, strlen(pair->text));

    parsed = json_tokener_parse_ex(tokener, pair->text, (int)pair->text_length);
    if (json_tokener_get_error(tokener) != json_tokener_success)
        fail_msg("text is not JSON (%s): %s",
                 json_tokener_error_desc(json_tokener_get_error(tokener)), pair->text);
    assert_int_equal(json_tokener_get_parse_end(tokener), pair->text_length);
    json_tokener_free(tokener);

    assert_true(json_object_object_get_ex(pair->built, "message_id", &built_id));
    assert_true(json_object_object_get_ex(parsed, "message_id", &parsed_id));
    assert_int_equal(json_object_get_string_len(parsed_id), 36);
    assert_string_not_equal(json_object_get_string(built_id), json_object_get_string(parsed_id));
    json_object_object_del(pair->built, "message_id");
    json_object_object_del(parsed, "message_id");

    if (!json_object_equal(pair->built, parsed))
        fail_msg("message_build_text differs from message_build:\n text:   %s\n object: %s",
                 json_object_to_json_string_ext(parsed, JSON_C_TO_STRING_PLAIN),
                 json_object_to_json_string_ext(pair->built, JSON_C_TO_STRING_PLAIN));
    json_object_put(parsed);
}

static void check_all_pairs(fixture *f, size_t expected_minimum)
{
    assert_true(f->pair_count >= expected_minimum);
    for (size_t i = 0; i < f->pair_count; i++)
        check_pair(&f->pairs[i]);
    pairs_clear(f);
}

/* Build an export message of every user and account both ways. */
static void pair_all_exports(fixture *f)
{
    static const store_entity_kind kinds[] = {STORE_USERS, STORE_ACCOUNTS};

    for (size_t k = 0; k < 2; k++) {
        entity_set *set = entities_set(f->svc.entities, kinds[k]);

        for (uint32_t index = 0; index < set->capacity; index++) {
            if (entity_at(set, index)->id[0] != '\0')
                pair_add(f, kinds[k], index, NULL);
        }
    }
}

static void user_without_account(void **state)
{
    fixture *f = *state;
    change_spec user = {
        .kind = CHANGE_USER,
        .user_external_id = "u-1",
        .email = "jane@example.com",
        .anonymous_id = "anon-1",
        .attributes = "{\"first_name\": \"Jane\", \"age\": 41, \"score\": 4.5, "
                      "\"vip\": true, \"tags\": [\"a\", 2, null], "
                      "\"address\": {\"city\": \"Lyon\", \"zip\": \"69001\"}}",
    };

    apply(f, &user);
    assert_int_equal(f->pair_count, 1);
    assert_true(f->pairs[0].has_update);
    check_all_pairs(f, 1);

    pair_all_exports(f);
    assert_int_equal(f->pair_count, 1);
    assert_false(f->pairs[0].has_update);
    assert_non_null(strstr(f->pairs[0].text, "\"account\":null"));
    assert_non_null(strstr(f->pairs[0].text, "\"is_export\":true"));
    check_all_pairs(f, 1);
}

static void user_with_account_and_segments(void **state)
{
    fixture *f = *state;
    change_spec account = {
        .kind = CHANGE_ACCOUNT,
        .account_external_id = "acme",
        .domain = "acme.com",
        .account_attributes = "{\"plan\": \"pro\", \"seats\": 12}",
    };
    change_spec user = {
        .kind = CHANGE_USER,
        .user_external_id = "u-2",
        .email = "bob@acme.com",
        .account_external_id = "acme",
        .attributes = "{\"plan\": \"pro\", \"country\": \"FR\"}",
    };
    change_spec leave = {
        .kind = CHANGE_USER,
        .user_external_id = "u-2",
        .attributes = "{\"plan\": \"free\", \"country\": null}",
    };

    create_segment(f, "{\"name\": \"Pro users\", \"type\": \"users\", "
                      "\"query\": {\"attribute\": \"plan\", \"op\": \"eq\", \"value\": \"pro\"}}");
    create_segment(f, "{\"name\": \"French \\\"quoted\\\" users\", \"type\": \"users\", "
                      "\"query\": {\"attribute\": \"country\", \"op\": \"eq\", \"value\": \"FR\"}}");
    create_segment(f, "{\"name\": \"Big accounts\", \"type\": \"accounts\", "
                      "\"query\": {\"attribute\": \"seats\", \"op\": \"gte\", \"value\": 10}}");

    apply(f, &account);
    apply(f, &user);
    /* The user entered both user segments, and the account got an update of its own. */
    assert_true(f->pair_count >= 2);
    assert_non_null(strstr(f->pairs[f->pair_count - 1].text, "\"entered\":[{"));
    check_all_pairs(f, 2);

    apply(f, &leave);
    assert_true(f->pair_count >= 1);
    assert_non_null(strstr(f->pairs[f->pair_count - 1].text, "\"left\":[{"));
    check_all_pairs(f, 1);

    pair_all_exports(f);
    assert_int_equal(f->pair_count, 2); /* the user and the account */
    check_all_pairs(f, 2);
}

static void account_link_change(void **state)
{
    fixture *f = *state;
    change_spec first = {
        .kind = CHANGE_USER,
        .user_external_id = "u-3",
        .account_external_id = "first-co",
        .domain = "first.example",
    };
    change_spec second = {
        .kind = CHANGE_USER,
        .user_external_id = "u-3",
        .account_external_id = "second-co",
        .domain = "second.example",
    };

    apply(f, &first);
    check_all_pairs(f, 1);
    apply(f, &second);
    assert_true(f->pair_count >= 1);
    /* changes.account.id is [previous account id, current account id]. */
    assert_non_null(strstr(f->pairs[f->pair_count - 1].text, "\"account\":{\"id\":[\""));
    check_all_pairs(f, 1);
}

static void events_in_update(void **state)
{
    fixture *f = *state;
    change_spec user = {
        .kind = CHANGE_USER,
        .user_external_id = "u-4",
        .attributes = "{\"name\": \"Eve\"}",
    };
    change_spec event = {
        .kind = CHANGE_EVENT,
        .user_external_id = "u-4",
        .event = "Order Completed",
        .properties = "{\"total\": 99.5, \"items\": [{\"sku\": \"A-1\", \"qty\": 2}], "
                      "\"note\": \"gift \\\"wrap\\\"\"}",
    };

    apply(f, &user);
    pairs_clear(f);
    apply(f, &event);
    assert_int_equal(f->pair_count, 1);
    assert_non_null(strstr(f->pairs[0].text, "\"events\":[{"));
    assert_non_null(strstr(f->pairs[0].text, "Order Completed"));
    check_all_pairs(f, 1);
}

static void unicode_and_escapes(void **state)
{
    fixture *f = *state;
    change_spec user = {
        .kind = CHANGE_USER,
        .user_external_id = "u-\xc3\xa9\"5\\",
        .email = "zo\xc3\xab@example.com",
        .anonymous_id = "anon\t5",
        .attributes = "{\"name\": \"Zo\xc3\xab \\\"Z\\\" \\\\ \\/ line\\nbreak\\ttab\\r\\b\\f\","
                      " \"control\": \"\\u0001\\u001f\\u007f\","
                      " \"emoji\": \"\xf0\x9f\x98\x80 \\ud83d\\ude00\","
                      " \"caf\xc3\xa9/\\\"key\\\"\": \"\\u00e9\\u4e2d\","
                      " \"big\": 9007199254740993, \"negative\": -42, \"tiny\": 1e-300,"
                      " \"half\": 0.5, \"empty\": \"\", \"nothing\": [], \"hollow\": {}}",
    };

    apply(f, &user);
    check_all_pairs(f, 1);
    pair_all_exports(f);
    check_all_pairs(f, 1);
}

static void account_messages(void **state)
{
    fixture *f = *state;
    change_spec account = {
        .kind = CHANGE_ACCOUNT,
        .account_external_id = "solo",
        .domain = "solo.example",
        .account_attributes = "{\"industry\": \"Caf\xc3\xa9s \\\"&\\\" bars\"}",
    };

    create_segment(f, "{\"name\": \"Every account\", \"type\": \"accounts\", "
                      "\"query\": {\"attribute\": \"industry\", \"op\": \"exists\"}}");
    apply(f, &account);
    assert_int_equal(f->pair_count, 1);
    assert_non_null(strstr(f->pairs[0].text, "{\"type\":\"account\""));
    check_all_pairs(f, 1);
    pair_all_exports(f);
    check_all_pairs(f, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(user_without_account, setup, teardown),
        cmocka_unit_test_setup_teardown(user_with_account_and_segments, setup, teardown),
        cmocka_unit_test_setup_teardown(account_link_change, setup, teardown),
        cmocka_unit_test_setup_teardown(events_in_update, setup, teardown),
        cmocka_unit_test_setup_teardown(unicode_and_escapes, setup, teardown),
        cmocka_unit_test_setup_teardown(account_messages, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
