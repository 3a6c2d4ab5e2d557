#include "event_index.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "name_table.h"

/*
 * The events of one user in one allocation: capacity timestamps, then
 * capacity event name ids, ordered by timestamp (events with equal
 * timestamps keep their arrival order). Ordering by time lets a windowed
 * count skip the older events with a binary search.
 *
 * NOTE: nothing here drops old events, so a user's list grows with every
 * event tracked; a retention window belongs with the store's.
 */
typedef struct event_list {
    uint32_t count;
    uint32_t capacity;
} event_list;

struct event_index {
    pthread_rwlock_t lock;
    name_table *names;
    event_list **lists; /* by user index; NULL when the user has no events */
    uint32_t list_capacity;
};

static size_t list_size(uint32_t capacity)
{
    return sizeof(event_list) + (size_t)capacity * (sizeof(int64_t) + sizeof(uint32_t));
}

static int64_t *list_times(const event_list *list)
{
    return (int64_t *)(list + 1);
}

static uint32_t *list_names(const event_list *list)
{
    return (uint32_t *)(list_times(list) + list->capacity);
}

event_index *event_index_create(void)
{
    event_index *index = calloc(1, sizeof(event_index));
    pthread_rwlockattr_t attributes;

    if (index == NULL)
        return NULL;
    index->names = name_table_create();
    if (index->names == NULL) {
        free(index);
        return NULL;
    }

    /* Writer preference, for the same reason as attr_table: bulk readers
     * must not hold off the loop thread's writes. */
    pthread_rwlockattr_init(&attributes);
    pthread_rwlockattr_setkind_np(&attributes, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    pthread_rwlock_init(&index->lock, &attributes);
    pthread_rwlockattr_destroy(&attributes);
    return index;
}

void event_index_free(event_index *index)
{
    if (index == NULL)
        return;
    for (uint32_t user = 0; user < index->list_capacity; user++)
        free(index->lists[user]);
    free(index->lists);
    name_table_free(index->names);
    pthread_rwlock_destroy(&index->lock);
    free(index);
}

uint32_t event_index_intern(event_index *index, const char *event)
{
    uint32_t id = name_table_find(index->names, event);

    /* Only the loop thread interns; readers never read names, but the
     * lock keeps the rule simple: every change is made under it. */
    if (id != NAME_NONE)
        return id;
    pthread_rwlock_wrlock(&index->lock);
    id = name_table_intern(index->names, event);
    pthread_rwlock_unlock(&index->lock);
    return id;
}

/* Make room for user in the lists array. */
static int reserve_user(event_index *index, uint32_t user)
{
    uint32_t capacity = index->list_capacity == 0 ? 1024 : index->list_capacity;
    event_list **lists;

    if (user < index->list_capacity)
        return 0;
    if (user == UINT32_MAX)
        return -EINVAL;
    while (capacity <= user)
        capacity = capacity > UINT32_MAX / 2 ? UINT32_MAX : capacity * 2;
    lists = realloc(index->lists, sizeof(event_list *) * capacity);
    if (lists == NULL)
        return -ENOMEM;
    memset(lists + index->list_capacity, 0,
           sizeof(event_list *) * (capacity - index->list_capacity));
    index->lists = lists;
    index->list_capacity = capacity;
    return 0;
}

/* A copy of list (or a new list) with room for capacity events. */
static event_list *resize_list(const event_list *list, uint32_t capacity)
{
    event_list *resized = malloc(list_size(capacity));

    if (resized == NULL)
        return NULL;
    resized->count = list == NULL ? 0 : list->count;
    resized->capacity = capacity;
    if (list != NULL) {
        memcpy(list_times(resized), list_times(list), list->count * sizeof(int64_t));
        memcpy(list_names(resized), list_names(list), list->count * sizeof(uint32_t));
    }
    return resized;
}

/* The first position whose time is above timestamp_ms. */
static uint32_t upper_bound(const event_list *list, int64_t timestamp_ms)
{
    const int64_t *times = list_times(list);
    uint32_t low = 0;
    uint32_t high = list->count;

    while (low < high) {
        uint32_t middle = low + (high - low) / 2;

        if (times[middle] <= timestamp_ms)
            low = middle + 1;
        else
            high = middle;
    }
    return low;
}

/* The first position whose time is at or after since_ms. */
static uint32_t lower_bound(const event_list *list, int64_t since_ms)
{
    const int64_t *times = list_times(list);
    uint32_t low = 0;
    uint32_t high = list->count;

    while (low < high) {
        uint32_t middle = low + (high - low) / 2;

        if (times[middle] < since_ms)
            low = middle + 1;
        else
            high = middle;
    }
    return low;
}

int event_index_add(event_index *index, uint32_t user, const char *event,
                    int64_t timestamp_ms)
{
    uint32_t event_id = event_index_intern(index, event);
    event_list *list;
    uint32_t position;
    uint32_t after;
    int result = 0;

    if (event_id == NAME_NONE)
        return -ENOMEM;

    pthread_rwlock_wrlock(&index->lock);
    result = reserve_user(index, user);
    if (result != 0)
        goto out;
    list = index->lists[user];
    if (list == NULL || list->count == list->capacity) {
        uint32_t capacity = list == NULL ? 4 : list->capacity + list->capacity / 2;
        event_list *grown;

        if (list != NULL && list->capacity > UINT32_MAX / 2) {
            result = -ENOMEM;
            goto out;
        }
        grown = resize_list(list, capacity);
        if (grown == NULL) {
            result = -ENOMEM;
            goto out;
        }
        free(list);
        list = grown;
        index->lists[user] = list;
    }

    /* Events mostly arrive in time order, so this is usually the end. */
    position = upper_bound(list, timestamp_ms);
    after = list->count - position;
    memmove(list_times(list) + position + 1, list_times(list) + position,
            after * sizeof(int64_t));
    memmove(list_names(list) + position + 1, list_names(list) + position,
            after * sizeof(uint32_t));
    list_times(list)[position] = timestamp_ms;
    list_names(list)[position] = event_id;
    list->count++;

out:
    pthread_rwlock_unlock(&index->lock);
    return result;
}

int event_index_merge(event_index *index, uint32_t from, uint32_t into)
{
    event_list *source;
    event_list *target;
    event_list *merged;
    uint32_t i;
    uint32_t j;
    uint32_t k;
    int result = 0;

    if (from == into || from >= index->list_capacity || index->lists[from] == NULL)
        return 0;

    pthread_rwlock_wrlock(&index->lock);
    result = reserve_user(index, into);
    if (result != 0)
        goto out;
    source = index->lists[from];
    target = index->lists[into];
    if (target == NULL) {
        index->lists[into] = source;
        index->lists[from] = NULL;
        goto out;
    }
    if ((uint64_t)source->count + target->count > UINT32_MAX) {
        result = -ENOMEM;
        goto out;
    }
    merged = resize_list(NULL, source->count + target->count);
    if (merged == NULL) {
        result = -ENOMEM;
        goto out;
    }

    /* A two-way merge by time; on equal times the surviving user's
     * events come first. */
    for (i = 0, j = 0, k = 0; i < target->count || j < source->count; k++) {
        int take_target = j >= source->count ||
                          (i < target->count && list_times(target)[i] <= list_times(source)[j]);

        if (take_target) {
            list_times(merged)[k] = list_times(target)[i];
            list_names(merged)[k] = list_names(target)[i++];
        } else {
            list_times(merged)[k] = list_times(source)[j];
            list_names(merged)[k] = list_names(source)[j++];
        }
    }
    merged->count = k;
    free(target);
    free(source);
    index->lists[into] = merged;
    index->lists[from] = NULL;

out:
    pthread_rwlock_unlock(&index->lock);
    return result;
}

void event_index_remove(event_index *index, uint32_t user)
{
    if (user >= index->list_capacity || index->lists[user] == NULL)
        return;
    pthread_rwlock_wrlock(&index->lock);
    free(index->lists[user]);
    index->lists[user] = NULL;
    pthread_rwlock_unlock(&index->lock);
}

uint32_t event_index_count(const event_index *index, uint32_t user, uint32_t event_id,
                           int64_t since_ms)
{
    const event_list *list;
    const uint32_t *names;
    uint32_t count = 0;

    if (user >= index->list_capacity || index->lists[user] == NULL)
        return 0;
    list = index->lists[user];
    names = list_names(list);
    for (uint32_t position = lower_bound(list, since_ms); position < list->count; position++)
        count += names[position] == event_id;
    return count;
}

void event_index_read_lock(event_index *index)
{
    pthread_rwlock_rdlock(&index->lock);
}

void event_index_read_unlock(event_index *index)
{
    pthread_rwlock_unlock(&index->lock);
}
