#include "string_map.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Eight bytes per step, then a final mix: keys are ids and emails of 20
 * to 40 bytes, and hashing them a byte at a time (FNV-1a) showed in
 * ingest profiles. The multipliers are the 64-bit golden ratio and the
 * finalizer of MurmurHash3. */
static uint32_t hash_key(const char *key)
{
    const unsigned char *bytes = (const unsigned char *)key;
    size_t length = strlen(key);
    uint64_t hash = 0x9e3779b97f4a7c15ull ^ length;
    uint64_t word;

    for (; length >= 8; bytes += 8, length -= 8) {
        memcpy(&word, bytes, 8);
        hash = (hash ^ word) * 0x9e3779b97f4a7c15ull;
        hash ^= hash >> 29;
    }
    word = 0;
    memcpy(&word, bytes, length);
    hash = (hash ^ word) * 0x9e3779b97f4a7c15ull;

    hash ^= hash >> 33;
    hash *= 0xff51afd7ed558ccdull;
    hash ^= hash >> 33;
    hash *= 0xc4ceb9fe1a85ec53ull;
    hash ^= hash >> 33;
    return (uint32_t)hash;
}

void string_map_init(string_map *map)
{
    memset(map, 0, sizeof(*map));
}

void string_map_free(string_map *map)
{
    for (size_t i = 0; i < map->capacity; i++)
        free(map->slots[i].key);
    free(map->slots);
    memset(map, 0, sizeof(*map));
}

static string_map_slot *find_slot(string_map_slot *slots, size_t capacity, const char *key,
                                  uint32_t hash)
{
    size_t mask = capacity - 1;

    for (size_t i = hash & mask;; i = (i + 1) & mask) {
        string_map_slot *slot = &slots[i];
        if (slot->key == NULL || (slot->hash == hash && strcmp(slot->key, key) == 0))
            return slot;
    }
}

uint32_t string_map_get(const string_map *map, const char *key)
{
    string_map_slot *slot;

    if (map->capacity == 0 || key == NULL)
        return STRING_MAP_MISSING;
    slot = find_slot(map->slots, map->capacity, key, hash_key(key));
    return slot->key != NULL ? slot->value : STRING_MAP_MISSING;
}

static int grow(string_map *map)
{
    size_t capacity = map->capacity == 0 ? 16 : map->capacity * 2;
    string_map_slot *slots = calloc(capacity, sizeof(*slots));

    if (slots == NULL)
        return -ENOMEM;
    for (size_t i = 0; i < map->capacity; i++) {
        string_map_slot *old = &map->slots[i];
        if (old->key != NULL)
            *find_slot(slots, capacity, old->key, old->hash) = *old;
    }
    free(map->slots);
    map->slots = slots;
    map->capacity = capacity;
    return 0;
}

int string_map_put(string_map *map, const char *key, uint32_t value)
{
    uint32_t hash = hash_key(key);
    string_map_slot *slot;

    /* Keep the load factor at most 1/2 so probe runs stay short. */
    if ((map->count + 1) * 2 > map->capacity && grow(map) != 0)
        return -ENOMEM;
    slot = find_slot(map->slots, map->capacity, key, hash);
    if (slot->key == NULL) {
        slot->key = strdup(key);
        if (slot->key == NULL)
            return -ENOMEM;
        slot->hash = hash;
        map->count++;
    }
    slot->value = value;
    return 0;
}

void string_map_remove(string_map *map, const char *key)
{
    size_t mask;
    size_t i;
    string_map_slot *slot;

    if (map->capacity == 0)
        return;
    slot = find_slot(map->slots, map->capacity, key, hash_key(key));
    if (slot->key == NULL)
        return;
    free(slot->key);
    slot->key = NULL;
    map->count--;

    /* Re-insert the rest of the probe run so later lookups do not stop at
     * the hole (backward-shift deletion would avoid the re-hashing). */
    mask = map->capacity - 1;
    i = ((size_t)(slot - map->slots) + 1) & mask;
    while (map->slots[i].key != NULL) {
        string_map_slot moved = map->slots[i];
        map->slots[i].key = NULL;
        *find_slot(map->slots, map->capacity, moved.key, moved.hash) = moved;
        i = (i + 1) & mask;
    }
}
