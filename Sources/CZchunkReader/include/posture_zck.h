// Reads a zchunk file (dnf's metadata on Fedora: primary.xml.zck) through libzck, loaded with dlopen on first
// use: librepo links it on every system whose dnf fetches zchunk metadata, and the agent's .deb then needs no
// libzck on the Debian hosts that never read one.
#ifndef POSTURE_ZCK_H
#define POSTURE_ZCK_H

#include <stddef.h>
#include <sys/types.h>

typedef struct posture_zck posture_zck;

/// Reads the header of the zchunk file open on `fd` (which stays the caller's). 0 on success; otherwise a
/// message in `error` (libzck missing, not a zchunk file, a header that fails its checksum).
int posture_zck_open(int fd, posture_zck **out, char *error, size_t error_size);

/// Up to `size` bytes of the decompressed data: their count, 0 at the end, -1 on an error (message in `error`:
/// a chunk that fails its checksum, a file cut short).
ssize_t posture_zck_read(posture_zck *reader, void *buffer, size_t size, char *error, size_t error_size);

void posture_zck_close(posture_zck *reader);

#endif
