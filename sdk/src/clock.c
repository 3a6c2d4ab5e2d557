#include "wharf/sdk/clock.h"

#include <time.h>

int64_t wharf_clock_now_ms(void)
{
    struct timespec now;

    if (clock_gettime(CLOCK_REALTIME, &now) != 0)
        return 0;
    return (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
}
