// See include/posture_zck.h. The functions are declared here as zck.h (zchunk 1.x) declares them, so the
// build needs no libzck-dev.
#include "posture_zck.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <sys/stat.h>

typedef struct zckCtx zckCtx;

static struct {
    int loaded;
    char failure[256];
    zckCtx *(*create)(void);
    bool (*init_read)(zckCtx *, int);
    ssize_t (*read)(zckCtx *, char *, size_t);
    void (*free)(zckCtx **);
    const char *(*get_error)(zckCtx *);
    ssize_t (*get_length)(zckCtx *);
} lib;

static pthread_once_t load_once = PTHREAD_ONCE_INIT;

static void load(void) {
    void *handle = dlopen("libzck.so.1", RTLD_NOW | RTLD_LOCAL);
    if (handle == NULL) {
        snprintf(lib.failure, sizeof lib.failure, "libzck.so.1 could not be loaded (%s)", dlerror());
        return;
    }
#define SYMBOL(field, name)                                                                                  \
    if ((*(void **)&lib.field = dlsym(handle, name)) == NULL) {                                              \
        snprintf(lib.failure, sizeof lib.failure, "libzck.so.1 has no %s", name);                           \
        return;                                                                                              \
    }
    SYMBOL(create, "zck_create")
    SYMBOL(init_read, "zck_init_read")
    SYMBOL(read, "zck_read")
    SYMBOL(free, "zck_free")
    SYMBOL(get_error, "zck_get_error")
    SYMBOL(get_length, "zck_get_length")
#undef SYMBOL
    lib.loaded = 1;
}

static void describe(zckCtx *zck, const char *fallback, char *error, size_t error_size) {
    const char *message = zck ? lib.get_error(zck) : NULL;
    snprintf(error, error_size, "%s", message && *message ? message : fallback);
}

int posture_zck_open(int fd, posture_zck **out, char *error, size_t error_size) {
    pthread_once(&load_once, load);
    *out = NULL;
    if (!lib.loaded) {
        snprintf(error, error_size, "%s", lib.failure);
        return -1;
    }
    zckCtx *zck = lib.create();
    if (zck == NULL) {
        snprintf(error, error_size, "zck_create failed");
        return -1;
    }
    if (!lib.init_read(zck, fd)) {
        describe(zck, "not a zchunk file", error, error_size);
        lib.free(&zck);
        return -1;
    }
    // libzck 1.2 reads a file cut inside a data chunk as one that ends there, without an error: the length
    // the header declares must be the file's.
    struct stat info;
    ssize_t declared = lib.get_length(zck);
    if (fstat(fd, &info) != 0 || declared < 0 || (long long)info.st_size != (long long)declared) {
        snprintf(error, error_size, "the file has %lld bytes where its header declares %lld (cut short or extended)",
                 (long long)info.st_size, (long long)declared);
        lib.free(&zck);
        return -1;
    }
    *out = (posture_zck *)zck; // the context is the reader: nothing else to keep
    return 0;
}

ssize_t posture_zck_read(posture_zck *reader, void *buffer, size_t size, char *error, size_t error_size) {
    zckCtx *zck = (zckCtx *)reader;
    ssize_t count = lib.read(zck, buffer, size);
    if (count < 0) describe(zck, "read failed", error, error_size);
    return count;
}

void posture_zck_close(posture_zck *reader) {
    if (reader == NULL) return;
    zckCtx *zck = (zckCtx *)reader;
    lib.free(&zck);
}
