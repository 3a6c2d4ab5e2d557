/*
 * Interned names (attribute names, event names) mapped to dense ids that
 * stay valid for the table's life: names are never removed, so an id can
 * be compiled into a segment query and kept.
 *
 * Not synchronized: the owner (attr_table, event_index) locks around it.
 */
#ifndef WHARF_CORE_NAME_TABLE_H
#define WHARF_CORE_NAME_TABLE_H

#include <stddef.h>
#include <stdint.h>

#define NAME_NONE UINT32_MAX

typedef struct name_table name_table;

name_table *name_table_create(void);
void name_table_free(name_table *table);

/* The id of name, or NAME_NONE when it was never interned. */
uint32_t name_table_find(const name_table *table, const char *name);

/* The id of name, adding it if new; NAME_NONE when out of memory. */
uint32_t name_table_intern(name_table *table, const char *name);

/* The name with this id, or NULL for an id never handed out. */
const char *name_table_name(const name_table *table, uint32_t id);

size_t name_table_memory_bytes(const name_table *table);

#endif
