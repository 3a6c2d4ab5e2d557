#include "ingest_claims.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ingest_json.h"

/* RFC 1035 section 2.3.4: at most 63 bytes per label, 253 per name in its
 * dotted text form. */
#define DOMAIN_LABEL_MAX 63
#define DOMAIN_NAME_MAX 253

int ingest_claim_id(const json_object *value, const char *name, bool allow_integer,
                    char **id, char *error, size_t error_size)
{
    json_object *object = (json_object *)value;
    const char *text;
    size_t length;

    *id = NULL;
    if (object == NULL)
        return 0;

    if (json_object_is_type(object, json_type_string)) {
        text = json_object_get_string(object);
        length = (size_t)json_object_get_string_len(object);
    } else if (allow_integer && json_object_is_type(object, json_type_int)) {
        /* The serializer prints json-c's 64-bit value, signed or unsigned,
         * exactly as parsed. */
        text = json_object_to_json_string_ext(object, JSON_C_TO_STRING_PLAIN);
        length = strlen(text);
    } else {
        snprintf(error, error_size, "%s must be a string%s, got %s", name,
                 allow_integer ? " or an integer" : "", ingest_json_type_name(object));
        return -EINVAL;
    }

    if (length == 0)
        return 0;
    *id = strndup(text, length);
    if (*id == NULL) {
        snprintf(error, error_size, "out of memory while copying %s", name);
        return -ENOMEM;
    }
    return 0;
}

static bool is_ascii_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

static char ascii_lower(char c)
{
    return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* Copy text[0..length) trimmed of ASCII whitespace and lower-cased; NULL
 * in *copy when nothing is left. */
static int trimmed_lower_copy(const char *text, size_t length, char **copy)
{
    *copy = NULL;
    while (length > 0 && is_ascii_space(text[0])) {
        text++;
        length--;
    }
    while (length > 0 && is_ascii_space(text[length - 1]))
        length--;
    if (length == 0)
        return 0;

    *copy = malloc(length + 1);
    if (*copy == NULL)
        return -ENOMEM;
    for (size_t i = 0; i < length; i++)
        (*copy)[i] = ascii_lower(text[i]);
    (*copy)[length] = '\0';
    return 0;
}

int ingest_claim_email(const char *text, char **email)
{
    return trimmed_lower_copy(text, strlen(text), email);
}

static bool is_label_byte(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
}

static bool is_letter(char c)
{
    return c >= 'a' && c <= 'z';
}

/* Check that name is a host name as ingest_claim_domain() describes. */
static int check_host_name(const char *name, char *why, size_t why_size)
{
    size_t length = strlen(name);
    size_t label_start = 0;
    size_t labels = 0;
    bool last_label_letters = false;

    if (length == 0) {
        snprintf(why, why_size, "no host name is left");
        return -EINVAL;
    }
    if (length > DOMAIN_NAME_MAX) {
        snprintf(why, why_size, "the host name is longer than %d bytes", DOMAIN_NAME_MAX);
        return -EINVAL;
    }

    for (size_t at = 0; at <= length; at++) {
        size_t label_length;

        if (at < length && name[at] != '.') {
            if ((unsigned char)name[at] >= 0x80) {
                snprintf(why, why_size,
                         "the host name contains a non-ASCII character; write an "
                         "internationalized domain in its xn-- (punycode) form");
                return -EINVAL;
            }
            if (!is_label_byte(name[at])) {
                snprintf(why, why_size, "the host name contains the character '%c'", name[at]);
                return -EINVAL;
            }
            continue;
        }

        label_length = at - label_start;
        if (label_length == 0) {
            snprintf(why, why_size, "the host name has an empty label");
            return -EINVAL;
        }
        if (label_length > DOMAIN_LABEL_MAX) {
            snprintf(why, why_size, "a label of the host name is longer than %d bytes",
                     DOMAIN_LABEL_MAX);
            return -EINVAL;
        }
        if (name[label_start] == '-' || name[at - 1] == '-') {
            snprintf(why, why_size, "a label of the host name starts or ends with '-'");
            return -EINVAL;
        }
        last_label_letters = label_length >= 2;
        for (size_t i = label_start; i < at; i++)
            last_label_letters = last_label_letters && is_letter(name[i]);
        labels++;
        label_start = at + 1;
    }

    if (labels < 2) {
        snprintf(why, why_size, "a company domain has at least two labels, such as example.com");
        return -EINVAL;
    }
    /* Top-level domains are letters; this also keeps IP addresses out. */
    if (!last_label_letters) {
        snprintf(why, why_size, "the top-level label must be two or more letters, such as com");
        return -EINVAL;
    }
    return 0;
}

int ingest_claim_domain(const char *text, char **domain, char *why, size_t why_size)
{
    const char *host = text;
    const char *scheme_end = strstr(text, "://");
    const char *at_sign;
    size_t host_length;
    char *name = NULL;
    size_t name_length;
    int rc;

    *domain = NULL;

    /* Drop the scheme, or the "//" of a scheme-relative URL. */
    while (is_ascii_space(*host))
        host++;
    if (scheme_end != NULL && scheme_end >= host && strcspn(host, "/?#") > (size_t)(scheme_end - host))
        host = scheme_end + 3;
    else if (strncmp(host, "//", 2) == 0)
        host += 2;

    /* The authority ends where the path, query or fragment begins; user
     * info ends at its last '@'. */
    host_length = strcspn(host, "/?#");
    for (at_sign = memchr(host, '@', host_length); at_sign != NULL;
         at_sign = memchr(host, '@', host_length)) {
        host_length -= (size_t)(at_sign + 1 - host);
        host = at_sign + 1;
    }

    rc = trimmed_lower_copy(host, host_length, &name);
    if (rc < 0)
        return rc;
    if (name == NULL) {
        snprintf(why, why_size, "no host name is left");
        return -EINVAL;
    }

    /* Port, trailing root dot, and the "www." that websites put before the
     * company's domain. */
    name[strcspn(name, ":")] = '\0';
    name_length = strlen(name);
    if (name_length > 0 && name[name_length - 1] == '.')
        name[--name_length] = '\0';
    if (strncmp(name, "www.", 4) == 0 && strchr(name + 4, '.') != NULL)
        memmove(name, name + 4, name_length - 4 + 1);

    rc = check_host_name(name, why, why_size);
    if (rc < 0) {
        free(name);
        return rc;
    }
    *domain = name;
    return 0;
}
