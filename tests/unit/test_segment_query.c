/* Unit tests of the segment query compiler and evaluator. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <json-c/json.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "attr_table.h"
#include "event_index.h"
#include "segment_query.h"

#define DAY_MS INT64_C(86400000)
#define NOW_MS INT64_C(1717243200000) /* 2024-06-01T12:00:00Z */
#define USER_COUNT 3

static attr_table *users;
static attr_table *accounts;
static event_index *events;
static uint32_t user_index[USER_COUNT];
static uint32_t user_account[USER_COUNT];
static uint32_t account_index;

static void set_all(attr_table *table, uint32_t index, const char *json_text)
{
    json_object *object = json_tokener_parse(json_text);

    assert_non_null(object);
    json_object_object_foreach(object, name, value)
        assert_int_equal(attr_table_set(table, index, name, value), 0);
    json_object_put(object);
}

/*
 * Three users: Zoë has every attribute, an account and orders; Bob has a
 * few attributes and no account; the third user has nothing at all.
 */
static int setup(void **state)
{
    (void)state;
    users = attr_table_create();
    accounts = attr_table_create();
    events = event_index_create();
    if (users == NULL || accounts == NULL || events == NULL)
        return -1;

    for (int i = 0; i < USER_COUNT; i++) {
        user_index[i] = attr_table_add(users);
        user_account[i] = ATTR_NO_ENTITY;
    }
    account_index = attr_table_add(accounts);
    user_account[0] = account_index;

    set_all(users, user_index[0],
            "{\"name\": \"Zoë Ångström\", \"email\": \"zoe@example.com\", \"age\": 34, "
            "\"score\": 7.5, \"vip\": true, \"plan\": \"Pro\", "
            "\"tags\": [\"beta\", \"newsletter\"], \"scores\": [1, 5.5], "
            "\"signed_up_at\": \"2024-05-28T09:00:00Z\", \"birth_date\": \"1990-05-17\", "
            "\"city\": \"Zürich\", \"address\": {\"city\": \"Bern\"}, "
            "\"big\": 9007199254740993, \"nickname\": \"Σωκράτης\", "
            "\"hometown\": \"Москва\"}");
    set_all(users, user_index[1],
            "{\"name\": \"bob\", \"email\": \"bob@test.org\", \"age\": 17, \"vip\": false, "
            "\"plan\": \"free\", \"tags\": [], \"signed_up_at\": \"2023-01-01\", "
            "\"birth_date\": \"2007-02-01\", \"big\": 9007199254740992}");
    set_all(accounts, account_index,
            "{\"plan\": \"enterprise\", \"seats\": 50, \"domain\": \"example.com\"}");

    if (event_index_add(events, user_index[0], "Order Completed", NOW_MS - 1 * DAY_MS) != 0 ||
        event_index_add(events, user_index[0], "Order Completed", NOW_MS - 10 * DAY_MS) != 0 ||
        event_index_add(events, user_index[0], "Order Completed", NOW_MS - 40 * DAY_MS) != 0)
        return -1;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    event_index_free(events);
    attr_table_free(accounts);
    attr_table_free(users);
    return 0;
}

static segment_query *compile_users(const char *query_text)
{
    json_object *query = json_tokener_parse(query_text);
    segment_query *compiled = NULL;
    char error[512] = "";

    if (query == NULL)
        fail_msg("test query is not JSON: %s", query_text);
    if (segment_query_compile(query, SEGMENT_USERS, users, accounts, events, &compiled, error,
                              sizeof(error)) != 0)
        fail_msg("query %s did not compile: %s", query_text, error);
    json_object_put(query);
    return compiled;
}

static int user_matches(const segment_query *query, int user)
{
    segment_subject subject = {
        .table = users,
        .index = user_index[user],
        .account_table = accounts,
        .account_index = user_account[user],
        .events = events,
        .now_ms = NOW_MS,
    };

    return segment_query_matches(query, &subject);
}

typedef struct match_case {
    const char *query;
    int expected[USER_COUNT]; /* Zoë, Bob, the user without attributes */
} match_case;

static void check_cases(const match_case *cases, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        segment_query *query = compile_users(cases[i].query);

        for (int user = 0; user < USER_COUNT; user++) {
            int matched = user_matches(query, user);

            if (matched != cases[i].expected[user])
                fail_msg("%s: user %d %s, expected the opposite", cases[i].query, user,
                         matched ? "matched" : "did not match");
        }
        segment_query_free(query);
    }
}

#define CASES(...)                                                                          \
    do {                                                                                    \
        static const match_case cases[] = {__VA_ARGS__};                                    \
        check_cases(cases, sizeof(cases) / sizeof(cases[0]));                               \
    } while (0)

static void equality_operators(void **state)
{
    (void)state;
    CASES({"{\"attribute\": \"plan\", \"op\": \"eq\", \"value\": \"Pro\"}", {1, 0, 0}},
          {"{\"attribute\": \"plan\", \"op\": \"eq\", \"value\": \"pro\"}", {0, 0, 0}},
          {"{\"attribute\": \"age\", \"op\": \"eq\", \"value\": 34}", {1, 0, 0}},
          {"{\"attribute\": \"age\", \"op\": \"eq\", \"value\": 34.0}", {1, 0, 0}},
          {"{\"attribute\": \"score\", \"op\": \"eq\", \"value\": 7.5}", {1, 0, 0}},
          {"{\"attribute\": \"vip\", \"op\": \"eq\", \"value\": false}", {0, 1, 0}},
          {"{\"attribute\": \"vip\", \"op\": \"eq\", \"value\": 0}", {0, 0, 0}},
          /* No coercion between strings and numbers. */
          {"{\"attribute\": \"age\", \"op\": \"eq\", \"value\": \"34\"}", {0, 0, 0}},
          /* Integers and doubles compare exactly: 2^53 + 1 is not 2^53. */
          {"{\"attribute\": \"big\", \"op\": \"eq\", \"value\": 9007199254740992.0}", {0, 1, 0}},
          {"{\"attribute\": \"big\", \"op\": \"eq\", \"value\": 9007199254740993}", {1, 0, 0}},
          /* On arrays, eq means "has an element equal to". */
          {"{\"attribute\": \"tags\", \"op\": \"eq\", \"value\": \"beta\"}", {1, 0, 0}},
          {"{\"attribute\": \"scores\", \"op\": \"eq\", \"value\": 5.5}", {1, 0, 0}},
          /* Objects never equal a scalar. */
          {"{\"attribute\": \"address\", \"op\": \"eq\", \"value\": \"Bern\"}", {0, 0, 0}},
          {"{\"attribute\": \"plan\", \"op\": \"neq\", \"value\": \"Pro\"}", {0, 1, 1}},
          {"{\"attribute\": \"tags\", \"op\": \"neq\", \"value\": \"beta\"}", {0, 1, 1}},
          {"{\"attribute\": \"age\", \"op\": \"neq\", \"value\": \"34\"}", {1, 1, 1}});
}

static void membership_operators(void **state)
{
    (void)state;
    CASES({"{\"attribute\": \"plan\", \"op\": \"in\", \"value\": [\"Team\", \"Pro\"]}", {1, 0, 0}},
          {"{\"attribute\": \"age\", \"op\": \"in\", \"value\": [17, 99.5, \"34\"]}", {0, 1, 0}},
          {"{\"attribute\": \"tags\", \"op\": \"in\", \"value\": [\"x\", \"newsletter\"]}",
           {1, 0, 0}},
          {"{\"attribute\": \"vip\", \"op\": \"in\", \"value\": [true, \"false\"]}", {1, 0, 0}},
          /* Enough values for the binary search to take several steps. */
          {"{\"attribute\": \"plan\", \"op\": \"in\", \"value\": [\"a\", \"b\", \"c\", \"d\", "
           "\"e\", \"f\", \"g\", \"h\", \"i\", \"j\", \"k\", \"l\", \"m\", \"n\", \"o\", \"p\", "
           "\"q\", \"free\", \"r\", \"s\", 1, 2, 3, true]}",
           {0, 1, 0}},
          {"{\"attribute\": \"plan\", \"op\": \"nin\", \"value\": [\"Pro\", \"Team\"]}", {0, 1, 1}},
          {"{\"attribute\": \"tags\", \"op\": \"nin\", \"value\": [\"beta\"]}", {0, 1, 1}});
}

static void text_operators(void **state)
{
    (void)state;
    CASES({"{\"attribute\": \"email\", \"op\": \"contains\", \"value\": \"@example.\"}", {1, 0, 0}},
          {"{\"attribute\": \"email\", \"op\": \"contains\", \"value\": \"EXAMPLE\"}", {0, 0, 0}},
          {"{\"attribute\": \"tags\", \"op\": \"contains\", \"value\": \"letter\"}", {1, 0, 0}},
          {"{\"attribute\": \"age\", \"op\": \"contains\", \"value\": \"3\"}", {0, 0, 0}},
          {"{\"attribute\": \"name\", \"op\": \"contains\", \"value\": \"Ångs\"}", {1, 0, 0}},
          {"{\"attribute\": \"email\", \"op\": \"starts_with\", \"value\": \"bob@\"}", {0, 1, 0}},
          {"{\"attribute\": \"email\", \"op\": \"starts_with\", \"value\": \"zoe@example.com.\"}",
           {0, 0, 0}},
          {"{\"attribute\": \"email\", \"op\": \"ends_with\", \"value\": \".org\"}", {0, 1, 0}},
          {"{\"attribute\": \"name\", \"op\": \"ends_with\", \"value\": \"ström\"}", {1, 0, 0}},
          {"{\"attribute\": \"email\", \"op\": \"ends_with\", \"value\": \"x.zoe@example.com\"}",
           {0, 0, 0}});
}

static void presence_operators(void **state)
{
    (void)state;
    CASES({"{\"attribute\": \"plan\", \"op\": \"exists\"}", {1, 1, 0}},
          {"{\"attribute\": \"address\", \"op\": \"exists\"}", {1, 0, 0}},
          {"{\"attribute\": \"tags\", \"op\": \"exists\"}", {1, 1, 0}},
          {"{\"attribute\": \"plan\", \"op\": \"missing\"}", {0, 0, 1}},
          {"{\"attribute\": \"address\", \"op\": \"missing\"}", {0, 1, 1}},
          {"{\"attribute\": \"never_set\", \"op\": \"missing\"}", {1, 1, 1}});
}

static void ordering_operators(void **state)
{
    (void)state;
    CASES({"{\"attribute\": \"age\", \"op\": \"gt\", \"value\": 17}", {1, 0, 0}},
          {"{\"attribute\": \"age\", \"op\": \"gte\", \"value\": 17}", {1, 1, 0}},
          {"{\"attribute\": \"age\", \"op\": \"lt\", \"value\": 34}", {0, 1, 0}},
          {"{\"attribute\": \"age\", \"op\": \"lte\", \"value\": 34}", {1, 1, 0}},
          {"{\"attribute\": \"age\", \"op\": \"gt\", \"value\": 33.5}", {1, 0, 0}},
          {"{\"attribute\": \"score\", \"op\": \"lt\", \"value\": 8}", {1, 0, 0}},
          {"{\"attribute\": \"scores\", \"op\": \"gt\", \"value\": 5}", {1, 0, 0}},
          {"{\"attribute\": \"plan\", \"op\": \"gt\", \"value\": 5}", {0, 0, 0}},
          /* Strings that are not dates compare byte by byte. */
          {"{\"attribute\": \"plan\", \"op\": \"gt\", \"value\": \"P\"}", {1, 1, 0}},
          {"{\"attribute\": \"plan\", \"op\": \"lt\", \"value\": \"a\"}", {1, 0, 0}},
          {"{\"attribute\": \"age\", \"op\": \"lt\", \"value\": \"a\"}", {0, 0, 0}},
          /* Date strings compare as instants: 10:00+02:00 is 08:00Z. */
          {"{\"attribute\": \"signed_up_at\", \"op\": \"gt\", \"value\": "
           "\"2024-05-28T10:00:00+02:00\"}",
           {1, 0, 0}},
          {"{\"attribute\": \"signed_up_at\", \"op\": \"lt\", \"value\": "
           "\"2024-05-28T10:00:00+02:00\"}",
           {0, 1, 0}},
          {"{\"attribute\": \"signed_up_at\", \"op\": \"gte\", \"value\": "
           "\"2024-05-28T09:00:00.000Z\"}",
           {1, 0, 0}});
}

static void range_and_date_operators(void **state)
{
    (void)state;
    CASES({"{\"attribute\": \"age\", \"op\": \"between\", \"value\": [17, 34]}", {1, 1, 0}},
          {"{\"attribute\": \"age\", \"op\": \"between\", \"value\": [18, 33]}", {0, 0, 0}},
          {"{\"attribute\": \"age\", \"op\": \"between\", \"value\": [33.5, 34]}", {1, 0, 0}},
          {"{\"attribute\": \"birth_date\", \"op\": \"between\", \"value\": [\"1990-01-01\", "
           "\"1990-12-31\"]}",
           {1, 0, 0}},
          {"{\"attribute\": \"signed_up_at\", \"op\": \"between\", \"value\": "
           "[\"2022-12-31T00:00:00Z\", \"2023-01-01\"]}",
           {0, 1, 0}},
          {"{\"attribute\": \"plan\", \"op\": \"between\", \"value\": [1, 2]}", {0, 0, 0}},
          {"{\"attribute\": \"birth_date\", \"op\": \"before\", \"value\": \"2000-01-01\"}",
           {1, 0, 0}},
          {"{\"attribute\": \"birth_date\", \"op\": \"after\", \"value\": \"2000-01-01\"}",
           {0, 1, 0}},
          /* before and after are strict. */
          {"{\"attribute\": \"birth_date\", \"op\": \"before\", \"value\": \"1990-05-17\"}",
           {0, 0, 0}},
          {"{\"attribute\": \"birth_date\", \"op\": \"after\", \"value\": "
           "\"1990-05-16T23:59:59.999Z\"}",
           {1, 1, 0}},
          {"{\"attribute\": \"plan\", \"op\": \"before\", \"value\": \"2100-01-01\"}", {0, 0, 0}});
}

static void relative_dates(void **state)
{
    (void)state;
    /* Zoë signed up 4 days and 3 hours (99 hours) before now. */
    CASES({"{\"attribute\": \"signed_up_at\", \"op\": \"within_last\", \"value\": \"7d\"}",
           {1, 0, 0}},
          {"{\"attribute\": \"signed_up_at\", \"op\": \"within_last\", \"value\": \"1w\"}",
           {1, 0, 0}},
          {"{\"attribute\": \"signed_up_at\", \"op\": \"within_last\", \"value\": \"4d\"}",
           {0, 0, 0}},
          {"{\"attribute\": \"signed_up_at\", \"op\": \"within_last\", \"value\": \"99h\"}",
           {1, 0, 0}},
          {"{\"attribute\": \"signed_up_at\", \"op\": \"within_last\", \"value\": \"98h\"}",
           {0, 0, 0}},
          {"{\"attribute\": \"signed_up_at\", \"op\": \"within_last\", \"value\": \"5941m\"}",
           {1, 0, 0}},
          {"{\"attribute\": \"signed_up_at\", \"op\": \"within_last\", \"value\": \"356399s\"}",
           {0, 0, 0}},
          {"{\"attribute\": \"signed_up_at\", \"op\": \"within_last\", \"value\": \"100w\"}",
           {1, 1, 0}},
          /* A string that is not a date never matches a date condition. */
          {"{\"attribute\": \"plan\", \"op\": \"within_last\", \"value\": \"7d\"}", {0, 0, 0}});
}

static void case_insensitive_comparisons(void **state)
{
    (void)state;
    CASES({"{\"attribute\": \"plan\", \"op\": \"eq\", \"value\": \"pRO\", "
           "\"case_insensitive\": true}",
           {1, 0, 0}},
          {"{\"attribute\": \"plan\", \"op\": \"eq\", \"value\": \"pRO\", "
           "\"case_insensitive\": false}",
           {0, 0, 0}},
          {"{\"attribute\": \"city\", \"op\": \"eq\", \"value\": \"ZÜRICH\", "
           "\"case_insensitive\": true}",
           {1, 0, 0}},
          {"{\"attribute\": \"nickname\", \"op\": \"eq\", \"value\": \"ΣΩΚΡΆΤΗΣ\", "
           "\"case_insensitive\": true}",
           {1, 0, 0}},
          {"{\"attribute\": \"hometown\", \"op\": \"eq\", \"value\": \"МОСКВА\", "
           "\"case_insensitive\": true}",
           {1, 0, 0}},
          {"{\"attribute\": \"name\", \"op\": \"contains\", \"value\": \"ÅNGSTR\", "
           "\"case_insensitive\": true}",
           {1, 0, 0}},
          {"{\"attribute\": \"name\", \"op\": \"starts_with\", \"value\": \"ZOË\", "
           "\"case_insensitive\": true}",
           {1, 0, 0}},
          {"{\"attribute\": \"name\", \"op\": \"ends_with\", \"value\": \"STRÖM\", "
           "\"case_insensitive\": true}",
           {1, 0, 0}},
          {"{\"attribute\": \"name\", \"op\": \"ends_with\", \"value\": \"XSTRÖM\", "
           "\"case_insensitive\": true}",
           {0, 0, 0}},
          {"{\"attribute\": \"email\", \"op\": \"starts_with\", \"value\": \"BOB\", "
           "\"case_insensitive\": true}",
           {0, 1, 0}},
          {"{\"attribute\": \"plan\", \"op\": \"in\", \"value\": [\"TEAM\", \"FREE\"], "
           "\"case_insensitive\": true}",
           {0, 1, 0}},
          {"{\"attribute\": \"plan\", \"op\": \"neq\", \"value\": \"PRO\", "
           "\"case_insensitive\": true}",
           {0, 1, 1}},
          {"{\"attribute\": \"plan\", \"op\": \"nin\", \"value\": [\"PRO\"], "
           "\"case_insensitive\": true}",
           {0, 1, 1}},
          {"{\"attribute\": \"tags\", \"op\": \"eq\", \"value\": \"BETA\", "
           "\"case_insensitive\": true}",
           {1, 0, 0}},
          {"{\"attribute\": \"plan\", \"op\": \"gt\", \"value\": \"p\", "
           "\"case_insensitive\": true}",
           {1, 0, 0}});
}

static void account_attributes(void **state)
{
    (void)state;
    CASES({"{\"attribute\": \"account.plan\", \"op\": \"eq\", \"value\": \"enterprise\"}",
           {1, 0, 0}},
          {"{\"attribute\": \"account.plan\", \"op\": \"missing\"}", {0, 1, 1}},
          {"{\"attribute\": \"account.plan\", \"op\": \"neq\", \"value\": \"enterprise\"}",
           {0, 1, 1}},
          {"{\"attribute\": \"account.seats\", \"op\": \"gte\", \"value\": 50}", {1, 0, 0}},
          /* The user's own plan is another attribute. */
          {"{\"all\": [{\"attribute\": \"plan\", \"op\": \"eq\", \"value\": \"Pro\"}, "
           "{\"attribute\": \"account.plan\", \"op\": \"eq\", \"value\": \"enterprise\"}]}",
           {1, 0, 0}});
}

static void event_counts(void **state)
{
    (void)state;
    /* Zoë ordered 1, 10 and 40 days ago. */
    CASES({"{\"event\": \"Order Completed\", \"op\": \"count_gte\", \"value\": 2, "
           "\"within\": \"30d\"}",
           {1, 0, 0}},
          {"{\"event\": \"Order Completed\", \"op\": \"count_gte\", \"value\": 3, "
           "\"within\": \"30d\"}",
           {0, 0, 0}},
          {"{\"event\": \"Order Completed\", \"op\": \"count_gte\", \"value\": 3}", {1, 0, 0}},
          {"{\"event\": \"Order Completed\", \"op\": \"count_lte\", \"value\": 0}", {0, 1, 1}},
          {"{\"event\": \"Order Completed\", \"op\": \"count_lte\", \"value\": 1, "
           "\"within\": \"5d\"}",
           {1, 1, 1}},
          /* The window includes its start. */
          {"{\"event\": \"Order Completed\", \"op\": \"count_gte\", \"value\": 1, "
           "\"within\": \"24h\"}",
           {1, 0, 0}},
          {"{\"event\": \"Order Completed\", \"op\": \"count_gte\", \"value\": 1, "
           "\"within\": \"23h\"}",
           {0, 0, 0}},
          {"{\"event\": \"Never Happened\", \"op\": \"count_gte\", \"value\": 1}", {0, 0, 0}},
          {"{\"event\": \"Never Happened\", \"op\": \"count_gte\", \"value\": 0}", {1, 1, 1}});
}

static void logical_combinations(void **state)
{
    (void)state;
    CASES({"{\"all\": [{\"attribute\": \"plan\", \"op\": \"eq\", \"value\": \"Pro\"}, "
           "{\"attribute\": \"age\", \"op\": \"gt\", \"value\": 30}]}",
           {1, 0, 0}},
          {"{\"all\": [{\"attribute\": \"plan\", \"op\": \"eq\", \"value\": \"Pro\"}, "
           "{\"attribute\": \"age\", \"op\": \"gt\", \"value\": 40}]}",
           {0, 0, 0}},
          {"{\"any\": [{\"attribute\": \"plan\", \"op\": \"eq\", \"value\": \"Pro\"}, "
           "{\"attribute\": \"age\", \"op\": \"lt\", \"value\": 18}]}",
           {1, 1, 0}},
          {"{\"not\": {\"attribute\": \"plan\", \"op\": \"eq\", \"value\": \"Pro\"}}", {0, 1, 1}},
          {"{\"not\": {\"not\": {\"attribute\": \"plan\", \"op\": \"exists\"}}}", {1, 1, 0}},
          /* An empty all is everyone. */
          {"{\"all\": []}", {1, 1, 1}},
          {"{\"all\": [{\"any\": [{\"attribute\": \"vip\", \"op\": \"eq\", \"value\": true}, "
           "{\"event\": \"Order Completed\", \"op\": \"count_gte\", \"value\": 1}]}, "
           "{\"not\": {\"attribute\": \"account.plan\", \"op\": \"missing\"}}]}",
           {1, 0, 0}});
}

static void account_segment_evaluated(void **state)
{
    json_object *query = json_tokener_parse(
        "{\"all\": [{\"attribute\": \"plan\", \"op\": \"eq\", \"value\": \"enterprise\"}, "
        "{\"attribute\": \"domain\", \"op\": \"ends_with\", \"value\": \".com\"}]}");
    segment_query *compiled = NULL;
    segment_subject subject = {.table = accounts,
                               .index = account_index,
                               .account_index = ATTR_NO_ENTITY,
                               .now_ms = NOW_MS};
    char error[256] = "";

    (void)state;
    assert_int_equal(segment_query_compile(query, SEGMENT_ACCOUNTS, accounts, NULL, NULL,
                                           &compiled, error, sizeof(error)),
                     0);
    assert_int_equal(segment_query_matches(compiled, &subject), 1);
    segment_query_free(compiled);
    json_object_put(query);
}

static void time_relative_detected(void **state)
{
    static const struct {
        const char *query;
        int relative;
    } cases[] = {
        {"{\"attribute\": \"plan\", \"op\": \"eq\", \"value\": \"Pro\"}", 0},
        {"{\"attribute\": \"birth_date\", \"op\": \"before\", \"value\": \"2000-01-01\"}", 0},
        {"{\"event\": \"Order Completed\", \"op\": \"count_gte\", \"value\": 1}", 0},
        {"{\"attribute\": \"signed_up_at\", \"op\": \"within_last\", \"value\": \"7d\"}", 1},
        {"{\"event\": \"Order Completed\", \"op\": \"count_gte\", \"value\": 1, "
         "\"within\": \"30d\"}",
         1},
        {"{\"any\": [{\"attribute\": \"plan\", \"op\": \"exists\"}, {\"not\": {\"attribute\": "
         "\"seen\", \"op\": \"within_last\", \"value\": \"2w\"}}]}",
         1},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        segment_query *query = compile_users(cases[i].query);

        if (segment_query_is_time_relative(query) != cases[i].relative)
            fail_msg("%s: time relative is %d", cases[i].query,
                     segment_query_is_time_relative(query));
        segment_query_free(query);
    }
}

static void compile_errors_name_path(void **state)
{
    static const struct {
        segment_type type;
        const char *query;
        const char *error; /* the expected start of the message */
    } cases[] = {
        {SEGMENT_USERS, "{\"attribute\": \"a\", \"op\": \"equals\", \"value\": 1}",
         "$.op: unknown operator \"equals\"; use one of eq, neq, in"},
        {SEGMENT_USERS, "{\"all\": [{\"attribute\": \"a\", \"op\": \"contains\", \"value\": 5}]}",
         "$.all[0].value: contains needs a string, got a number"},
        {SEGMENT_USERS,
         "{\"all\": [{\"attribute\": \"a\", \"op\": \"exists\"}, {\"attribute\": \"b\", \"op\": "
         "\"between\", \"value\": [1, 2, 3]}]}",
         "$.all[1].value: between needs an array of two numbers or two dates"},
        {SEGMENT_USERS, "{\"attribute\": \"a\", \"op\": \"between\", \"value\": [1, \"2024-01-01\"]}",
         "$.value: between needs an array of two numbers or two dates"},
        {SEGMENT_USERS, "{\"attribute\": \"a\", \"op\": \"between\", \"value\": [10, 5]}",
         "$.value: between needs the lower bound first, got 10 above 5"},
        {SEGMENT_USERS, "{\"attribute\": \"a\", \"op\": \"eq\", \"value\": 1, \"extra\": 1}",
         "$.extra: unknown key \"extra\"; an attribute condition takes attribute, op"},
        {SEGMENT_USERS, "{\"all\": [], \"any\": []}",
         "$.any: unknown key \"any\" next to \"all\""},
        {SEGMENT_USERS, "{\"atribute\": \"a\"}", "$.atribute: unknown key \"atribute\"; a condition"},
        {SEGMENT_USERS, "{}", "$: empty condition"},
        {SEGMENT_USERS, "[]", "$: a condition must be an object, got an array"},
        {SEGMENT_USERS, "{\"not\": [{\"attribute\": \"a\", \"op\": \"exists\"}]}",
         "$.not: a condition must be an object, got an array"},
        {SEGMENT_USERS, "{\"all\": {\"attribute\": \"a\", \"op\": \"exists\"}}",
         "$.all: all needs an array of conditions, got an object"},
        {SEGMENT_USERS, "{\"any\": []}", "$.any: any needs at least one condition"},
        {SEGMENT_ACCOUNTS, "{\"attribute\": \"account.plan\", \"op\": \"exists\"}",
         "$.attribute: \"account.plan\": account attributes are only available in user "
         "segments"},
        {SEGMENT_USERS, "{\"attribute\": \"account.\", \"op\": \"exists\"}",
         "$.attribute: \"account.\" needs an attribute name"},
        {SEGMENT_ACCOUNTS,
         "{\"all\": [{\"event\": \"Order Completed\", \"op\": \"count_gte\", \"value\": 1}]}",
         "$.all[0].event: event conditions are only available in user segments"},
        {SEGMENT_USERS, "{\"attribute\": \"seen\", \"op\": \"within_last\", \"value\": \"7x\"}",
         "$.value: within_last needs a duration such as \"30m\""},
        {SEGMENT_USERS, "{\"attribute\": \"seen\", \"op\": \"within_last\", \"value\": \"0d\"}",
         "$.value: within_last needs a duration"},
        {SEGMENT_USERS, "{\"attribute\": \"seen\", \"op\": \"within_last\", \"value\": 7}",
         "$.value: within_last needs a duration such as \"30m\", \"12h\", \"7d\" or \"2w\", got "
         "a number"},
        {SEGMENT_USERS,
         "{\"attribute\": \"seen\", \"op\": \"within_last\", \"value\": \"999999999w\"}",
         "$.value: within_last duration \"999999999w\" is longer than 100 years"},
        {SEGMENT_USERS,
         "{\"event\": \"Order Completed\", \"op\": \"count_gte\", \"value\": 1, \"within\": "
         "\"30 days\"}",
         "$.within: within needs a duration"},
        {SEGMENT_USERS, "{\"attribute\": \"a\", \"op\": \"eq\", \"value\": null}",
         "$.value: eq needs a string, number or boolean, got null; use missing"},
        {SEGMENT_USERS, "{\"attribute\": \"a\", \"op\": \"eq\", \"value\": [1]}",
         "$.value: eq needs a string, number or boolean, got an array"},
        {SEGMENT_USERS, "{\"attribute\": \"a\", \"op\": \"eq\"}", "$: eq needs a \"value\""},
        {SEGMENT_USERS, "{\"attribute\": \"a\", \"op\": \"exists\", \"value\": true}",
         "$.value: exists takes no value"},
        {SEGMENT_USERS, "{\"attribute\": \"a\", \"value\": 1}", "$: a condition needs an \"op\""},
        {SEGMENT_USERS, "{\"attribute\": \"a\", \"op\": 3}", "$.op: op needs a string"},
        {SEGMENT_USERS, "{\"attribute\": \"\", \"op\": \"exists\"}",
         "$.attribute: attribute needs a non-empty string"},
        {SEGMENT_USERS, "{\"attribute\": [\"a\"], \"op\": \"exists\"}",
         "$.attribute: attribute needs a non-empty string (the attribute name), got an array"},
        {SEGMENT_USERS, "{\"attribute\": \"a\", \"op\": \"in\", \"value\": []}",
         "$.value: in needs a non-empty array of strings, numbers or booleans, got an empty "
         "array"},
        {SEGMENT_USERS, "{\"attribute\": \"a\", \"op\": \"nin\", \"value\": [1, {\"b\": 2}]}",
         "$.value[1]: nin needs a string, number or boolean, got an object"},
        {SEGMENT_USERS, "{\"attribute\": \"a\", \"op\": \"before\", \"value\": \"yesterday\"}",
         "$.value: before needs an ISO 8601 date such as \"2024-01-31\""},
        {SEGMENT_USERS, "{\"attribute\": \"a\", \"op\": \"after\", \"value\": \"2024-02-30\"}",
         "$.value: after needs an ISO 8601 date"},
        {SEGMENT_USERS, "{\"attribute\": \"a\", \"op\": \"gt\", \"value\": true}",
         "$.value: gt needs a number or a string, got a boolean"},
        {SEGMENT_USERS,
         "{\"attribute\": \"a\", \"op\": \"between\", \"value\": [1, 2], \"case_insensitive\": "
         "true}",
         "$.case_insensitive: between does not compare text"},
        {SEGMENT_USERS,
         "{\"attribute\": \"a\", \"op\": \"eq\", \"value\": \"x\", \"case_insensitive\": \"yes\"}",
         "$.case_insensitive: case_insensitive needs true or false, got a string"},
        {SEGMENT_USERS, "{\"attribute\": \"a\", \"op\": \"count_gte\", \"value\": 1}",
         "$.op: count_gte applies to events"},
        {SEGMENT_USERS, "{\"event\": \"Order Completed\", \"op\": \"eq\", \"value\": 1}",
         "$.op: eq applies to attributes; an event condition takes count_gte or count_lte"},
        {SEGMENT_USERS, "{\"event\": \"Order Completed\", \"op\": \"count_gte\", \"value\": -1}",
         "$.value: count_gte needs a whole number of events"},
        {SEGMENT_USERS, "{\"event\": \"Order Completed\", \"op\": \"count_lte\", \"value\": 1.5}",
         "$.value: count_lte needs a whole number of events"},
        {SEGMENT_USERS, "{\"event\": \"Order Completed\", \"op\": \"count_lte\"}",
         "$: count_lte needs a \"value\""},
        {SEGMENT_USERS, "{\"event\": \"\", \"op\": \"count_lte\", \"value\": 1}",
         "$.event: event needs a non-empty string"},
        {SEGMENT_USERS,
         "{\"event\": \"Order Completed\", \"op\": \"count_lte\", \"value\": 1, \"extra\": 1}",
         "$.extra: unknown key \"extra\"; an event condition takes event, op, value and within"},
        {SEGMENT_USERS,
         "{\"all\": [{\"attribute\": \"a\", \"op\": \"exists\"}, {\"any\": [{\"attribute\": "
         "\"b\", \"op\": \"exists\"}, {\"not\": {\"attribute\": \"c\", \"op\": \"lt\", "
         "\"value\": {}}}]}]}",
         "$.all[1].any[1].not.value: lt needs a number or a string, got an object"},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        json_object *query = json_tokener_parse(cases[i].query);
        /* Not NULL, to check that a failed compile clears it. */
        segment_query *compiled = (segment_query *)&compiled;
        char error[512] = "";
        int result;

        if (query == NULL)
            fail_msg("test query is not JSON: %s", cases[i].query);
        result = segment_query_compile(query, cases[i].type, cases[i].type == SEGMENT_USERS ? users : accounts,
                                       accounts, events, &compiled, error, sizeof(error));
        json_object_put(query);
        if (result != -1 || compiled != NULL)
            fail_msg("%s compiled, expected error %s", cases[i].query, cases[i].error);
        if (strncmp(error, cases[i].error, strlen(cases[i].error)) != 0)
            fail_msg("%s: error \"%s\", expected it to start with \"%s\"", cases[i].query, error,
                     cases[i].error);
    }
}

/* A chain of depth nested "not" around one leaf. */
static json_object *nested_nots(int depth)
{
    json_object *query = json_tokener_parse("{\"attribute\": \"plan\", \"op\": \"exists\"}");

    for (int level = 1; level < depth; level++) {
        json_object *outer = json_object_new_object();

        json_object_object_add(outer, "not", query);
        query = outer;
    }
    return query;
}

static void nesting_limited_to_32(void **state)
{
    json_object *query = nested_nots(32);
    segment_query *compiled = NULL;
    char error[1024] = "";
    char expected_path[512] = "$";

    (void)state;
    /* 32 levels: 31 nots around the leaf; an odd count negates. */
    assert_int_equal(segment_query_compile(query, SEGMENT_USERS, users, accounts, events,
                                           &compiled, error, sizeof(error)),
                     0);
    assert_int_equal(user_matches(compiled, 0), 0);
    assert_int_equal(user_matches(compiled, 2), 1);
    segment_query_free(compiled);
    json_object_put(query);

    query = nested_nots(33);
    assert_int_equal(segment_query_compile(query, SEGMENT_USERS, users, accounts, events,
                                           &compiled, error, sizeof(error)),
                     -1);
    assert_null(compiled);
    for (int level = 1; level < 33; level++)
        strcat(expected_path, ".not");
    strcat(expected_path, ": the query nests deeper than 32 levels");
    if (strncmp(error, expected_path, strlen(expected_path)) != 0)
        fail_msg("error \"%s\", expected it to start with \"%s\"", error, expected_path);
    json_object_put(query);
}

static void small_error_buffer_truncated(void **state)
{
    json_object *query = json_tokener_parse("{\"attribute\": \"a\", \"op\": \"equals\"}");
    segment_query *compiled = NULL;
    char error[12];

    (void)state;
    memset(error, 'x', sizeof(error));
    assert_int_equal(segment_query_compile(query, SEGMENT_USERS, users, accounts, events,
                                           &compiled, error, 8),
                     -1);
    assert_string_equal(error, "$.op: u");
    assert_int_equal(error[8], 'x');
    assert_int_equal(segment_query_compile(query, SEGMENT_USERS, users, accounts, events,
                                           &compiled, NULL, 0),
                     -1);
    json_object_put(query);
}

typedef struct count_job {
    const segment_query *query;
    uint32_t first;
    uint32_t end;
    uint32_t matches;
} count_job;

static void *count_matches(void *argument)
{
    count_job *job = argument;
    segment_subject subject = {.table = users, .account_index = ATTR_NO_ENTITY, .now_ms = NOW_MS};

    attr_table_read_lock(users);
    for (uint32_t index = job->first; index < job->end; index++) {
        subject.index = index;
        if (attr_table_exists(users, index))
            job->matches += (uint32_t)segment_query_matches(job->query, &subject);
    }
    attr_table_read_unlock(users);
    return NULL;
}

static void concurrent_readers_agree(void **state)
{
    segment_query *query;
    count_job jobs[2];
    pthread_t threads[2];
    char json_text[128];
    uint32_t end;

    (void)state;
    for (int i = 0; i < 3000; i++) {
        uint32_t user = attr_table_add(users);

        snprintf(json_text, sizeof(json_text), "{\"n\": %d, \"kind\": \"%s\"}", i,
                 i % 3 == 0 ? "three" : "other");
        set_all(users, user, json_text);
    }
    query = compile_users("{\"all\": [{\"attribute\": \"n\", \"op\": \"gte\", \"value\": 1000}, "
                          "{\"attribute\": \"kind\", \"op\": \"eq\", \"value\": \"three\"}]}");

    end = attr_table_count(users);
    jobs[0] = (count_job){query, 0, end / 2, 0};
    jobs[1] = (count_job){query, end / 2, end, 0};
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&threads[i], NULL, count_matches, &jobs[i]), 0);
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_join(threads[i], NULL), 0);

    /* n from 1000 to 2999 divisible by 3: 1002, 1005, ..., 2997. */
    assert_int_equal(jobs[0].matches + jobs[1].matches, 666);
    segment_query_free(query);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(equality_operators, setup, teardown),
        cmocka_unit_test_setup_teardown(membership_operators, setup, teardown),
        cmocka_unit_test_setup_teardown(text_operators, setup, teardown),
        cmocka_unit_test_setup_teardown(presence_operators, setup, teardown),
        cmocka_unit_test_setup_teardown(ordering_operators, setup, teardown),
        cmocka_unit_test_setup_teardown(range_and_date_operators, setup, teardown),
        cmocka_unit_test_setup_teardown(relative_dates, setup, teardown),
        cmocka_unit_test_setup_teardown(case_insensitive_comparisons, setup, teardown),
        cmocka_unit_test_setup_teardown(account_attributes, setup, teardown),
        cmocka_unit_test_setup_teardown(event_counts, setup, teardown),
        cmocka_unit_test_setup_teardown(logical_combinations, setup, teardown),
        cmocka_unit_test_setup_teardown(account_segment_evaluated, setup, teardown),
        cmocka_unit_test_setup_teardown(time_relative_detected, setup, teardown),
        cmocka_unit_test_setup_teardown(compile_errors_name_path, setup, teardown),
        cmocka_unit_test_setup_teardown(nesting_limited_to_32, setup, teardown),
        cmocka_unit_test_setup_teardown(small_error_buffer_truncated, setup, teardown),
        cmocka_unit_test_setup_teardown(concurrent_readers_agree, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
