/* State shared by every wharfctl command: where wharfd is, how to print,
 * and the exit codes the commands return. */
#ifndef WHARFCTL_H
#define WHARFCTL_H

#include "api_client.h"

/* Exit codes. A command returns one of these from its run function. */
#define WHARFCTL_EXIT_OK 0
#define WHARFCTL_EXIT_FAILURE 1 /* the API returned an error, or delivery failed */
#define WHARFCTL_EXIT_USAGE 2   /* bad command line, or an input file that cannot be used */
/* Shells report a process that stopped on SIGINT as 128 + 2; wharfctl send
 * returns the same when Ctrl-C stops it waiting for a batch. */
#define WHARFCTL_EXIT_INTERRUPTED 130

#define WHARFCTL_DEFAULT_URL "http://127.0.0.1:8080"
#define WHARFCTL_DEFAULT_TIMEOUT_MS 30000L

typedef struct wharfctl {
    api_client client;      /* base URL and time limit come from --url and --timeout */
    const char *url;        /* from --url, WHARF_URL or the default; checked at the end of parsing */
    const char *url_source; /* "--url", "WHARF_URL" or "the default", for error messages */
    int json_output;        /* --json: print the API's JSON instead of tables */
} wharfctl;

/* Print value to stdout as indented JSON followed by a newline. */
void wharfctl_print_json(const struct json_object *value);

/* Print "wharfctl: MESSAGE" and a newline to stderr. */
void wharfctl_error(const char *format, ...)
    __attribute__((format(printf, 1, 2)));

#endif
