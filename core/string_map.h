/*
 * Hash map from strings (copied in) to 32-bit values: the identity indexes
 * (user and account ids, external ids, emails, domains, anonymous ids).
 * Open addressing with linear probing; not thread-safe (loop thread only).
 */
#ifndef WHARF_CORE_STRING_MAP_H
#define WHARF_CORE_STRING_MAP_H

#include <stddef.h>
#include <stdint.h>

#define STRING_MAP_MISSING UINT32_MAX

typedef struct string_map_slot {
    char *key; /* NULL for an empty slot */
    uint32_t hash;
    uint32_t value;
} string_map_slot;

typedef struct string_map {
    string_map_slot *slots;
    size_t capacity; /* a power of two, or 0 */
    size_t count;
} string_map;

void string_map_init(string_map *map);
void string_map_free(string_map *map);

/* Value stored for key, or STRING_MAP_MISSING. */
uint32_t string_map_get(const string_map *map, const char *key);

/* Insert or replace. Returns 0 or -ENOMEM. */
int string_map_put(string_map *map, const char *key, uint32_t value);

/* Remove key if present. */
void string_map_remove(string_map *map, const char *key);

#endif
