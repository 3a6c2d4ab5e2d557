/* Identifiers and timestamps for stored records. */
#ifndef WHARF_CORE_IDS_H
#define WHARF_CORE_IDS_H

#include <stddef.h>
#include <stdint.h>

/* A random UUID (version 4) in its 36-character text form, the id of
 * connectors, segments and manual batches. New users and accounts get
 * time-ordered UUIDs of version 7 instead (generate_entity_id() in
 * entities.c), of the same size. */
#define ID_TEXT_SIZE 37
void id_generate(char id[ID_TEXT_SIZE]);

/* The 16 bytes of a UUID. */
#define ID_BYTES 16

/* Write the canonical text of a UUID's bytes: lowercase, with dashes. */
void id_format(const uint8_t bytes[ID_BYTES], char id[ID_TEXT_SIZE]);

/* Read a UUID in the text that id_format() writes (36 characters). Returns
 * 0, or -1 for any other text, uppercase included. */
int id_parse(const char *text, size_t length, uint8_t bytes[ID_BYTES]);

/* The current time as ISO 8601 UTC with milliseconds, such as
 * "2026-12-04T20:14:16.123Z". */
#define TIMESTAMP_TEXT_SIZE 32
void timestamp_now(char text[TIMESTAMP_TEXT_SIZE]);

/* The same form for a time given in Unix epoch milliseconds. */
void timestamp_format_ms(int64_t milliseconds, char text[TIMESTAMP_TEXT_SIZE]);

#endif
