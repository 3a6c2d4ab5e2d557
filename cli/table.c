#include "table.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct table {
    size_t columns;
    size_t rows; /* the header is row 0 */
    size_t capacity;
    char **cells; /* rows * columns, row after row */
};

/* Width of text on a terminal, counted in code points: UTF-8 continuation
 * bytes take no column. NOTE: East Asian wide characters take two columns
 * on most terminals, so a name with them pushes its row out of line. */
static size_t display_width(const char *text)
{
    size_t width = 0;

    for (const unsigned char *byte = (const unsigned char *)text; *byte != '\0'; byte++) {
        if ((*byte & 0xC0) != 0x80)
            width++;
    }
    return width;
}

/* Copy a cell, replacing control characters with '?', because a name with a
 * newline would break the table, and an escape sequence would reach the
 * terminal. */
static char *copy_text(const char *text)
{
    const char *source = text != NULL ? text : "-";
    size_t length = strlen(source);
    char *copy = malloc(length + 1);

    if (copy == NULL)
        return NULL;
    for (size_t i = 0; i <= length; i++) {
        unsigned char byte = (unsigned char)source[i];

        copy[i] = (byte != '\0' && (byte < 0x20 || byte == 0x7F)) ? '?' : (char)byte;
    }
    return copy;
}

static int append_row(table *t, const char *const *cells)
{
    size_t first = t->rows * t->columns;

    if (t->rows == t->capacity) {
        size_t capacity = t->capacity == 0 ? 16 : t->capacity * 2;
        char **grown = realloc(t->cells, capacity * t->columns * sizeof(*grown));

        if (grown == NULL)
            return -ENOMEM;
        t->cells = grown;
        t->capacity = capacity;
    }

    for (size_t column = 0; column < t->columns; column++) {
        t->cells[first + column] = copy_text(cells[column]);
        if (t->cells[first + column] == NULL) {
            while (column-- > 0)
                free(t->cells[first + column]);
            return -ENOMEM;
        }
    }
    t->rows++;
    return 0;
}

table *table_create(size_t columns, const char *const *headers)
{
    table *t = calloc(1, sizeof(*t));

    if (t == NULL)
        return NULL;
    t->columns = columns;
    if (append_row(t, headers) != 0) {
        free(t);
        return NULL;
    }
    return t;
}

int table_add_row(table *t, const char *const *cells)
{
    return append_row(t, cells);
}

size_t table_row_count(const table *t)
{
    return t->rows - 1;
}

void table_print(const table *t, FILE *stream)
{
    size_t *widths = calloc(t->columns, sizeof(*widths));

    /* Without memory for the widths, print one tab-separated line per row. */
    for (size_t row = 0; widths != NULL && row < t->rows; row++) {
        for (size_t column = 0; column < t->columns; column++) {
            size_t width = display_width(t->cells[row * t->columns + column]);

            if (width > widths[column])
                widths[column] = width;
        }
    }

    for (size_t row = 0; row < t->rows; row++) {
        for (size_t column = 0; column < t->columns; column++) {
            const char *cell = t->cells[row * t->columns + column];
            int last = column + 1 == t->columns;

            fputs(cell, stream);
            if (last)
                break;
            if (widths == NULL) {
                fputc('\t', stream);
                continue;
            }
            for (size_t pad = display_width(cell); pad < widths[column] + 2; pad++)
                fputc(' ', stream);
        }
        fputc('\n', stream);
    }
    free(widths);
}

void table_free(table *t)
{
    if (t == NULL)
        return;
    for (size_t i = 0; i < t->rows * t->columns; i++)
        free(t->cells[i]);
    free(t->cells);
    free(t);
}
