/* Unit tests of the compact form of connector log fields: UUIDs as bytes
 * (id_parse(), id_format()) and JSON with its keys packed (log_packing.c).
 * What is packed comes back unchanged, and what cannot be is left alone. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "ids.h"
#include "log_packing.h"

static void id_round_trip(void **state)
{
    static const char *const ids[] = {
        "01937a6c-5e00-7000-8000-000000000000",
        "ffffffff-ffff-ffff-ffff-ffffffffffff",
        "00000000-0000-0000-0000-000000000000",
        "0a1b2c3d-4e5f-4a6b-9c7d-8e9f0a1b2c3d",
    };

    (void)state;
    for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
        uint8_t bytes[ID_BYTES];
        char text[ID_TEXT_SIZE];

        assert_int_equal(id_parse(ids[i], strlen(ids[i]), bytes), 0);
        id_format(bytes, text);
        assert_string_equal(text, ids[i]);
    }
}

static void id_rejects_other_text(void **state)
{
    static const char *const texts[] = {
        "user-1",
        "",
        "01937A6C-5E00-7000-8000-000000000000",  /* uppercase would not come back */
        "01937a6c-5e00-7000-8000-00000000000",   /* 35 characters */
        "01937a6c-5e00-7000-8000-0000000000000", /* 37 characters */
        "01937a6c5e00-7000-8000-0000000000000",  /* a dash missing */
        "01937a6c-5e00-7000-8000-00000000000g",
        "01937a6c-5e00-7000-8000_000000000000",
    };

    (void)state;
    for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
        uint8_t bytes[ID_BYTES];

        assert_int_equal(id_parse(texts[i], strlen(texts[i]), bytes), -1);
    }
}

static void json_round_trip(void **state)
{
    static const char *const texts[] = {
        "{\"external_id\":\"user-500\",\"email\":\"a@b.com\",\"anonymous_ids\":[]}",
        "{\"external_id\":null,\"domain\":\"b.com\",\"anonymous_ids\":[\"x\",\"y\"]}",
        "{\"attempt\":1}",
        "{\"attempt\":2,\"status_code\":503,\"reason\":\"busy\",\"retry_in_ms\":100}",
        "{\"reason\":\"not in a whitelisted segment\"}",
        "{\"status_code\":400}",
        "{}",
        "",
        /* Fragments inside strings, escaped and not. */
        "{\"note\":\"x,\\\"email\\\":y {\\\"attempt\\\":\"}",
        "{\"a\":\"{\\\"reason\\\":\",\"b\":[1,{\"attempt\":3}]}",
        /* A fragment cut off at the end of the text. */
        "{\"attempt\"",
        "{\"x\":\"z\\u00e9\xc3\xa9\"}",
    };

    (void)state;
    for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
        size_t length = strlen(texts[i]);
        char *packed = malloc(length + 1);
        size_t packed_length;
        char *unpacked;

        assert_non_null(packed);
        memcpy(packed, texts[i], length + 1);
        packed_length = log_text_pack(packed, length);
        if (length > 0)
            assert_true(packed_length > 0);
        assert_true(packed_length <= length);
        unpacked = log_text_unpack(packed, packed_length);
        assert_non_null(unpacked);
        assert_string_equal(unpacked, texts[i]);
        free(unpacked);
        free(packed);
    }
}

static void json_keys_shrink(void **state)
{
    char text[] = "{\"external_id\":\"u\",\"email\":\"e\",\"anonymous_ids\":[]}";
    char data[] = "{\"attempt\":1,\"status_code\":200}";

    (void)state;
    /* Three fragments become three bytes around the two strings. */
    assert_int_equal(log_text_pack(text, strlen(text)), 3 + 3 + 3);
    assert_int_equal(log_text_pack(data, strlen(data)), 1 + 1 + 1 + 3 + 1);
}

static void json_with_control_bytes_stays(void **state)
{
    char tab[] = "{\"reason\":\"a\tb\"}";
    char code[] = "{\"reason\":\"\x01\"}";

    (void)state;
    assert_int_equal(log_text_pack(tab, strlen(tab)), 0);
    assert_string_equal(tab, "{\"reason\":\"a\tb\"}");
    assert_int_equal(log_text_pack(code, strlen(code)), 0);
    assert_string_equal(code, "{\"reason\":\"\x01\"}");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(id_round_trip),
        cmocka_unit_test(id_rejects_other_text),
        cmocka_unit_test(json_round_trip),
        cmocka_unit_test(json_keys_shrink),
        cmocka_unit_test(json_with_control_bytes_stays),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
