#include "message.h"

#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

#include "ids.h"
#include "segments.h"
#include "service.h"

static json_object *string_or_null(const char *text)
{
    return text != NULL ? json_object_new_string(text) : NULL;
}

json_object *message_claims(entities *e, store_entity_kind kind, uint32_t index)
{
    entity_record *record = entity_at(entities_set(e, kind), index);
    json_object *claims = json_object_new_object();
    json_object *anonymous = json_object_new_array();

    for (uint32_t i = 0; i < record->anonymous_count; i++)
        json_object_array_add(anonymous, json_object_new_string(record->anonymous_ids[i]));
    json_object_object_add(claims, "external_id", string_or_null(record->external_id));
    json_object_object_add(claims, kind == STORE_USERS ? "email" : "domain",
                           string_or_null(record->key_claim));
    json_object_object_add(claims, "anonymous_ids", anonymous);
    return claims;
}

/* The entity part of a message: id, claims and attributes. */
static json_object *entity_object(entities *e, store_entity_kind kind, uint32_t index)
{
    entity_set *set = entities_set(e, kind);
    entity_record *record = entity_at(set, index);
    json_object *object = message_claims(e, kind, index);

    json_object_object_add(object, "id", json_object_new_string(record->id));
    json_object_object_add(object, "attributes", attr_table_to_json(set->attributes, index));
    return object;
}

static json_object *changes_object(entities *e, store_entity_kind kind, uint32_t index,
                                   const entity_update *update)
{
    json_object *changes = json_object_new_object();
    json_object *segments = json_object_new_object();
    json_object *account = json_object_new_object();

    json_object_object_add(changes, "attributes", json_object_get(update->attributes));
    json_object_object_add(segments, "entered",
                           segment_set_refs_from_ids(e->segments, update->segments_entered));
    json_object_object_add(segments, "left",
                           segment_set_refs_from_ids(e->segments, update->segments_left));
    json_object_object_add(changes, "segments", segments);
    if (kind == STORE_USERS && update->account_changed) {
        uint32_t current = entity_at(&e->users, index)->account;
        json_object *pair = json_object_new_array();

        json_object_array_add(pair, string_or_null(update->previous_account_id));
        json_object_array_add(pair, current != ATTR_NO_ENTITY
                                        ? json_object_new_string(entity_at(&e->accounts, current)->id)
                                        : NULL);
        json_object_object_add(account, "id", pair);
    }
    json_object_object_add(changes, "account", account);
    json_object_object_add(changes, "is_new", json_object_new_boolean(update->is_new));
    return changes;
}

json_object *message_build(entities *e, store_entity_kind kind, uint32_t index,
                           const entity_update *update)
{
    json_object *message = json_object_new_object();
    char message_id[ID_TEXT_SIZE];

    id_generate(message_id);
    json_object_object_add(message, "type",
                           json_object_new_string(kind == STORE_USERS ? "user" : "account"));
    json_object_object_add(message, "message_id", json_object_new_string(message_id));

    if (kind == STORE_USERS) {
        uint32_t account = entity_at(&e->users, index)->account;

        json_object_object_add(message, "user", entity_object(e, STORE_USERS, index));
        json_object_object_add(message, "account",
                               account != ATTR_NO_ENTITY ? entity_object(e, STORE_ACCOUNTS, account)
                                                         : NULL);
        json_object_object_add(message, "segments",
                               segment_set_refs_of(e->segments, STORE_USERS, index));
        json_object_object_add(message, "account_segments",
                               account != ATTR_NO_ENTITY
                                   ? segment_set_refs_of(e->segments, STORE_ACCOUNTS, account)
                                   : json_object_new_array());
    } else {
        json_object_object_add(message, "account", entity_object(e, STORE_ACCOUNTS, index));
        json_object_object_add(message, "account_segments",
                               segment_set_refs_of(e->segments, STORE_ACCOUNTS, index));
    }

    if (update != NULL) {
        json_object_object_add(message, "changes", changes_object(e, kind, index, update));
        if (kind == STORE_USERS)
            json_object_object_add(message, "events", json_object_get(update->events));
    }
    json_object_object_add(message, "is_export", json_object_new_boolean(update == NULL));
    return message;
}
