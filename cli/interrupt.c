#include "interrupt.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <time.h>

static volatile sig_atomic_t interrupted;

static void on_sigint(int signal_number)
{
    /* The second Ctrl-C restores the default action and re-raises, for a
     * user who does not want to wait for the current request to end. */
    if (interrupted) {
        signal(signal_number, SIG_DFL);
        raise(signal_number);
        return;
    }
    interrupted = 1;
}

int interrupt_catch(void)
{
    struct sigaction action;

    memset(&action, 0, sizeof(action));
    action.sa_handler = on_sigint;
    sigemptyset(&action.sa_mask);
    /* No SA_RESTART, so that nanosleep returns early with EINTR. */
    action.sa_flags = 0;
    if (sigaction(SIGINT, &action, NULL) != 0)
        return -errno;
    return 0;
}

int interrupt_requested(void)
{
    return interrupted != 0;
}

void interrupt_sleep_ms(long milliseconds)
{
    struct timespec remaining = {
        .tv_sec = milliseconds / 1000,
        .tv_nsec = (milliseconds % 1000) * 1000000L,
    };

    /* NOTE: a SIGINT that lands between the flag check and nanosleep does not
     * cut the sleep short, so the caller notices it one interval later. */
    while (!interrupted && nanosleep(&remaining, &remaining) != 0 && errno == EINTR) {
    }
}
