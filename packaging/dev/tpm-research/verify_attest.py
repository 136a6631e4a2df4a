import struct, hashlib, sys
sys.path.insert(0, "py"); from mkcred import parse_public, name_of
from cryptography.hazmat.primitives.asymmetric import ec, utils
from cryptography.hazmat.primitives import hashes
def b2(b, o): n = struct.unpack_from(">H", b, o)[0]; return b[o+2:o+2+n], o+2+n
def parse_attest(a):
    magic, typ = struct.unpack_from(">IH", a, 0); o = 6
    signer, o = b2(a, o); extra, o = b2(a, o)
    clock, reset, restart, safe = struct.unpack_from(">QIIB", a, o); o += 17
    fw, = struct.unpack_from(">Q", a, o); o += 8
    r = dict(magic=hex(magic), type=hex(typ), signer=signer.hex(), extra=extra.hex(), clock=clock, reset=reset, restart=restart, safe=safe, fw=hex(fw))
    if typ == 0x8018:                                  # TPMS_QUOTE_INFO
        cnt, = struct.unpack_from(">I", a, o); o += 4; sels = []
        for _ in range(cnt):
            alg, sz = struct.unpack_from(">HB", a, o); o += 3; sels.append((hex(alg), a[o:o+sz].hex())); o += sz
        r['pcrSelect'] = sels; r['pcrDigest'], o = b2(a, o)
    elif typ == 0x8017:                                # TPMS_CERTIFY_INFO
        r['name'], o = b2(a, o); r['qualifiedName'], o = b2(a, o)
    assert o == len(a); return r
def verify(attest, tsig, akpub):
    alg, halg = struct.unpack_from(">HH", tsig, 0); rr, o = b2(tsig, 4); ss, o = b2(tsig, o)
    assert alg == 0x0018 and halg == 0x000b            # TPM_ALG_ECDSA, SHA256
    der = utils.encode_dss_signature(int.from_bytes(rr, 'big'), int.from_bytes(ss, 'big'))
    akpub['key'].verify(der, attest, ec.ECDSA(hashes.SHA256())); return True
ak = parse_public(open("ak_full.pub", "rb").read()); dev = parse_public(open("dev.pub", "rb").read())
q = open("c/quote.attest", "rb").read(); c = open("c/certify.attest", "rb").read()
pq = parse_attest(q); pc = parse_attest(c)
print("quote", pq, "sig ok", verify(q, open("c/quote.tpmt_sig", "rb").read(), ak))
print("  signer==AK name", bytes.fromhex(pq['signer'])[:2].hex(), "(qualifiedName of AK)")
print("  pcrDigest == H(PCR0..9)", pq['pcrDigest'] == hashlib.sha256(bytes(320)).digest())
print("certify", {k: (v.hex() if isinstance(v, bytes) else v) for k, v in pc.items()}, "sig ok", verify(c, open("c/certify.tpmt_sig", "rb").read(), ak))
print("  certified name == 000b||SHA256(TPMT_PUBLIC of dev key):", pc['name'] == name_of(dev))
