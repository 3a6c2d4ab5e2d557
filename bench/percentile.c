#include "percentile.h"

#include <stdlib.h>

static int compare_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a;
    uint64_t y = *(const uint64_t *)b;

    return x < y ? -1 : x > y;
}

void percentile_sort(uint64_t *durations, size_t count)
{
    qsort(durations, count, sizeof(uint64_t), compare_u64);
}

double percentile_ms(const uint64_t *sorted, size_t count, double fraction)
{
    size_t rank = (size_t)(fraction * (double)count + 0.999999);

    if (count == 0)
        return 0;
    if (rank < 1)
        rank = 1;
    if (rank > count)
        rank = count;
    return (double)sorted[rank - 1] / 1e6;
}
