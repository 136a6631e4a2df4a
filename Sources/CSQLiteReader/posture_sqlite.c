// See include/posture_sqlite.h. The few sqlite3 functions used are declared here rather than taken from
// sqlite3.h: their signatures are SQLite's stable C interface, and the build then needs no libsqlite3-dev.
#include "posture_sqlite.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

typedef struct sqlite3 sqlite3;
typedef struct sqlite3_stmt sqlite3_stmt;

enum { SQLITE_OK = 0, SQLITE_ROW = 100, SQLITE_DONE = 101, SQLITE_OPEN_READONLY = 0x1 };

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
    if (lib.open_v2(path, &reader->db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        snprintf(error, error_size, "%s", reader->db ? lib.errmsg(reader->db) : "cannot open");
        posture_sqlite_close(reader);
        return -1;
    }
    // rpm holds its lock only while a transaction writes; wait that out rather than fail the report.
    lib.busy_timeout(reader->db, 2000);
    if (lib.prepare_v2(reader->db, sql, -1, &reader->statement, NULL) != SQLITE_OK) {
        snprintf(error, error_size, "%s", lib.errmsg(reader->db));
        posture_sqlite_close(reader);
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
    if (reader->statement) lib.finalize(reader->statement);
    if (reader->db) lib.close_v2(reader->db);
    free(reader);
}
