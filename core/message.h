/*
 * The message a connector receives for one user or account (see
 * docs/api.md "Messages"): the entity, its account, its segments, and for
 * automatic sync the changes and new events; a manual batch's messages are
 * marked "is_export": true and carry neither.
 */
#ifndef WHARF_CORE_MESSAGE_H
#define WHARF_CORE_MESSAGE_H

#include <stdint.h>

#include "entities.h"

struct json_object;

/* A message for the entity at index. update is NULL for an export (manual
 * batch); otherwise its changes and events go in. Returns a new object. */
struct json_object *message_build(entities *e, store_entity_kind kind, uint32_t index,
                                  const entity_update *update);

/* The entity's claims as {"external_id", "email" | "domain", "anonymous_ids"},
 * for log lines. */
struct json_object *message_claims(entities *e, store_entity_kind kind, uint32_t index);

#endif
