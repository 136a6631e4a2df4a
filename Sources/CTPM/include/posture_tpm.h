// A thin layer over tpm2-tss's ESAPI for the agent's TPM-resident device key. libtss2 is loaded with dlopen
// on first use, so the agent runs (with a software key) where the library or a TPM is absent; the large
// union structs of the TSS stay on this side. Not thread-safe: one caller at a time (PostureTPM serializes).
#ifndef POSTURE_TPM_H
#define POSTURE_TPM_H

#include <stddef.h>
#include <stdint.h>

typedef struct posture_tpm posture_tpm;

// Every call returns 0 on success, or nonzero with a message (NUL-terminated) in err.
int posture_tpm_open(const char *tcti, posture_tpm **out, char *err, size_t errlen);
void posture_tpm_close(posture_tpm *tpm);

// The TPM's fixed properties: manufacturer ID (four ASCII letters as a big-endian word), the vendor string
// (up to 16 characters), the firmware version (two 32-bit halves).
int posture_tpm_info(posture_tpm *tpm, uint32_t *manufacturer, char vendor[17], uint32_t *firmware1,
                     uint32_t *firmware2, char *err, size_t errlen);

// A new P-256 signing key under the storage root key (the ECC SRK template tpm2-openssl uses, so the blobs
// load there too). Out: the marshalled TPM2B_PUBLIC and TPM2B_PRIVATE.
int posture_tpm_create_key(posture_tpm *tpm, uint8_t *pub, size_t pubcap, size_t *publen, uint8_t *priv,
                           size_t privcap, size_t *privlen, char *err, size_t errlen);

// Loads the blobs as the key `sign` uses (replacing one loaded before). Fails on any other TPM.
int posture_tpm_load_key(posture_tpm *tpm, const uint8_t *pub, size_t publen, const uint8_t *priv,
                         size_t privlen, char *err, size_t errlen);

// ECDSA over a SHA-256 digest with the loaded key: r and s, each left-padded to 32 bytes.
int posture_tpm_sign(posture_tpm *tpm, const uint8_t digest[32], uint8_t r[32], uint8_t s[32], char *err,
                     size_t errlen);

#endif
