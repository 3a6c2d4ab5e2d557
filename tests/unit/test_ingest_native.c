/* Unit tests of the native ingest API parser (POST /api/v1/users and
 * /api/v1/accounts) and its attribute operations. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ingest_json.h"
#include "ingest_native.h"

static char error[1024];

static int parse(const char *body, ingest_native_kind kind, ingest_result *result)
{
    error[0] = '\0';
    return ingest_native_parse(body, strlen(body), kind, result, error, sizeof(error));
}

static const char *object_string(json_object *object, const char *key)
{
    json_object *value;

    if (!json_object_object_get_ex(object, key, &value))
        return NULL;
    return json_object_get_string(value);
}

/* The compact JSON text of attribute name in writes, or NULL when absent. */
static const char *write_text(json_object *writes, const char *name)
{
    json_object *value;

    if (!json_object_object_get_ex(writes, name, &value))
        return NULL;
    return json_object_to_json_string_ext(value, JSON_C_TO_STRING_PLAIN);
}

static void user_with_claims_account_and_attributes(void **state)
{
    ingest_result result = {0};
    entity_change *change;

    (void)state;
    assert_int_equal(parse("{\"claims\": {\"external_id\": \"u-1\", "
                           "\"email\": \"Jane@Example.com\", \"anonymous_id\": \"a-1\"}, "
                           "\"account\": {\"external_id\": \"acme\", "
                           "\"domain\": \"https://www.acme.com\"}, "
                           "\"attributes\": {\"first_name\": \"Jane\", \"score\": 4.5, "
                           "\"tags\": [\"x\", \"y\"], \"nickname\": null, "
                           "\"address\": {\"city\": \"Lyon\"}, "
                           "\"logins\": {\"operation\": \"inc\", \"value\": 1}, "
                           "\"credits\": {\"operation\": \"dec\", \"value\": 2.5}, "
                           "\"first_seen\": {\"operation\": \"setIfNull\", \"value\": \"2024-03-05\"}, "
                           "\"salesforce/lead_score\": {\"operation\": \"set\", "
                           "\"value\": {\"operation\": \"not an operation\"}}}}",
                           INGEST_NATIVE_USERS, &result),
                     0);
    assert_int_equal(result.count, 1);
    assert_int_equal(result.input_count, 1);
    change = &result.changes[0];
    assert_int_equal(change->kind, CHANGE_USER);
    assert_string_equal(change->user.external_id, "u-1");
    assert_string_equal(change->user.email, "jane@example.com");
    assert_string_equal(change->user.anonymous_id, "a-1");
    assert_null(change->user.domain);
    assert_string_equal(change->account.external_id, "acme");
    assert_string_equal(change->account.domain, "acme.com");
    assert_null(change->account_attributes);

    assert_int_equal(json_object_object_length(change->attributes), 9);
    assert_string_equal(write_text(change->attributes, "first_name"), "\"Jane\"");
    assert_string_equal(write_text(change->attributes, "score"), "4.5");
    assert_string_equal(write_text(change->attributes, "tags"), "[\"x\",\"y\"]");
    assert_string_equal(write_text(change->attributes, "nickname"), "null");
    assert_string_equal(write_text(change->attributes, "address"),
                        "{\"operation\":\"set\",\"value\":{\"city\":\"Lyon\"}}");
    assert_string_equal(write_text(change->attributes, "logins"),
                        "{\"operation\":\"inc\",\"value\":1}");
    assert_string_equal(write_text(change->attributes, "credits"),
                        "{\"operation\":\"dec\",\"value\":2.5}");
    assert_string_equal(write_text(change->attributes, "first_seen"),
                        "{\"operation\":\"setIfNull\",\"value\":\"2024-03-05\"}");
    assert_string_equal(write_text(change->attributes, "salesforce/lead_score"),
                        "{\"operation\":\"set\",\"value\":{\"operation\":\"not an operation\"}}");
    ingest_result_clear(&result);
}

static void account_with_claims(void **state)
{
    ingest_result result = {0};
    entity_change *change;

    (void)state;
    assert_int_equal(parse("{\"claims\": {\"domain\": \"Acme.COM\", \"anonymous_id\": \"x\"}, "
                           "\"attributes\": {\"plan\": \"pro\"}}",
                           INGEST_NATIVE_ACCOUNTS, &result),
                     0);
    assert_int_equal(result.count, 1);
    change = &result.changes[0];
    assert_int_equal(change->kind, CHANGE_ACCOUNT);
    assert_string_equal(change->account.domain, "acme.com");
    assert_string_equal(change->account.anonymous_id, "x");
    assert_null(change->account.external_id);
    assert_null(change->user.external_id);
    assert_null(change->user.anonymous_id);
    assert_string_equal(write_text(change->attributes, "plan"), "\"pro\"");
    ingest_result_clear(&result);
}

static void entity_without_attributes(void **state)
{
    ingest_result result = {0};

    (void)state;
    assert_int_equal(parse("{\"claims\": {\"external_id\": \"u\"}, \"attributes\": {}}",
                           INGEST_NATIVE_USERS, &result),
                     0);
    assert_null(result.changes[0].attributes);
    ingest_result_clear(&result);

    assert_int_equal(parse("{\"claims\": {\"external_id\": \"u\"}, \"attributes\": null}",
                           INGEST_NATIVE_USERS, &result),
                     0);
    assert_null(result.changes[0].attributes);
    ingest_result_clear(&result);
}

static void bulk_users_keep_neighbours_of_errors(void **state)
{
    ingest_result result = {0};
    json_object *item;

    (void)state;
    assert_int_equal(parse("{\"users\": ["
                           "{\"claims\": {\"external_id\": \"a\"}},"
                           "{\"claims\": {\"external_id\": 7}},"
                           "{\"claims\": {\"email\": \"b@example.com\"}, "
                           "\"attributes\": {\"x\": {\"operation\": \"multiply\", \"value\": 2}}},"
                           "{\"claims\": {\"anonymous_id\": \"c\"}}]}",
                           INGEST_NATIVE_USERS, &result),
                     0);
    assert_int_equal(result.input_count, 4);
    assert_int_equal(result.count, 2);
    assert_int_equal(result.indexes[0], 0);
    assert_int_equal(result.indexes[1], 3);
    assert_string_equal(result.changes[0].user.external_id, "a");
    assert_string_equal(result.changes[1].user.anonymous_id, "c");

    assert_int_equal(ingest_result_rejected_count(&result), 2);
    item = json_object_array_get_idx(result.rejected, 0);
    assert_int_equal(json_object_get_int(json_object_object_get(item, "index")), 1);
    assert_string_equal(object_string(item, "error"),
                        "claims.external_id must be a string, got an integer");
    item = json_object_array_get_idx(result.rejected, 1);
    assert_int_equal(json_object_get_int(json_object_object_get(item, "index")), 2);
    assert_non_null(strstr(object_string(item, "error"),
                           "attributes.x has the unknown operation \"multiply\"; "
                           "use set, setIfNull, inc or dec"));
    ingest_result_clear(&result);
}

static void bulk_accounts(void **state)
{
    ingest_result result = {0};

    (void)state;
    assert_int_equal(parse("{\"accounts\": ["
                           "{\"claims\": {\"external_id\": \"acme\"}},"
                           "{\"claims\": {\"email\": \"a@b.com\"}}]}",
                           INGEST_NATIVE_ACCOUNTS, &result),
                     0);
    assert_int_equal(result.count, 1);
    assert_int_equal(result.changes[0].kind, CHANGE_ACCOUNT);
    assert_string_equal(result.changes[0].account.external_id, "acme");
    assert_non_null(strstr(json_object_to_json_string(result.rejected),
                           "unknown claim \\\"email\\\"; an account's claims are external_id, "
                           "domain and anonymous_id"));
    ingest_result_clear(&result);
}

static void bulk_with_only_invalid_entities(void **state)
{
    ingest_result result = {0};

    (void)state;
    assert_int_equal(parse("{\"users\": [{\"claims\": {}}, 5]}", INGEST_NATIVE_USERS, &result),
                     0);
    assert_int_equal(result.input_count, 2);
    assert_int_equal(result.count, 0);
    assert_int_equal(ingest_result_rejected_count(&result), 2);
    assert_non_null(strstr(json_object_to_json_string(result.rejected),
                           "user must be an object, got an integer"));
    ingest_result_clear(&result);

    assert_int_equal(parse("{\"users\": []}", INGEST_NATIVE_USERS, &result), 0);
    assert_int_equal(result.input_count, 0);
    assert_int_equal(result.count, 0);
    assert_int_equal(ingest_result_rejected_count(&result), 0);
    ingest_result_clear(&result);
}

static void bad_user_entities_rejected(void **state)
{
    static const struct {
        const char *entity;
        const char *expected;
    } cases[] = {
        {"{}", "missing claims: a user needs \"claims\" with at least one of external_id, "
               "email and anonymous_id"},
        {"{\"claims\": null}", "missing claims"},
        {"{\"claims\": []}", "claims must be an object, got an array"},
        {"{\"claims\": {}}", "claims has no claims: a user needs at least one of"},
        {"{\"claims\": {\"external_id\": null}}", "claims has no claims"},
        {"{\"claims\": {\"external_id\": 12}}",
         "claims.external_id must be a string, got an integer"},
        {"{\"claims\": {\"email\": true}}", "claims.email must be a string, got a boolean"},
        {"{\"claims\": {\"anonymous_id\": [\"a\"]}}",
         "claims.anonymous_id must be a string, got an array"},
        {"{\"claims\": {\"external_id\": \"\"}}", "claims.external_id is empty"},
        {"{\"claims\": {\"email\": \"  \"}}", "claims.email holds only whitespace"},
        {"{\"claims\": {\"domain\": \"acme.com\"}}",
         "claims has the unknown claim \"domain\"; a user's claims are external_id, email and "
         "anonymous_id"},
        {"{\"claims\": {\"external_id\": \"u\"}, \"traits\": {}}",
         "unknown member \"traits\"; a user has \"claims\", \"attributes\" and \"account\""},
        {"{\"claims\": {\"external_id\": \"u\"}, \"accounts\": []}",
         "unknown member \"accounts\"; send accounts to /api/v1/accounts"},
        {"{\"claims\": {\"external_id\": \"u\"}, \"account\": \"acme\"}",
         "account must be an object, got a string"},
        {"{\"claims\": {\"external_id\": \"u\"}, \"account\": {}}",
         "account has no claims: an account needs at least one of external_id, domain and "
         "anonymous_id"},
        {"{\"claims\": {\"external_id\": \"u\"}, \"account\": {\"external_id\": 3}}",
         "account.external_id must be a string, got an integer"},
        {"{\"claims\": {\"external_id\": \"u\"}, \"account\": {\"email\": \"a@b.com\"}}",
         "account has the unknown claim \"email\""},
        {"{\"claims\": {\"external_id\": \"u\"}, \"attributes\": [1]}",
         "attributes must be an object, got an array"},
        {"{\"claims\": {\"external_id\": \"u\"}, \"attributes\": {\"\": 1}}",
         "attributes has an attribute with an empty name"},
        {"{\"claims\": {\"external_id\": \"u\"}, \"attributes\": {\"a\": [{}]}}",
         "attributes.a[0] is an object; an attribute array may hold only"},
        {"{\"claims\": {\"external_id\": \"u\"}, \"attributes\": "
         "{\"n\": {\"operation\": \"multiply\", \"value\": 2}}}",
         "attributes.n has the unknown operation \"multiply\"; use set, setIfNull, inc or dec"},
        {"{\"claims\": {\"external_id\": \"u\"}, \"attributes\": "
         "{\"n\": {\"operation\": 1, \"value\": 2}}}",
         "attributes.n.operation must be a string (set, setIfNull, inc or dec), got an integer"},
        {"{\"claims\": {\"external_id\": \"u\"}, \"attributes\": "
         "{\"n\": {\"operation\": null, \"value\": 2}}}",
         "attributes.n.operation must be a string"},
        {"{\"claims\": {\"external_id\": \"u\"}, \"attributes\": {\"n\": {\"operation\": \"inc\"}}}",
         "attributes.n: the operation inc needs a \"value\""},
        {"{\"claims\": {\"external_id\": \"u\"}, \"attributes\": "
         "{\"n\": {\"operation\": \"inc\", \"value\": \"1\"}}}",
         "attributes.n: the operation inc needs a number as \"value\", got a string"},
        {"{\"claims\": {\"external_id\": \"u\"}, \"attributes\": "
         "{\"n\": {\"operation\": \"dec\", \"value\": null}}}",
         "the operation dec needs a number as \"value\", got null"},
        {"{\"claims\": {\"external_id\": \"u\"}, \"attributes\": "
         "{\"n\": {\"operation\": \"set\"}}}",
         "attributes.n: the operation set needs a \"value\""},
        {"{\"claims\": {\"external_id\": \"u\"}, \"attributes\": "
         "{\"n\": {\"operation\": \"set\", \"value\": [[1]]}}}",
         "attributes.n[0] is an array"},
        {"{\"claims\": {\"external_id\": \"u\"}, \"attributes\": "
         "{\"n\": {\"operation\": \"inc\", \"value\": 1, \"by\": 2}}}",
         "attributes.n has the unknown member \"by\"; an operation has only"},
        {"{\"claims\": {\"external_id\": \"u\"}, \"attributes\": {\"n\": Infinity}}",
         "the value of attributes.n is not a finite number"},
        {"{\"claims\": {\"external_id\": \"u\\u0000v\"}}",
         "the value of claims.external_id contains a NUL character"},
        {"{\"claims\": {\"external_id\": \"u\"}, \"attributes\": {\"name\": \"\xe9t\xe9\"}}",
         "the value of attributes.name is not valid UTF-8 (invalid byte sequence at byte 0)"},
        {"{\"claims\": {\"external_id\": \"u\"}, \"attributes\": {\"na\xffme\": 1}}",
         "a key in attributes is not valid UTF-8 (invalid byte sequence at byte 2)"},
        {"\"u-1\"", "user must be an object, got a string"},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        ingest_result result = {0};
        char *body;
        const char *reason;

        /* In a bulk body the entity is rejected by index... */
        assert_true(asprintf(&body, "{\"users\": [{\"claims\": {\"external_id\": \"ok\"}}, %s]}",
                             cases[i].entity) > 0);
        assert_int_equal(parse(body, INGEST_NATIVE_USERS, &result), 0);
        if (result.count != 1 || ingest_result_rejected_count(&result) != 1)
            fail_msg("entity %s: %zu kept and %zu rejected, expected 1 and 1", cases[i].entity,
                     result.count, ingest_result_rejected_count(&result));
        reason = object_string(json_object_array_get_idx(result.rejected, 0), "error");
        if (strstr(reason, cases[i].expected) == NULL)
            fail_msg("entity %s: error \"%s\" does not contain \"%s\"", cases[i].entity, reason,
                     cases[i].expected);
        ingest_result_clear(&result);
        free(body);

        /* ...and alone it fails the request with the same reason. */
        if (cases[i].entity[0] != '{')
            continue;
        assert_int_equal(parse(cases[i].entity, INGEST_NATIVE_USERS, &result), -EINVAL);
        if (strstr(error, cases[i].expected) == NULL)
            fail_msg("entity %s alone: error \"%s\" does not contain \"%s\"", cases[i].entity,
                     error, cases[i].expected);
        assert_true(ingest_utf8_valid(error, strlen(error), NULL));
        ingest_result_clear(&result);
    }
}

static void bad_account_entities_rejected(void **state)
{
    static const struct {
        const char *entity;
        const char *expected;
    } cases[] = {
        {"{\"claims\": {\"domain\": \"not a domain\"}}",
         "claims has no usable claim: claims.domain \"not a domain\" was left out because it "
         "is not a domain: the host name contains the character ' '"},
        {"{\"claims\": {\"domain\": 5}}", "claims.domain must be a string, got an integer"},
        {"{\"claims\": {\"external_id\": \"a\"}, \"account\": {\"external_id\": \"b\"}}",
         "unknown member \"account\"; an account has \"claims\" and \"attributes\""},
        {"{\"claims\": {\"external_id\": \"a\"}, \"users\": []}",
         "unknown member \"users\"; send users to /api/v1/users"},
        {"{\"claims\": {}}", "claims has no claims: an account needs at least one of"},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        ingest_result result = {0};

        assert_int_equal(parse(cases[i].entity, INGEST_NATIVE_ACCOUNTS, &result), -EINVAL);
        if (strstr(error, cases[i].expected) == NULL)
            fail_msg("entity %s: error \"%s\" does not contain \"%s\"", cases[i].entity, error,
                     cases[i].expected);
        ingest_result_clear(&result);
    }
}

static void bad_bodies_rejected_whole(void **state)
{
    static const struct {
        const char *body;
        ingest_native_kind kind;
        const char *expected;
    } cases[] = {
        {"", INGEST_NATIVE_USERS, "request body is empty"},
        {"{\"claims\": ", INGEST_NATIVE_USERS, "malformed JSON: the body ends inside"},
        {"{\"claims\": {}},", INGEST_NATIVE_USERS, "malformed JSON at byte 14"},
        {"[]", INGEST_NATIVE_USERS, "request body must be a JSON object, got an array"},
        {"{\"users\": {}}", INGEST_NATIVE_USERS, "\"users\" must be an array, got an object"},
        {"{\"users\": null}", INGEST_NATIVE_USERS, "\"users\" must be an array, got null"},
        {"{\"accounts\": \"x\"}", INGEST_NATIVE_ACCOUNTS,
         "\"accounts\" must be an array, got a string"},
        {"{\"users\": [], \"claims\": {}}", INGEST_NATIVE_USERS,
         "a body with \"users\" holds nothing else"},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        ingest_result result = {0};
        int rc = parse(cases[i].body, cases[i].kind, &result);

        if (rc != -EINVAL)
            fail_msg("body %s: returned %d, expected -EINVAL", cases[i].body, rc);
        if (strstr(error, cases[i].expected) == NULL)
            fail_msg("body %s: error \"%s\" does not contain \"%s\"", cases[i].body, error,
                     cases[i].expected);
        ingest_result_clear(&result);
    }
}

static void other_scripts_preserved_byte_exact(void **state)
{
    static const char *const names[] = {
        "Fran\xc3\xa7oise",                                  /* Françoise */
        "\xd0\x90\xd0\xbd\xd0\xbd\xd0\xb0",                  /* Анна */
        "\xe0\xa4\xb8\xe0\xa5\x81\xe0\xa4\xb0\xe0\xa5\x87\xe0\xa4\xb6", /* सुरेश */
        "\xed\x95\x9c\xea\xb8\x80",                          /* 한글 */
        "\xf0\x9f\x91\xa9\xe2\x80\x8d\xf0\x9f\x92\xbb",      /* woman technologist ZWJ */
    };

    (void)state;
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        ingest_result result = {0};
        char *body;
        json_object *value;

        assert_true(asprintf(&body,
                             "{\"claims\": {\"external_id\": \"%s\", \"anonymous_id\": \"%s\"}, "
                             "\"attributes\": {\"%s\": \"%s\"}}",
                             names[i], names[i], names[i], names[i]) > 0);
        assert_int_equal(parse(body, INGEST_NATIVE_USERS, &result), 0);
        assert_memory_equal(result.changes[0].user.external_id, names[i], strlen(names[i]) + 1);
        assert_memory_equal(result.changes[0].user.anonymous_id, names[i], strlen(names[i]) + 1);
        assert_true(json_object_object_get_ex(result.changes[0].attributes, names[i], &value));
        assert_int_equal(json_object_get_string_len(value), strlen(names[i]));
        assert_memory_equal(json_object_get_string(value), names[i], strlen(names[i]));
        ingest_result_clear(&result);
        free(body);
    }
}

static void malformed_domain_left_out_with_warning(void **state)
{
    ingest_result result = {0};
    json_object *warning;

    (void)state;
    /* A user whose account link is only a malformed domain is kept, unlinked. */
    assert_int_equal(parse("{\"claims\": {\"external_id\": \"u\"}, "
                           "\"account\": {\"domain\": \"intranet\"}}",
                           INGEST_NATIVE_USERS, &result),
                     0);
    assert_int_equal(result.count, 1);
    assert_string_equal(result.changes[0].user.external_id, "u");
    assert_null(result.changes[0].account.domain);
    assert_int_equal(json_object_array_length(result.warnings), 1);
    warning = json_object_array_get_idx(result.warnings, 0);
    assert_int_equal(json_object_get_int(json_object_object_get(warning, "index")), 0);
    assert_string_equal(object_string(warning, "warning"),
                        "account.domain \"intranet\" was left out because it is not a domain: "
                        "a company domain has at least two labels, such as example.com");
    ingest_result_clear(&result);

    /* An account keeps its other claims. */
    assert_int_equal(parse("{\"accounts\": [{\"claims\": {\"external_id\": \"a\"}}, "
                           "{\"claims\": {\"external_id\": \"b\", \"domain\": \"10.0.0.1\"}}]}",
                           INGEST_NATIVE_ACCOUNTS, &result),
                     0);
    assert_int_equal(result.count, 2);
    assert_string_equal(result.changes[1].account.external_id, "b");
    assert_null(result.changes[1].account.domain);
    assert_int_equal(json_object_array_length(result.warnings), 1);
    warning = json_object_array_get_idx(result.warnings, 0);
    assert_int_equal(json_object_get_int(json_object_object_get(warning, "index")), 1);
    assert_non_null(strstr(object_string(warning, "warning"), "claims.domain \"10.0.0.1\""));
    ingest_result_clear(&result);
}

static void email_claim_normalized_but_attribute_kept(void **state)
{
    ingest_result result = {0};

    (void)state;
    assert_int_equal(parse("{\"claims\": {\"email\": \"\\tMixed.Case@Example.ORG\\n\"}, "
                           "\"attributes\": {\"email\": \"Mixed.Case@Example.ORG\"}}",
                           INGEST_NATIVE_USERS, &result),
                     0);
    assert_string_equal(result.changes[0].user.email, "mixed.case@example.org");
    assert_string_equal(write_text(result.changes[0].attributes, "email"),
                        "\"Mixed.Case@Example.ORG\"");
    ingest_result_clear(&result);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(user_with_claims_account_and_attributes),
        cmocka_unit_test(account_with_claims),
        cmocka_unit_test(entity_without_attributes),
        cmocka_unit_test(bulk_users_keep_neighbours_of_errors),
        cmocka_unit_test(bulk_accounts),
        cmocka_unit_test(bulk_with_only_invalid_entities),
        cmocka_unit_test(bad_user_entities_rejected),
        cmocka_unit_test(bad_account_entities_rejected),
        cmocka_unit_test(bad_bodies_rejected_whole),
        cmocka_unit_test(other_scripts_preserved_byte_exact),
        cmocka_unit_test(malformed_domain_left_out_with_warning),
        cmocka_unit_test(email_claim_normalized_but_attribute_kept),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
