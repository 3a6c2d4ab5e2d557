/* Turn what the operator typed into the id the API wants.
 *
 * Connectors and segments are named by id or by name: an exact id wins,
 * else the one item with that name. Users are named by id, external_id or
 * email, accounts by id, external_id or domain, tried in that order (the
 * order wharfd resolves identities in).
 *
 * The log filters (resolve_log_user, resolve_log_account) resolve the same
 * way, except that a UUID that matches no entity is kept as the id. Log
 * lines about a user or account that was merged away carry its old id.
 *
 * Each function copies the id into id (size bytes) and returns 0, or prints
 * why it failed (unknown, ambiguous, or the API's error) and returns
 * WHARFCTL_EXIT_FAILURE. */
#ifndef WHARFCTL_RESOLVE_H
#define WHARFCTL_RESOLVE_H

#include <stddef.h>

#include "wharfctl.h"

/* Large enough for the UUIDs wharfd assigns (36 characters). */
#define RESOLVE_ID_SIZE 128

int resolve_connector(wharfctl *ctl, const char *reference, char *id, size_t size);
int resolve_segment(wharfctl *ctl, const char *reference, char *id, size_t size);
int resolve_user(wharfctl *ctl, const char *reference, char *id, size_t size);
int resolve_account(wharfctl *ctl, const char *reference, char *id, size_t size);
int resolve_log_user(wharfctl *ctl, const char *reference, char *id, size_t size);
int resolve_log_account(wharfctl *ctl, const char *reference, char *id, size_t size);

#endif
