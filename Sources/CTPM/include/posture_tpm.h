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

// The endorsement key, ECC only: its certificate (DER, from NV 0x01c0000a for P-256 or 0x01c00016 for P-384)
// and its public area (marshalled TPM2B_PUBLIC), from the persistent EK or made from the TCG L-2 template.
// Kept at hand for `activate`.
int posture_tpm_endorsement(posture_tpm *tpm, uint8_t *cert, size_t certcap, size_t *certlen, uint8_t *pub,
                            size_t pubcap, size_t *publen, char *err, size_t errlen);

// The attestation key: a restricted P-256 signing primary of the endorsement hierarchy (the same key each
// time on this TPM), kept loaded. Out: its marshalled TPM2B_PUBLIC.
int posture_tpm_attestation_key(posture_tpm *tpm, uint8_t *pub, size_t pubcap, size_t *publen, char *err,
                                size_t errlen);

// ActivateCredential: the secret a verifier sealed to the EK for this AK's name (credential and secret are
// the contents of TPM2B_ID_OBJECT and TPM2B_ENCRYPTED_SECRET, without their size prefixes).
int posture_tpm_activate(posture_tpm *tpm, const uint8_t *credential, size_t credlen, const uint8_t *secret,
                         size_t secretlen, uint8_t *out, size_t outcap, size_t *outlen, char *err, size_t errlen);

// Certify: the attestation key vouches that the loaded device key is in this TPM. Out: the TPMS_ATTEST bytes
// and the ECDSA signature over their SHA-256 (r, s, 32 bytes each).
int posture_tpm_certify(posture_tpm *tpm, const uint8_t *qualifying, size_t qlen, uint8_t *attest, size_t cap,
                        size_t *len, uint8_t r[32], uint8_t s[32], char *err, size_t errlen);

// Quote of the SHA-256 PCRs in `mask` (bit i: PCR i, 0-23) by the attestation key. Out as for certify.
int posture_tpm_quote(posture_tpm *tpm, uint32_t mask, const uint8_t *qualifying, size_t qlen, uint8_t *attest,
                      size_t cap, size_t *len, uint8_t r[32], uint8_t s[32], char *err, size_t errlen);

// The SHA-256 bank's value of PCR `index` (0-23).
int posture_tpm_pcr_read(posture_tpm *tpm, uint32_t index, uint8_t out[32], char *err, size_t errlen);

#endif
