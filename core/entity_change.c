#include "entity_change.h"

#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

static void clear_claims(entity_claims *claims)
{
    free(claims->external_id);
    free(claims->email);
    free(claims->domain);
    free(claims->anonymous_id);
}

void entity_change_clear(entity_change *change)
{
    clear_claims(&change->user);
    clear_claims(&change->account);
    json_object_put(change->attributes);
    json_object_put(change->account_attributes);
    free(change->event);
    json_object_put(change->properties);
    free(change->message_id);
    memset(change, 0, sizeof(*change));
}
