#include "resolve.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_fields.h"

/* At most this many ids are listed in an "ambiguous" message. */
#define AMBIGUOUS_IDS_SHOWN 5

typedef struct named_kind {
    const char *path;         /* list endpoint */
    const char *list_member;  /* member of its body that contains the array */
    const char *singular;     /* "connector" */
    const char *list_command; /* command that lists them */
} named_kind;

static const named_kind connectors = {"/api/v1/connectors", "connectors", "connector",
                                      "wharfctl connectors"};
static const named_kind segments = {"/api/v1/segments", "segments", "segment",
                                    "wharfctl segments"};

static int copy_id(const char *found, char *id, size_t size)
{
    size_t length = strlen(found);

    if (length >= size) {
        wharfctl_error("id \"%s\" is longer than %zu bytes, which wharfctl does not expect",
                       found, size - 1);
        return WHARFCTL_EXIT_FAILURE;
    }
    memcpy(id, found, length + 1);
    return 0;
}

static void print_ambiguous(const named_kind *kind, const char *reference, json_object *items)
{
    char ids[AMBIGUOUS_IDS_SHOWN * (RESOLVE_ID_SIZE + 2)] = "";
    size_t matches = 0;
    size_t used = 0;

    for (size_t i = 0; i < json_object_array_length(items); i++) {
        json_object *item = json_object_array_get_idx(items, i);
        const char *name = json_string_member(item, "name");

        if (name == NULL || strcmp(name, reference) != 0)
            continue;
        if (matches < AMBIGUOUS_IDS_SHOWN) {
            int written = snprintf(ids + used, sizeof(ids) - used, "%s%s",
                                   matches > 0 ? ", " : "", json_string_member(item, "id"));

            if (written > 0 && (size_t)written < sizeof(ids) - used)
                used += (size_t)written;
        }
        matches++;
    }
    wharfctl_error("%s name \"%s\" is ambiguous: %zu %ss have it (%s%s); name one by its id",
                   kind->singular, reference, matches, kind->singular, ids,
                   matches > AMBIGUOUS_IDS_SHOWN ? ", ..." : "");
}

static int resolve_named(wharfctl *ctl, const named_kind *kind, const char *reference, char *id,
                         size_t size)
{
    api_response response;
    json_object *items;
    const char *found = NULL;
    size_t name_matches = 0;
    int rc;

    if (api_client_call(&ctl->client, "GET", kind->path, NULL, &response) != 0)
        return WHARFCTL_EXIT_FAILURE;
    items = json_array_member(response.body, kind->list_member);
    if (items == NULL) {
        wharfctl_error("GET %s returned no \"%s\" array; check that --url points at wharfd",
                       kind->path, kind->list_member);
        rc = WHARFCTL_EXIT_FAILURE;
        goto out;
    }

    for (size_t i = 0; i < json_object_array_length(items); i++) {
        json_object *item = json_object_array_get_idx(items, i);
        const char *item_id = json_string_member(item, "id");
        const char *name = json_string_member(item, "name");

        if (item_id != NULL && strcmp(item_id, reference) == 0) {
            found = item_id;
            name_matches = 1;
            break;
        }
        if (name != NULL && strcmp(name, reference) == 0) {
            if (name_matches == 0)
                found = item_id;
            name_matches++;
        }
    }

    if (name_matches == 0 || found == NULL) {
        wharfctl_error("%s \"%s\" not found: no %s has that id or name; list them with '%s'",
                       kind->singular, reference, kind->singular, kind->list_command);
        rc = WHARFCTL_EXIT_FAILURE;
    } else if (name_matches > 1) {
        print_ambiguous(kind, reference, items);
        rc = WHARFCTL_EXIT_FAILURE;
    } else {
        rc = copy_id(found, id, size);
    }

out:
    api_response_cleanup(&response);
    return rc;
}

int resolve_connector(wharfctl *ctl, const char *reference, char *id, size_t size)
{
    return resolve_named(ctl, &connectors, reference, id, size);
}

int resolve_segment(wharfctl *ctl, const char *reference, char *id, size_t size)
{
    return resolve_named(ctl, &segments, reference, id, size);
}

/* Look up entities whose claim equals reference. Returns the number found
 * (the first id copied into id), or -1 after printing an error. */
static int lookup_claim(wharfctl *ctl, const char *collection, const char *claim,
                        const char *reference, char *id, size_t size)
{
    char path[1024];
    char *escaped = api_client_escape(reference);
    api_response response;
    json_object *items;
    int count = -1;
    int length;

    if (escaped == NULL) {
        wharfctl_error("cannot look up %s \"%s\": out of memory", claim, reference);
        return -1;
    }
    length = snprintf(path, sizeof(path), "/api/v1/%s?%s=%s", collection, claim, escaped);
    free(escaped);
    if (length < 0 || (size_t)length >= sizeof(path)) {
        wharfctl_error("%s \"%s\" is too long to look up", claim, reference);
        return -1;
    }

    if (api_client_call(&ctl->client, "GET", path, NULL, &response) != 0)
        return -1;
    items = json_array_member(response.body, collection);
    if (items == NULL) {
        wharfctl_error("GET %s returned no \"%s\" array; check that --url points at wharfd",
                       path, collection);
        goto out;
    }
    count = (int)json_object_array_length(items);
    if (count > 0) {
        const char *found = json_string_member(json_object_array_get_idx(items, 0), "id");

        if (found == NULL) {
            wharfctl_error("GET %s returned an entry without an id; check that --url points "
                           "at wharfd",
                           path);
            count = -1;
        } else if (copy_id(found, id, size) != 0) {
            count = -1;
        }
    }

out:
    api_response_cleanup(&response);
    return count;
}

/* Returns 1 when text has the form of the ids wharfd assigns: a UUID,
 * 8-4-4-4-12 hexadecimal digits. */
static int looks_like_uuid(const char *text)
{
    static const char pattern[] = "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx";

    for (size_t i = 0; i < sizeof(pattern) - 1; i++) {
        char c = text[i];

        if (pattern[i] == '-' ? c != '-'
                              : !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
                                  (c >= 'A' && c <= 'F')))
            return 0;
    }
    return text[sizeof(pattern) - 1] == '\0';
}

typedef struct entity_kind {
    const char *collection;    /* "users" */
    const char *singular;      /* "user" */
    const char *const *claims; /* claims to look up, in order, NULL-terminated */
} entity_kind;

static const char *const user_claims[] = {"external_id", "email", NULL};
static const char *const account_claims[] = {"external_id", "domain", NULL};
static const entity_kind users = {"users", "user", user_claims};
static const entity_kind accounts = {"accounts", "account", account_claims};

/* Returned by find_entity when no entity matched; not an exit code. */
#define ENTITY_NOT_FOUND (-1)

/* Find the entity with id reference, else the one entity with a claim equal
 * to it. Returns 0 with the id, ENTITY_NOT_FOUND without printing, or
 * WHARFCTL_EXIT_FAILURE after printing an error. */
static int find_entity(wharfctl *ctl, const entity_kind *kind, const char *reference, char *id,
                       size_t size)
{
    char prefix[64];
    char path[1024];
    api_response response;

    snprintf(prefix, sizeof(prefix), "/api/v1/%s/", kind->collection);
    if (api_client_path(path, sizeof(path), prefix, reference, "") != 0) {
        wharfctl_error("%s \"%s\" is too long to look up", kind->singular, reference);
        return WHARFCTL_EXIT_FAILURE;
    }

    if (api_client_request(&ctl->client, "GET", path, NULL, &response) != 0)
        return WHARFCTL_EXIT_FAILURE;
    if (response.status == 200) {
        api_response_cleanup(&response);
        return copy_id(reference, id, size);
    }
    if (response.status != 404) {
        api_client_print_error(&ctl->client, &response);
        api_response_cleanup(&response);
        return WHARFCTL_EXIT_FAILURE;
    }
    api_response_cleanup(&response);

    for (size_t i = 0; kind->claims[i] != NULL; i++) {
        int count = lookup_claim(ctl, kind->collection, kind->claims[i], reference, id, size);

        if (count < 0)
            return WHARFCTL_EXIT_FAILURE;
        if (count == 1)
            return 0;
        if (count > 1) {
            wharfctl_error("%s \"%s\" is ambiguous: %d %ss have that %s; name one by its id",
                           kind->singular, reference, count, kind->singular,
                           kind->claims[i]);
            return WHARFCTL_EXIT_FAILURE;
        }
    }
    return ENTITY_NOT_FOUND;
}

static int resolve_entity(wharfctl *ctl, const entity_kind *kind, const char *reference,
                          char *id, size_t size)
{
    int rc = find_entity(ctl, kind, reference, id, size);

    if (rc != ENTITY_NOT_FOUND)
        return rc;
    wharfctl_error("%s \"%s\" not found: no %s has that id, %s or %s", kind->singular,
                   reference, kind->singular, kind->claims[0], kind->claims[1]);
    return WHARFCTL_EXIT_FAILURE;
}

/* As resolve_entity, but a UUID that matches nothing is kept as the id, so
 * that lines about an entity that was merged away can still be read. */
static int resolve_log_filter(wharfctl *ctl, const entity_kind *kind, const char *reference,
                              char *id, size_t size)
{
    int rc = find_entity(ctl, kind, reference, id, size);

    if (rc != ENTITY_NOT_FOUND)
        return rc;
    if (looks_like_uuid(reference))
        return copy_id(reference, id, size);
    wharfctl_error("%s \"%s\" not found: no %s has that id, %s or %s; to read lines about "
                   "a %s that was merged away, give its id",
                   kind->singular, reference, kind->singular, kind->claims[0], kind->claims[1],
                   kind->singular);
    return WHARFCTL_EXIT_FAILURE;
}

int resolve_user(wharfctl *ctl, const char *reference, char *id, size_t size)
{
    return resolve_entity(ctl, &users, reference, id, size);
}

int resolve_account(wharfctl *ctl, const char *reference, char *id, size_t size)
{
    return resolve_entity(ctl, &accounts, reference, id, size);
}

int resolve_log_user(wharfctl *ctl, const char *reference, char *id, size_t size)
{
    return resolve_log_filter(ctl, &users, reference, id, size);
}

int resolve_log_account(wharfctl *ctl, const char *reference, char *id, size_t size)
{
    return resolve_log_filter(ctl, &accounts, reference, id, size);
}
