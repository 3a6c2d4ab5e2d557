/*
 * wharfd's implementation of the wharf_host table handed to plugins.
 */
#ifndef WHARF_CORE_HOST_API_H
#define WHARF_CORE_HOST_API_H

#include "wharf/host.h"

/* The one host table, valid for the life of the process. */
const wharf_host *host_api_table(void);

/* Stop and release every timer the instance's plugin started. */
void host_api_stop_timers(wharf_connector *instance);

#endif
