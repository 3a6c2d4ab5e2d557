/* Layout facts of the public headers, measured by a C and a C++ compiler. */
#ifndef WHARF_TEST_ABI_LAYOUT_H
#define WHARF_TEST_ABI_LAYOUT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct abi_layout {
    size_t plugin_size;
    size_t plugin_v1_0_size;
    size_t plugin_settings_offset;
    size_t plugin_create_offset;
    size_t plugin_destroy_offset;
    size_t host_size;
    size_t host_log_offset;
    size_t host_timer_stop_offset;
    size_t http_request_size;
    size_t http_response_size;
    size_t setting_size;
    size_t buffer_size;
    size_t http_result_size;
    uint32_t macro_struct_size;
    uint32_t macro_magic;
} abi_layout;

void abi_layout_from_c(abi_layout *layout);

#ifdef __cplusplus
}
#endif

#endif
