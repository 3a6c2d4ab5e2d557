/*
 * Doubles as JSON text, written as json-c 0.16 writes a double made with
 * json_object_new_double(). That is printf's "%.17g" with a point as the
 * decimal separator whatever the locale, and ".0" appended when the text
 * has neither a point nor an exponent. NaN, Infinity and -Infinity are
 * written as words.
 */
#ifndef WHARF_CORE_DOUBLE_TEXT_H
#define WHARF_CORE_DOUBLE_TEXT_H

#include <stddef.h>

/* Room for the longest text, "-2.2250738585072014e-308", and its NUL. */
#define DOUBLE_TEXT_SIZE 32

/* Write number's text and a NUL into text and return the length. Most
 * doubles from 1e-6 to 1.7e38 in magnitude are formatted with integer
 * arithmetic, because snprintf() showed in ingest profiles; the others
 * go through snprintf(). */
size_t double_text_format(double number, char text[DOUBLE_TEXT_SIZE]);

/* Write the same text, always with snprintf(). It is the reference that
 * double_text_format() matches. */
size_t double_text_format_slow(double number, char text[DOUBLE_TEXT_SIZE]);

#endif
