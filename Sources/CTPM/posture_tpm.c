// See include/posture_tpm.h. Types come from the tss2 headers; functions from libtss2-*.so.0 via dlopen,
// the way systemd loads libtss2 (src/shared/tpm2-util.c), so the package only recommends the library.
#include "posture_tpm.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <tss2/tss2_esys.h>
#include <tss2/tss2_mu.h>
#include <tss2/tss2_rc.h>
#include <tss2/tss2_tctildr.h>

static void posture_tpm_close_unlisted(posture_tpm *tpm);

static struct {
    int loaded;
    char failure[256];
    __typeof__(Tss2_TctiLdr_Initialize) *tcti_initialize;
    __typeof__(Tss2_TctiLdr_Finalize) *tcti_finalize;
    __typeof__(Esys_Initialize) *initialize;
    __typeof__(Esys_Finalize) *finalize;
    __typeof__(Esys_Free) *free;
    __typeof__(Esys_FlushContext) *flush;
    __typeof__(Esys_CreatePrimary) *create_primary;
    __typeof__(Esys_Create) *create;
    __typeof__(Esys_Load) *load;
    __typeof__(Esys_Sign) *sign;
    __typeof__(Esys_GetCapability) *get_capability;
    __typeof__(Esys_TR_FromTPMPublic) *from_public;
    __typeof__(Esys_TR_Close) *tr_close;
    __typeof__(Esys_NV_ReadPublic) *nv_read_public;
    __typeof__(Esys_NV_Read) *nv_read;
    __typeof__(Esys_ReadPublic) *read_public;
    __typeof__(Esys_StartAuthSession) *start_session;
    __typeof__(Esys_PolicySecret) *policy_secret;
    __typeof__(Esys_ActivateCredential) *activate;
    __typeof__(Esys_Certify) *certify;
    __typeof__(Esys_Quote) *quote;
    __typeof__(Esys_PCR_Read) *pcr_read;
    __typeof__(Tss2_MU_TPM2B_PUBLIC_Marshal) *public_marshal;
    __typeof__(Tss2_MU_TPM2B_PUBLIC_Unmarshal) *public_unmarshal;
    __typeof__(Tss2_MU_TPM2B_PRIVATE_Marshal) *private_marshal;
    __typeof__(Tss2_MU_TPM2B_PRIVATE_Unmarshal) *private_unmarshal;
    __typeof__(Tss2_RC_Decode) *decode; // optional: libtss2-rc
} tss;

struct posture_tpm {
    TSS2_TCTI_CONTEXT *tcti;
    ESYS_CONTEXT *esys;
    ESYS_TR key; // the loaded device key, or ESYS_TR_NONE
    ESYS_TR ak;  // the attestation key, or ESYS_TR_NONE
    ESYS_TR ek;  // the endorsement key, or ESYS_TR_NONE
    int ek_transient; // made with CreatePrimary (flush), not persistent (close)
    TPMI_ALG_HASH ek_name_alg;
    int ek_user_with_auth;
    int listed; // in open_contexts: closed by whoever takes it out of the list (posture_tpm_close or at exit)
};

// The TSS logs every TPM error to stderr, including the NV indexes probed for an EK certificate that are
// absent by design; the errors that matter reach the caller's message. Set before main, while the process
// has one thread (setenv is not safe beside other threads' getenv); TSS2_LOG set by the user wins.
__attribute__((constructor)) static void quiet_tss_logging(void) { setenv("TSS2_LOG", "all+none", 0); }

static void fail(char *err, size_t errlen, const char *format, ...) {
    if (err == NULL || errlen == 0) return;
    va_list args;
    va_start(args, format);
    vsnprintf(err, errlen, format, args);
    va_end(args);
}

static int fail_rc(char *err, size_t errlen, const char *what, TSS2_RC rc) {
    const char *text = tss.decode != NULL ? tss.decode(rc) : "";
    fail(err, errlen, "%s failed: 0x%x %s", what, (unsigned)rc, text != NULL ? text : "");
    return 1;
}

static void *symbol(void *library, const char *name, int *missing) {
    void *pointer = dlsym(library, name);
    if (pointer == NULL) *missing = 1;
    return pointer;
}

// Loads the libraries once; 0 when they are all there.
static int load_tss(char *err, size_t errlen) {
    if (tss.loaded == 1) return 0;
    if (tss.loaded == -1) {
        fail(err, errlen, "%s", tss.failure);
        return 1;
    }
    const char *names[] = {"libtss2-esys.so.0", "libtss2-tctildr.so.0", "libtss2-mu.so.0"};
    void *libraries[3];
    for (int i = 0; i < 3; i++) {
        libraries[i] = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
        if (libraries[i] == NULL) {
            snprintf(tss.failure, sizeof tss.failure,
                     "%s is not installed (install libtss2-esys-3.0.2-0, libtss2-tctildr0 and libtss2-mu0): %s",
                     names[i], dlerror());
            tss.loaded = -1;
            fail(err, errlen, "%s", tss.failure);
            return 1;
        }
    }
    int missing = 0;
    void *esys = libraries[0], *loader = libraries[1], *mu = libraries[2];
    tss.initialize = symbol(esys, "Esys_Initialize", &missing);
    tss.finalize = symbol(esys, "Esys_Finalize", &missing);
    tss.free = symbol(esys, "Esys_Free", &missing);
    tss.flush = symbol(esys, "Esys_FlushContext", &missing);
    tss.create_primary = symbol(esys, "Esys_CreatePrimary", &missing);
    tss.create = symbol(esys, "Esys_Create", &missing);
    tss.load = symbol(esys, "Esys_Load", &missing);
    tss.sign = symbol(esys, "Esys_Sign", &missing);
    tss.get_capability = symbol(esys, "Esys_GetCapability", &missing);
    tss.from_public = symbol(esys, "Esys_TR_FromTPMPublic", &missing);
    tss.tr_close = symbol(esys, "Esys_TR_Close", &missing);
    tss.nv_read_public = symbol(esys, "Esys_NV_ReadPublic", &missing);
    tss.nv_read = symbol(esys, "Esys_NV_Read", &missing);
    tss.read_public = symbol(esys, "Esys_ReadPublic", &missing);
    tss.start_session = symbol(esys, "Esys_StartAuthSession", &missing);
    tss.policy_secret = symbol(esys, "Esys_PolicySecret", &missing);
    tss.activate = symbol(esys, "Esys_ActivateCredential", &missing);
    tss.certify = symbol(esys, "Esys_Certify", &missing);
    tss.quote = symbol(esys, "Esys_Quote", &missing);
    tss.pcr_read = symbol(esys, "Esys_PCR_Read", &missing);
    tss.tcti_initialize = symbol(loader, "Tss2_TctiLdr_Initialize", &missing);
    tss.tcti_finalize = symbol(loader, "Tss2_TctiLdr_Finalize", &missing);
    tss.public_marshal = symbol(mu, "Tss2_MU_TPM2B_PUBLIC_Marshal", &missing);
    tss.public_unmarshal = symbol(mu, "Tss2_MU_TPM2B_PUBLIC_Unmarshal", &missing);
    tss.private_marshal = symbol(mu, "Tss2_MU_TPM2B_PRIVATE_Marshal", &missing);
    tss.private_unmarshal = symbol(mu, "Tss2_MU_TPM2B_PRIVATE_Unmarshal", &missing);
    if (missing) {
        snprintf(tss.failure, sizeof tss.failure, "libtss2 lacks an ESAPI function this agent needs (tpm2-tss >= 3.0)");
        tss.loaded = -1;
        fail(err, errlen, "%s", tss.failure);
        return 1;
    }
    void *rc = dlopen("libtss2-rc.so.0", RTLD_NOW | RTLD_LOCAL);
    if (rc != NULL) tss.decode = (__typeof__(Tss2_RC_Decode) *)dlsym(rc, "Tss2_RC_Decode");
    tss.loaded = 1;
    return 0;
}

// Flushes transient objects an earlier client left loaded. The kernel's resource manager (/dev/tpmrm0) does that
// when a process exits and shows each client only its own, so there this finds none; a TPM reached without one
// (swtpm's socket) keeps them, and with three slots a few agents that exited (or were killed) fill it. On such
// a TPM this also flushes what another process still uses: one Posture process at a time there (swtpm serves
// one client at a time anyway).
static void flush_leftovers(posture_tpm *tpm) {
    TPMI_YES_NO more = 0;
    TPMS_CAPABILITY_DATA *data = NULL;
    TSS2_RC rc = tss.get_capability(tpm->esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, TPM2_CAP_HANDLES,
                                    TPM2_TRANSIENT_FIRST, TPM2_MAX_CAP_HANDLES, &more, &data);
    if (rc != TSS2_RC_SUCCESS) return;
    for (UINT32 i = 0; i < data->data.handles.count; i++) {
        ESYS_TR object = ESYS_TR_NONE;
        if (tss.from_public(tpm->esys, data->data.handles.handle[i], ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
                            &object) == TSS2_RC_SUCCESS)
            tss.flush(tpm->esys, object);
    }
    tss.free(data);
}

// Contexts still open when the process exits are closed then, which flushes their objects: a TPM without a
// resource manager keeps what a process left loaded (another client, tpm2-tools or OpenSSL's tpm2 provider,
// would find its three slots taken), and Swift runs no deinit at exit.
static posture_tpm *open_contexts[8];
static pthread_mutex_t open_lock = PTHREAD_MUTEX_INITIALIZER;

static void close_at_exit(void) {
    pthread_mutex_lock(&open_lock);
    for (size_t i = 0; i < sizeof open_contexts / sizeof *open_contexts; i++) {
        posture_tpm *tpm = open_contexts[i];
        open_contexts[i] = NULL;
        if (tpm != NULL) posture_tpm_close_unlisted(tpm);
    }
    pthread_mutex_unlock(&open_lock);
}

static void remember(posture_tpm *tpm) {
    static int registered = 0;
    pthread_mutex_lock(&open_lock);
    if (!registered) registered = atexit(close_at_exit) == 0;
    for (size_t i = 0; i < sizeof open_contexts / sizeof *open_contexts; i++) {
        if (open_contexts[i] == NULL) {
            open_contexts[i] = tpm;
            tpm->listed = 1;
            break;
        }
    }
    pthread_mutex_unlock(&open_lock);
}

// Takes `tpm` out of the list; false when the exit handler already took it (and closes it).
static int forget(posture_tpm *tpm) {
    if (!tpm->listed) return 1;
    int found = 0;
    pthread_mutex_lock(&open_lock);
    for (size_t i = 0; i < sizeof open_contexts / sizeof *open_contexts; i++) {
        if (open_contexts[i] == tpm) {
            open_contexts[i] = NULL;
            found = 1;
        }
    }
    pthread_mutex_unlock(&open_lock);
    return found;
}

int posture_tpm_open(const char *tcti, posture_tpm **out, char *err, size_t errlen) {
    *out = NULL;
    if (load_tss(err, errlen) != 0) return 1;
    posture_tpm *tpm = calloc(1, sizeof *tpm);
    if (tpm == NULL) {
        fail(err, errlen, "out of memory");
        return 1;
    }
    tpm->key = ESYS_TR_NONE;
    tpm->ak = ESYS_TR_NONE;
    tpm->ek = ESYS_TR_NONE;
    TSS2_RC rc = tss.tcti_initialize(tcti, &tpm->tcti);
    if (rc != TSS2_RC_SUCCESS) {
        free(tpm);
        return fail_rc(err, errlen, "opening the TPM (TCTI)", rc);
    }
    rc = tss.initialize(&tpm->esys, tpm->tcti, NULL);
    if (rc != TSS2_RC_SUCCESS) {
        tss.tcti_finalize(&tpm->tcti);
        free(tpm);
        return fail_rc(err, errlen, "Esys_Initialize", rc);
    }
    flush_leftovers(tpm);
    remember(tpm);
    *out = tpm;
    return 0;
}

// Lets go of the endorsement key: flushed when made here (CreatePrimary), only closed when persistent.
static void release_ek(posture_tpm *tpm) {
    if (tpm->ek == ESYS_TR_NONE) return;
    if (tpm->ek_transient) tss.flush(tpm->esys, tpm->ek);
    else tss.tr_close(tpm->esys, &tpm->ek);
    tpm->ek = ESYS_TR_NONE;
}

void posture_tpm_close(posture_tpm *tpm) {
    if (tpm == NULL) return;
    if (forget(tpm)) posture_tpm_close_unlisted(tpm);
}

static void posture_tpm_close_unlisted(posture_tpm *tpm) {
    if (tpm->key != ESYS_TR_NONE) tss.flush(tpm->esys, tpm->key);
    if (tpm->ak != ESYS_TR_NONE) tss.flush(tpm->esys, tpm->ak);
    release_ek(tpm);
    tss.finalize(&tpm->esys);
    tss.tcti_finalize(&tpm->tcti);
    free(tpm);
}

int posture_tpm_info(posture_tpm *tpm, uint32_t *manufacturer, char vendor[17], uint32_t *firmware1,
                     uint32_t *firmware2, char *err, size_t errlen) {
    TPMI_YES_NO more = TPM2_NO;
    TPMS_CAPABILITY_DATA *data = NULL;
    TSS2_RC rc = tss.get_capability(tpm->esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, TPM2_CAP_TPM_PROPERTIES,
                                    TPM2_PT_FIXED, TPM2_MAX_TPM_PROPERTIES, &more, &data);
    if (rc != TSS2_RC_SUCCESS) return fail_rc(err, errlen, "reading the TPM's properties", rc);
    *manufacturer = 0;
    *firmware1 = 0;
    *firmware2 = 0;
    memset(vendor, 0, 17);
    TPML_TAGGED_TPM_PROPERTY *list = &data->data.tpmProperties;
    for (UINT32 i = 0; i < list->count; i++) {
        TPM2_PT property = list->tpmProperty[i].property;
        UINT32 value = list->tpmProperty[i].value;
        if (property == TPM2_PT_MANUFACTURER) *manufacturer = value;
        if (property == TPM2_PT_FIRMWARE_VERSION_1) *firmware1 = value;
        if (property == TPM2_PT_FIRMWARE_VERSION_2) *firmware2 = value;
        if (property >= TPM2_PT_VENDOR_STRING_1 && property <= TPM2_PT_VENDOR_STRING_4) {
            int at = (int)(property - TPM2_PT_VENDOR_STRING_1) * 4;
            for (int b = 0; b < 4; b++) vendor[at + b] = (char)((value >> (24 - 8 * b)) & 0xff);
        }
    }
    tss.free(data);
    return 0;
}

// The storage root key, as tpm2-openssl creates it (primaryEccTemplate): ECC P-256, AES-128-CFB, NODA.
static int create_srk(posture_tpm *tpm, ESYS_TR *srk, char *err, size_t errlen) {
    TPM2B_SENSITIVE_CREATE sensitive = {0};
    TPM2B_PUBLIC template = {
        .publicArea = {
            .type = TPM2_ALG_ECC,
            .nameAlg = TPM2_ALG_SHA256,
            .objectAttributes = TPMA_OBJECT_USERWITHAUTH | TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_DECRYPT |
                                TPMA_OBJECT_NODA | TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT |
                                TPMA_OBJECT_SENSITIVEDATAORIGIN,
            .parameters.eccDetail = {
                .symmetric = {.algorithm = TPM2_ALG_AES, .keyBits.aes = 128, .mode.aes = TPM2_ALG_CFB},
                .scheme = {.scheme = TPM2_ALG_NULL},
                .curveID = TPM2_ECC_NIST_P256,
                .kdf = {.scheme = TPM2_ALG_NULL},
            },
        },
    };
    TPM2B_DATA outside = {0};
    TPML_PCR_SELECTION pcrs = {0};
    TSS2_RC rc = tss.create_primary(tpm->esys, ESYS_TR_RH_OWNER, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE,
                                    &sensitive, &template, &outside, &pcrs, srk, NULL, NULL, NULL, NULL);
    if (rc != TSS2_RC_SUCCESS) return fail_rc(err, errlen, "creating the storage root key (CreatePrimary)", rc);
    return 0;
}

int posture_tpm_create_key(posture_tpm *tpm, uint8_t *pub, size_t pubcap, size_t *publen, uint8_t *priv,
                           size_t privcap, size_t *privlen, char *err, size_t errlen) {
    ESYS_TR srk = ESYS_TR_NONE;
    if (create_srk(tpm, &srk, err, errlen) != 0) return 1;
    TPM2B_SENSITIVE_CREATE sensitive = {0};
    // Signs only, never leaves this TPM (fixedTPM, fixedParent), made inside it (sensitiveDataOrigin).
    TPM2B_PUBLIC template = {
        .publicArea = {
            .type = TPM2_ALG_ECC,
            .nameAlg = TPM2_ALG_SHA256,
            .objectAttributes = TPMA_OBJECT_USERWITHAUTH | TPMA_OBJECT_SIGN_ENCRYPT | TPMA_OBJECT_NODA |
                                TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT | TPMA_OBJECT_SENSITIVEDATAORIGIN,
            .parameters.eccDetail = {
                .symmetric = {.algorithm = TPM2_ALG_NULL},
                .scheme = {.scheme = TPM2_ALG_NULL},
                .curveID = TPM2_ECC_NIST_P256,
                .kdf = {.scheme = TPM2_ALG_NULL},
            },
        },
    };
    TPM2B_DATA outside = {0};
    TPML_PCR_SELECTION pcrs = {0};
    TPM2B_PRIVATE *out_private = NULL;
    TPM2B_PUBLIC *out_public = NULL;
    TSS2_RC rc = tss.create(tpm->esys, srk, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &sensitive, &template,
                            &outside, &pcrs, &out_private, &out_public, NULL, NULL, NULL);
    tss.flush(tpm->esys, srk);
    if (rc != TSS2_RC_SUCCESS) return fail_rc(err, errlen, "creating the device key (Create)", rc);
    *publen = 0;
    *privlen = 0;
    rc = tss.public_marshal(out_public, pub, pubcap, publen);
    if (rc == TSS2_RC_SUCCESS) rc = tss.private_marshal(out_private, priv, privcap, privlen);
    tss.free(out_private);
    tss.free(out_public);
    if (rc != TSS2_RC_SUCCESS) return fail_rc(err, errlen, "marshalling the device key", rc);
    return 0;
}

int posture_tpm_load_key(posture_tpm *tpm, const uint8_t *pub, size_t publen, const uint8_t *priv,
                         size_t privlen, char *err, size_t errlen) {
    TPM2B_PUBLIC public_area = {0};
    TPM2B_PRIVATE private_area = {0};
    size_t offset = 0;
    TSS2_RC rc = tss.public_unmarshal(pub, publen, &offset, &public_area);
    if (rc != TSS2_RC_SUCCESS || offset != publen) {
        fail(err, errlen, "the key blob's public part is not a TPM2B_PUBLIC");
        return 1;
    }
    offset = 0;
    rc = tss.private_unmarshal(priv, privlen, &offset, &private_area);
    if (rc != TSS2_RC_SUCCESS || offset != privlen) {
        fail(err, errlen, "the key blob's private part is not a TPM2B_PRIVATE");
        return 1;
    }
    // Without a resource manager a TPM has three transient slots: the old key goes before the new one loads.
    if (tpm->key != ESYS_TR_NONE) {
        tss.flush(tpm->esys, tpm->key);
        tpm->key = ESYS_TR_NONE;
    }
    ESYS_TR srk = ESYS_TR_NONE;
    if (create_srk(tpm, &srk, err, errlen) != 0) return 1;
    ESYS_TR key = ESYS_TR_NONE;
    rc = tss.load(tpm->esys, srk, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &private_area, &public_area, &key);
    // Without a resource manager (swtpm) a TPM has three transient slots: keep only the key.
    tss.flush(tpm->esys, srk);
    if (rc != TSS2_RC_SUCCESS) return fail_rc(err, errlen, "loading the device key (Load)", rc);
    tpm->key = key;
    return 0;
}

static void pad32(const TPM2B_ECC_PARAMETER *value, uint8_t out[32]) {
    memset(out, 0, 32);
    size_t size = value->size > 32 ? 32 : value->size;
    memcpy(out + (32 - size), value->buffer + (value->size - size), size);
}

int posture_tpm_sign(posture_tpm *tpm, const uint8_t digest[32], uint8_t r[32], uint8_t s[32], char *err,
                     size_t errlen) {
    if (tpm->key == ESYS_TR_NONE) {
        fail(err, errlen, "no device key is loaded");
        return 1;
    }
    TPM2B_DIGEST message = {.size = 32};
    memcpy(message.buffer, digest, 32);
    TPMT_SIG_SCHEME scheme = {.scheme = TPM2_ALG_ECDSA, .details.ecdsa.hashAlg = TPM2_ALG_SHA256};
    TPMT_TK_HASHCHECK validation = {.tag = TPM2_ST_HASHCHECK, .hierarchy = TPM2_RH_NULL};
    TPMT_SIGNATURE *signature = NULL;
    TSS2_RC rc = tss.sign(tpm->esys, tpm->key, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &message, &scheme,
                          &validation, &signature);
    if (rc != TSS2_RC_SUCCESS) return fail_rc(err, errlen, "signing with the device key (Sign)", rc);
    pad32(&signature->signature.ecdsa.signatureR, r);
    pad32(&signature->signature.ecdsa.signatureS, s);
    tss.free(signature);
    return 0;
}

// Reads an NV index whole; 0 when it exists and was read.
static int read_nv(posture_tpm *tpm, TPM2_HANDLE index, uint8_t *out, size_t cap, size_t *len) {
    ESYS_TR nv = ESYS_TR_NONE;
    if (tss.from_public(tpm->esys, index, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &nv) != TSS2_RC_SUCCESS)
        return 1;
    TPM2B_NV_PUBLIC *info = NULL;
    int status = 1;
    if (tss.nv_read_public(tpm->esys, nv, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &info, NULL) ==
        TSS2_RC_SUCCESS) {
        size_t size = info->nvPublic.dataSize;
        tss.free(info);
        *len = 0;
        status = size == 0 || size > cap ? 1 : 0;
        // 512 bytes a read: below every TPM's TPM2_PT_NV_BUFFER_MAX.
        while (status == 0 && *len < size) {
            UINT16 chunk = (UINT16)(size - *len > 512 ? 512 : size - *len);
            TPM2B_MAX_NV_BUFFER *data = NULL;
            if (tss.nv_read(tpm->esys, nv, nv, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, chunk, (UINT16)*len,
                            &data) != TSS2_RC_SUCCESS) {
                status = 1;
                break;
            }
            // A TPM (or whoever is on a swtpm TCP connection) answering more than was asked is refused.
            if (data->size == 0 || data->size > chunk || *len + data->size > cap) {
                status = 1;
            } else {
                memcpy(out + *len, data->buffer, data->size);
                *len += data->size;
            }
            tss.free(data);
        }
    }
    tss.tr_close(tpm->esys, &nv);
    return status;
}

// The TCG EK Credential Profile's template L-2: ECC NIST P-256, PolicyA (PolicySecret(TPM_RH_ENDORSEMENT)).
static const uint8_t policy_a_sha256[32] = {0x83, 0x71, 0x97, 0x67, 0x44, 0x84, 0xb3, 0xf8, 0x1a, 0x90, 0xcc,
                                            0x8d, 0x46, 0xa5, 0xd7, 0x24, 0xfd, 0x52, 0xd7, 0x6e, 0x06, 0x52,
                                            0x0b, 0x64, 0xf2, 0xa1, 0xda, 0x1b, 0x33, 0x14, 0x69, 0xaa};

static int create_ek_l2(posture_tpm *tpm, ESYS_TR *ek, char *err, size_t errlen) {
    TPM2B_SENSITIVE_CREATE sensitive = {0};
    TPM2B_PUBLIC template = {
        .publicArea = {
            .type = TPM2_ALG_ECC,
            .nameAlg = TPM2_ALG_SHA256,
            .objectAttributes = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT | TPMA_OBJECT_SENSITIVEDATAORIGIN |
                                TPMA_OBJECT_ADMINWITHPOLICY | TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_DECRYPT,
            .parameters.eccDetail = {
                .symmetric = {.algorithm = TPM2_ALG_AES, .keyBits.aes = 128, .mode.aes = TPM2_ALG_CFB},
                .scheme = {.scheme = TPM2_ALG_NULL},
                .curveID = TPM2_ECC_NIST_P256,
                .kdf = {.scheme = TPM2_ALG_NULL},
            },
            .unique.ecc = {.x = {.size = 32}, .y = {.size = 32}},
        },
    };
    template.publicArea.authPolicy.size = 32;
    memcpy(template.publicArea.authPolicy.buffer, policy_a_sha256, 32);
    TPM2B_DATA outside = {0};
    TPML_PCR_SELECTION pcrs = {0};
    TSS2_RC rc = tss.create_primary(tpm->esys, ESYS_TR_RH_ENDORSEMENT, ESYS_TR_PASSWORD, ESYS_TR_NONE,
                                    ESYS_TR_NONE, &sensitive, &template, &outside, &pcrs, ek, NULL, NULL, NULL, NULL);
    if (rc != TSS2_RC_SUCCESS) return fail_rc(err, errlen, "creating the endorsement key (CreatePrimary, L-2)", rc);
    return 0;
}

int posture_tpm_endorsement(posture_tpm *tpm, uint8_t *cert, size_t certcap, size_t *certlen, uint8_t *pub,
                            size_t pubcap, size_t *publen, char *err, size_t errlen) {
    // P-256 (what PC TPMs provision) first, then the P-384 EK swtpm makes in the high range.
    static const struct {
        TPM2_HANDLE nv, persistent;
        int l2;
    } candidates[] = {{0x01c0000a, 0x81010002, 1}, {0x01c00016, 0x81010016, 0}};
    for (size_t i = 0; i < sizeof candidates / sizeof candidates[0]; i++) {
        if (read_nv(tpm, candidates[i].nv, cert, certcap, certlen) != 0) continue;
        release_ek(tpm);
        ESYS_TR ek = ESYS_TR_NONE;
        int transient = 0;
        if (tss.from_public(tpm->esys, candidates[i].persistent, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &ek) !=
            TSS2_RC_SUCCESS) {
            if (!candidates[i].l2) {
                fail(err, errlen, "the TPM has an EK certificate at NV 0x%x but no EK at 0x%x", candidates[i].nv,
                     candidates[i].persistent);
                return 1;
            }
            if (create_ek_l2(tpm, &ek, err, errlen) != 0) return 1;
            transient = 1;
        }
        TPM2B_PUBLIC *public_area = NULL;
        TSS2_RC rc = tss.read_public(tpm->esys, ek, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &public_area, NULL, NULL);
        if (rc != TSS2_RC_SUCCESS) {
            if (transient) tss.flush(tpm->esys, ek);
            else tss.tr_close(tpm->esys, &ek);
            return fail_rc(err, errlen, "reading the endorsement key (ReadPublic)", rc);
        }
        *publen = 0;
        rc = tss.public_marshal(public_area, pub, pubcap, publen);
        tpm->ek_name_alg = public_area->publicArea.nameAlg;
        tpm->ek_user_with_auth = (public_area->publicArea.objectAttributes & TPMA_OBJECT_USERWITHAUTH) != 0;
        tss.free(public_area);
        tpm->ek = ek;
        tpm->ek_transient = transient;
        if (rc != TSS2_RC_SUCCESS) return fail_rc(err, errlen, "marshalling the endorsement key", rc);
        return 0;
    }
    fail(err, errlen,
         "the TPM holds no ECC endorsement key certificate (NV 0x01c0000a or 0x01c00016); an RSA-only TPM is not "
         "supported yet");
    return 1;
}

int posture_tpm_attestation_key(posture_tpm *tpm, uint8_t *pub, size_t pubcap, size_t *publen, char *err,
                                size_t errlen) {
    TPM2B_SENSITIVE_CREATE sensitive = {0};
    TPM2B_PUBLIC template = {
        .publicArea = {
            .type = TPM2_ALG_ECC,
            .nameAlg = TPM2_ALG_SHA256,
            .objectAttributes = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT | TPMA_OBJECT_SENSITIVEDATAORIGIN |
                                TPMA_OBJECT_USERWITHAUTH | TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_SIGN_ENCRYPT |
                                TPMA_OBJECT_NODA,
            .parameters.eccDetail = {
                .symmetric = {.algorithm = TPM2_ALG_NULL},
                .scheme = {.scheme = TPM2_ALG_ECDSA, .details.ecdsa.hashAlg = TPM2_ALG_SHA256},
                .curveID = TPM2_ECC_NIST_P256,
                .kdf = {.scheme = TPM2_ALG_NULL},
            },
        },
    };
    TPM2B_DATA outside = {0};
    TPML_PCR_SELECTION pcrs = {0};
    TPM2B_PUBLIC *out = NULL;
    if (tpm->ak != ESYS_TR_NONE) {
        tss.flush(tpm->esys, tpm->ak);
        tpm->ak = ESYS_TR_NONE;
    }
    TSS2_RC rc = tss.create_primary(tpm->esys, ESYS_TR_RH_ENDORSEMENT, ESYS_TR_PASSWORD, ESYS_TR_NONE,
                                    ESYS_TR_NONE, &sensitive, &template, &outside, &pcrs, &tpm->ak, &out, NULL, NULL,
                                    NULL);
    if (rc != TSS2_RC_SUCCESS) return fail_rc(err, errlen, "creating the attestation key (CreatePrimary)", rc);
    *publen = 0;
    rc = tss.public_marshal(out, pub, pubcap, publen);
    tss.free(out);
    if (rc != TSS2_RC_SUCCESS) return fail_rc(err, errlen, "marshalling the attestation key", rc);
    return 0;
}

int posture_tpm_activate(posture_tpm *tpm, const uint8_t *credential, size_t credlen, const uint8_t *secret,
                         size_t secretlen, uint8_t *out, size_t outcap, size_t *outlen, char *err, size_t errlen) {
    if (tpm->ak == ESYS_TR_NONE || tpm->ek == ESYS_TR_NONE) {
        fail(err, errlen, "read the endorsement key and create the attestation key first");
        return 1;
    }
    TPM2B_ID_OBJECT blob = {0};
    TPM2B_ENCRYPTED_SECRET encrypted = {0};
    if (credlen > sizeof blob.credential || secretlen > sizeof encrypted.secret) {
        fail(err, errlen, "the credential from the collector is too large");
        return 1;
    }
    blob.size = (UINT16)credlen;
    memcpy(blob.credential, credential, credlen);
    encrypted.size = (UINT16)secretlen;
    memcpy(encrypted.secret, secret, secretlen);
    // The EK authorizes with its policy (PolicySecret on the endorsement hierarchy) unless it allows a password.
    ESYS_TR session = ESYS_TR_PASSWORD;
    if (!tpm->ek_user_with_auth) {
        TPMT_SYM_DEF symmetric = {.algorithm = TPM2_ALG_NULL};
        TSS2_RC rc = tss.start_session(tpm->esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
                                       ESYS_TR_NONE, NULL, TPM2_SE_POLICY, &symmetric, tpm->ek_name_alg, &session);
        if (rc != TSS2_RC_SUCCESS) return fail_rc(err, errlen, "starting the EK policy session", rc);
        rc = tss.policy_secret(tpm->esys, ESYS_TR_RH_ENDORSEMENT, session, ESYS_TR_PASSWORD, ESYS_TR_NONE,
                               ESYS_TR_NONE, NULL, NULL, NULL, 0, NULL, NULL);
        if (rc != TSS2_RC_SUCCESS) {
            tss.flush(tpm->esys, session);
            return fail_rc(err, errlen, "PolicySecret for the EK", rc);
        }
    }
    TPM2B_DIGEST *recovered = NULL;
    TSS2_RC rc = tss.activate(tpm->esys, tpm->ak, tpm->ek, ESYS_TR_PASSWORD, session, ESYS_TR_NONE, &blob,
                              &encrypted, &recovered);
    if (session != ESYS_TR_PASSWORD) tss.flush(tpm->esys, session);
    if (rc != TSS2_RC_SUCCESS) return fail_rc(err, errlen, "ActivateCredential", rc);
    if (recovered->size > outcap) {
        tss.free(recovered);
        fail(err, errlen, "the activated credential is too large");
        return 1;
    }
    memcpy(out, recovered->buffer, recovered->size);
    *outlen = recovered->size;
    tss.free(recovered);
    return 0;
}

static int attest_out(TPM2B_ATTEST *attest, TPMT_SIGNATURE *signature, uint8_t *out, size_t cap, size_t *len,
                      uint8_t r[32], uint8_t s[32], char *err, size_t errlen) {
    int status = 0;
    if (attest->size > cap || signature->sigAlg != TPM2_ALG_ECDSA) {
        fail(err, errlen, "the TPM's attestation is not an ECDSA-signed structure of the expected size");
        status = 1;
    } else {
        memcpy(out, attest->attestationData, attest->size);
        *len = attest->size;
        pad32(&signature->signature.ecdsa.signatureR, r);
        pad32(&signature->signature.ecdsa.signatureS, s);
    }
    tss.free(attest);
    tss.free(signature);
    return status;
}

// The caller's bytes as the TPM2B_DATA a Certify or Quote signs (at most a digest's size and a half).
static int qualifying_data(const uint8_t *qualifying, size_t qlen, TPM2B_DATA *data, char *err, size_t errlen) {
    if (qlen > sizeof data->buffer) {
        fail(err, errlen, "qualifying data is at most %zu bytes", sizeof data->buffer);
        return 1;
    }
    data->size = (UINT16)qlen;
    memcpy(data->buffer, qualifying, qlen);
    return 0;
}

int posture_tpm_certify(posture_tpm *tpm, const uint8_t *qualifying, size_t qlen, uint8_t *attest, size_t cap,
                        size_t *len, uint8_t r[32], uint8_t s[32], char *err, size_t errlen) {
    if (tpm->ak == ESYS_TR_NONE || tpm->key == ESYS_TR_NONE) {
        fail(err, errlen, "load the device key and create the attestation key first");
        return 1;
    }
    TPM2B_DATA data = {0};
    if (qualifying_data(qualifying, qlen, &data, err, errlen) != 0) return 1;
    TPMT_SIG_SCHEME scheme = {.scheme = TPM2_ALG_NULL};
    TPM2B_ATTEST *info = NULL;
    TPMT_SIGNATURE *signature = NULL;
    TSS2_RC rc = tss.certify(tpm->esys, tpm->key, tpm->ak, ESYS_TR_PASSWORD, ESYS_TR_PASSWORD, ESYS_TR_NONE, &data,
                             &scheme, &info, &signature);
    if (rc != TSS2_RC_SUCCESS) return fail_rc(err, errlen, "Certify", rc);
    return attest_out(info, signature, attest, cap, len, r, s, err, errlen);
}

int posture_tpm_quote(posture_tpm *tpm, uint32_t mask, const uint8_t *qualifying, size_t qlen, uint8_t *attest,
                      size_t cap, size_t *len, uint8_t r[32], uint8_t s[32], char *err, size_t errlen) {
    if (tpm->ak == ESYS_TR_NONE) {
        fail(err, errlen, "create the attestation key first");
        return 1;
    }
    TPM2B_DATA data = {0};
    if (qualifying_data(qualifying, qlen, &data, err, errlen) != 0) return 1;
    TPML_PCR_SELECTION selection = {.count = 1};
    selection.pcrSelections[0].hash = TPM2_ALG_SHA256;
    selection.pcrSelections[0].sizeofSelect = 3;
    selection.pcrSelections[0].pcrSelect[0] = (BYTE)(mask & 0xff);
    selection.pcrSelections[0].pcrSelect[1] = (BYTE)((mask >> 8) & 0xff);
    selection.pcrSelections[0].pcrSelect[2] = (BYTE)((mask >> 16) & 0xff);
    TPMT_SIG_SCHEME scheme = {.scheme = TPM2_ALG_NULL};
    TPM2B_ATTEST *quoted = NULL;
    TPMT_SIGNATURE *signature = NULL;
    TSS2_RC rc = tss.quote(tpm->esys, tpm->ak, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &data, &scheme,
                           &selection, &quoted, &signature);
    if (rc != TSS2_RC_SUCCESS) return fail_rc(err, errlen, "Quote", rc);
    return attest_out(quoted, signature, attest, cap, len, r, s, err, errlen);
}

int posture_tpm_pcr_read(posture_tpm *tpm, uint32_t index, uint8_t out[32], char *err, size_t errlen) {
    if (index > 23) {
        fail(err, errlen, "PCR %u does not exist", index);
        return 1;
    }
    TPML_PCR_SELECTION selection = {.count = 1};
    selection.pcrSelections[0].hash = TPM2_ALG_SHA256;
    selection.pcrSelections[0].sizeofSelect = 3;
    selection.pcrSelections[0].pcrSelect[index / 8] = (BYTE)(1u << (index % 8));
    UINT32 counter = 0;
    TPML_PCR_SELECTION *read = NULL;
    TPML_DIGEST *values = NULL;
    TSS2_RC rc = tss.pcr_read(tpm->esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &selection, &counter, &read,
                              &values);
    if (rc != TSS2_RC_SUCCESS) return fail_rc(err, errlen, "PCR_Read", rc);
    int status = 0;
    if (values->count != 1 || values->digests[0].size != 32) {
        fail(err, errlen, "the TPM has no SHA-256 value for PCR %u (is the SHA-256 bank active?)", index);
        status = 1;
    } else {
        memcpy(out, values->digests[0].buffer, 32);
    }
    tss.free(read);
    tss.free(values);
    return status;
}
