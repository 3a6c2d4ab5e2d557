/*
 * Segments: named queries over users or accounts, their membership (a bit
 * per entity index, mirrored in the store's memberships table), full
 * recomputation on the libuv thread pool, and re-evaluation of one entity
 * whenever it changes.
 *
 * A segment is "computing" from creation or a query change until its
 * recomputation has finished; membership changes that recomputation finds
 * are written to the store when it finishes. Entities that changed while it
 * ran are evaluated again on the loop thread before the result is applied,
 * so the result never overwrites a newer evaluation.
 */
#ifndef WHARF_CORE_SEGMENTS_H
#define WHARF_CORE_SEGMENTS_H

#include <stddef.h>
#include <stdint.h>

#include "segment_query.h"
#include "store.h"

struct json_object;
struct service;
struct entities;

/* A compiled query shared by a segment and the recomputations started with
 * it, freed with its last reference. */
typedef struct compiled_query {
    segment_query *query;
    unsigned references;
} compiled_query;

typedef struct segment {
    char *id;
    char *name;
    segment_type type;
    struct json_object *query;
    compiled_query *compiled;
    int computing;          /* a recomputation is queued or running */
    uint64_t generation;    /* bumped by every query change */
    int deleted;            /* removed while a recomputation ran */
    uint64_t *members;      /* bit per entity index */
    uint32_t members_words; /* 64-bit words allocated */
    uint32_t size;
    char *created_at;
    char *updated_at;
    struct segment *next;
} segment;

typedef struct segment_set segment_set;

segment_set *segment_set_create(struct service *service, struct entities *entities);

/* Load stored segments and memberships. Segments that share a name (a
 * store written before names were unique) all load, with a warning. */
int segment_set_restore(segment_set *set, char *error, size_t error_size);

/* Start re-evaluating time-relative segments every interval_ms. */
int segment_set_start_timer(segment_set *set, unsigned interval_ms);

segment *segment_find(segment_set *set, const char *id);
/* The first segment named name (compared byte for byte, so case-sensitive)
 * other than except, which may be NULL; NULL when there is none. */
segment *segment_find_by_name(segment_set *set, const char *name, const segment *except);
segment *segment_first(segment_set *set);

/* API operations; return 0 or an HTTP status with a message in error.
 * A create, or an update that changes the name, gets 409 when another
 * segment has that name. */
int segment_create(segment_set *set, struct json_object *body, segment **created, char *error,
                   size_t error_size);
int segment_update(segment_set *set, segment *segment, struct json_object *body, char *error,
                   size_t error_size);
int segment_delete(segment_set *set, segment *segment, char *error, size_t error_size);

struct json_object *segment_to_json(const segment *segment);

/* Re-evaluate every segment of the entity's type for one changed entity,
 * inside the caller's store transaction. */
void segment_set_entity_changed(segment_set *set, store_entity_kind kind, uint32_t index);

/* Drop a deleted (merged) entity from every membership. */
void segment_set_entity_removed(segment_set *set, store_entity_kind kind, uint32_t index,
                                const char *id);

/* Ids of the segments the entity belongs to, as a new JSON array. */
struct json_object *segment_set_ids_of(segment_set *set, store_entity_kind kind, uint32_t index);

/* The segments the entity belongs to as [{"id", "name"}], a new array. */
struct json_object *segment_set_refs_of(segment_set *set, store_entity_kind kind, uint32_t index);

/* Turn an array of segment ids into [{"id", "name"}] (unknown ids keep
 * their id and a null name). Returns a new array. */
struct json_object *segment_set_refs_from_ids(segment_set *set, const struct json_object *ids);

/* Non-zero when the entity is a member of the segment. */
int segment_has_member(const segment *segment, uint32_t index);

/* Called on the loop thread whenever a segment's recomputation completes
 * and it is no longer computing. */
typedef void (*segment_ready_fn)(void *user_data, segment *segment);
void segment_set_on_ready(segment_set *set, segment_ready_fn fn, void *user_data);

/* Stop the timer; recomputations still running finish before the loop ends. */
void segment_set_stop(segment_set *set);
void segment_set_free(segment_set *set);

#endif
