/* Text tables for the list commands: a header row, then one row per item,
 * columns padded to their widest cell and two spaces apart. */
#ifndef WHARFCTL_TABLE_H
#define WHARFCTL_TABLE_H

#include <stdio.h>

typedef struct table table;

/* A table with these column headers (count of them, copied). NULL when out
 * of memory. */
table *table_create(size_t columns, const char *const *headers);

/* Append one row of exactly as many cells as there are columns; a NULL
 * cell prints as "-". The cells are copied. Returns 0 or -ENOMEM. */
int table_add_row(table *t, const char *const *cells);

size_t table_row_count(const table *t);

/* Print the header and rows to stream. The last column is not padded, so
 * lines carry no trailing spaces. */
void table_print(const table *t, FILE *stream);

void table_free(table *t);

#endif
