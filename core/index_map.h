/* A hash map from a uint64 key (an entity index, or a kind and an index;
 * UINT64_MAX is reserved) to an int64 value: open addressing with linear
 * probing and backward-shift deletion. */
#ifndef WHARF_CORE_INDEX_MAP_H
#define WHARF_CORE_INDEX_MAP_H

#include <stddef.h>
#include <stdint.h>

typedef struct index_map {
    uint64_t *keys; /* key + 1; 0 for an empty slot */
    int64_t *values;
    size_t capacity; /* 0 or a power of two */
    size_t used;
} index_map;

/* The value stored for the key, or fallback. */
int64_t index_map_get(const index_map *map, uint64_t key, int64_t fallback);
int index_map_has(const index_map *map, uint64_t key);
/* Returns 0, or -1 when out of memory. */
int index_map_put(index_map *map, uint64_t key, int64_t value);
void index_map_remove(index_map *map, uint64_t key);
void index_map_free(index_map *map);

#endif
