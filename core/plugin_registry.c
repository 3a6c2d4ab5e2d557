#include "plugin_registry.h"

#include <dirent.h>
#include <errno.h>
#include <json-c/json.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "log.h"

/* What the registry knows about one *.so file in the directory. */
typedef enum file_state {
    FILE_PENDING,    /* seen, waiting to be stable */
    FILE_INCOMPLETE, /* looked half-written; retried when it changes */
    FILE_LOADED,
    FILE_REJECTED,
    FILE_CHANGED_AFTER_LOAD /* loaded, then replaced on disk; noted once */
} file_state;

typedef struct file_entry {
    char *name; /* file name within the directory */
    file_state state;
    dev_t device;
    ino_t inode;
    off_t size;
    struct timespec mtime;
    struct timespec ctime; /* changes with chmod, so a fixed mode is noticed */
    char *reason; /* why it was rejected or is still pending */
    int seen;     /* found by the current scan */
    struct file_entry *next;
} file_entry;

typedef struct plugin_node {
    plugin *plugin;
    struct plugin_node *next;
} plugin_node;

struct plugin_registry {
    uv_loop_t *loop;
    char *directory;
    plugin_loaded_fn on_loaded;
    void *user_data;
    plugin_node *plugins; /* in load order */
    file_entry *files;
    uv_timer_t *timer;
    int missing_directory_logged;

    /* Owner and mode of the directory at the last scan. A rejection can
     * name the directory, so a change to them retries rejected files. */
    int directory_seen;
    uid_t directory_uid;
    mode_t directory_mode;
};

plugin_registry *plugin_registry_create(uv_loop_t *loop, const char *directory,
                                        plugin_loaded_fn on_loaded, void *user_data)
{
    plugin_registry *registry = calloc(1, sizeof(*registry));
    char resolved[PATH_MAX];

    if (registry == NULL)
        return NULL;
    registry->loop = loop;
    /* Absolute paths make log lines and the API unambiguous. */
    registry->directory = strdup(realpath(directory, resolved) != NULL ? resolved : directory);
    registry->on_loaded = on_loaded;
    registry->user_data = user_data;
    if (registry->directory == NULL) {
        free(registry);
        return NULL;
    }
    return registry;
}

plugin *plugin_registry_find(plugin_registry *registry, const char *name)
{
    for (plugin_node *node = registry->plugins; node != NULL; node = node->next) {
        if (strcmp(node->plugin->name, name) == 0)
            return node->plugin;
    }
    return NULL;
}

static int same_file_version(const file_entry *entry, const struct stat *st)
{
    return entry->device == st->st_dev && entry->inode == st->st_ino &&
           entry->size == st->st_size && entry->mtime.tv_sec == st->st_mtim.tv_sec &&
           entry->mtime.tv_nsec == st->st_mtim.tv_nsec &&
           entry->ctime.tv_sec == st->st_ctim.tv_sec && entry->ctime.tv_nsec == st->st_ctim.tv_nsec;
}

static void remember_version(file_entry *entry, const struct stat *st)
{
    entry->device = st->st_dev;
    entry->inode = st->st_ino;
    entry->size = st->st_size;
    entry->mtime = st->st_mtim;
    entry->ctime = st->st_ctim;
}

static void reject(file_entry *entry, const char *path, const char *reason)
{
    free(entry->reason);
    entry->reason = strdup(reason);
    entry->state = FILE_REJECTED;
    log_warn("plugin rejected: %s: %s", path, reason);
}

static void try_load(plugin_registry *registry, file_entry *entry, const char *path)
{
    char reason[512];
    plugin *loaded = NULL;
    plugin *existing;
    plugin_node *node;
    plugin_node **tail;

    switch (plugin_load(path, &loaded, reason, sizeof(reason))) {
    case PLUGIN_INCOMPLETE:
        if (entry->state != FILE_INCOMPLETE)
            log_info("plugin file %s looks incomplete, waiting for it to change: %s",
                     path, reason);
        free(entry->reason);
        entry->reason = strdup(reason);
        entry->state = FILE_INCOMPLETE;
        return;
    case PLUGIN_REJECTED:
        reject(entry, path, reason);
        return;
    case PLUGIN_LOADED:
        break;
    }

    existing = plugin_registry_find(registry, loaded->name);
    if (existing != NULL) {
        snprintf(reason, sizeof(reason),
                 "plugin name \"%s\" is already loaded from %s; remove one of "
                 "the two files",
                 loaded->name, existing->path);
        plugin_unload(loaded);
        reject(entry, path, reason);
        return;
    }

    node = calloc(1, sizeof(*node));
    if (node == NULL) {
        plugin_unload(loaded);
        reject(entry, path, "out of memory");
        return;
    }
    node->plugin = loaded;
    for (tail = &registry->plugins; *tail != NULL; tail = &(*tail)->next)
        ;
    *tail = node;

    free(entry->reason);
    entry->reason = NULL;
    entry->state = FILE_LOADED;
    log_info("plugin loaded: %s %s (ABI %u.%u) from %s", loaded->name,
             loaded->version, loaded->abi_major, loaded->abi_minor, path);
    if (registry->on_loaded != NULL)
        registry->on_loaded(loaded, registry->user_data);
}

static int has_so_suffix(const char *name)
{
    size_t length = strlen(name);
    return length > 3 && strcmp(name + length - 3, ".so") == 0;
}

static int compare_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* File names of *.so entries, sorted so that load order (and so which of two
 * same-named plugins wins) does not depend on the directory's order. */
static char **list_candidates(const char *directory, size_t *count)
{
    DIR *dir = opendir(directory);
    struct dirent *item;
    char **names = NULL;
    size_t used = 0;
    size_t capacity = 0;

    *count = 0;
    if (dir == NULL)
        return NULL;
    while ((item = readdir(dir)) != NULL) {
        if (item->d_name[0] == '.' || !has_so_suffix(item->d_name))
            continue;
        if (used == capacity) {
            size_t grown = capacity == 0 ? 16 : capacity * 2;
            char **bigger = realloc(names, grown * sizeof(*names));
            if (bigger == NULL)
                break;
            names = bigger;
            capacity = grown;
        }
        names[used] = strdup(item->d_name);
        if (names[used] != NULL)
            used++;
    }
    closedir(dir);
    if (used > 0)
        qsort(names, used, sizeof(*names), compare_names);
    *count = used;
    return names;
}

static file_entry *find_or_add_file(plugin_registry *registry, const char *name)
{
    file_entry *entry;

    for (entry = registry->files; entry != NULL; entry = entry->next) {
        if (strcmp(entry->name, name) == 0)
            return entry;
    }
    entry = calloc(1, sizeof(*entry));
    if (entry == NULL)
        return NULL;
    entry->name = strdup(name);
    if (entry->name == NULL) {
        free(entry);
        return NULL;
    }
    entry->state = FILE_PENDING;
    entry->next = registry->files;
    registry->files = entry;
    return entry;
}

static void scan_file(plugin_registry *registry, file_entry *entry, const char *path,
                      int initial)
{
    struct stat st;
    int unchanged;

    entry->seen = 1;
    if (stat(path, &st) != 0) {
        if (entry->state != FILE_REJECTED || entry->reason == NULL ||
            strstr(entry->reason, "cannot stat") == NULL) {
            char reason[300];
            snprintf(reason, sizeof(reason), "cannot stat: %s", strerror(errno));
            reject(entry, path, reason);
        }
        return;
    }

    unchanged = same_file_version(entry, &st);
    switch (entry->state) {
    case FILE_LOADED:
        if (!unchanged) {
            log_warn("plugin file %s changed after it was loaded; the loaded "
                     "version keeps running until wharfd restarts",
                     path);
            entry->state = FILE_CHANGED_AFTER_LOAD;
        }
        return;
    case FILE_CHANGED_AFTER_LOAD:
        return;
    case FILE_REJECTED:
    case FILE_INCOMPLETE:
        if (unchanged)
            return;
        /* A new version of a rejected file gets a fresh chance once stable. */
        remember_version(entry, &st);
        entry->state = FILE_PENDING;
        return;
    case FILE_PENDING:
        /* Load on the second identical observation, so a file still being
         * written (size or mtime moving) waits. */
        if (initial || unchanged) {
            remember_version(entry, &st);
            try_load(registry, entry, path);
            if (entry->state == FILE_INCOMPLETE)
                remember_version(entry, &st);
            return;
        }
        remember_version(entry, &st);
        return;
    }
}

/* A chmod or chown of the directory gives every rejected file a fresh try. */
static void retry_after_directory_change(plugin_registry *registry)
{
    struct stat st;

    if (stat(registry->directory, &st) != 0)
        return;
    if (registry->directory_seen && (st.st_uid != registry->directory_uid ||
                                     st.st_mode != registry->directory_mode)) {
        for (file_entry *entry = registry->files; entry != NULL; entry = entry->next) {
            if (entry->state == FILE_REJECTED)
                entry->state = FILE_PENDING;
        }
    }
    registry->directory_seen = 1;
    registry->directory_uid = st.st_uid;
    registry->directory_mode = st.st_mode;
}

void plugin_registry_scan(plugin_registry *registry, int initial)
{
    size_t count;
    char **names = list_candidates(registry->directory, &count);
    file_entry **link;

    if (names == NULL && count == 0) {
        DIR *probe = opendir(registry->directory);
        if (probe == NULL) {
            if (!registry->missing_directory_logged)
                log_warn("plugins directory %s cannot be read (%s); no plugins "
                         "load until it exists",
                         registry->directory, strerror(errno));
            registry->missing_directory_logged = 1;
        } else {
            closedir(probe);
        }
    }

    retry_after_directory_change(registry);
    for (file_entry *entry = registry->files; entry != NULL; entry = entry->next)
        entry->seen = 0;

    for (size_t i = 0; i < count; i++) {
        char path[PATH_MAX];
        file_entry *entry = find_or_add_file(registry, names[i]);

        snprintf(path, sizeof(path), "%s/%s", registry->directory, names[i]);
        if (entry != NULL)
            scan_file(registry, entry, path, initial);
        free(names[i]);
    }
    free(names);

    /* Forget files that went away; a loaded plugin itself stays loaded. */
    link = &registry->files;
    while (*link != NULL) {
        file_entry *entry = *link;
        if (entry->seen) {
            link = &entry->next;
            continue;
        }
        if (entry->state == FILE_LOADED || entry->state == FILE_CHANGED_AFTER_LOAD)
            log_info("plugin file %s/%s was removed; its plugin stays loaded until "
                     "wharfd restarts",
                     registry->directory, entry->name);
        *link = entry->next;
        free(entry->name);
        free(entry->reason);
        free(entry);
    }
}

static void on_watch_timer(uv_timer_t *timer)
{
    plugin_registry_scan(timer->data, 0);
}

int plugin_registry_watch(plugin_registry *registry, unsigned interval_ms)
{
    int rc;

    registry->timer = calloc(1, sizeof(*registry->timer));
    if (registry->timer == NULL)
        return -ENOMEM;
    uv_timer_init(registry->loop, registry->timer);
    registry->timer->data = registry;
    rc = uv_timer_start(registry->timer, on_watch_timer, interval_ms, interval_ms);
    return rc;
}

static void free_timer(uv_handle_t *handle)
{
    free(handle);
}

void plugin_registry_stop_watching(plugin_registry *registry)
{
    if (registry->timer == NULL)
        return;
    uv_timer_stop(registry->timer);
    uv_close((uv_handle_t *)registry->timer, free_timer);
    registry->timer = NULL;
}

json_object *plugin_registry_to_json(plugin_registry *registry)
{
    json_object *result = json_object_new_object();
    json_object *plugins = json_object_new_array();
    json_object *rejected = json_object_new_array();
    json_object *pending = json_object_new_array();

    for (plugin_node *node = registry->plugins; node != NULL; node = node->next)
        json_object_array_add(plugins, plugin_to_json(node->plugin));

    for (file_entry *entry = registry->files; entry != NULL; entry = entry->next) {
        json_object *item;
        char path[PATH_MAX];

        if (entry->state != FILE_REJECTED && entry->state != FILE_INCOMPLETE &&
            entry->state != FILE_PENDING)
            continue;
        snprintf(path, sizeof(path), "%s/%s", registry->directory, entry->name);
        item = json_object_new_object();
        json_object_object_add(item, "file", json_object_new_string(path));
        json_object_object_add(item, "reason",
                               json_object_new_string(entry->reason != NULL
                                                          ? entry->reason
                                                          : "waiting for the file to stop changing"));
        json_object_array_add(entry->state == FILE_REJECTED ? rejected : pending, item);
    }

    json_object_object_add(result, "plugins", plugins);
    json_object_object_add(result, "rejected", rejected);
    json_object_object_add(result, "pending", pending);
    return result;
}

void plugin_registry_free(plugin_registry *registry)
{
    if (registry == NULL)
        return;
    while (registry->plugins != NULL) {
        plugin_node *node = registry->plugins;
        registry->plugins = node->next;
        plugin_unload(node->plugin);
        free(node);
    }
    while (registry->files != NULL) {
        file_entry *entry = registry->files;
        registry->files = entry->next;
        free(entry->name);
        free(entry->reason);
        free(entry);
    }
    free(registry->directory);
    free(registry);
}
