/*
 * Timers for the harness: a list checked by the harness's run loop, which
 * sleeps until the earliest one is due. They fire only while
 * wharf_harness_send() runs.
 */
#include "harness_internal.h"

#include <stdlib.h>
#include <time.h>

uint64_t harness_monotonic_ms(void)
{
    struct timespec now;

    clock_gettime(CLOCK_MONOTONIC, &now);
    return (uint64_t)now.tv_sec * 1000 + (uint64_t)now.tv_nsec / 1000000;
}

static wharf_timer *timer_start(wharf_connector *connector, uint64_t timeout_ms,
                                uint64_t repeat_ms, wharf_timer_fn fn, void *user_data)
{
    wharf_harness *harness = connector->harness;
    wharf_timer *timer;

    if (!harness_on_loop_thread(harness, "timer_start"))
        return NULL;
    if (fn == NULL) {
        harness_violation(harness, "timer_start: fn is NULL");
        return NULL;
    }

    timer = calloc(1, sizeof(*timer));
    if (timer == NULL)
        return NULL;
    timer->harness = harness;
    timer->due_ms = harness_monotonic_ms() + timeout_ms;
    timer->repeat_ms = repeat_ms;
    timer->fn = fn;
    timer->user_data = user_data;

    timer->next = harness->timers;
    harness->timers = timer;
    return timer;
}

/* Stopped timers stay in the list until the harness is destroyed, so a
 * second timer_stop() on the same pointer is harmless. */
static void timer_stop(wharf_timer *timer)
{
    if (timer == NULL)
        return;
    harness_on_loop_thread(timer->harness, "timer_stop");
    timer->stopped = 1;
}

uint64_t harness_timer_next_due(const wharf_harness *harness)
{
    uint64_t next = UINT64_MAX;
    const wharf_timer *timer;

    for (timer = harness->timers; timer != NULL; timer = timer->next) {
        if (!timer->stopped && timer->due_ms < next)
            next = timer->due_ms;
    }
    return next;
}

void harness_timer_fire_due(wharf_harness *harness, uint64_t now_ms)
{
    wharf_timer *timer;

    /* A callback may start timers (added at the head) or stop any timer, so
     * the walk restarts after each call. */
    for (;;) {
        for (timer = harness->timers; timer != NULL; timer = timer->next) {
            if (!timer->stopped && timer->due_ms <= now_ms)
                break;
        }
        if (timer == NULL)
            return;

        if (timer->repeat_ms == 0)
            timer->stopped = 1;
        else
            timer->due_ms = now_ms + timer->repeat_ms;
        timer->fn(timer->user_data);
    }
}

void harness_timer_free_all(wharf_harness *harness)
{
    wharf_timer *timer = harness->timers;

    while (timer != NULL) {
        wharf_timer *next = timer->next;

        free(timer);
        timer = next;
    }
    harness->timers = NULL;
}

void harness_timer_install(wharf_host *host)
{
    host->timer_start = timer_start;
    host->timer_stop = timer_stop;
}
