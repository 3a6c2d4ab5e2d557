/* /api/v1/segments: create, read, update and delete segments. */
#include <json-c/json.h>

#include "api.h"
#include "segments.h"
#include "service.h"

#define ERROR_SIZE 2048

static segment *find_or_404(service *svc, http_request *request, const char *id)
{
    segment *s = segment_find(svc->segments, id);
    const segment *named;

    if (s != NULL)
        return s;
    named = segment_find_by_name(svc->segments, id, NULL);
    if (named != NULL)
        http_respond_error(request, 404,
                           "segment \"%s\" not found; the path takes a segment id, and segment "
                           "\"%s\" has id %s",
                           id, named->name, named->id);
    else
        http_respond_error(request, 404,
                           "segment \"%s\" not found; GET /api/v1/segments lists them", id);
    return NULL;
}

void api_segments_list(service *svc, http_request *request, const char *param)
{
    json_object *body = json_object_new_object();
    json_object *list = json_object_new_array();

    (void)param;
    for (segment *s = segment_first(svc->segments); s != NULL; s = s->next)
        json_object_array_add(list, segment_to_json(s));
    json_object_object_add(body, "segments", list);
    http_respond_json(request, 200, body);
}

void api_segments_create(service *svc, http_request *request, const char *param)
{
    json_object *body = api_read_json_body(request);
    segment *created;
    char error[ERROR_SIZE];
    int status;

    (void)param;
    if (body == NULL)
        return;
    status = segment_create(svc->segments, body, &created, error, sizeof(error));
    json_object_put(body);
    if (status != 0) {
        http_respond_error(request, status, "%s", error);
        return;
    }
    http_respond_json(request, 201, segment_to_json(created));
}

void api_segments_get(service *svc, http_request *request, const char *id)
{
    segment *s = find_or_404(svc, request, id);

    if (s != NULL)
        http_respond_json(request, 200, segment_to_json(s));
}

void api_segments_update(service *svc, http_request *request, const char *id)
{
    segment *s = find_or_404(svc, request, id);
    json_object *body;
    char error[ERROR_SIZE];
    int status;

    if (s == NULL)
        return;
    body = api_read_json_body(request);
    if (body == NULL)
        return;
    status = segment_update(svc->segments, s, body, error, sizeof(error));
    json_object_put(body);
    if (status != 0) {
        http_respond_error(request, status, "%s", error);
        return;
    }
    http_respond_json(request, 200, segment_to_json(s));
}

void api_segments_delete(service *svc, http_request *request, const char *id)
{
    segment *s = find_or_404(svc, request, id);
    char error[ERROR_SIZE];
    int status;

    if (s == NULL)
        return;
    status = segment_delete(svc->segments, s, error, sizeof(error));
    if (status != 0) {
        http_respond_error(request, status, "%s", error);
        return;
    }
    http_respond(request, 204, NULL, NULL, 0);
}
