/*
 * The compact form of a connector log line's fields in sync.db. Every
 * delivered message writes two lines, and the log writer's cost grows with
 * their bytes. So a UUID takes 16 bytes instead of 36, and each JSON key
 * that claims and data repeat takes one byte.
 */
#ifndef WHARF_CORE_LOG_PACKING_H
#define WHARF_CORE_LOG_PACKING_H

#include <stddef.h>
#include <stdint.h>

#define LOG_ID_BYTES 16

/* Convert a UUID in its canonical text form (36 characters, lowercase hex
 * digits and dashes) to its 16 bytes. Returns 0, or -1 for any other text,
 * which is stored as it is. */
int log_id_pack(const char *text, size_t length, uint8_t bytes[LOG_ID_BYTES]);

/* Write the canonical text of a packed UUID, with its NUL (37 bytes). */
void log_id_unpack(const uint8_t bytes[LOG_ID_BYTES], char text[37]);

/* Pack JSON text in place, replacing known key fragments with single
 * control bytes, and return the packed length. Returns 0 when the text
 * already contains a byte below 0x20, because packing it could not be
 * undone; such text is stored as it is. */
size_t log_text_pack(char *text, size_t length);

/* Return the JSON text of packed text as a new string (the caller frees
 * it), or NULL when out of memory. */
char *log_text_unpack(const char *packed, size_t length);

#endif
