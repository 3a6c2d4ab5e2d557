/*
 * The sample message that POST /api/v1/connectors/{id}/test sends through a
 * connector. Its content is fixed and documented in docs/api.md so that an
 * operator can recognise it at the destination.
 */
#ifndef WHARF_CORE_SAMPLE_MESSAGE_H
#define WHARF_CORE_SAMPLE_MESSAGE_H

struct json_object;

/* A new user message marked "is_test": true. */
struct json_object *sample_message_user(void);

#endif
