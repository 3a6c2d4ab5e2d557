/*
 * Loading users into the wharfd under test for bench_sync: Segment
 * /v1/batch requests of identify calls, built before they are sent, over
 * a few keep-alive connections.
 */
#ifndef WHARF_BENCH_SYNC_LOAD_H
#define WHARF_BENCH_SYNC_LOAD_H

#include <stddef.h>
#include <stdint.h>

/* Load users number 0 to count-1: userId "user-<i>" and the 20 traits
 * that the generator (seeded with seed, reading source) makes for number
 * i. write_key goes into the Basic Authorization header. Prints the rate.
 * Returns 0, or -1 with a message in error. */
int bench_sync_load_users(int port, const char *write_key, const char *source, uint64_t seed,
                          uint64_t count, char *error, size_t error_size);

#endif
