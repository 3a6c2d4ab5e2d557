/*
 * Fuzz target: a segment query as JSON text. The target parses it as the
 * segments API parses a request body (json-c, 64 levels deep). Then it
 * compiles the query with segment_query_compile() for a user segment and
 * for an account segment, and evaluates it against a few users and
 * accounts.
 *
 * Checks beyond the sanitizers:
 * - a compile error starts with the JSON path of the fault ("$");
 * - matching returns 0 or 1;
 * - {"not": query} compiles whenever query compiles without reaching the
 *   depth limit, is time-relative exactly when query is, and matches
 *   exactly the entities that query does not match.
 */
#include <json-c/json.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attr_table.h"
#include "event_index.h"
#include "segment_query.h"

#define DAY_MS INT64_C(86400000)
#define FUZZ_NOW_MS INT64_C(1717243200000) /* 2024-06-01T12:00:00Z */
#define FUZZ_USER_COUNT 3

/* The entities that each query is evaluated against, rebuilt for every
 * input so that names interned by one input never reach the next. */
typedef struct fuzz_entities {
    attr_table *users;
    attr_table *accounts;
    event_index *events;
    uint32_t user_index[FUZZ_USER_COUNT];
    uint32_t user_account[FUZZ_USER_COUNT];
    uint32_t account_index;
} fuzz_entities;

static void fail(const char *message, const char *detail)
{
    fprintf(stderr, "fuzz_segment_query: %s%s%s\n", message, detail ? ": " : "",
            detail ? detail : "");
    abort();
}

static void set_all(attr_table *table, uint32_t index, const char *json_text)
{
    json_object *object = json_tokener_parse(json_text);

    if (object == NULL)
        fail("a fixed attribute set is not JSON", json_text);
    json_object_object_foreach(object, name, value) {
        if (attr_table_set(table, index, name, value) != 0)
            fail("attr_table_set failed", name);
    }
    json_object_put(object);
}

/* Three users, as in the unit tests of the compiler. The first has
 * attributes of every type, an account and events. The second has a few
 * attributes, and the third has none. */
static void entities_create(fuzz_entities *entities)
{
    entities->users = attr_table_create();
    entities->accounts = attr_table_create();
    entities->events = event_index_create();
    if (entities->users == NULL || entities->accounts == NULL || entities->events == NULL)
        fail("out of memory", NULL);

    for (int i = 0; i < FUZZ_USER_COUNT; i++) {
        entities->user_index[i] = attr_table_add(entities->users);
        entities->user_account[i] = ATTR_NO_ENTITY;
    }
    entities->account_index = attr_table_add(entities->accounts);
    entities->user_account[0] = entities->account_index;

    set_all(entities->users, entities->user_index[0],
            "{\"name\": \"Zoë Ångström\", \"email\": \"zoe@example.com\", \"age\": 34, "
            "\"score\": 7.5, \"vip\": true, \"plan\": \"Pro\", "
            "\"tags\": [\"beta\", \"newsletter\"], \"scores\": [1, 5.5], "
            "\"signed_up_at\": \"2024-05-28T09:00:00Z\", \"birth_date\": \"1990-05-17\", "
            "\"address\": {\"city\": \"Bern\"}, \"big\": 9007199254740993, "
            "\"nothing\": null}");
    set_all(entities->users, entities->user_index[1],
            "{\"name\": \"bob\", \"email\": \"bob@test.org\", \"age\": 17, \"vip\": false, "
            "\"plan\": \"free\", \"tags\": [], \"signed_up_at\": \"2023-01-01\"}");
    set_all(entities->accounts, entities->account_index,
            "{\"plan\": \"enterprise\", \"seats\": 50, \"domain\": \"example.com\"}");

    for (int days = 1; days <= 40; days *= 3) {
        if (event_index_add(entities->events, entities->user_index[0], "Order Completed",
                            FUZZ_NOW_MS - days * DAY_MS) != 0)
            fail("out of memory", NULL);
    }
}

static void entities_free(fuzz_entities *entities)
{
    event_index_free(entities->events);
    attr_table_free(entities->accounts);
    attr_table_free(entities->users);
}

static int compile(const fuzz_entities *entities, json_object *query, segment_type type,
                   segment_query **compiled, char *error, size_t error_size)
{
    if (type == SEGMENT_USERS)
        return segment_query_compile(query, type, entities->users, entities->accounts,
                                     entities->events, compiled, error, error_size);
    return segment_query_compile(query, type, entities->accounts, NULL, NULL, compiled, error,
                                 error_size);
}

/* Whether compiled matches the subject at position (users) or the account. */
static int matches(const fuzz_entities *entities, const segment_query *compiled,
                   segment_type type, int position)
{
    segment_subject subject = {.now_ms = FUZZ_NOW_MS};
    int result;

    if (type == SEGMENT_USERS) {
        subject.table = entities->users;
        subject.index = entities->user_index[position];
        subject.account_table = entities->accounts;
        subject.account_index = entities->user_account[position];
        subject.events = entities->events;
    } else {
        subject.table = entities->accounts;
        subject.index = entities->account_index;
        subject.account_index = ATTR_NO_ENTITY;
    }

    result = segment_query_matches(compiled, &subject);
    if (result != 0 && result != 1)
        fail("segment_query_matches returned neither 0 nor 1", NULL);
    return result;
}

static void check_type(const fuzz_entities *entities, json_object *query, segment_type type)
{
    int subjects = type == SEGMENT_USERS ? FUZZ_USER_COUNT : 1;
    segment_query *compiled = NULL;
    segment_query *negated = NULL;
    json_object *wrapper;
    char error[512] = "";
    char negated_error[512] = "";

    if (compile(entities, query, type, &compiled, error, sizeof(error)) != 0) {
        if (error[0] != '$')
            fail("a compile error does not start with the JSON path", error);
        return;
    }

    /* {"not": query} takes a second reference to query. */
    wrapper = json_object_new_object();
    if (wrapper == NULL || json_object_object_add(wrapper, "not", json_object_get(query)) != 0)
        fail("out of memory", NULL);
    if (compile(entities, wrapper, type, &negated, negated_error, sizeof(negated_error)) != 0) {
        if (strstr(negated_error, "deeper than") == NULL)
            fail("{\"not\": query} did not compile although query did", negated_error);
        segment_query_free(compiled);
        json_object_put(wrapper);
        return;
    }

    if (segment_query_is_time_relative(compiled) != segment_query_is_time_relative(negated))
        fail("{\"not\": query} and query differ in being time-relative", NULL);
    for (int position = 0; position < subjects; position++) {
        if (matches(entities, compiled, type, position) ==
            matches(entities, negated, type, position))
            fail("{\"not\": query} matched the same as query",
                 json_object_to_json_string(query));
    }

    segment_query_free(negated);
    segment_query_free(compiled);
    json_object_put(wrapper);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_tokener *tokener;
    json_object *query;
    fuzz_entities entities;

    if (size > INT32_MAX)
        return 0;

    /* The depth the segments API parses request bodies with. */
    tokener = json_tokener_new_ex(64);
    if (tokener == NULL)
        fail("out of memory", NULL);
    query = json_tokener_parse_ex(tokener, (const char *)data, (int)size);
    if (json_tokener_get_error(tokener) == json_tokener_continue)
        query = json_tokener_parse_ex(tokener, "", 1);
    json_tokener_free(tokener);
    if (query == NULL)
        return 0;

    entities_create(&entities);
    check_type(&entities, query, SEGMENT_USERS);
    check_type(&entities, query, SEGMENT_ACCOUNTS);
    entities_free(&entities);
    json_object_put(query);
    return 0;
}
