/* Unit tests of the updates that entities_apply() passes to its hook: the
 * attribute changes that entities_update_attributes() builds from them,
 * folded over several changes to one entity, and the arrays an update
 * always carries. They run against a real SQLite store in a temporary
 * directory. */
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
#include "entity_change.h"
#include "segments.h"
#include "service.h"
#include "store.h"

#define MAX_SEEN 8

/* What the hook saw for each update of the last entities_apply() call. */
typedef struct seen_update {
    char entity_id[40];
    int is_new;
    char *attributes; /* entities_update_attributes() as JSON text */
    int arrays_present;
} seen_update;

typedef struct fixture {
    uv_loop_t loop;
    service svc;
    char directory[64];
    seen_update seen[MAX_SEEN];
    size_t seen_count;
} fixture;

static void forget_seen(fixture *f)
{
    for (size_t i = 0; i < f->seen_count; i++)
        free(f->seen[i].attributes);
    memset(f->seen, 0, sizeof(f->seen));
    f->seen_count = 0;
}

static void record_updates(void *user_data, const entity_update *updates, size_t count)
{
    fixture *f = user_data;

    for (size_t i = 0; i < count && f->seen_count < MAX_SEEN; i++) {
        seen_update *seen;
        json_object *attributes;

        if (updates[i].index == ATTR_NO_ENTITY)
            continue;
        seen = &f->seen[f->seen_count++];
        snprintf(seen->entity_id, sizeof(seen->entity_id), "%s",
                 entity_at(entities_set(f->svc.entities, updates[i].kind), updates[i].index)->id);
        seen->is_new = updates[i].is_new;
        attributes = entities_update_attributes(f->svc.entities, &updates[i]);
        assert_non_null(attributes);
        seen->attributes = strdup(json_object_to_json_string_ext(
            attributes, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
        json_object_put(attributes);
        seen->arrays_present =
            json_object_is_type(updates[i].segments_entered, json_type_array) &&
            json_object_is_type(updates[i].segments_left, json_type_array) &&
            json_object_is_type(updates[i].events, json_type_array);
    }
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    char error[512];

    assert_non_null(f);
    snprintf(f->directory, sizeof(f->directory), "/tmp/wharf-entity-update-XXXXXX");
    assert_non_null(mkdtemp(f->directory));
    assert_int_equal(uv_loop_init(&f->loop), 0);
    f->svc.loop = &f->loop;
    f->svc.config.data_dir = f->directory;
    if (store_open_sqlite(f->directory, &f->svc.store, error, sizeof(error)) != 0)
        fail_msg("cannot open the store in %s: %s", f->directory, error);
    f->svc.entities = entities_create(&f->svc);
    assert_non_null(f->svc.entities);
    f->svc.segments = segment_set_create(&f->svc, f->svc.entities);
    assert_non_null(f->svc.segments);
    f->svc.entities->segments = f->svc.segments;
    entities_set_update_hook(f->svc.entities, record_updates, f);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    char command[128];

    forget_seen(f);
    segment_set_free(f->svc.segments);
    entities_free(f->svc.entities);
    store_close(f->svc.store);
    uv_loop_close(&f->loop);
    snprintf(command, sizeof(command), "rm -rf '%s'", f->directory);
    assert_int_equal(system(command), 0);
    free(f);
    return 0;
}

/* A user change with these claims (NULL when absent) and attribute writes
 * (JSON text of an object, or NULL). */
static entity_change user_change(const char *external_id, const char *anonymous_id,
                                 const char *attributes)
{
    entity_change change;

    memset(&change, 0, sizeof(change));
    change.kind = CHANGE_USER;
    change.user.external_id = external_id != NULL ? strdup(external_id) : NULL;
    change.user.anonymous_id = anonymous_id != NULL ? strdup(anonymous_id) : NULL;
    change.attributes = attributes != NULL ? json_tokener_parse(attributes) : NULL;
    if (attributes != NULL)
        assert_non_null(change.attributes);
    return change;
}

/* Apply the changes in one transaction and check that each succeeded. */
static void apply_all(fixture *f, entity_change *changes, size_t count)
{
    entity_result results[8];

    assert_true(count <= 8);
    forget_seen(f);
    assert_int_equal(entities_apply(f->svc.entities, changes, count, results), 0);
    for (size_t i = 0; i < count; i++) {
        if (!results[i].ok)
            fail_msg("change %zu failed: %s", i, results[i].error);
        entity_change_clear(&changes[i]);
    }
}

/* The attributes the hook saw for the user with this external_id. */
static const seen_update *seen_for(fixture *f, const char *external_id)
{
    entity_set *users = entities_set(f->svc.entities, STORE_USERS);
    uint32_t index = string_map_get(&users->by_external_id, external_id);

    if (index == STRING_MAP_MISSING)
        fail_msg("no user has external_id %s", external_id);
    for (size_t i = 0; i < f->seen_count; i++) {
        if (strcmp(f->seen[i].entity_id, entity_at(users, index)->id) == 0)
            return &f->seen[i];
    }
    fail_msg("the hook saw no update of the user %s", external_id);
    return NULL;
}

static void test_new_user_changes_from_null(void **state)
{
    fixture *f = *state;
    entity_change changes[] = {
        user_change("u1", NULL, "{\"plan\": \"pro\", \"score\": 3, \"gone\": null}"),
    };
    const seen_update *seen;

    apply_all(f, changes, 1);
    seen = seen_for(f, "u1");
    assert_true(seen->is_new);
    assert_string_equal(seen->attributes, "{\"plan\":[null,\"pro\"],\"score\":[null,3]}");
    assert_true(seen->arrays_present);
}

static void test_existing_user_old_and_new(void **state)
{
    fixture *f = *state;
    entity_change first[] = {user_change("u1", NULL, "{\"plan\": \"pro\", \"score\": 3}")};
    entity_change second[] = {
        user_change("u1", NULL, "{\"plan\": \"pro\", \"score\": 4, \"city\": \"Oslo\"}"),
    };
    const seen_update *seen;

    apply_all(f, first, 1);
    apply_all(f, second, 1);
    seen = seen_for(f, "u1");
    assert_false(seen->is_new);
    /* plan did not change, so it is not listed. */
    assert_string_equal(seen->attributes, "{\"score\":[3,4],\"city\":[null,\"Oslo\"]}");
    assert_true(seen->arrays_present);
}

static void test_unset_keeps_old_string(void **state)
{
    fixture *f = *state;
    entity_change first[] = {user_change("u1", NULL, "{\"nickname\": \"only-here-once\"}")};
    entity_change second[] = {user_change("u1", NULL, "{\"nickname\": null}")};
    const seen_update *seen;

    apply_all(f, first, 1);
    /* No other entity holds the old string, so the table frees it unless
     * the update keeps its own reference. */
    apply_all(f, second, 1);
    seen = seen_for(f, "u1");
    assert_string_equal(seen->attributes, "{\"nickname\":[\"only-here-once\",null]}");
}

static void test_changes_fold_in_one_apply(void **state)
{
    fixture *f = *state;
    entity_change first[] = {user_change("u1", NULL, "{\"plan\": \"pro\", \"tier\": \"a\"}")};
    entity_change folded[] = {
        user_change("u1", NULL, "{\"plan\": \"free\", \"tier\": \"b\"}"),
        user_change("u1", NULL, "{\"plan\": \"pro\", \"tier\": \"c\", \"tags\": [\"x\", 1]}"),
    };
    const seen_update *seen;

    apply_all(f, first, 1);
    apply_all(f, folded, 2);
    assert_int_equal(f->seen_count, 1);
    seen = seen_for(f, "u1");
    /* plan went back to where it started, and tier keeps its first old
     * value and its last new one. */
    assert_string_equal(seen->attributes, "{\"tier\":[\"a\",\"c\"],\"tags\":[null,[\"x\",1]]}");
}

static void test_new_user_changed_again(void **state)
{
    fixture *f = *state;
    entity_change changes[] = {
        user_change("u1", NULL, "{\"plan\": \"pro\", \"score\": 1}"),
        user_change("u1", NULL, "{\"score\": 5, \"vip\": true, \"plan\": null}"),
    };
    const seen_update *seen;

    apply_all(f, changes, 2);
    assert_int_equal(f->seen_count, 1);
    seen = seen_for(f, "u1");
    assert_true(seen->is_new);
    /* plan was set and unset within the transaction: no change. */
    assert_string_equal(seen->attributes, "{\"score\":[null,5],\"vip\":[null,true]}");
}

static void test_merge_into_new_user(void **state)
{
    fixture *f = *state;
    entity_change anonymous[] = {user_change(NULL, "anon-1", "{\"source\": \"ad\"}")};
    entity_change merging[] = {
        user_change("u1", NULL, "{\"plan\": \"pro\"}"),
        user_change("u1", "anon-1", NULL),
    };
    const seen_update *seen;
    json_object *attributes;
    json_object *value;

    apply_all(f, anonymous, 1);
    apply_all(f, merging, 2);
    seen = seen_for(f, "u1");
    /* The merged user's attribute moves over, but it is not a change the
     * calls made to u1. */
    assert_string_equal(seen->attributes, "{\"plan\":[null,\"pro\"]}");
    attributes = attr_table_to_json(
        entities_set(f->svc.entities, STORE_USERS)->attributes,
        string_map_get(&entities_set(f->svc.entities, STORE_USERS)->by_external_id, "u1"));
    assert_true(json_object_object_get_ex(attributes, "source", &value));
    assert_string_equal(json_object_get_string(value), "ad");
    json_object_put(attributes);
}

static void test_nested_object_on_new_user(void **state)
{
    fixture *f = *state;
    entity_change changes[] = {
        user_change("u1", NULL,
                    "{\"address\": {\"operation\": \"set\", \"value\": {\"city\": \"Oslo\"}}, "
                    "\"visits\": {\"operation\": \"inc\", \"value\": 2}}"),
    };
    const seen_update *seen;

    apply_all(f, changes, 1);
    seen = seen_for(f, "u1");
    assert_true(seen->is_new);
    assert_string_equal(seen->attributes,
                        "{\"address\":[null,{\"city\":\"Oslo\"}],\"visits\":[null,2]}");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_new_user_changes_from_null, setup, teardown),
        cmocka_unit_test_setup_teardown(test_existing_user_old_and_new, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unset_keeps_old_string, setup, teardown),
        cmocka_unit_test_setup_teardown(test_changes_fold_in_one_apply, setup, teardown),
        cmocka_unit_test_setup_teardown(test_new_user_changed_again, setup, teardown),
        cmocka_unit_test_setup_teardown(test_merge_into_new_user, setup, teardown),
        cmocka_unit_test_setup_teardown(test_nested_object_on_new_user, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
