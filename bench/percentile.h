/* Latency percentiles for the benchmarks: durations in nanoseconds. */
#ifndef WHARF_BENCH_PERCENTILE_H
#define WHARF_BENCH_PERCENTILE_H

#include <stddef.h>
#include <stdint.h>

/* Sort durations in place, smallest first. */
void percentile_sort(uint64_t *durations, size_t count);

/* Nearest-rank percentile of sorted durations, in milliseconds; 0 when
 * count is 0. fraction is 0.5 for the median. */
double percentile_ms(const uint64_t *sorted, size_t count, double fraction);

#endif
