// Reads rows of blobs from an SQLite file another program owns (rpm's rpmdb.sqlite), read-only.
// libsqlite3 is loaded with dlopen on first use: every rpm system has it (rpm links it), and the agent's
// .deb then needs no libsqlite3 on the Debian hosts that never read an rpm database.
#ifndef POSTURE_SQLITE_H
#define POSTURE_SQLITE_H

#include <stddef.h>

typedef struct posture_sqlite posture_sqlite;

/// Opens `path` read-only and prepares `sql`, whose first column is read as a blob. 0 on success; otherwise
/// a message in `error` (libsqlite3 missing, the file unreadable, the statement refused).
int posture_sqlite_open(const char *path, const char *sql, posture_sqlite **out, char *error, size_t error_size);

/// The next row's first column: 1 with `bytes` and `size` set (valid until the next call), 0 at the end,
/// -1 on an error (message in `error`).
int posture_sqlite_next(posture_sqlite *reader, const void **bytes, int *size, char *error, size_t error_size);

void posture_sqlite_close(posture_sqlite *reader);

#endif
