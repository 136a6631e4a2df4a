// See include/posture_sqlite.h. The few sqlite3 functions used are declared here rather than taken from
// sqlite3.h: their signatures are SQLite's stable C interface, and the build then needs no libsqlite3-dev.
#include "posture_sqlite.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct sqlite3 sqlite3;
typedef struct sqlite3_stmt sqlite3_stmt;

enum { SQLITE_OK = 0, SQLITE_CANTOPEN = 14, SQLITE_ROW = 100, SQLITE_DONE = 101, SQLITE_OPEN_READONLY = 0x1, SQLITE_OPEN_URI = 0x40 };

static struct {
    int loaded;
    char failure[256];
    int (*open_v2)(const char *, sqlite3 **, int, const char *);
    int (*close_v2)(sqlite3 *);
    int (*busy_timeout)(sqlite3 *, int);
    int (*prepare_v2)(sqlite3 *, const char *, int, sqlite3_stmt **, const char **);
    int (*step)(sqlite3_stmt *);
    const void *(*column_blob)(sqlite3_stmt *, int);
    int (*column_bytes)(sqlite3_stmt *, int);
    int (*finalize)(sqlite3_stmt *);
    const char *(*errmsg)(sqlite3 *);
} lib;

static pthread_once_t load_once = PTHREAD_ONCE_INIT;

static void load(void) {
    void *handle = dlopen("libsqlite3.so.0", RTLD_NOW | RTLD_LOCAL);
    if (handle == NULL) {
        snprintf(lib.failure, sizeof lib.failure, "libsqlite3.so.0 could not be loaded (%s)", dlerror());
        return;
    }
#define SYMBOL(field, name)                                                                                  \
    if ((*(void **)&lib.field = dlsym(handle, name)) == NULL) {                                              \
        snprintf(lib.failure, sizeof lib.failure, "libsqlite3.so.0 has no %s", name);                       \
        return;                                                                                              \
    }
    SYMBOL(open_v2, "sqlite3_open_v2")
    SYMBOL(close_v2, "sqlite3_close_v2")
    SYMBOL(busy_timeout, "sqlite3_busy_timeout")
    SYMBOL(prepare_v2, "sqlite3_prepare_v2")
    SYMBOL(step, "sqlite3_step")
    SYMBOL(column_blob, "sqlite3_column_blob")
    SYMBOL(column_bytes, "sqlite3_column_bytes")
    SYMBOL(finalize, "sqlite3_finalize")
    SYMBOL(errmsg, "sqlite3_errmsg")
#undef SYMBOL
    lib.loaded = 1;
}

struct posture_sqlite {
    sqlite3 *db;
    sqlite3_stmt *statement;
};

/// SQLITE_OK, or the failing call's result code (the message in `error`).
static int open_with(const char *name, int flags, const char *sql, posture_sqlite *reader, char *error,
                     size_t error_size) {
    int rc = lib.open_v2(name, &reader->db, flags, NULL);
    if (rc != SQLITE_OK) {
        snprintf(error, error_size, "%s", reader->db ? lib.errmsg(reader->db) : "cannot open");
        return rc;
    }
    // rpm holds its lock only while a transaction writes; wait that out rather than fail the report.
    lib.busy_timeout(reader->db, 2000);
    rc = lib.prepare_v2(reader->db, sql, -1, &reader->statement, NULL);
    if (rc != SQLITE_OK) snprintf(error, error_size, "%s", lib.errmsg(reader->db));
    return rc;
}

static void close_parts(posture_sqlite *reader) {
    if (reader->statement) lib.finalize(reader->statement);
    if (reader->db) lib.close_v2(reader->db);
    reader->statement = NULL;
    reader->db = NULL;
}

int posture_sqlite_open(const char *path, const char *sql, posture_sqlite **out, char *error, size_t error_size) {
    pthread_once(&load_once, load);
    *out = NULL;
    if (!lib.loaded) {
        snprintf(error, error_size, "%s", lib.failure);
        return -1;
    }
    posture_sqlite *reader = calloc(1, sizeof *reader);
    if (reader == NULL) {
        snprintf(error, error_size, "out of memory");
        return -1;
    }
    int rc = open_with(path, SQLITE_OPEN_READONLY, sql, reader, error, error_size);
    if (rc == SQLITE_OK) {
        *out = reader;
        return 0;
    }
    close_parts(reader);
    // Only for a file that cannot be opened as it is: never to get past a lock (busy), which an immutable
    // read would ignore while rpm writes.
    if (rc != SQLITE_CANTOPEN) {
        free(reader);
        return -1;
    }
    // A database in WAL mode whose -shm file is absent cannot be opened read-only on a read-only file
    // system (the agent's ProtectSystem=strict): read the main file as it is ("immutable"). rpm checkpoints
    // at the end of each transaction, so it holds every committed one but one being written this moment.
    size_t length = strlen(path);
    char *uri = malloc(length * 3 + 32);
    if (uri == NULL) {
        free(reader);
        return -1;
    }
    char *at = uri + sprintf(uri, "file:");
    for (const char *c = path; *c; c++) {
        unsigned char byte = (unsigned char)*c;
        if ((byte >= 'a' && byte <= 'z') || (byte >= 'A' && byte <= 'Z') || (byte >= '0' && byte <= '9') ||
            strchr("/-._~", byte) != NULL) {
            *at++ = (char)byte;
        } else {
            at += sprintf(at, "%%%02X", byte);
        }
    }
    strcpy(at, "?immutable=1");
    char first[256];
    snprintf(first, sizeof first, "%s", error);
    rc = open_with(uri, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI, sql, reader, error, error_size);
    free(uri);
    if (rc != 0) {
        char second[256];
        snprintf(second, sizeof second, "%s", error);
        snprintf(error, error_size, "%s (and as an immutable file: %s)", first, second);
        close_parts(reader);
        free(reader);
        return -1;
    }
    *out = reader;
    return 0;
}

int posture_sqlite_next(posture_sqlite *reader, const void **bytes, int *size, char *error, size_t error_size) {
    int rc = lib.step(reader->statement);
    if (rc == SQLITE_DONE) return 0;
    if (rc != SQLITE_ROW) {
        snprintf(error, error_size, "%s", lib.errmsg(reader->db));
        return -1;
    }
    *bytes = lib.column_blob(reader->statement, 0);
    *size = lib.column_bytes(reader->statement, 0);
    return 1;
}

void posture_sqlite_close(posture_sqlite *reader) {
    if (reader == NULL) return;
    close_parts(reader);
    free(reader);
}
