/* Output helpers: results go to stdout, errors and progress to stderr. */
#include <stdarg.h>
#include <stdio.h>

#include "wharfctl.h"

void wharfctl_print_json(const struct json_object *value)
{
    /* NOSLASHESCAPE keeps URLs and paths readable: "http://x", not "http:\/\/x". */
    puts(json_object_to_json_string_ext((struct json_object *)value,
                                        JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
                                            JSON_C_TO_STRING_NOSLASHESCAPE));
}

void wharfctl_error(const char *format, ...)
{
    va_list arguments;

    fflush(stdout);
    fputs("wharfctl: ", stderr);
    va_start(arguments, format);
    vfprintf(stderr, format, arguments);
    va_end(arguments);
    fputc('\n', stderr);
}
