/*
 * Identifying claims read from ingest bodies: ids that may arrive as
 * numbers, and the normal form of emails and domains, so that the same
 * person or company sent by different clients resolves to one entity.
 */
#ifndef WHARF_CORE_INGEST_CLAIMS_H
#define WHARF_CORE_INGEST_CLAIMS_H

#include <stdbool.h>
#include <stddef.h>

struct json_object;

/* Copy the id in value (the member name of the body, for messages) into a
 * new string in *id. A string is copied byte for byte. An integer becomes
 * its decimal text when allow_integer is set, because Segment libraries
 * pass through numeric ids (userId: 42). Absent (value NULL), JSON null and
 * "" leave *id NULL. Any other type returns -EINVAL with a message such as
 * "userId must be a string or an integer, got an object"; -ENOMEM. */
int ingest_claim_id(const struct json_object *value, const char *name, bool allow_integer,
                    char **id, char *error, size_t error_size);

/* The normal form of an email claim: ASCII whitespace trimmed and ASCII
 * letters lower-cased, since mail systems treat addresses case-insensitively
 * in practice. Returns 0 with a new string in *email, or NULL when nothing
 * is left; -ENOMEM. */
int ingest_claim_email(const char *text, char **email);

/* Reduce a domain or website URL to a lower-case host name: a scheme
 * ("https://"), user info, port, path, query, fragment, a trailing dot and
 * a leading "www." label are dropped, so "https://www.Acme.com/about" and
 * "acme.com" are the same claim. Returns 0 with a new string in *domain, or
 * -EINVAL with a phrase in why when what is left is not a host name. A
 * host name has at least two labels of ASCII letters, digits and inner
 * hyphens (an internationalized name in its xn-- form). The last label is
 * two or more letters, which keeps IP addresses out. -ENOMEM. */
int ingest_claim_domain(const char *text, char **domain, char *why, size_t why_size);

#endif
