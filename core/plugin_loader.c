#include "plugin_loader.h"

#include <ctype.h>
#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "plugin_trust.h"
#include "settings.h"

#define NAME_MAX_LENGTH 63
#define VERSION_MAX_LENGTH 63
#define SETTINGS_MAX_COUNT 256

/* Outcome of reading the ELF header before dlopen. */
static plugin_load_status check_elf_file(const char *path, const struct stat *st,
                                         char *reason, size_t reason_size)
{
    Elf64_Ehdr header;
    ssize_t got;
    int fd;
    unsigned long long sections_end;
    unsigned long long program_end;

    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(reason, reason_size, "cannot open: %s", strerror(errno));
        return PLUGIN_REJECTED;
    }
    got = read(fd, &header, sizeof(header));
    close(fd);

    if (got < 4 || memcmp(header.e_ident, ELFMAG, SELFMAG) != 0) {
        /* A copy that has not written its first bytes yet looks empty. */
        if (got == 0) {
            snprintf(reason, reason_size, "file is empty; waiting for it to be written");
            return PLUGIN_INCOMPLETE;
        }
        snprintf(reason, reason_size,
                 "not an ELF shared object (the file does not start with the "
                 "ELF magic bytes); remove it from the plugins directory");
        return PLUGIN_REJECTED;
    }
    if (got < (ssize_t)sizeof(header)) {
        snprintf(reason, reason_size,
                 "file is shorter than an ELF header (%zd bytes); waiting for it to be written",
                 got);
        return PLUGIN_INCOMPLETE;
    }
    if (header.e_ident[EI_CLASS] != ELFCLASS64) {
        snprintf(reason, reason_size,
                 "ELF class %d is not 64-bit; build the plugin for this machine",
                 header.e_ident[EI_CLASS]);
        return PLUGIN_REJECTED;
    }
    if (header.e_type != ET_DYN) {
        snprintf(reason, reason_size,
                 "ELF file is not a shared object (e_type %u); link it with -shared",
                 (unsigned)header.e_type);
        return PLUGIN_REJECTED;
    }

    /* Linkers write the section header table last, so a file shorter than
     * the end of that table (or of the program headers) is still being
     * copied. */
    sections_end = (unsigned long long)header.e_shoff +
                   (unsigned long long)header.e_shnum * header.e_shentsize;
    program_end = (unsigned long long)header.e_phoff +
                  (unsigned long long)header.e_phnum * header.e_phentsize;
    if (sections_end > (unsigned long long)st->st_size ||
        program_end > (unsigned long long)st->st_size) {
        snprintf(reason, reason_size,
                 "ELF file is shorter than its headers say (%lld bytes); it is "
                 "probably still being copied",
                 (long long)st->st_size);
        return PLUGIN_INCOMPLETE;
    }
    return PLUGIN_LOADED;
}

/* Non-zero when address lies inside the shared object loaded at base. A
 * garbage pointer from the entry symbol is caught here instead of crashing
 * wharfd on the first read. */
static int address_in_object(const void *address, const void *base)
{
    Dl_info info;

    if (address == NULL)
        return 0;
    if (dladdr(address, &info) == 0)
        return 0;
    return info.dli_fbase == base;
}

static int valid_name(const char *name)
{
    size_t length = strlen(name);

    if (length == 0 || length > NAME_MAX_LENGTH)
        return 0;
    for (size_t i = 0; i < length; i++) {
        unsigned char c = (unsigned char)name[i];
        if (!(islower(c) || isdigit(c) || c == '-' || c == '_'))
            return 0;
    }
    return 1;
}

static int valid_setting_name(const char *name)
{
    size_t length = strlen(name);

    if (length == 0 || length > NAME_MAX_LENGTH)
        return 0;
    for (size_t i = 0; i < length; i++) {
        unsigned char c = (unsigned char)name[i];
        if (!(isalnum(c) || c == '_'))
            return 0;
    }
    return 1;
}

static int check_settings(const wharf_plugin *d, const void *base, char *reason,
                          size_t reason_size)
{
    if (d->settings_count == 0)
        return 0;
    if (d->settings_count > SETTINGS_MAX_COUNT) {
        snprintf(reason, reason_size, "settings schema has %zu entries; at most %d are allowed",
                 d->settings_count, SETTINGS_MAX_COUNT);
        return -1;
    }
    if (!address_in_object(d->settings, base) ||
        !address_in_object(&d->settings[d->settings_count - 1], base)) {
        snprintf(reason, reason_size,
                 "settings schema pointer does not point into the plugin "
                 "(settings_count %zu)",
                 d->settings_count);
        return -1;
    }

    for (size_t i = 0; i < d->settings_count; i++) {
        const wharf_setting *s = &d->settings[i];
        char why[256];

        if (s->name == NULL || !address_in_object(s->name, base)) {
            snprintf(reason, reason_size, "setting %zu has a NULL or invalid name", i);
            return -1;
        }
        if (!valid_setting_name(s->name)) {
            snprintf(reason, reason_size,
                     "setting name \"%.64s\" is invalid; use 1 to 63 letters, "
                     "digits or '_'",
                     s->name);
            return -1;
        }
        if (plugin_setting_type_name(s->type) == NULL) {
            snprintf(reason, reason_size, "setting \"%s\" has unknown type %d", s->name,
                     (int)s->type);
            return -1;
        }
        for (size_t j = 0; j < i; j++) {
            if (strcmp(d->settings[j].name, s->name) == 0) {
                snprintf(reason, reason_size,
                         "duplicate setting \"%s\" in the settings schema", s->name);
                return -1;
            }
        }
        if (s->default_json != NULL) {
            json_object *value;
            enum json_tokener_error error;

            if (!address_in_object(s->default_json, base)) {
                snprintf(reason, reason_size, "setting \"%s\" has an invalid default pointer",
                         s->name);
                return -1;
            }
            value = json_tokener_parse_verbose(s->default_json, &error);
            if (value == NULL && error != json_tokener_success) {
                snprintf(reason, reason_size,
                         "default of setting \"%s\" is not valid JSON: %.64s", s->name,
                         s->default_json);
                return -1;
            }
            if (settings_check_type(value, s->type, why, sizeof(why)) != 0) {
                snprintf(reason, reason_size, "default of setting \"%s\" %s", s->name, why);
                json_object_put(value);
                return -1;
            }
            json_object_put(value);
        }
        if (s->help != NULL && !address_in_object(s->help, base)) {
            snprintf(reason, reason_size, "setting \"%s\" has an invalid help pointer",
                     s->name);
            return -1;
        }
    }
    return 0;
}

/* Validate what the entry returned and fill p->descriptor. */
static int check_descriptor(plugin *p, const wharf_plugin *given, const void *base,
                            char *reason, size_t reason_size)
{
    wharf_plugin_header header;
    const wharf_plugin *d = &p->descriptor;

    if (given == NULL) {
        snprintf(reason, reason_size, "%s returned NULL", WHARF_PLUGIN_ENTRY_SYMBOL);
        return -1;
    }
    if (((uintptr_t)given % _Alignof(wharf_plugin)) != 0 ||
        !address_in_object(given, base) ||
        !address_in_object((const char *)given + sizeof(header) - 1, base)) {
        snprintf(reason, reason_size,
                 "%s returned %p, which does not point into the plugin's own "
                 "memory; return the address of a static const wharf_plugin",
                 WHARF_PLUGIN_ENTRY_SYMBOL, (const void *)given);
        return -1;
    }

    memcpy(&header, &given->header, sizeof(header));
    if (header.magic != WHARF_PLUGIN_MAGIC) {
        snprintf(reason, reason_size,
                 "bad magic 0x%08x in the descriptor header (expected 0x%08x); "
                 "build it with WHARF_PLUGIN_HEADER_INIT",
                 header.magic, WHARF_PLUGIN_MAGIC);
        return -1;
    }
    if (header.abi_major != WHARF_ABI_MAJOR) {
        snprintf(reason, reason_size,
                 "ABI major %u, this wharfd speaks %d; rebuild the plugin against "
                 "wharf ABI %d.x headers",
                 header.abi_major, WHARF_ABI_MAJOR, WHARF_ABI_MAJOR);
        return -1;
    }
    if (header.struct_size < WHARF_PLUGIN_V1_0_SIZE) {
        snprintf(reason, reason_size,
                 "descriptor struct_size %u is smaller than the ABI 1.0 layout (%zu)",
                 header.struct_size, (size_t)WHARF_PLUGIN_V1_0_SIZE);
        return -1;
    }
    if (!address_in_object((const char *)given + header.struct_size - 1, base)) {
        snprintf(reason, reason_size,
                 "descriptor struct_size %u runs past the plugin's memory",
                 header.struct_size);
        return -1;
    }

    /* Copy what this wharfd knows; fields a later minor appended stay unread. */
    memset(&p->descriptor, 0, sizeof(p->descriptor));
    memcpy(&p->descriptor, given,
           header.struct_size < sizeof(wharf_plugin) ? header.struct_size
                                                     : sizeof(wharf_plugin));

    if (header.name == NULL || !address_in_object(header.name, base)) {
        snprintf(reason, reason_size, "descriptor has a NULL or invalid name");
        return -1;
    }
    if (!valid_name(header.name)) {
        snprintf(reason, reason_size,
                 "plugin name \"%.64s\" is invalid; use 1 to 63 characters from "
                 "a-z, 0-9, '-' and '_'",
                 header.name);
        return -1;
    }
    if (header.version == NULL || !address_in_object(header.version, base) ||
        header.version[0] == '\0' || strlen(header.version) > VERSION_MAX_LENGTH) {
        snprintf(reason, reason_size,
                 "plugin \"%s\" has a NULL, empty or overlong version", header.name);
        return -1;
    }
    if (plugin_batch_policy_name(d->batch_policy) == NULL) {
        snprintf(reason, reason_size,
                 "plugin \"%s\" has unknown batch policy %d; use "
                 "WHARF_BATCH_IGNORES_WHITELIST or WHARF_BATCH_REQUIRES_WHITELIST",
                 header.name, (int)d->batch_policy);
        return -1;
    }
    if (d->entity_types == 0 ||
        (d->entity_types & ~(WHARF_ENTITY_USER | WHARF_ENTITY_ACCOUNT)) != 0) {
        snprintf(reason, reason_size,
                 "plugin \"%s\" has invalid entity_types 0x%x; set "
                 "WHARF_ENTITY_USER and/or WHARF_ENTITY_ACCOUNT",
                 header.name, d->entity_types);
        return -1;
    }
    if (d->create == NULL || d->send == NULL || d->destroy == NULL) {
        snprintf(reason, reason_size,
                 "plugin \"%s\" lacks a required callback (%s%s%s)", header.name,
                 d->create == NULL ? "create " : "", d->send == NULL ? "send " : "",
                 d->destroy == NULL ? "destroy" : "");
        return -1;
    }
    if (check_settings(d, base, reason, reason_size) != 0)
        return -1;

    p->abi_major = header.abi_major;
    p->abi_minor = header.abi_minor;
    return 0;
}

plugin_load_status plugin_load(const char *path, plugin **loaded, char *reason,
                               size_t reason_size)
{
    plugin_load_status status = PLUGIN_REJECTED;
    struct stat st;
    plugin *p = NULL;
    wharf_plugin_entry_fn entry;
    const wharf_plugin *given;
    Dl_info info;
    void *handle = NULL;

    *loaded = NULL;
    if (stat(path, &st) != 0) {
        snprintf(reason, reason_size, "cannot stat: %s", strerror(errno));
        return PLUGIN_REJECTED;
    }
    if (!S_ISREG(st.st_mode)) {
        snprintf(reason, reason_size, "not a regular file");
        return PLUGIN_REJECTED;
    }
    if (plugin_trust_check_file(path, &st, reason, reason_size) != 0)
        return PLUGIN_REJECTED;

    status = check_elf_file(path, &st, reason, reason_size);
    if (status != PLUGIN_LOADED)
        return status;
    status = PLUGIN_REJECTED;

    handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (handle == NULL) {
        const char *error = dlerror();
        snprintf(reason, reason_size, "dlopen failed: %s",
                 error != NULL ? error : "unknown error");
        goto out;
    }

    *(void **)&entry = dlsym(handle, WHARF_PLUGIN_ENTRY_SYMBOL);
    if (entry == NULL) {
        snprintf(reason, reason_size,
                 "missing entry symbol %s; export it with WHARF_PLUGIN_EXPORT",
                 WHARF_PLUGIN_ENTRY_SYMBOL);
        goto out;
    }
    /* dlsym may find a same-named symbol in another object the plugin links;
     * the descriptor has to come from the plugin itself. */
    if (dladdr(*(void **)&entry, &info) == 0) {
        snprintf(reason, reason_size, "cannot locate %s in the file",
                 WHARF_PLUGIN_ENTRY_SYMBOL);
        goto out;
    }

    given = entry();

    p = calloc(1, sizeof(*p));
    if (p == NULL) {
        snprintf(reason, reason_size, "out of memory");
        goto out;
    }
    if (check_descriptor(p, given, info.dli_fbase, reason, reason_size) != 0)
        goto out;

    p->name = strdup(p->descriptor.header.name);
    p->version = strdup(p->descriptor.header.version);
    p->path = strdup(path);
    p->handle = handle;
    if (p->name == NULL || p->version == NULL || p->path == NULL) {
        snprintf(reason, reason_size, "out of memory");
        goto out;
    }
    if (p->abi_minor > WHARF_ABI_MINOR)
        log_info("plugin %s was built for ABI %u.%u, newer than this wharfd's "
                 "%d.%d; fields it added are ignored",
                 p->name, p->abi_major, p->abi_minor, WHARF_ABI_MAJOR,
                 WHARF_ABI_MINOR);

    *loaded = p;
    return PLUGIN_LOADED;

out:
    if (p != NULL) {
        free(p->name);
        free(p->version);
        free(p->path);
        free(p);
    }
    if (handle != NULL)
        dlclose(handle);
    return status;
}

void plugin_unload(plugin *p)
{
    if (p == NULL)
        return;
    if (p->handle != NULL)
        dlclose(p->handle);
    free(p->name);
    free(p->version);
    free(p->path);
    free(p);
}

const char *plugin_batch_policy_name(wharf_batch_policy policy)
{
    switch (policy) {
    case WHARF_BATCH_IGNORES_WHITELIST:
        return "ignores_whitelist";
    case WHARF_BATCH_REQUIRES_WHITELIST:
        return "requires_whitelist";
    }
    return NULL;
}

const char *plugin_setting_type_name(wharf_setting_type type)
{
    switch (type) {
    case WHARF_SETTING_STRING:
        return "string";
    case WHARF_SETTING_INTEGER:
        return "integer";
    case WHARF_SETTING_BOOLEAN:
        return "boolean";
    case WHARF_SETTING_STRING_MAP:
        return "string_map";
    case WHARF_SETTING_STRING_LIST:
        return "string_list";
    }
    return NULL;
}

json_object *plugin_to_json(const plugin *p)
{
    const wharf_plugin *d = &p->descriptor;
    json_object *object = json_object_new_object();
    json_object *types = json_object_new_array();
    json_object *settings = json_object_new_array();
    char abi[16];

    snprintf(abi, sizeof(abi), "%u.%u", p->abi_major, p->abi_minor);
    json_object_object_add(object, "name", json_object_new_string(p->name));
    json_object_object_add(object, "version", json_object_new_string(p->version));
    json_object_object_add(object, "abi", json_object_new_string(abi));
    json_object_object_add(object, "file", json_object_new_string(p->path));
    json_object_object_add(object, "batch_policy",
                           json_object_new_string(plugin_batch_policy_name(d->batch_policy)));
    if (d->entity_types & WHARF_ENTITY_USER)
        json_object_array_add(types, json_object_new_string("users"));
    if (d->entity_types & WHARF_ENTITY_ACCOUNT)
        json_object_array_add(types, json_object_new_string("accounts"));
    json_object_object_add(object, "entity_types", types);
    json_object_object_add(object, "max_batch_size",
                           json_object_new_int64((int64_t)d->max_batch_size));
    json_object_object_add(object, "send_blocking",
                           json_object_new_boolean((d->flags & WHARF_PLUGIN_SEND_BLOCKING) != 0));

    for (size_t i = 0; i < d->settings_count; i++) {
        const wharf_setting *s = &d->settings[i];
        json_object *entry = json_object_new_object();
        json_object *value = NULL;

        json_object_object_add(entry, "name", json_object_new_string(s->name));
        json_object_object_add(entry, "type",
                               json_object_new_string(plugin_setting_type_name(s->type)));
        json_object_object_add(entry, "required", json_object_new_boolean(s->required != 0));
        json_object_object_add(entry, "secret", json_object_new_boolean(s->secret != 0));
        if (s->default_json != NULL)
            value = json_tokener_parse(s->default_json);
        json_object_object_add(entry, "default", value);
        json_object_object_add(entry, "help",
                               json_object_new_string(s->help != NULL ? s->help : ""));
        json_object_array_add(settings, entry);
    }
    json_object_object_add(object, "settings", settings);
    return object;
}
