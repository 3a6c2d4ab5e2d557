/*
 * The public headers compiled as strict C11 (-Wall -Wextra -pedantic
 * -Werror), and the layout facts the C++ check compares against.
 */
#include <stddef.h>

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

/* The frozen header must keep its layout on every platform. */
_Static_assert(offsetof(wharf_plugin_header, magic) == 0, "magic first");
_Static_assert(offsetof(wharf_plugin_header, abi_major) == 4, "abi_major at 4");
_Static_assert(offsetof(wharf_plugin_header, abi_minor) == 6, "abi_minor at 6");
_Static_assert(offsetof(wharf_plugin_header, struct_size) == 8, "struct_size at 8");
_Static_assert(offsetof(wharf_plugin, header) == 0, "descriptor starts with the header");
_Static_assert(WHARF_PLUGIN_V1_0_SIZE <= sizeof(wharf_plugin), "1.0 layout fits");

static const wharf_plugin descriptor_from_macro = {
    WHARF_PLUGIN_HEADER_INIT("c11-check", "0.0.1"),
    WHARF_BATCH_IGNORES_WHITELIST,
    WHARF_ENTITY_USER,
    0,
    NULL,
    0,
    0,
    NULL,
    NULL,
    NULL,
    NULL,
    NULL,
};

void abi_layout_from_c(abi_layout *layout)
{
    layout->plugin_size = sizeof(wharf_plugin);
    layout->plugin_v1_0_size = WHARF_PLUGIN_V1_0_SIZE;
    layout->plugin_settings_offset = offsetof(wharf_plugin, settings);
    layout->plugin_create_offset = offsetof(wharf_plugin, create);
    layout->plugin_destroy_offset = offsetof(wharf_plugin, destroy);
    layout->host_size = sizeof(wharf_host);
    layout->host_log_offset = offsetof(wharf_host, log);
    layout->host_timer_stop_offset = offsetof(wharf_host, timer_stop);
    layout->http_request_size = sizeof(wharf_http_request);
    layout->http_response_size = sizeof(wharf_http_response);
    layout->setting_size = sizeof(wharf_setting);
    layout->buffer_size = sizeof(wharf_buffer);
    layout->http_result_size = sizeof(wharf_http_result);
    layout->macro_struct_size = descriptor_from_macro.header.struct_size;
    layout->macro_magic = descriptor_from_macro.header.magic;
}
