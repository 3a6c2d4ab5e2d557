/* Printing the API's batch view: {"id", "connector_id", "segment_id" |
 * "user_id" | "account_id", "state", "total", "sent", "skipped", "failed",
 * "error", "created_at", "updated_at"}. */
#ifndef WHARFCTL_BATCH_VIEW_H
#define WHARFCTL_BATCH_VIEW_H

#include <json-c/json.h>
#include <stdio.h>

/* Non-zero for the states a batch never leaves: done, failed, rejected. */
int batch_view_is_final(const char *state);

/* Write "segment ID", "user ID" or "account ID" into text. */
void batch_view_target(const json_object *view, char *text, size_t size);

/* Print "batch ID STATE: total T, sent S, skipped K, failed F" and a newline. */
void batch_view_print_summary(const json_object *view, FILE *stream);

/* Print every field of the view, one "name: value" line each. */
void batch_view_print_details(const json_object *view, FILE *stream);

#endif
