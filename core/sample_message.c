#include "sample_message.h"

#include <json-c/json.h>

#include "ids.h"

/* example.com is reserved for documentation (RFC 2606), so the sample can
 * never match a real person at the destination. */
static const char sample_text[] =
    "{"
    "\"type\":\"user\","
    "\"user\":{"
    "\"id\":\"00000000-0000-4000-8000-000000000001\","
    "\"external_id\":\"wharf-test-user\","
    "\"email\":\"wharf-test@example.com\","
    "\"anonymous_ids\":[],"
    "\"attributes\":{\"first_name\":\"Wharf\",\"last_name\":\"Test\"}"
    "},"
    "\"account\":{"
    "\"id\":\"00000000-0000-4000-8000-000000000002\","
    "\"external_id\":\"wharf-test-account\","
    "\"domain\":\"example.com\","
    "\"attributes\":{\"name\":\"Example\"}"
    "},"
    "\"segments\":[],"
    "\"account_segments\":[],"
    "\"changes\":{\"attributes\":{},\"segments\":{\"entered\":[],\"left\":[]},"
    "\"account\":{},\"is_new\":true},"
    "\"events\":[],"
    "\"is_export\":false,"
    "\"is_test\":true"
    "}";

json_object *sample_message_user(void)
{
    json_object *message = json_tokener_parse(sample_text);
    char id[ID_TEXT_SIZE];

    id_generate(id);
    json_object_object_add(message, "message_id", json_object_new_string(id));
    return message;
}
