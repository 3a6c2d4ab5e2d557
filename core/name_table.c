#include "name_table.h"

#include <stdlib.h>
#include <string.h>

#include "utf8_text.h"

struct name_table {
    char **names;      /* by id */
    uint32_t *hashes;  /* by id, so growing the index needs no rehashing of text */
    uint32_t count;
    uint32_t capacity; /* of names and hashes */
    uint32_t *slots;   /* open addressing, linear probing; NAME_NONE is empty */
    uint32_t slot_mask;
    size_t text_bytes;
};

name_table *name_table_create(void)
{
    return calloc(1, sizeof(name_table));
}

void name_table_free(name_table *table)
{
    if (table == NULL)
        return;
    for (uint32_t id = 0; id < table->count; id++)
        free(table->names[id]);
    free(table->names);
    free(table->hashes);
    free(table->slots);
    free(table);
}

static uint32_t lookup(const name_table *table, const char *name, size_t length,
                       uint32_t hash)
{
    if (table->slots == NULL)
        return NAME_NONE;
    for (uint32_t slot = hash & table->slot_mask;; slot = (slot + 1) & table->slot_mask) {
        uint32_t id = table->slots[slot];

        if (id == NAME_NONE)
            return NAME_NONE;
        if (table->hashes[id] == hash && strncmp(table->names[id], name, length + 1) == 0)
            return id;
    }
}

uint32_t name_table_find(const name_table *table, const char *name)
{
    size_t length = strlen(name);

    return lookup(table, name, length, utf8_hash(name, length));
}

static void place(name_table *table, uint32_t id)
{
    uint32_t slot = table->hashes[id] & table->slot_mask;

    while (table->slots[slot] != NAME_NONE)
        slot = (slot + 1) & table->slot_mask;
    table->slots[slot] = id;
}

/* Keep the index at most half full so probes stay short. */
static int grow_slots(name_table *table)
{
    uint32_t slot_count = table->slots == NULL ? 16 : (table->slot_mask + 1) * 2;
    uint32_t *slots = malloc(sizeof(uint32_t) * slot_count);

    if (slots == NULL)
        return -1;
    memset(slots, 0xff, sizeof(uint32_t) * slot_count);
    free(table->slots);
    table->slots = slots;
    table->slot_mask = slot_count - 1;
    for (uint32_t id = 0; id < table->count; id++)
        place(table, id);
    return 0;
}

static int grow_names(name_table *table)
{
    uint32_t capacity = table->capacity == 0 ? 16 : table->capacity * 2;
    char **names = realloc(table->names, sizeof(char *) * capacity);
    uint32_t *hashes;

    if (names == NULL)
        return -1;
    table->names = names;
    hashes = realloc(table->hashes, sizeof(uint32_t) * capacity);
    if (hashes == NULL)
        return -1;
    table->hashes = hashes;
    table->capacity = capacity;
    return 0;
}

uint32_t name_table_intern(name_table *table, const char *name)
{
    size_t length = strlen(name);
    uint32_t hash = utf8_hash(name, length);
    uint32_t id = lookup(table, name, length, hash);
    char *copy;

    if (id != NAME_NONE)
        return id;
    if (table->count == NAME_NONE - 1)
        return NAME_NONE;
    if (table->count == table->capacity && grow_names(table) != 0)
        return NAME_NONE;
    if ((table->slots == NULL || (table->count + 1) * 2 > table->slot_mask + 1) &&
        grow_slots(table) != 0)
        return NAME_NONE;
    copy = malloc(length + 1);
    if (copy == NULL)
        return NAME_NONE;
    memcpy(copy, name, length + 1);

    id = table->count++;
    table->names[id] = copy;
    table->hashes[id] = hash;
    table->text_bytes += length + 1;
    place(table, id);
    return id;
}

const char *name_table_name(const name_table *table, uint32_t id)
{
    return id < table->count ? table->names[id] : NULL;
}

size_t name_table_memory_bytes(const name_table *table)
{
    size_t slots = table->slots == NULL ? 0 : (size_t)table->slot_mask + 1;

    return sizeof(*table) + table->capacity * (sizeof(char *) + sizeof(uint32_t)) +
           slots * sizeof(uint32_t) + table->text_bytes;
}
