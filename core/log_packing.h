/*
 * The compact form of a connector log line's claims and data in sync.db.
 * Every delivered message writes two lines, and the log writer's cost
 * grows with their bytes. So each JSON key that claims and data repeat
 * takes one byte (and ids take their 16 bytes, id_parse() in ids.h).
 */
#ifndef WHARF_CORE_LOG_PACKING_H
#define WHARF_CORE_LOG_PACKING_H

#include <stddef.h>

/* Pack JSON text in place, replacing known key fragments with single
 * control bytes, and return the packed length. Returns 0 when the text
 * already contains a byte below 0x20, because packing it could not be
 * undone; such text is stored as it is. */
size_t log_text_pack(char *text, size_t length);

/* Return the JSON text of packed text as a new string (the caller frees
 * it), or NULL when out of memory. */
char *log_text_unpack(const char *packed, size_t length);

#endif
