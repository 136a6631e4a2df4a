/* gcc esys_demo.c -ltss2-esys -ltss2-tctildr -ltss2-mu -o esys_demo */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <tss2/tss2_esys.h>
#include <tss2/tss2_tctildr.h>
#include <tss2/tss2_mu.h>

#define CHK(x) do { TSS2_RC _r = (x); if (_r) { fprintf(stderr, "%s:%d %s -> 0x%x\n", __FILE__, __LINE__, #x, _r); exit(1);} } while (0)
static double ms(struct timespec a, struct timespec b) { return (b.tv_sec-a.tv_sec)*1e3 + (b.tv_nsec-a.tv_nsec)/1e6; }
static size_t slurp(const char *p, uint8_t *buf, size_t max) { FILE *f = fopen(p, "rb"); size_t n = fread(buf, 1, max, f); fclose(f); return n; }
static void dump(const char *p, const void *b, size_t n) { FILE *f = fopen(p, "wb"); fwrite(b, 1, n, f); fclose(f); }

int main(void) {
    TSS2_TCTI_CONTEXT *tcti; ESYS_CONTEXT *ec; struct timespec t0, t1;
    const char *conf = getenv("TCTI") ? getenv("TCTI") : "swtpm:host=127.0.0.1,port=2321";
    CHK(Tss2_TctiLdr_Initialize(conf, &tcti));
    CHK(Esys_Initialize(&ec, tcti, NULL));

    /* --- ECC P-256 SRK (same template tpm2-openssl uses for parent 0x40000001) --- */
    TPM2B_PUBLIC srkT = { .publicArea = { .type = TPM2_ALG_ECC, .nameAlg = TPM2_ALG_SHA256,
        .objectAttributes = TPMA_OBJECT_USERWITHAUTH|TPMA_OBJECT_RESTRICTED|TPMA_OBJECT_DECRYPT|TPMA_OBJECT_NODA|
                            TPMA_OBJECT_FIXEDTPM|TPMA_OBJECT_FIXEDPARENT|TPMA_OBJECT_SENSITIVEDATAORIGIN,
        .parameters.eccDetail = { .symmetric = { .algorithm = TPM2_ALG_AES, .keyBits.aes = 128, .mode.aes = TPM2_ALG_CFB },
            .scheme.scheme = TPM2_ALG_NULL, .curveID = TPM2_ECC_NIST_P256, .kdf.scheme = TPM2_ALG_NULL } } };
    TPM2B_SENSITIVE_CREATE noAuth = {0}; TPM2B_DATA none = {0}; TPML_PCR_SELECTION noPcr = {0};
    ESYS_TR srk;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    CHK(Esys_CreatePrimary(ec, ESYS_TR_RH_OWNER, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE,
                           &noAuth, &srkT, &none, &noPcr, &srk, NULL, NULL, NULL, NULL));
    clock_gettime(CLOCK_MONOTONIC, &t1); printf("CreatePrimary(SRK) %.1f ms\n", ms(t0, t1));

    /* --- load device key from the TSS2 PRIVATE KEY blob (pub/priv OCTET STRINGs) --- */
    uint8_t b[2048]; size_t n, off; TPM2B_PUBLIC dpub = {0}; TPM2B_PRIVATE dpriv = {0}; ESYS_TR dev;
    n = slurp("../dev.pub", b, sizeof b); off = 0; CHK(Tss2_MU_TPM2B_PUBLIC_Unmarshal(b, n, &off, &dpub));
    n = slurp("../dev.priv", b, sizeof b); off = 0; CHK(Tss2_MU_TPM2B_PRIVATE_Unmarshal(b, n, &off, &dpriv));
    CHK(Esys_Load(ec, srk, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &dpriv, &dpub, &dev));

    /* --- Sign a SHA-256 digest (unrestricted key -> NULL hashcheck ticket) --- */
    TPM2B_DIGEST dg = { .size = 32 }; memset(dg.buffer, 0xab, 32);
    TPMT_SIG_SCHEME ecdsa = { .scheme = TPM2_ALG_ECDSA, .details.ecdsa.hashAlg = TPM2_ALG_SHA256 };
    TPMT_TK_HASHCHECK nullTicket = { .tag = TPM2_ST_HASHCHECK, .hierarchy = TPM2_RH_NULL };
    TPMT_SIGNATURE *sig;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    CHK(Esys_Sign(ec, dev, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &dg, &ecdsa, &nullTicket, &sig));
    clock_gettime(CLOCK_MONOTONIC, &t1);
    printf("Sign %.2f ms  r=%u s=%u bytes (raw r,s; convert to DER yourself)\n", ms(t0, t1),
           sig->signature.ecdsa.signatureR.size, sig->signature.ecdsa.signatureS.size);

    /* --- AK persisted by tpm2-tools at 0x81000002 (restricted, ECDSA-SHA256) --- */
    ESYS_TR ak; CHK(Esys_TR_FromTPMPublic(ec, 0x81000002, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &ak));
    TPM2B_DATA qd = { .size = 32 }; memset(qd.buffer, 0x5a, 32);   /* = SHA256(nonce || reportDigest) */
    TPMT_SIG_SCHEME nullScheme = { .scheme = TPM2_ALG_NULL };      /* use the AK's own scheme */
    TPM2B_ATTEST *att; TPMT_SIGNATURE *asig;
    CHK(Esys_Certify(ec, dev, ak, ESYS_TR_PASSWORD, ESYS_TR_PASSWORD, ESYS_TR_NONE, &qd, &nullScheme, &att, &asig));
    dump("certify.attest", att->attestationData, att->size);
    off = 0; n = 0; Tss2_MU_TPMT_SIGNATURE_Marshal(asig, b, sizeof b, &n); dump("certify.tpmt_sig", b, n);
    Esys_Free(att); Esys_Free(asig);

    TPML_PCR_SELECTION sel = { .count = 1, .pcrSelections = { { .hash = TPM2_ALG_SHA256, .sizeofSelect = 3,
                                                                .pcrSelect = { 0xff, 0x03, 0x00 } } } };   /* PCR 0-9 */
    clock_gettime(CLOCK_MONOTONIC, &t0);
    CHK(Esys_Quote(ec, ak, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &qd, &nullScheme, &sel, &att, &asig));
    clock_gettime(CLOCK_MONOTONIC, &t1); printf("Quote %.2f ms, attest %u bytes\n", ms(t0, t1), att->size);
    dump("quote.attest", att->attestationData, att->size);
    n = 0; Tss2_MU_TPMT_SIGNATURE_Marshal(asig, b, sizeof b, &n); dump("quote.tpmt_sig", b, n);

    Esys_FlushContext(ec, dev); Esys_FlushContext(ec, srk);  /* swtpm has no RM: only 3 transient slots */
    /* --- EK public + EK cert from NV --- */
    struct { TPM2_HANDLE ek, nv; const char *cred; } eks[] = {
        { 0x81010001, 0x01c00002, "../py/cred_rsa.bin" }, { 0x81010016, 0x01c00016, "../py/cred_ecc.bin" } };
    for (int i = 0; i < 2; i++) {
        ESYS_TR ek, nvh; TPM2B_PUBLIC *ekpub; TPM2B_NV_PUBLIC *nvpub;
        CHK(Esys_TR_FromTPMPublic(ec, eks[i].ek, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &ek));
        CHK(Esys_ReadPublic(ec, ek, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &ekpub, NULL, NULL));
        CHK(Esys_TR_FromTPMPublic(ec, eks[i].nv, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &nvh));
        CHK(Esys_NV_ReadPublic(ec, nvh, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &nvpub, NULL));
        uint16_t total = nvpub->nvPublic.dataSize, got = 0; uint8_t cert[4096];
        while (got < total) {   /* chunk: TPM2_PT_NV_BUFFER_MAX (1024 on swtpm) */
            TPM2B_MAX_NV_BUFFER *d; uint16_t want = total - got > 1024 ? 1024 : total - got;
            CHK(Esys_NV_Read(ec, nvh, nvh, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, want, got, &d));
            memcpy(cert + got, d->buffer, d->size); got += d->size; Esys_Free(d);
        }
        char fn[64]; snprintf(fn, sizeof fn, "ekcert_%08x.der", eks[i].nv); dump(fn, cert, got);
        printf("EK 0x%08x type=0x%04x nameAlg=0x%04x attrs=0x%08x cert %u bytes\n", eks[i].ek,
               ekpub->publicArea.type, ekpub->publicArea.nameAlg, ekpub->publicArea.objectAttributes, got);

        /* --- ActivateCredential: AK (ADMIN role, password) + EK (USER role via PolicySecret(RH_ENDORSEMENT)) --- */
        TPM2B_ID_OBJECT idobj = {0}; TPM2B_ENCRYPTED_SECRET sec = {0};
        n = slurp(eks[i].cred, b, sizeof b); off = 8;   /* skip tpm2-tools header BADCC0DE 00000001 */
        CHK(Tss2_MU_TPM2B_ID_OBJECT_Unmarshal(b, n, &off, &idobj));
        CHK(Tss2_MU_TPM2B_ENCRYPTED_SECRET_Unmarshal(b, n, &off, &sec));
        ESYS_TR ps; TPMT_SYM_DEF symNull = { .algorithm = TPM2_ALG_NULL };
        CHK(Esys_StartAuthSession(ec, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
                                  NULL, TPM2_SE_POLICY, &symNull, ekpub->publicArea.nameAlg, &ps));
        CHK(Esys_PolicySecret(ec, ESYS_TR_RH_ENDORSEMENT, ps, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE,
                              NULL, NULL, NULL, 0, NULL, NULL));
        if (ekpub->publicArea.nameAlg == TPM2_ALG_SHA384) {   /* H-template EK: authPolicy = PolicyB = OR(PolicyA, PolicyC) */
            TPML_DIGEST ors = { .count = 2 };
            static const char *ha = "8bbf2266537c171cb56e403c4dc1d4b64f432611dc386e6f532050c3278c930e143e8bb1133824ccb431053871c6db53";
            static const char *hc = "d6032ce61f2fb3c240eb3cf6a33237ef2b6a16f4293c22b455e261cffd217ad5b4947c2d73e63005eed2dc2b3593d165";
            for (int k = 0; k < 48; k++) { sscanf(ha + 2*k, "%2hhx", &ors.digests[0].buffer[k]); sscanf(hc + 2*k, "%2hhx", &ors.digests[1].buffer[k]); }
            ors.digests[0].size = ors.digests[1].size = 48;
            CHK(Esys_PolicyOR(ec, ps, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &ors));
        }
        TPM2B_DIGEST *certInfo; TSS2_RC r;
        r = Esys_ActivateCredential(ec, ak, ek, ESYS_TR_PASSWORD, ps, ESYS_TR_NONE, &idobj, &sec, &certInfo);
        printf("  ActivateCredential via PolicySecret: rc=0x%x %s%.*s\n", r, r ? "" : "secret=", r ? 0 : certInfo->size, r ? "" : (char *)certInfo->buffer);
        Esys_FlushContext(ec, ps);
        Esys_Free(ekpub); Esys_Free(nvpub);
    }
    Esys_Finalize(&ec); Tss2_TctiLdr_Finalize(&tcti);
    return 0;
}
