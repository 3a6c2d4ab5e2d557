/*
 * Test harness for connector plugins: runs a plugin's create(), filter(),
 * encode() and send() in the test's own process, without wharfd, and
 * records the result of every message.
 *
 * The harness implements the whole wharf_host table and calls the plugin in
 * wharfd's order. First filter() runs on each message; a skipped message
 * gets SKIP and is left out of the batch the plugin receives. Then encode()
 * runs on a second thread, and send() on the test's thread. A
 * WHARF_PLUGIN_SEND_BLOCKING plugin gets send() on the second thread too,
 * right after encode(). HTTP requests go out one at a time
 * through libcurl (blocking), in the order the plugin started them, after
 * send() has returned, so the plugin meets the same asynchronous order of
 * events as under wharfd. Timers fire on the test's thread.
 *
 * The harness also checks the plugin against the ABI contract and records
 * each breach as a violation: a host function that is not thread-safe
 * called from encode(), batch_complete() called twice or never, a result
 * index out of range, a SKIP, RETRY or ERROR without a reason, and so on.
 *
 * Link libwharf-sdk-harness.a (pkg-config wharf-sdk-harness, CMake target
 * WharfSDK::harness) into test programs only, never into a plugin.
 *
 * Functions that take an error buffer write an operator-style message into
 * it on failure. None of these functions is thread-safe: use one harness
 * from one thread.
 */
#ifndef WHARF_SDK_HARNESS_H
#define WHARF_SDK_HARNESS_H

#include <stddef.h>
#include <stdint.h>

#include "wharf/host.h"
#include "wharf/plugin.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct wharf_harness wharf_harness;
typedef struct wharf_harness_plugin wharf_harness_plugin;

/* Outcome of one message after a send. */
typedef struct wharf_harness_result {
    /* 0 when the plugin set no result; the harness then records what wharfd
     * records: ERROR with the reason "plugin set no result". */
    int has_result;
    wharf_result_kind kind;
    int status_code;
    int64_t retry_after_ms;
    const char *reason; /* NULL when the plugin gave none */
} wharf_harness_result;

/* Load a plugin shared object the way wharfd does (dlopen with RTLD_NOW |
 * RTLD_LOCAL, then the entry symbol) and check its descriptor. Returns 0,
 * or -EINVAL with the reason wharfd would log in error. */
int wharf_harness_plugin_open(const char *path, wharf_harness_plugin **plugin,
                              char *error, size_t error_size);

/* The plugin's descriptor, copied into a zeroed wharf_plugin as wharfd does. */
const wharf_plugin *wharf_harness_plugin_descriptor(const wharf_harness_plugin *plugin);

/* Unload; every harness made from the plugin must be destroyed first. */
void wharf_harness_plugin_close(wharf_harness_plugin *plugin);

/* Check a descriptor against the rules wharfd loads by. Returns 0, or
 * -EINVAL with the reason in error. Use it on a descriptor that a test
 * links in directly instead of loading. */
int wharf_harness_check_descriptor(const wharf_plugin *plugin, char *error,
                                   size_t error_size);

/* Validate settings_json (a JSON object as in the API's "settings"; NULL
 * means {}) against the plugin's schema, fill in defaults and call create().
 * Returns 0; -EINVAL when the settings or descriptor are invalid; or
 * -ECANCELED when create() failed. error receives the message that the API
 * would return. plugin must outlive the harness. */
int wharf_harness_create(const wharf_plugin *plugin, const char *settings_json,
                         wharf_harness **harness, char *error, size_t error_size);

/* Bound on how long one wharf_harness_send() may run, in milliseconds
 * (default 60000). */
void wharf_harness_set_send_timeout_ms(wharf_harness *harness, uint64_t timeout_ms);

/* Offer the messages' texts through host->batch_message_text (the
 * default, as wharfd does), or leave that function NULL, as a host of ABI
 * 1.0 does, so that a test can cover a plugin's path through
 * batch_message() alone. The texts are compact JSON, with slashes not
 * escaped. Takes effect from the next send. */
void wharf_harness_offer_message_texts(wharf_harness *harness, int offer);

/* Run count messages (each a JSON object as text) through filter(),
 * encode() and send() as one batch and wait until the plugin calls
 * batch_complete(). The results, indexed like messages_json, replace
 * those of the previous send. encode() and send() are not called when
 * filter() skipped every message.
 *
 * Returns 0 when the batch completed without a contract violation;
 * -EINVAL when a message is not a JSON object; -ETIMEDOUT when the send
 * timeout elapsed first; -EPROTO when the plugin broke the contract (see
 * wharf_harness_violations()); -ENOMEM. Results are available in every case
 * except -EINVAL and -ENOMEM. */
int wharf_harness_send(wharf_harness *harness, const char *const *messages_json,
                       size_t count);

size_t wharf_harness_result_count(const wharf_harness *harness);

/* Result of the message at index in the last send, or NULL when out of range. */
const wharf_harness_result *wharf_harness_result_at(const wharf_harness *harness,
                                                    size_t index);

/* Contract violations seen since create, one per line; "" when none. */
const char *wharf_harness_violations(const wharf_harness *harness);

/* Lines the plugin logged through host->log since create, such as
 * "INFO template: accepted 3 messages for example". They are also written
 * to stderr. */
size_t wharf_harness_log_count(const wharf_harness *harness);
const char *wharf_harness_log_line(const wharf_harness *harness, size_t index);

/* Destroy the plugin instance (destroy() callback) and free the harness. */
void wharf_harness_destroy(wharf_harness *harness);

/* "success", "skip", "retry" or "error", as in the API's test results. */
const char *wharf_harness_result_kind_name(wharf_result_kind kind);

/* A user message in wharfd's message format, for tests that need one: no
 * account, no segments, no changes. Returns a string to free(), or NULL. */
char *wharf_harness_sample_user_message(const char *user_id, const char *email);

#ifdef __cplusplus
}
#endif

#endif /* WHARF_SDK_HARNESS_H */
