/*
 * bench_sink: the recording sink of sink.c as a program of its own, for
 * checking it with curl and for measuring its ceiling with wrk by hand.
 * It listens on 127.0.0.1, prints the requests and messages it counted
 * each second, and stops after --seconds or at SIGINT or SIGTERM.
 *
 * Usage: bench_sink [--port N] [--seconds N]
 */
#define _POSIX_C_SOURCE 200809L
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sink.h"

#define DEFAULT_SECONDS 300
#define MAX_SECONDS 86400

static volatile sig_atomic_t stop_requested;

static void on_signal(int number)
{
    (void)number;
    stop_requested = 1;
}

static int parse_number(const char *text, long max, long *value)
{
    char *end;
    long parsed = strtol(text, &end, 10);

    if (end == text || *end != '\0' || parsed < 0 || parsed > max)
        return -1;
    *value = parsed;
    return 0;
}

int main(int argc, char **argv)
{
    sink_options options = {0};
    struct sigaction action;
    sink *s;
    sink_counts previous = {0};
    char error[256];
    long seconds = DEFAULT_SECONDS;
    long port = 0;

    for (int i = 1; i < argc; i += 2) {
        if (i + 1 >= argc)
            goto usage;
        if (strcmp(argv[i], "--port") == 0 && parse_number(argv[i + 1], 65535, &port) == 0)
            continue;
        if (strcmp(argv[i], "--seconds") == 0 &&
            parse_number(argv[i + 1], MAX_SECONDS, &seconds) == 0 && seconds > 0)
            continue;
        goto usage;
    }

    memset(&action, 0, sizeof(action));
    action.sa_handler = on_signal;
    sigaction(SIGINT, &action, NULL);
    sigaction(SIGTERM, &action, NULL);

    options.port = (int)port;
    if (sink_start(&options, &s, error, sizeof(error)) != 0) {
        fprintf(stderr, "bench_sink: %s\n", error);
        return 1;
    }
    printf("bench_sink listening on http://127.0.0.1:%d/ for %ld s\n", sink_port(s), seconds);
    fflush(stdout);

    for (long second = 0; second < seconds && !stop_requested; second++) {
        struct timespec pause = {1, 0};
        sink_counts counts;

        nanosleep(&pause, NULL);
        sink_read_counts(s, &counts);
        if (counts.requests != previous.requests)
            printf("requests %llu (+%llu), messages %llu (+%llu), bad requests %llu\n",
                   (unsigned long long)counts.requests,
                   (unsigned long long)(counts.requests - previous.requests),
                   (unsigned long long)counts.messages,
                   (unsigned long long)(counts.messages - previous.messages),
                   (unsigned long long)counts.bad_requests);
        fflush(stdout);
        previous = counts;
    }

    sink_read_counts(s, &previous);
    printf("stopped: requests %llu, messages %llu, body bytes %llu, bad requests %llu\n",
           (unsigned long long)previous.requests, (unsigned long long)previous.messages,
           (unsigned long long)previous.body_bytes, (unsigned long long)previous.bad_requests);
    sink_free(s);
    return 0;

usage:
    fprintf(stderr, "usage: bench_sink [--port N (0 picks one)] [--seconds N (1 to %d, "
                    "default %d)]\n",
            MAX_SECONDS, DEFAULT_SECONDS);
    return 2;
}
