/*
 * Users and accounts: identity resolution, attribute writes, events and
 * account links, kept in memory (claims, identity indexes, the compact
 * attribute tables) and written through to the store.
 *
 * Identity rules. Users resolve by external_id, then email, then any
 * anonymous_id; accounts by external_id, then domain, then anonymous_id.
 * An external_id never changes once set: a call that brings a different
 * external_id for a known email finds or creates that other user. An
 * entity found only by anonymous_id (or email) that has no external_id
 * adopts the one the call brings; when the call's claims point at two
 * entities and one of them has no external_id, that one is merged into the
 * other and the merge is recorded.
 */
#ifndef WHARF_CORE_ENTITIES_H
#define WHARF_CORE_ENTITIES_H

#include <stddef.h>
#include <stdint.h>

#include "attr_table.h"
#include "attr_value.h"
#include "entity_change.h"
#include "event_index.h"
#include "store.h"
#include "string_map.h"

struct json_object;
struct service;
struct segment_set;

typedef struct entity_record {
    char id[40]; /* UUID text, "" for a free slot */
    char *external_id;
    char *key_claim; /* users: email; accounts: domain */
    char **anonymous_ids;
    uint32_t anonymous_count;
    uint32_t account;        /* users: index of the linked account or ATTR_NO_ENTITY */
    uint32_t next_same_key;  /* users: next user with the same email, or ATTR_NO_ENTITY */
    int64_t created_ms;
    int64_t updated_ms;
    uint64_t change_sequence; /* entities_next_sequence() value of the last change */
    uint32_t pending;         /* 1 + slot in entities.updates during a transaction, or 0 */
} entity_record;

/* Records live in fixed pages that never move, so a segment recomputation
 * on a worker thread can read them while the loop thread adds entities. */
#define ENTITY_PAGE_BITS 12
#define ENTITY_PAGE_SIZE (1u << ENTITY_PAGE_BITS)
#define ENTITY_MAX_PAGES 65536u

typedef struct entity_set {
    store_entity_kind kind;
    attr_table *attributes;
    entity_record **pages; /* ENTITY_MAX_PAGES slots, allocated on demand */
    uint32_t capacity;     /* records allocated: pages in use * ENTITY_PAGE_SIZE */
    uint32_t count; /* live entities */
    string_map by_id;
    string_map by_external_id;
    string_map by_key_claim; /* first entity with that email or domain */
    string_map by_anonymous_id;
} entity_set;

static inline entity_record *entity_at(const entity_set *set, uint32_t index)
{
    return &set->pages[index >> ENTITY_PAGE_BITS][index & (ENTITY_PAGE_SIZE - 1)];
}

/* One attribute that changed during a transaction: its interned name and
 * the value it had before (type ATTR_TYPE_NONE when it was unset). The
 * update holds a reference on a pooled old value. */
typedef struct entity_attribute_change {
    uint32_t name_id;
    attr_value old;
} entity_attribute_change;

/* What changed on one entity in one entities_apply() call, delivered to
 * the update hook after the transaction committed. Several changes to the
 * same entity in one call are folded into one update: an attribute keeps
 * its first old value and its last new one, which is the entity's current
 * value when the hook runs. The objects belong to the update and are
 * freed after the hook returns (take a reference to keep them). They are
 * read-only: updates with no segment change or no event share one empty
 * array. NOTE: json-c writes a print buffer into an object it serializes,
 * so serialize these arrays on the loop thread only. */
typedef struct entity_update {
    store_entity_kind kind;
    uint32_t index;
    int is_new;
    /* The attributes that changed, without their values, because most
     * updates reach no connector: entities_update_attributes() builds the
     * {"name": [old, new]} object when a message needs it. When
     * attributes_all_new is set the list is empty, and every attribute of
     * the entity went from unset to its value (the first writes on a new
     * entity). */
    entity_attribute_change *attribute_changes;
    uint32_t attribute_change_count;
    uint32_t attribute_change_capacity;
    int attributes_all_new;
    struct json_object *segments_entered; /* segment ids */
    struct json_object *segments_left;    /* segment ids */
    /* Users: the account link changed; previous account id or NULL. */
    int account_changed;
    char *previous_account_id;
    unsigned events_added;
    /* The events that arrived, in arrival order: [{"event", "properties",
     * "timestamp", "message_id"}]. */
    struct json_object *events;
} entity_update;

typedef void (*entities_update_fn)(void *user_data, const entity_update *updates, size_t count);

/* Outcome of one change, for the API response. */
typedef struct entity_result {
    int ok;
    char error[256];
    char user_id[40];    /* "" when none */
    char account_id[40]; /* "" when none */
} entity_result;

typedef struct entities {
    struct service *service;
    entity_set users;
    entity_set accounts;
    event_index *events;
    struct segment_set *segments;
    uint64_t sequence;
    /* Updates of the transaction in progress. */
    entity_update *updates;
    size_t update_count;
    size_t update_capacity;
    entities_update_fn on_update; /* NULL when nothing listens */
    void *on_update_data;
    entities_update_fn on_prepare; /* NULL when nothing listens */
    void *on_prepare_data;
} entities;

entities *entities_create(struct service *service);
void entities_free(entities *e);

/* Load every stored user, account and event into memory. */
int entities_restore(entities *e, char *error, size_t error_size);

/* Apply changes in order inside one store transaction. Each change gets a
 * result; a failed change never stops its neighbours. Returns 0, or a
 * negative code when the transaction itself failed (then every result says
 * so and nothing was stored). */
int entities_apply(entities *e, entity_change *changes, size_t count, entity_result *results);

entity_set *entities_set(entities *e, store_entity_kind kind);

/* Index of the entity with this id, or ATTR_NO_ENTITY. */
uint32_t entities_find_by_id(const entity_set *set, const char *id);

/* JSON view of one entity for the API. */
struct json_object *entities_to_json(entities *e, store_entity_kind kind, uint32_t index);

/* Users of an account, as an array of user JSON views. */
struct json_object *entities_account_users(entities *e, uint32_t account);

/* Indexes of the entities whose claim matches: external_id, email (users),
 * domain (accounts) or anonymous_id. Returns a new JSON array of views. */
struct json_object *entities_lookup(entities *e, store_entity_kind kind, const char *claim,
                                    const char *value);

uint64_t entities_next_sequence(entities *e);

/* The pending update of an entity in the current transaction, created on
 * first use; NULL when out of memory. Segments record membership changes
 * through it. */
entity_update *entities_update_of(entities *e, store_entity_kind kind, uint32_t index);

/* Record that the entity of update entered (entered non-zero) or left the
 * segment segment_id. */
void entities_update_add_segment(entity_update *update, int entered, const char *segment_id);

/* The attribute changes of update as a new {"name": [old, new]} object,
 * where new is the entity's current value. Call it from the update or the
 * prepare hook: once the hook returns, the entity may change again and
 * the update is gone. Returns NULL when out of memory. */
struct json_object *entities_update_attributes(entities *e, const entity_update *update);

/* Pass the pending updates to the hook when committed is non-zero, then
 * forget them. entities_apply() calls it; so does anything else that
 * changes entities or memberships inside its own transaction. */
void entities_deliver_updates(entities *e, int committed);

/* Ask for every committed update to be passed to fn. */
void entities_set_update_hook(entities *e, entities_update_fn fn, void *user_data);

/* Pass the pending updates to the prepare hook, inside the transaction and
 * before its commit, so that what the hook writes to the store commits (or
 * rolls back) with them. Call it right before commit. */
void entities_prepare_updates(entities *e);
void entities_set_prepare_hook(entities *e, entities_update_fn fn, void *user_data);

#endif
