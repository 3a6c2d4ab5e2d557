/* GET /api/v1/plugins */
#include <json-c/json.h>

#include "api.h"
#include "plugin_registry.h"
#include "service.h"

void api_plugins_list(service *svc, http_request *request, const char *param)
{
    (void)param;
    http_respond_json(request, 200, plugin_registry_to_json(svc->plugins));
}
