/* One line of a connector's log, as wharfctl logs prints it:
 *
 *   TIME MESSAGE IDENTITY ENTITY_ID BATCH_ID DATA
 *
 * IDENTITY is the entity's external_id, else its email (a user) or domain
 * (an account), else its first anonymous_id; ENTITY_ID the user id, else
 * the account id; DATA the line's data as compact JSON. A missing field
 * prints as "-". */
#ifndef WHARFCTL_LOG_LINE_H
#define WHARFCTL_LOG_LINE_H

#include <json-c/json.h>
#include <stdint.h>
#include <stdio.h>

void log_line_print(const json_object *line, FILE *stream);

/* The line's sequence number; 0 when it has none. */
int64_t log_line_sequence(const json_object *line);

/* Sort an array of log lines by sequence, oldest first, in place. */
void log_line_sort(json_object *lines);

#endif
