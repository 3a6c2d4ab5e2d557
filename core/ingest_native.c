#include "ingest_native.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "ingest_attributes.h"
#include "ingest_claims.h"
#include "ingest_json.h"

/* Maximum bytes of a client's value quoted in a message. */
#define QUOTE_MAX 64

typedef enum claim_name { CLAIM_EXTERNAL_ID, CLAIM_EMAIL, CLAIM_DOMAIN, CLAIM_ANONYMOUS_ID } claim_name;

/* The claims an entity of one kind is identified by. */
typedef struct claim_set {
    const char *noun;  /* "user", "account" */
    const char *names; /* for messages */
    claim_name claims[3];
} claim_set;

static const claim_set user_claims = {
    "user", "external_id, email and anonymous_id",
    {CLAIM_EXTERNAL_ID, CLAIM_EMAIL, CLAIM_ANONYMOUS_ID}};
static const claim_set account_claims = {
    "account", "external_id, domain and anonymous_id",
    {CLAIM_EXTERNAL_ID, CLAIM_DOMAIN, CLAIM_ANONYMOUS_ID}};

static const char *claim_text(claim_name claim)
{
    switch (claim) {
    case CLAIM_EXTERNAL_ID:
        return "external_id";
    case CLAIM_EMAIL:
        return "email";
    case CLAIM_DOMAIN:
        return "domain";
    case CLAIM_ANONYMOUS_ID:
        return "anonymous_id";
    }
    return "";
}

static char **claim_slot(entity_claims *claims, claim_name claim)
{
    switch (claim) {
    case CLAIM_EXTERNAL_ID:
        return &claims->external_id;
    case CLAIM_EMAIL:
        return &claims->email;
    case CLAIM_DOMAIN:
        return &claims->domain;
    case CLAIM_ANONYMOUS_ID:
        return &claims->anonymous_id;
    }
    return NULL;
}

static const claim_name *find_claim(const claim_set *set, const char *name)
{
    for (size_t i = 0; i < sizeof(set->claims) / sizeof(set->claims[0]); i++) {
        if (strcmp(name, claim_text(set->claims[i])) == 0)
            return &set->claims[i];
    }
    return NULL;
}

/* What reading one entity reports besides its change. */
typedef struct entity_reader {
    ingest_native_kind kind;
    char *error; /* why the entity was rejected */
    size_t error_size;
    char warning[512]; /* a part of a kept entity that was left out, or "" */
} entity_reader;

/* Store one claim value (at path, such as "claims.email") in its normal form. */
static int read_claim(entity_reader *reader, json_object *value, claim_name claim,
                      const char *path, entity_claims *claims)
{
    char **slot = claim_slot(claims, claim);
    const char *text;
    char why[128];
    int rc;

    if (value == NULL)
        return 0;
    if (!json_object_is_type(value, json_type_string)) {
        snprintf(reader->error, reader->error_size, "%s must be a string, got %s", path,
                 ingest_json_type_name(value));
        return -EINVAL;
    }
    text = json_object_get_string(value);
    if (text[0] == '\0') {
        snprintf(reader->error, reader->error_size, "%s is empty; leave it out or send a value",
                 path);
        return -EINVAL;
    }

    switch (claim) {
    case CLAIM_EMAIL:
        rc = ingest_claim_email(text, slot);
        if (rc == 0 && *slot == NULL) {
            snprintf(reader->error, reader->error_size, "%s holds only whitespace", path);
            return -EINVAL;
        }
        return rc;
    case CLAIM_DOMAIN:
        /* A malformed domain does not reject the entity. The claim is left
         * out, and the response gives the reason as a warning. */
        rc = ingest_claim_domain(text, slot, why, sizeof(why));
        if (rc == -EINVAL) {
            snprintf(reader->warning, sizeof(reader->warning),
                     "%s \"%.*s\" was left out because it is not a domain: %s", path,
                     ingest_utf8_clip(text, QUOTE_MAX), text, why);
            return 0;
        }
        return rc;
    case CLAIM_EXTERNAL_ID:
    case CLAIM_ANONYMOUS_ID:
        return ingest_claim_id(value, path, false, slot, reader->error, reader->error_size);
    }
    return 0;
}

static bool has_claims(const entity_claims *claims)
{
    return claims->external_id != NULL || claims->email != NULL || claims->domain != NULL ||
           claims->anonymous_id != NULL;
}

/* Read the claims object at path ("claims", or "account" for a user's
 * account link) of an entity. An account link left without claims because
 * its domain was malformed is no link, not an error. */
static int read_claims(entity_reader *reader, json_object *object, const char *path,
                       const claim_set *set, entity_claims *claims)
{
    bool is_link = strcmp(path, "account") == 0;
    char claim_path[160];

    json_object_object_foreach(object, name, value) {
        const claim_name *claim = find_claim(set, name);
        int rc;

        if (claim == NULL) {
            snprintf(reader->error, reader->error_size,
                     "%s has the unknown claim \"%.*s\"; %s claims are %s", path,
                     ingest_utf8_clip(name, QUOTE_MAX), name,
                     set == &user_claims ? "a user's" : "an account's", set->names);
            return -EINVAL;
        }
        snprintf(claim_path, sizeof(claim_path), "%s.%s", path, name);
        rc = read_claim(reader, value, *claim, claim_path, claims);
        if (rc < 0)
            return rc;
    }

    if (has_claims(claims))
        return 0;
    if (reader->warning[0] != '\0') {
        if (is_link)
            return 0;
        snprintf(reader->error, reader->error_size, "%s has no usable claim: %s", path,
                 reader->warning);
        return -EINVAL;
    }
    snprintf(reader->error, reader->error_size, "%s has no claims: %s %s needs at least one of %s",
             path, set == &user_claims ? "a" : "an", set->noun, set->names);
    return -EINVAL;
}

/* The member name of object, or NULL when absent or JSON null. */
static json_object *member(json_object *object, const char *name)
{
    json_object *value = NULL;

    json_object_object_get_ex(object, name, &value);
    return value;
}

static int check_members(json_object *entity, ingest_native_kind kind, char *error,
                         size_t error_size)
{
    bool is_user = kind == INGEST_NATIVE_USERS;

    json_object_object_foreach(entity, key, value) {
        (void)value;
        if (strcmp(key, "claims") == 0 || strcmp(key, "attributes") == 0 ||
            (is_user && strcmp(key, "account") == 0))
            continue;
        if (strcmp(key, is_user ? "accounts" : "users") == 0) {
            snprintf(error, error_size, "unknown member \"%s\"; send %s to /api/v1/%s", key,
                     key, key);
            return -EINVAL;
        }
        snprintf(error, error_size, "unknown member \"%.*s\"; %s has %s",
                 ingest_utf8_clip(key, QUOTE_MAX), key, is_user ? "a user" : "an account",
                 is_user ? "\"claims\", \"attributes\" and \"account\""
                         : "\"claims\" and \"attributes\"");
        return -EINVAL;
    }
    return 0;
}

/* Read an object member that may be absent or null into *object. */
static int read_object_member(json_object *entity, const char *name, json_object **object,
                              char *error, size_t error_size)
{
    json_object *value = member(entity, name);

    *object = NULL;
    if (value == NULL)
        return 0;
    if (!json_object_is_type(value, json_type_object)) {
        snprintf(error, error_size, "%s must be an object, got %s", name,
                 ingest_json_type_name(value));
        return -EINVAL;
    }
    *object = value;
    return 0;
}

/* Read one entity into change (which the caller clears on failure). */
static int read_entity(entity_reader *reader, json_object *entity, entity_change *change)
{
    bool is_user = reader->kind == INGEST_NATIVE_USERS;
    const claim_set *set = is_user ? &user_claims : &account_claims;
    char *error = reader->error;
    size_t error_size = reader->error_size;
    json_object *claims;
    json_object *account;
    json_object *attributes;
    int rc;

    reader->warning[0] = '\0';
    if (!json_object_is_type(entity, json_type_object)) {
        snprintf(error, error_size, "%s must be an object, got %s", set->noun,
                 ingest_json_type_name(entity));
        return -EINVAL;
    }
    rc = ingest_json_check_values(entity, "", error, error_size);
    if (rc < 0)
        return rc;
    rc = check_members(entity, reader->kind, error, error_size);
    if (rc < 0)
        return rc;

    change->kind = is_user ? CHANGE_USER : CHANGE_ACCOUNT;
    rc = read_object_member(entity, "claims", &claims, error, error_size);
    if (rc < 0)
        return rc;
    if (claims == NULL) {
        snprintf(error, error_size, "missing claims: %s %s needs \"claims\" with at least one of %s",
                 is_user ? "a" : "an", set->noun, set->names);
        return -EINVAL;
    }
    rc = read_claims(reader, claims, "claims", set, is_user ? &change->user : &change->account);
    if (rc < 0)
        return rc;

    if (is_user) {
        rc = read_object_member(entity, "account", &account, error, error_size);
        if (rc < 0)
            return rc;
        if (account != NULL) {
            rc = read_claims(reader, account, "account", &account_claims, &change->account);
            if (rc < 0)
                return rc;
        }
    }

    rc = read_object_member(entity, "attributes", &attributes, error, error_size);
    if (rc < 0 || attributes == NULL)
        return rc;
    return ingest_attributes_from_native(attributes, "attributes", &change->attributes, error,
                                         error_size);
}

/* Read one entity and add it to result. In a bulk body an invalid entity
 * is recorded as rejected and 0 returned. A single invalid entity returns
 * -EINVAL, because its error fails the request. -ENOMEM otherwise. */
static int add_entity(entity_reader *reader, json_object *entity, size_t index, bool bulk,
                      ingest_result *result)
{
    entity_change change = {0};
    int rc;

    rc = read_entity(reader, entity, &change);
    if (rc == 0 && reader->warning[0] != '\0')
        rc = ingest_result_warn(result, index, reader->warning);
    if (rc == 0)
        rc = ingest_result_add_change(result, index, &change);
    else if (rc == -EINVAL && bulk)
        rc = ingest_result_reject(result, index, NULL, reader->error);
    entity_change_clear(&change);
    return rc;
}

int ingest_native_parse(const char *body, size_t size, ingest_native_kind kind,
                        ingest_result *result, char *error, size_t error_size)
{
    const char *bulk_name = kind == INGEST_NATIVE_USERS ? "users" : "accounts";
    json_object *root = NULL;
    json_object *bulk;
    /* Entities of a bulk body are rejected one by one with their own
     * message; a single entity's message is the request's error. */
    char entity_error[512];
    entity_reader reader = {.kind = kind, .error = error, .error_size = error_size};
    entity_reader bulk_reader = {
        .kind = kind, .error = entity_error, .error_size = sizeof(entity_error)};
    int rc;

    rc = ingest_result_prepare(result);
    if (rc < 0) {
        snprintf(error, error_size, "out of memory");
        return rc;
    }
    rc = ingest_json_parse(body, size, &root, error, error_size);
    if (rc < 0)
        goto out;
    if (!json_object_is_type(root, json_type_object)) {
        snprintf(error, error_size, "request body must be a JSON object, got %s",
                 ingest_json_type_name(root));
        rc = -EINVAL;
        goto out;
    }

    if (!json_object_object_get_ex(root, bulk_name, &bulk)) {
        result->input_count = 1;
        rc = add_entity(&reader, root, 0, false, result);
        goto out;
    }

    if (json_object_object_length(root) != 1) {
        snprintf(error, error_size,
                 "a body with \"%s\" holds nothing else; send {\"%s\": [...]} with each "
                 "entity's claims, attributes%s inside its element",
                 bulk_name, bulk_name, kind == INGEST_NATIVE_USERS ? " and account" : "");
        rc = -EINVAL;
        goto out;
    }
    if (!json_object_is_type(bulk, json_type_array)) {
        snprintf(error, error_size, "\"%s\" must be an array, got %s", bulk_name,
                 ingest_json_type_name(bulk));
        rc = -EINVAL;
        goto out;
    }
    result->input_count = json_object_array_length(bulk);
    for (size_t i = 0; i < result->input_count && rc == 0; i++)
        rc = add_entity(&bulk_reader, json_object_array_get_idx(bulk, i), i, true, result);

out:
    if (rc == -ENOMEM)
        snprintf(error, error_size, "out of memory while reading the request body");
    if (rc < 0)
        ingest_utf8_cut_invalid(error);
    json_object_put(root);
    return rc;
}
