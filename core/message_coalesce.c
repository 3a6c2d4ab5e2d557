/*
 * Coalescing: a queued message replaced by a newer one for the same entity
 * (delivery.coalesce). The newer message has the entity's current state,
 * and what must not be lost is the changes the older one carried.
 */
#include <json-c/json.h>
#include <string.h>

#include "sync_internal.h"

static json_object *member(json_object *object, const char *key)
{
    json_object *value = NULL;

    if (object != NULL && json_object_is_type(object, json_type_object))
        json_object_object_get_ex(object, key, &value);
    return value;
}

/* A segment reference {"id", "name"} (or a bare id) names this id. */
static const char *ref_id(json_object *ref)
{
    json_object *id = member(ref, "id");

    return json_object_get_string(id != NULL ? id : ref);
}

static int array_has_ref(json_object *array, const char *id)
{
    for (size_t i = 0; i < json_object_array_length(array); i++) {
        const char *item = ref_id(json_object_array_get_idx(array, i));
        if (item != NULL && strcmp(item, id) == 0)
            return 1;
    }
    return 0;
}

static void array_remove_ref(json_object *array, const char *id)
{
    for (size_t i = json_object_array_length(array); i-- > 0;) {
        const char *item = ref_id(json_object_array_get_idx(array, i));
        if (item != NULL && strcmp(item, id) == 0)
            json_object_array_del_idx(array, i, 1);
    }
}

/* Segment changes over both messages: a segment entered then left (or
 * left then entered) is a net change of nothing. */
static void merge_segments(json_object *older, json_object *newer)
{
    json_object *old_entered = member(older, "entered");
    json_object *old_left = member(older, "left");
    json_object *new_entered = member(newer, "entered");
    json_object *new_left = member(newer, "left");

    if (new_entered == NULL || new_left == NULL)
        return;
    for (size_t i = 0; i < json_object_array_length(old_entered); i++) {
        json_object *ref = json_object_array_get_idx(old_entered, i);
        const char *id = ref_id(ref);

        if (id == NULL)
            continue;
        if (array_has_ref(new_left, id))
            array_remove_ref(new_left, id);
        else if (!array_has_ref(new_entered, id))
            json_object_array_add(new_entered, json_object_get(ref));
    }
    for (size_t i = 0; i < json_object_array_length(old_left); i++) {
        json_object *ref = json_object_array_get_idx(old_left, i);
        const char *id = ref_id(ref);

        if (id == NULL)
            continue;
        if (array_has_ref(new_entered, id))
            array_remove_ref(new_entered, id);
        else if (!array_has_ref(new_left, id))
            json_object_array_add(new_left, json_object_get(ref));
    }
}

void message_coalesce(json_object *older, json_object *newer)
{
    json_object *old_changes = member(older, "changes");
    json_object *new_changes = member(newer, "changes");
    json_object *old_events = member(older, "events");
    json_object *new_events = member(newer, "events");

    if (new_changes != NULL && old_changes != NULL) {
        json_object *old_attributes = member(old_changes, "attributes");
        json_object *new_attributes = member(new_changes, "attributes");
        json_object *old_account = member(old_changes, "account");
        json_object *new_account = member(new_changes, "account");
        json_object *old_is_new = member(old_changes, "is_new");

        /* [first old, last new]; an attribute only the older one changed
         * keeps its pair. */
        if (old_attributes != NULL && new_attributes != NULL) {
            json_object_object_foreach(old_attributes, name, pair) {
                json_object *newer_pair = member(new_attributes, name);

                if (newer_pair != NULL && json_object_is_type(newer_pair, json_type_array) &&
                    json_object_array_length(newer_pair) == 2 &&
                    json_object_is_type(pair, json_type_array) &&
                    json_object_array_length(pair) == 2)
                    json_object_array_put_idx(
                        newer_pair, 0, json_object_get(json_object_array_get_idx(pair, 0)));
                else if (newer_pair == NULL)
                    json_object_object_add(new_attributes, name, json_object_get(pair));
            }
        }
        merge_segments(member(old_changes, "segments"), member(new_changes, "segments"));
        if (old_account != NULL && json_object_object_length(old_account) > 0 &&
            (new_account == NULL || json_object_object_length(new_account) == 0))
            json_object_object_add(new_changes, "account", json_object_get(old_account));
        if (old_is_new != NULL && json_object_get_boolean(old_is_new))
            json_object_object_add(new_changes, "is_new", json_object_new_boolean(1));
    }
    /* Events in arrival order: the older message's first. */
    if (old_events != NULL && json_object_is_type(old_events, json_type_array) &&
        json_object_array_length(old_events) > 0) {
        json_object *merged = json_object_new_array();

        for (size_t i = 0; i < json_object_array_length(old_events); i++)
            json_object_array_add(merged, json_object_get(json_object_array_get_idx(old_events, i)));
        for (size_t i = 0; i < json_object_array_length(new_events); i++)
            json_object_array_add(merged, json_object_get(json_object_array_get_idx(new_events, i)));
        json_object_object_add(newer, "events", merged);
    }
}
