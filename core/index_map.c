#include "index_map.h"

#include <stdlib.h>

static size_t home_slot(size_t capacity, uint64_t key)
{
    return (size_t)((key * 0x9E3779B97F4A7C15ull) >> 17) & (capacity - 1);
}

static size_t find_slot(const index_map *map, uint64_t key)
{
    size_t slot;

    if (map->capacity == 0)
        return (size_t)-1;
    slot = home_slot(map->capacity, key);
    while (map->keys[slot] != 0) {
        if (map->keys[slot] == key)
            return slot;
        slot = (slot + 1) & (map->capacity - 1);
    }
    return (size_t)-1;
}

static int grow(index_map *map)
{
    size_t capacity = map->capacity == 0 ? 64 : map->capacity * 2;
    uint64_t *keys = calloc(capacity, sizeof(*keys));
    int64_t *values = calloc(capacity, sizeof(*values));

    if (keys == NULL || values == NULL) {
        free(keys);
        free(values);
        return -1;
    }
    for (size_t i = 0; i < map->capacity; i++) {
        size_t slot;

        if (map->keys[i] == 0)
            continue;
        slot = home_slot(capacity, map->keys[i]);
        while (keys[slot] != 0)
            slot = (slot + 1) & (capacity - 1);
        keys[slot] = map->keys[i];
        values[slot] = map->values[i];
    }
    free(map->keys);
    free(map->values);
    map->keys = keys;
    map->values = values;
    map->capacity = capacity;
    return 0;
}

int64_t index_map_get(const index_map *map, uint64_t key, int64_t fallback)
{
    size_t slot = find_slot(map, key + 1);

    return slot == (size_t)-1 ? fallback : map->values[slot];
}

int index_map_has(const index_map *map, uint64_t key)
{
    return find_slot(map, key + 1) != (size_t)-1;
}

int index_map_put(index_map *map, uint64_t key, int64_t value)
{
    uint64_t stored = key + 1;
    size_t slot = find_slot(map, stored);

    if (slot != (size_t)-1) {
        map->values[slot] = value;
        return 0;
    }
    if ((map->used + 1) * 2 > map->capacity && grow(map) != 0)
        return -1;
    slot = home_slot(map->capacity, stored);
    while (map->keys[slot] != 0)
        slot = (slot + 1) & (map->capacity - 1);
    map->keys[slot] = stored;
    map->values[slot] = value;
    map->used++;
    return 0;
}

void index_map_remove(index_map *map, uint64_t key)
{
    size_t hole = find_slot(map, key + 1);
    size_t mask = map->capacity - 1;

    if (hole == (size_t)-1)
        return;
    map->keys[hole] = 0;
    map->used--;
    /* Move later entries of the probe chain into the hole when their home
     * slot does not lie between the hole and where they sit. */
    for (size_t next = (hole + 1) & mask; map->keys[next] != 0; next = (next + 1) & mask) {
        size_t home = home_slot(map->capacity, map->keys[next]);
        int between = hole <= next ? (home > hole && home <= next) : (home > hole || home <= next);

        if (!between) {
            map->keys[hole] = map->keys[next];
            map->values[hole] = map->values[next];
            map->keys[next] = 0;
            hole = next;
        }
    }
}

void index_map_free(index_map *map)
{
    free(map->keys);
    free(map->values);
    map->keys = NULL;
    map->values = NULL;
    map->capacity = 0;
    map->used = 0;
}
