/*
 * A seeded generator of realistic users for benchmarks. The source file
 * has the layout of AdventureWorks' ProspectiveBuyer.csv: pipe-separated,
 * no header, 24 columns. Each value is drawn from the empirical
 * distribution of one column, so value frequencies, the number of distinct
 * values and string lengths look like real customer data. The same seed
 * and source give the same users in the same order.
 */
#ifndef WHARF_BENCH_USER_GENERATOR_H
#define WHARF_BENCH_USER_GENERATOR_H

#include <stddef.h>
#include <stdint.h>

struct json_object;

typedef struct user_generator user_generator;

/* Read the source file; returns NULL and writes a message on failure. */
user_generator *user_generator_create(const char *source_path, uint64_t seed, char *error,
                                      size_t error_size);
void user_generator_free(user_generator *generator);

/* Rows of the source file used for the distributions. */
size_t user_generator_source_rows(const user_generator *generator);

/* The next user's 20 attributes as a new JSON object (caller puts it);
 * number makes the email address unique. NULL when out of memory. */
struct json_object *user_generator_next(user_generator *generator, uint64_t number);

#endif
