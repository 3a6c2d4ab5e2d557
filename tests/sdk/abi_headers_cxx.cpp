// The public headers compiled as C++ (-Wall -Wextra -pedantic -Werror).
// The program checks that C++ computes the same layout as C, so a connector
// written in C++ produces a descriptor wharfd can read.
#include <cstddef>
#include <cstdio>

#include <wharf/host.h>
#include <wharf/plugin.h>
#include <wharf/sdk/batch_json.h>
#include <wharf/sdk/buffer.h>
#include <wharf/sdk/clock.h>
#include <wharf/sdk/field_mapping.h>
#include <wharf/sdk/harness.h>
#include <wharf/sdk/http_result.h>
#include <wharf/sdk/json_writer.h>
#include <wharf/sdk/oauth_token.h>
#include <wharf/sdk/record_requests.h>
#include <wharf/sdk/record_response.h>
#include <wharf/sdk/request_headers.h>
#include <wharf/sdk/retry_after.h>
#include <wharf/sdk/settings.h>

#include "abi_layout.h"

namespace {

const wharf_plugin cxx_descriptor = {
    WHARF_PLUGIN_HEADER_INIT("cxx-check", "0.0.1"),
    WHARF_BATCH_REQUIRES_WHITELIST,
    WHARF_ENTITY_USER | WHARF_ENTITY_ACCOUNT,
    0,
    nullptr,
    0,
    0,
    nullptr,
    nullptr,
    nullptr,
    nullptr,
    nullptr,
};

int failures = 0;

void expect_equal(const char *fact, std::size_t cxx_value, std::size_t c_value)
{
    if (cxx_value == c_value)
        return;
    std::fprintf(stderr, "%s: C++ has %zu, C has %zu\n", fact, cxx_value, c_value);
    failures++;
}

} // namespace

int main()
{
    abi_layout c_layout;

    abi_layout_from_c(&c_layout);

    expect_equal("sizeof(wharf_plugin)", sizeof(wharf_plugin), c_layout.plugin_size);
    expect_equal("WHARF_PLUGIN_V1_0_SIZE", WHARF_PLUGIN_V1_0_SIZE, c_layout.plugin_v1_0_size);
    expect_equal("offsetof(wharf_plugin, settings)", offsetof(wharf_plugin, settings),
                 c_layout.plugin_settings_offset);
    expect_equal("offsetof(wharf_plugin, create)", offsetof(wharf_plugin, create),
                 c_layout.plugin_create_offset);
    expect_equal("offsetof(wharf_plugin, destroy)", offsetof(wharf_plugin, destroy),
                 c_layout.plugin_destroy_offset);
    expect_equal("sizeof(wharf_host)", sizeof(wharf_host), c_layout.host_size);
    expect_equal("offsetof(wharf_host, log)", offsetof(wharf_host, log),
                 c_layout.host_log_offset);
    expect_equal("offsetof(wharf_host, timer_stop)", offsetof(wharf_host, timer_stop),
                 c_layout.host_timer_stop_offset);
    expect_equal("sizeof(wharf_http_request)", sizeof(wharf_http_request),
                 c_layout.http_request_size);
    expect_equal("sizeof(wharf_http_response)", sizeof(wharf_http_response),
                 c_layout.http_response_size);
    expect_equal("sizeof(wharf_setting)", sizeof(wharf_setting), c_layout.setting_size);
    expect_equal("sizeof(wharf_buffer)", sizeof(wharf_buffer), c_layout.buffer_size);
    expect_equal("sizeof(wharf_http_result)", sizeof(wharf_http_result),
                 c_layout.http_result_size);
    expect_equal("WHARF_PLUGIN_HEADER_INIT struct_size", cxx_descriptor.header.struct_size,
                 c_layout.macro_struct_size);
    expect_equal("WHARF_PLUGIN_HEADER_INIT magic", cxx_descriptor.header.magic,
                 c_layout.macro_magic);

    if (failures > 0)
        return 1;
    std::printf("C and C++ agree on the layout of %zu checked ABI facts\n",
                static_cast<std::size_t>(15));
    return 0;
}
