/*
 * Events per user kept in memory for segment conditions such as "did
 * Order Completed at least 2 times in the last 30 days": for each user, the
 * interned event name and time of each event. Event properties live only
 * in the store. Same threading rule as attr_table: the loop thread writes,
 * bulk readers on workers hold the read lock.
 */
#ifndef WHARF_CORE_EVENT_INDEX_H
#define WHARF_CORE_EVENT_INDEX_H

#include <stdint.h>

typedef struct event_index event_index;

event_index *event_index_create(void);
void event_index_free(event_index *index);

/* Record one event of user (an attr_table index). Returns 0 or -ENOMEM. */
int event_index_add(event_index *index, uint32_t user, const char *event,
                    int64_t timestamp_ms);

/* Move every event of from onto into (identity merge), then forget from. */
int event_index_merge(event_index *index, uint32_t from, uint32_t into);
void event_index_remove(event_index *index, uint32_t user);

/* Interned id of an event name, creating it if new. */
uint32_t event_index_intern(event_index *index, const char *event);

/* Events of user with this name id at or after since_ms. */
uint32_t event_index_count(const event_index *index, uint32_t user, uint32_t event_id,
                           int64_t since_ms);

void event_index_read_lock(event_index *index);
void event_index_read_unlock(event_index *index);

#endif
