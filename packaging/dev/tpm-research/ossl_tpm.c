/* gcc ossl_tpm.c -lcrypto ; TPM2OPENSSL_TCTI=swtpm:host=127.0.0.1,port=2321 ./a.out key.pem */
#include <stdio.h>
#include <string.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/provider.h>
#include <openssl/store.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <time.h>

static EVP_PKEY *gen_p256(OSSL_LIB_CTX *lib) {
    EVP_PKEY *pk = NULL;
    EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_name(lib, "EC", "provider=tpm2");
    OSSL_PARAM p[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, "P-256", 0),
        /* optional: OSSL_PARAM_construct_uint32("parent", &h)  default 0x40000001 */
        OSSL_PARAM_construct_end() };
    if (!c || EVP_PKEY_keygen_init(c) <= 0 || EVP_PKEY_CTX_set_params(c, p) <= 0
        || EVP_PKEY_generate(c, &pk) <= 0) pk = NULL;
    EVP_PKEY_CTX_free(c);
    return pk;
}

static EVP_PKEY *load_key(OSSL_LIB_CTX *lib, const char *uri /* file path or handle:0x81000002 */) {
    EVP_PKEY *pk = NULL;
    OSSL_STORE_CTX *s = OSSL_STORE_open_ex(uri, lib, "?provider=tpm2", NULL, NULL, NULL, NULL, NULL);
    while (s && !pk && !OSSL_STORE_eof(s)) {
        OSSL_STORE_INFO *i = OSSL_STORE_load(s);
        if (i && OSSL_STORE_INFO_get_type(i) == OSSL_STORE_INFO_PKEY) pk = OSSL_STORE_INFO_get1_PKEY(i);
        OSSL_STORE_INFO_free(i);
    }
    OSSL_STORE_close(s);
    return pk;
}

/* sign a precomputed SHA-256 digest; output DER ECDSA-Sig-Value */
static int sign_digest(OSSL_LIB_CTX *lib, EVP_PKEY *pk, const unsigned char dg[32],
                       unsigned char *sig, size_t *siglen) {
    EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_pkey(lib, pk, "?provider=tpm2");
    int ok = c && EVP_PKEY_sign_init(c) > 0
        && EVP_PKEY_CTX_set_signature_md(c, EVP_sha256()) > 0
        && EVP_PKEY_sign(c, sig, siglen, dg, 32) > 0;
    EVP_PKEY_CTX_free(c);
    return ok;
}

int main(int argc, char **argv) {
    const char *path = argc > 1 ? argv[1] : "key.pem";
    OSSL_LIB_CTX *lib = OSSL_LIB_CTX_new();            /* private ctx: don't disturb others */
    OSSL_PROVIDER *tpm = OSSL_PROVIDER_load(lib, "tpm2");
    OSSL_PROVIDER *def = OSSL_PROVIDER_load(lib, "default"); /* hashing, PEM/DER, verify */
    if (!tpm || !def) { ERR_print_errors_fp(stderr); return 1; }

    EVP_PKEY *pk = load_key(lib, path);
    if (!pk) {                                         /* first run: create + persist blob */
        ERR_clear_error();
        pk = gen_p256(lib);
        BIO *o = BIO_new_file(path, "w");
        if (!pk || !o || !PEM_write_bio_PrivateKey_ex(o, pk, NULL, NULL, 0, NULL, NULL, lib, NULL)) {
            ERR_print_errors_fp(stderr); return 1; }
        BIO_free(o);
        EVP_PKEY_free(pk);
        pk = load_key(lib, path);                      /* prove the round trip */
        printf("created %s\n", path);
    }
    if (!pk) { ERR_print_errors_fp(stderr); return 1; }
    /* SPKI DER of the public key (for CSR / enrollment) */
    unsigned char *spki = NULL; int n = i2d_PUBKEY(pk, &spki);
    printf("SPKI %d bytes\n", n);

    unsigned char dg[32]; unsigned int dl; unsigned char sig[80]; size_t sl = sizeof sig;
    EVP_Digest("report", 6, dg, &dl, EVP_sha256(), NULL);
    struct timespec t0, t1; clock_gettime(CLOCK_MONOTONIC, &t0);
    if (!sign_digest(lib, pk, dg, sig, &sl)) { ERR_print_errors_fp(stderr); return 1; }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    printf("DER sig %zu bytes, sign took %.2f ms\n", sl, (t1.tv_sec-t0.tv_sec)*1e3 + (t1.tv_nsec-t0.tv_nsec)/1e6);

    /* verify with the software public key (default provider) */
    const unsigned char *pp = spki; EVP_PKEY *pub = d2i_PUBKEY_ex(NULL, &pp, n, lib, "provider=default");
    EVP_PKEY_CTX *vc = EVP_PKEY_CTX_new_from_pkey(lib, pub, "provider=default");
    int v = EVP_PKEY_verify_init(vc) > 0 && EVP_PKEY_CTX_set_signature_md(vc, EVP_sha256()) > 0
            && EVP_PKEY_verify(vc, sig, sl, dg, 32) == 1;
    printf("verify: %s\n", v ? "OK" : "FAIL");
    OPENSSL_free(spki); EVP_PKEY_CTX_free(vc); EVP_PKEY_free(pub); EVP_PKEY_free(pk);
    OSSL_PROVIDER_unload(tpm); OSSL_PROVIDER_unload(def); OSSL_LIB_CTX_free(lib);
    return v ? 0 : 1;
}
