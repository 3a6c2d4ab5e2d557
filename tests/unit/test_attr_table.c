/* Unit tests of the in-memory attribute table and its value pool. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <json-c/json.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attr_table.h"
#include "attr_value.h"
#include "value_pool.h"

static attr_table *table;

static int setup(void **state)
{
    (void)state;
    table = attr_table_create();
    return table == NULL ? -1 : 0;
}

static int teardown(void **state)
{
    (void)state;
    attr_table_free(table);
    table = NULL;
    return 0;
}

/* Set name on index from JSON text; the table keeps no reference to it. */
static void set_json(uint32_t index, const char *name, const char *json_text)
{
    json_object *value = json_tokener_parse(json_text);

    assert_true(value != NULL || strcmp(json_text, "null") == 0);
    assert_int_equal(attr_table_set(table, index, name, value), 0);
    json_object_put(value);
}

/* The attribute as compact JSON text, or "(unset)". */
static const char *get_text(uint32_t index, const char *name, char *buffer, size_t size)
{
    json_object *value = attr_table_get(table, index, name);

    if (value == NULL) {
        snprintf(buffer, size, "(unset)");
        return buffer;
    }
    snprintf(buffer, size, "%s",
             json_object_to_json_string_ext(value, JSON_C_TO_STRING_PLAIN |
                                                       JSON_C_TO_STRING_NOSLASHESCAPE));
    json_object_put(value);
    return buffer;
}

static void scalar_types_round_trip(void **state)
{
    uint32_t user = attr_table_add(table);
    char buffer[256];
    json_object *value;

    (void)state;
    set_json(user, "vip", "true");
    set_json(user, "age", "42");
    set_json(user, "score", "7.25");
    set_json(user, "plan", "\"Pro\"");
    set_json(user, "big", "9223372036854775807");
    set_json(user, "negative", "-17");

    assert_string_equal(get_text(user, "vip", buffer, sizeof(buffer)), "true");
    assert_string_equal(get_text(user, "age", buffer, sizeof(buffer)), "42");
    assert_string_equal(get_text(user, "score", buffer, sizeof(buffer)), "7.25");
    assert_string_equal(get_text(user, "plan", buffer, sizeof(buffer)), "\"Pro\"");
    assert_string_equal(get_text(user, "big", buffer, sizeof(buffer)), "9223372036854775807");
    assert_string_equal(get_text(user, "negative", buffer, sizeof(buffer)), "-17");

    value = attr_table_get(table, user, "age");
    assert_true(json_object_is_type(value, json_type_int));
    json_object_put(value);
    value = attr_table_get(table, user, "score");
    assert_true(json_object_is_type(value, json_type_double));
    json_object_put(value);
}

static void arrays_and_objects_round_trip(void **state)
{
    uint32_t user = attr_table_add(table);
    char buffer[256];

    (void)state;
    set_json(user, "tags", "[\"beta\", \"newsletter\", 3, true, null, [1], {\"a\": 1}]");
    set_json(user, "address", "{\"city\": \"Zürich\", \"zip\": \"8001\", \"geo\": [47.37, 8.54]}");
    set_json(user, "empty", "[]");

    assert_string_equal(get_text(user, "tags", buffer, sizeof(buffer)),
                        "[\"beta\",\"newsletter\",3,true,null,[1],{\"a\":1}]");
    assert_string_equal(get_text(user, "address", buffer, sizeof(buffer)),
                        "{\"city\":\"Zürich\",\"zip\":\"8001\",\"geo\":[47.37,8.54]}");
    assert_string_equal(get_text(user, "empty", buffer, sizeof(buffer)), "[]");
}

static void array_elements_parsed_once(void **state)
{
    uint32_t user = attr_table_add(table);
    uint32_t tags = attr_table_intern_name(table, "tags");
    attr_value value;
    const pooled_value *array;

    (void)state;
    set_json(user, "tags", "[\"beta\", 3, 2.5, false, null, {\"a\": 1}]");
    assert_int_equal(attr_table_find(table, user, tags, &value), 1);
    assert_int_equal(value.type, ATTR_TYPE_ARRAY);

    array = value.payload.pooled;
    assert_int_equal(array->element_count, 6);
    assert_int_equal(array->parsed.elements[0].type, ATTR_TYPE_STRING);
    assert_string_equal(array->parsed.elements[0].payload.pooled->text, "beta");
    assert_int_equal(array->parsed.elements[1].type, ATTR_TYPE_INTEGER);
    assert_int_equal(array->parsed.elements[1].payload.integer, 3);
    assert_int_equal(array->parsed.elements[2].type, ATTR_TYPE_DOUBLE);
    assert_true(array->parsed.elements[2].payload.number == 2.5);
    assert_int_equal(array->parsed.elements[3].type, ATTR_TYPE_BOOLEAN);
    assert_int_equal(array->parsed.elements[3].payload.boolean, 0);
    assert_int_equal(array->parsed.elements[4].type, ATTR_TYPE_NONE);
    assert_int_equal(array->parsed.elements[5].type, ATTR_TYPE_NONE);
}

static void utf8_strings_byte_exact(void **state)
{
    static const char *const samples[] = {
        "Zoë Ångström",         "Ελληνικά",       "Москва", "東京都渋谷区",
        "\xf0\x9f\x8e\x89 party", ("e\xcc\x81" "cole"), /* e + combining acute, not é */
        "\xff\xfe not UTF-8",   "",
    };
    uint32_t user = attr_table_add(table);
    json_object *value;

    (void)state;
    for (size_t i = 0; i < sizeof(samples) / sizeof(samples[0]); i++) {
        json_object *input = json_object_new_string(samples[i]);
        char name[32];

        snprintf(name, sizeof(name), "text_%zu", i);
        assert_int_equal(attr_table_set(table, user, name, input), 0);
        json_object_put(input);

        value = attr_table_get(table, user, name);
        assert_non_null(value);
        assert_int_equal(json_object_get_string_len(value), strlen(samples[i]));
        assert_memory_equal(json_object_get_string(value), samples[i], strlen(samples[i]));
        json_object_put(value);
    }

    /* Attribute names are UTF-8 too, and case-sensitive. */
    set_json(user, "prénom", "\"Zoë\"");
    set_json(user, "Prénom", "\"other\"");
    value = attr_table_get(table, user, "prénom");
    assert_string_equal(json_object_get_string(value), "Zoë");
    json_object_put(value);
}

static void embedded_nul_kept(void **state)
{
    uint32_t user = attr_table_add(table);
    json_object *input = json_object_new_string_len("a\0b", 3);
    json_object *value;

    (void)state;
    assert_int_equal(attr_table_set(table, user, "raw", input), 0);
    json_object_put(input);
    value = attr_table_get(table, user, "raw");
    assert_int_equal(json_object_get_string_len(value), 3);
    assert_memory_equal(json_object_get_string(value), "a\0b", 3);
    json_object_put(value);
}

static void set_unset_overwrite(void **state)
{
    uint32_t user = attr_table_add(table);
    char buffer[64];

    (void)state;
    set_json(user, "plan", "\"free\"");
    set_json(user, "plan", "\"Pro\"");
    assert_string_equal(get_text(user, "plan", buffer, sizeof(buffer)), "\"Pro\"");

    /* Overwriting may change the type. */
    set_json(user, "plan", "3");
    assert_string_equal(get_text(user, "plan", buffer, sizeof(buffer)), "3");

    /* A NULL value (JSON null) unsets. */
    assert_int_equal(attr_table_set(table, user, "plan", NULL), 0);
    assert_string_equal(get_text(user, "plan", buffer, sizeof(buffer)), "(unset)");
    set_json(user, "plan", "null");
    assert_string_equal(get_text(user, "plan", buffer, sizeof(buffer)), "(unset)");

    /* Unsetting what was never set is not an error. */
    assert_int_equal(attr_table_set(table, user, "never", NULL), 0);
    assert_null(attr_table_get(table, user, "never"));
    assert_null(attr_table_get(table, user, "no such name"));
}

static void many_attributes_stay_sorted(void **state)
{
    uint32_t user = attr_table_add(table);
    char name[32];
    char expected[32];
    char buffer[64];

    (void)state;
    /* Insert in reverse order of name id and in a scattered order, past
     * several record growths, then remove every third. */
    for (int i = 0; i < 60; i++)
        attr_table_intern_name(table, (snprintf(name, sizeof(name), "a%02d", i), name));
    for (int i = 59; i >= 0; i -= 2) {
        snprintf(name, sizeof(name), "a%02d", i);
        snprintf(expected, sizeof(expected), "%d", i);
        set_json(user, name, expected);
    }
    for (int i = 0; i < 60; i += 2) {
        snprintf(name, sizeof(name), "a%02d", i);
        snprintf(expected, sizeof(expected), "%d", i);
        set_json(user, name, expected);
    }
    for (int i = 0; i < 60; i += 3) {
        snprintf(name, sizeof(name), "a%02d", i);
        assert_int_equal(attr_table_set(table, user, name, NULL), 0);
    }

    for (int i = 0; i < 60; i++) {
        snprintf(name, sizeof(name), "a%02d", i);
        if (i % 3 == 0)
            snprintf(expected, sizeof(expected), "(unset)");
        else
            snprintf(expected, sizeof(expected), "%d", i);
        assert_string_equal(get_text(user, name, buffer, sizeof(buffer)), expected);
    }
}

static void to_json_lists_all(void **state)
{
    uint32_t user = attr_table_add(table);
    uint32_t empty = attr_table_add(table);
    json_object *all;
    json_object *member;

    (void)state;
    set_json(user, "b", "1");
    set_json(user, "a", "\"x\"");
    set_json(user, "c", "[1,2]");

    all = attr_table_to_json(table, user);
    assert_int_equal(json_object_object_length(all), 3);
    assert_true(json_object_object_get_ex(all, "a", &member));
    assert_string_equal(json_object_get_string(member), "x");
    assert_true(json_object_object_get_ex(all, "c", &member));
    assert_int_equal(json_object_array_length(member), 2);
    json_object_put(all);

    all = attr_table_to_json(table, empty);
    assert_int_equal(json_object_object_length(all), 0);
    json_object_put(all);
}

static void remove_and_index_reuse(void **state)
{
    uint32_t first = attr_table_add(table);
    uint32_t second = attr_table_add(table);
    uint32_t third = attr_table_add(table);
    uint32_t reused;
    json_object *value;

    (void)state;
    assert_int_equal(first, 0);
    assert_int_equal(second, 1);
    assert_int_equal(third, 2);
    set_json(second, "email", "\"b@example.com\"");
    set_json(third, "email", "\"c@example.com\"");

    attr_table_remove(table, second);
    assert_false(attr_table_exists(table, second));
    assert_null(attr_table_get(table, second, "email"));
    assert_int_equal(attr_table_set(table, second, "email", NULL), -EINVAL);
    assert_int_equal(attr_table_count(table), 3);

    reused = attr_table_add(table);
    assert_int_equal(reused, second);
    assert_true(attr_table_exists(table, reused));
    assert_null(attr_table_get(table, reused, "email"));

    value = attr_table_get(table, third, "email");
    assert_string_equal(json_object_get_string(value), "c@example.com");
    json_object_put(value);

    /* Removing twice, or an index never handed out, changes nothing. */
    attr_table_remove(table, first);
    attr_table_remove(table, first);
    attr_table_remove(table, 1000);
    assert_int_equal(attr_table_add(table), first);
    assert_int_equal(attr_table_add(table), 3);
    assert_false(attr_table_exists(table, 4));
}

static void names_interned_stably(void **state)
{
    uint32_t plan = attr_table_intern_name(table, "plan");
    uint32_t city = attr_table_intern_name(table, "city");
    uint32_t user = attr_table_add(table);
    attr_value value;

    (void)state;
    assert_int_not_equal(plan, city);
    assert_int_equal(attr_table_intern_name(table, "plan"), plan);
    set_json(user, "plan", "\"Pro\"");
    assert_int_equal(attr_table_intern_name(table, "plan"), plan);
    assert_int_equal(attr_table_find(table, user, plan, &value), 1);
    assert_int_equal(value.type, ATTR_TYPE_STRING);
    assert_int_equal(attr_table_find(table, user, city, &value), 0);
    assert_int_equal(attr_table_find(table, 999, plan, &value), 0);
}

static void dates_parsed_when_pooled(void **state)
{
    uint32_t user = attr_table_add(table);
    uint32_t born = attr_table_intern_name(table, "born");
    uint32_t note = attr_table_intern_name(table, "note");
    attr_value value;

    (void)state;
    set_json(user, "born", "\"1970-01-02\"");
    set_json(user, "note", "\"1970-01-02 is a date inside text\"");

    assert_int_equal(attr_table_find(table, user, born, &value), 1);
    assert_int_equal(value.payload.pooled->is_date, 1);
    assert_int_equal(value.payload.pooled->parsed.date_ms, 86400000);
    assert_int_equal(attr_table_find(table, user, note, &value), 1);
    assert_int_equal(value.payload.pooled->is_date, 0);
}

static void pool_counts_references(void **state)
{
    value_pool *pool = value_pool_create();
    const pooled_value *first;
    const pooled_value *second;
    const pooled_value *other;
    json_object *array = json_tokener_parse("[\"x\", \"shared\"]");
    const pooled_value *pooled_array;

    (void)state;
    first = value_pool_intern_string(pool, "shared", 6);
    second = value_pool_intern_string(pool, "shared", 6);
    other = value_pool_intern_string(pool, "other", 5);
    assert_ptr_equal(first, second);
    assert_int_equal(first->references, 2);
    assert_int_equal(value_pool_size(pool), 2);

    /* An array holds a reference on each element string. */
    pooled_array = value_pool_intern_json(pool, array);
    assert_int_equal(first->references, 3);
    assert_int_equal(value_pool_size(pool), 4);

    value_pool_release(pool, first);
    value_pool_release(pool, second);
    assert_int_equal(value_pool_size(pool), 4);
    value_pool_release(pool, pooled_array);
    assert_int_equal(value_pool_size(pool), 1);
    value_pool_release(pool, other);
    assert_int_equal(value_pool_size(pool), 0);

    /* The same bytes as a string and as JSON text are different values. */
    first = value_pool_intern_string(pool, "[\"x\",\"shared\"]", 14);
    pooled_array = value_pool_intern_json(pool, array);
    assert_ptr_not_equal(first, pooled_array);
    value_pool_release(pool, first);
    value_pool_release(pool, pooled_array);
    assert_int_equal(value_pool_size(pool), 0);

    json_object_put(array);
    value_pool_free(pool);
}

static void pool_survives_churn(void **state)
{
    value_pool *pool = value_pool_create();
    const pooled_value *values[5000];
    char text[32];

    (void)state;
    /* Enough values to grow the table several times, released in an
     * order that exercises removal from the middle of probe runs. */
    for (int i = 0; i < 5000; i++) {
        snprintf(text, sizeof(text), "value-%d", i);
        values[i] = value_pool_intern_string(pool, text, strlen(text));
        assert_non_null(values[i]);
    }
    for (int i = 0; i < 5000; i += 2)
        value_pool_release(pool, values[i]);
    assert_int_equal(value_pool_size(pool), 2500);
    for (int i = 1; i < 5000; i += 2) {
        snprintf(text, sizeof(text), "value-%d", i);
        assert_ptr_equal(value_pool_intern_string(pool, text, strlen(text)), values[i]);
        value_pool_release(pool, values[i]);
    }
    for (int i = 1; i < 5000; i += 2)
        value_pool_release(pool, values[i]);
    assert_int_equal(value_pool_size(pool), 0);
    value_pool_free(pool);
}

static void unused_values_freed(void **state)
{
    uint32_t alice;
    uint32_t bob;
    size_t baseline;
    size_t after_first;
    size_t after_second;

    (void)state;
    /* Size the free list, the pool's table and both records once, so the
     * measurements below see only values coming and going. */
    attr_table_remove(table, attr_table_add(table));
    alice = attr_table_add(table);
    bob = attr_table_add(table);
    set_json(alice, "city", "\"warm up\"");
    set_json(bob, "city", "\"warm up\"");
    baseline = attr_table_memory_bytes(table);

    set_json(alice, "city", "\"a city name long enough to be measured\"");
    after_first = attr_table_memory_bytes(table);
    set_json(bob, "city", "\"a city name long enough to be measured\"");
    after_second = attr_table_memory_bytes(table);
    assert_true(after_first > baseline);
    /* Bob shares Alice's pooled string. */
    assert_int_equal(after_second, after_first - (sizeof(pooled_value) + strlen("warm up") + 1));

    set_json(alice, "city", "\"warm up\"");
    set_json(bob, "city", "\"warm up\"");
    assert_int_equal(attr_table_memory_bytes(table), baseline);

    attr_table_remove(table, alice);
    attr_table_remove(table, bob);
    assert_true(attr_table_memory_bytes(table) < baseline);
}

static void memory_per_user_accounted(void **state)
{
    char email[64];
    char attributes[1024];
    size_t empty;
    size_t per_user;

    (void)state;
    empty = attr_table_memory_bytes(table);
    for (int i = 0; i < 2000; i++) {
        uint32_t user = attr_table_add(table);
        json_object *object;

        snprintf(email, sizeof(email), "user%d@example.com", i);
        snprintf(attributes, sizeof(attributes),
                 "{\"first_name\": \"Zoë\", \"last_name\": \"Martin\", \"email\": \"%s\", "
                 "\"birth_date\": \"19%02d-03-04\", \"gender\": \"F\", \"marital_status\": "
                 "\"S\", \"yearly_income\": %d, \"total_children\": 2, \"children_at_home\": "
                 "1, \"education\": \"Bachelors\", \"occupation\": \"Professional\", "
                 "\"house_owner\": true, \"cars_owned\": 1, \"city\": \"Seattle\", \"state\": "
                 "\"WA\", \"postal_code\": \"98104\", \"phone\": \"555-0100\", "
                 "\"lifetime_value\": %d.5, \"tags\": [\"newsletter\"], \"last_seen_at\": "
                 "\"2024-05-%02dT10:00:00Z\"}",
                 email, 40 + i % 50, 10000 * (i % 17), i, 1 + i % 28);
        object = json_tokener_parse(attributes);
        assert_non_null(object);
        json_object_object_foreach(object, name, value)
            assert_int_equal(attr_table_set(table, user, name, value), 0);
        json_object_put(object);
    }

    per_user = (attr_table_memory_bytes(table) - empty) / 2000;
    /* 20 slots of 13 bytes plus the record header, one pooled email and
     * the slot pointer: well under the 1 KB a user may cost. */
    assert_true(per_user > 20 * 13);
    assert_true(per_user < 1024);
}

static void *read_under_lock(void *argument)
{
    attr_table *shared = argument;
    json_object *value;
    int found;

    attr_table_read_lock(shared);
    value = attr_table_get(shared, 0, "plan");
    found = value != NULL && strcmp(json_object_get_string(value), "Pro") == 0;
    json_object_put(value);
    attr_table_read_unlock(shared);
    return found ? argument : NULL;
}

static void readers_share_lock(void **state)
{
    uint32_t user = attr_table_add(table);
    pthread_t reader;
    void *result = NULL;

    (void)state;
    set_json(user, "plan", "\"Pro\"");
    /* Two readers at once: this thread and another. */
    attr_table_read_lock(table);
    assert_int_equal(pthread_create(&reader, NULL, read_under_lock, table), 0);
    assert_int_equal(pthread_join(reader, &result), 0);
    attr_table_read_unlock(table);
    assert_ptr_equal(result, table);

    /* A write after the readers left goes through. */
    set_json(user, "plan", "\"Team\"");
}

/* attr_table_set_all() stores what attr_table_set() stores one by one,
 * and interns strings under the same hash, so that both entities share
 * each pooled string. More string values than it hashes ahead (32) cover
 * both of its paths. */
static void set_all_matches_single_sets(void **state)
{
    json_object *writes = json_tokener_parse(
        "{\"plan\": \"Team\", \"score\": 3, \"ratio\": 0.5, \"vip\": true,"
        " \"tags\": [\"x\", \"y\"], \"gone\": null}");
    uint32_t with_all;
    uint32_t one_by_one;
    char *text_all = NULL;
    char *text_single = NULL;
    size_t capacity_all = 0;
    size_t capacity_single = 0;
    long length;

    (void)state;
    assert_non_null(writes);
    for (int i = 0; i < 40; i++) {
        char name[32];
        char value[32];

        snprintf(name, sizeof(name), "field_%02d", i);
        snprintf(value, sizeof(value), "value number %d", i);
        json_object_object_add(writes, name, json_object_new_string(value));
    }
    with_all = attr_table_add(table);
    one_by_one = attr_table_add(table);
    assert_int_equal(attr_table_set_all(table, with_all, writes), 0);
    json_object_object_foreach(writes, name, value)
        assert_int_equal(attr_table_set(table, one_by_one, name, value), 0);

    length = attr_table_json_text(table, with_all, &text_all, &capacity_all);
    assert_true(length > 0);
    assert_true(attr_table_json_text(table, one_by_one, &text_single, &capacity_single) > 0);
    assert_string_equal(text_all, text_single);

    json_object_object_foreach(writes, key, member) {
        uint32_t name_id = attr_table_intern_name(table, key);
        attr_value from_all;
        attr_value from_single;

        if (member == NULL) {
            assert_false(attr_table_find(table, with_all, name_id, &from_all));
            continue;
        }
        assert_true(attr_table_find(table, with_all, name_id, &from_all));
        assert_true(attr_table_find(table, one_by_one, name_id, &from_single));
        assert_int_equal(from_all.type, from_single.type);
        if (from_all.type == ATTR_TYPE_STRING)
            assert_ptr_equal(from_all.payload.pooled, from_single.payload.pooled);
    }
    free(text_all);
    free(text_single);
    json_object_put(writes);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(scalar_types_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(arrays_and_objects_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(array_elements_parsed_once, setup, teardown),
        cmocka_unit_test_setup_teardown(utf8_strings_byte_exact, setup, teardown),
        cmocka_unit_test_setup_teardown(embedded_nul_kept, setup, teardown),
        cmocka_unit_test_setup_teardown(set_unset_overwrite, setup, teardown),
        cmocka_unit_test_setup_teardown(many_attributes_stay_sorted, setup, teardown),
        cmocka_unit_test_setup_teardown(to_json_lists_all, setup, teardown),
        cmocka_unit_test_setup_teardown(remove_and_index_reuse, setup, teardown),
        cmocka_unit_test_setup_teardown(names_interned_stably, setup, teardown),
        cmocka_unit_test_setup_teardown(dates_parsed_when_pooled, setup, teardown),
        cmocka_unit_test(pool_counts_references),
        cmocka_unit_test(pool_survives_churn),
        cmocka_unit_test_setup_teardown(unused_values_freed, setup, teardown),
        cmocka_unit_test_setup_teardown(memory_per_user_accounted, setup, teardown),
        cmocka_unit_test_setup_teardown(readers_share_lock, setup, teardown),
        cmocka_unit_test_setup_teardown(set_all_matches_single_sets, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
