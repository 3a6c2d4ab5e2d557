/*
 * UTF-8 byte strings as the segment engine compares them: a seeded hash
 * for interning, and simple case folding for case-insensitive conditions.
 *
 * Folding covers ASCII, Latin-1 Supplement, Latin Extended-A, Greek and
 * basic Cyrillic (U+0400 to U+042F), one code point to one code point as in
 * the "C" and "S" rows of Unicode's CaseFolding.txt. Multi-character folds
 * such as German sharp s to "ss" are not applied. Invalid UTF-8 bytes are
 * compared as themselves, so every comparison is defined on any input.
 */
#ifndef WHARF_CORE_UTF8_TEXT_H
#define WHARF_CORE_UTF8_TEXT_H

#include <stddef.h>
#include <stdint.h>

/* Hash of length bytes. The seed is chosen at random once per process, so
 * hashes are stable within a process and never stored. */
uint32_t utf8_hash(const char *text, size_t length);

/* Hash of the case-folded code points: equal for strings that
 * utf8_fold_compare() finds equal. */
uint32_t utf8_folded_hash(const char *text, size_t length);

/* The simple case fold of one code point. */
uint32_t utf8_fold_code_point(uint32_t code_point);

/* Write the case fold of text into a new NUL-terminated allocation; returns
 * NULL when out of memory. *folded_length receives its length in bytes. */
char *utf8_fold_copy(const char *text, size_t length, size_t *folded_length);

/* Compare code point by code point after folding; <0, 0 or >0 like memcmp. */
int utf8_fold_compare(const char *a, size_t a_length, const char *b, size_t b_length);

/* Whether text starts with, ends with or contains needle, where needle is
 * already folded (utf8_fold_copy) and text is folded as it is read. */
int utf8_fold_starts_with(const char *text, size_t length, const char *needle,
                          size_t needle_length);
int utf8_fold_ends_with(const char *text, size_t length, const char *needle,
                        size_t needle_length);
int utf8_fold_contains(const char *text, size_t length, const char *needle,
                       size_t needle_length);

#endif
