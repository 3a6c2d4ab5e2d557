/*
 * One change to customer data, parsed from an ingest call (Segment
 * identify, group, track) or the native API, before identity resolution.
 * Every string and object is owned by the change; entity_change_clear()
 * frees them.
 */
#ifndef WHARF_CORE_ENTITY_CHANGE_H
#define WHARF_CORE_ENTITY_CHANGE_H

#include <stddef.h>
#include <stdint.h>

struct json_object;

typedef enum entity_change_kind {
    CHANGE_USER = 1,    /* create or update a user (identify, POST /api/v1/users) */
    CHANGE_ACCOUNT = 2, /* create or update an account, and link the user if claims
                           are given (group, POST /api/v1/accounts) */
    CHANGE_EVENT = 3    /* store an event on a user (track) */
} entity_change_kind;

/* Identifying claims. Users use external_id, email and anonymous_id;
 * accounts use external_id, domain and anonymous_id. NULL when absent. */
typedef struct entity_claims {
    char *external_id;
    char *email;
    char *domain;
    char *anonymous_id;
} entity_claims;

typedef struct entity_change {
    entity_change_kind kind;
    entity_claims user;    /* the user concerned (all kinds but a bare account) */
    entity_claims account; /* the account concerned, or its link for a user */
    /* Attribute writes for the user (CHANGE_USER) or the account
     * (CHANGE_ACCOUNT): an object whose values are a JSON value (set), null
     * (unset) or {"operation": "set"|"setIfNull"|"inc"|"dec", "value": V}.
     * NULL when there are none. */
    struct json_object *attributes;
    /* Attribute writes for the linked account from a user change, or NULL. */
    struct json_object *account_attributes;
    /* CHANGE_EVENT only. */
    char *event;
    struct json_object *properties; /* object or NULL */
    int64_t timestamp_ms;           /* event time, Unix epoch milliseconds */
    char *message_id;               /* the caller's id for deduplication, or NULL */
} entity_change;

void entity_change_clear(entity_change *change);

#endif
