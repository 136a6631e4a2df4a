# Software TPM2_MakeCredential, verified against swtpm ActivateCredential.
import sys, os, struct, hashlib, hmac
from cryptography.hazmat.primitives.asymmetric import ec, rsa, padding
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

H = {0x0b: hashlib.sha256, 0x0c: hashlib.sha384}
HC = {0x0b: hashes.SHA256, 0x0c: hashes.SHA384}
CURVE = {0x03: ec.SECP256R1, 0x04: ec.SECP384R1}

def u16(b, o): return struct.unpack(">H", b[o:o+2])[0], o+2
def tpm2b(b, o):
    n, o = u16(b, o); return b[o:o+n], o+n

def parse_public(blob):          # blob = TPM2B_PUBLIC (size || TPMT_PUBLIC)
    tpmt, _ = tpm2b(blob, 0)
    o = 0
    typ, o = u16(tpmt, o); name_alg, o = u16(tpmt, o)
    attrs = struct.unpack(">I", tpmt[o:o+4])[0]; o += 4
    policy, o = tpm2b(tpmt, o)
    sym, o = u16(tpmt, o); symbits = 0
    if sym != 0x10: symbits, o = u16(tpmt, o); _, o = u16(tpmt, o)  # keyBits, mode
    scheme, o = u16(tpmt, o)
    if scheme != 0x10: _, o = u16(tpmt, o)
    p = dict(type=typ, nameAlg=name_alg, attrs=attrs, policy=policy, sym=sym, symbits=symbits, tpmt=tpmt)
    if typ == 0x0001:  # RSA
        p['bits'], o = u16(tpmt, o); exp = struct.unpack(">I", tpmt[o:o+4])[0]; o += 4
        n, o = tpm2b(tpmt, o); p['key'] = rsa.RSAPublicNumbers(exp or 65537, int.from_bytes(n, 'big')).public_key()
    else:              # ECC
        curve, o = u16(tpmt, o); kdf, o = u16(tpmt, o)
        if kdf != 0x10: _, o = u16(tpmt, o)
        x, o = tpm2b(tpmt, o); y, o = tpm2b(tpmt, o)
        p['x'] = x; p['curve'] = CURVE[curve]()
        p['key'] = ec.EllipticCurvePublicNumbers(int.from_bytes(x,'big'), int.from_bytes(y,'big'), p['curve']).public_key()
    return p

def name_of(p): return struct.pack(">H", p['nameAlg']) + H[p['nameAlg']](p['tpmt']).digest()

def kdfa(alg, key, label, ctxu, ctxv, bits):
    out, i = b"", 1
    while len(out) * 8 < bits:
        out += hmac.new(key, struct.pack(">I", i) + label + b"\0" + ctxu + ctxv + struct.pack(">I", bits), H[alg]).digest(); i += 1
    return out[:bits // 8]

def kdfe(alg, z, label, pu, pv, bits):
    out, i = b"", 1
    while len(out) * 8 < bits:
        out += H[alg](struct.pack(">I", i) + z + label + b"\0" + pu + pv).digest(); i += 1
    return out[:bits // 8]

def make_credential(ek, ak_name, cred):
    alg = ek['nameAlg']; hlen = H[alg]().digest_size
    if ek['type'] == 0x0001:
        seed = os.urandom(hlen)
        enc_secret = ek['key'].encrypt(seed, padding.OAEP(mgf=padding.MGF1(HC[alg]()), algorithm=HC[alg](), label=b"IDENTITY\0"))
    else:
        eph = ec.generate_private_key(ek['curve'])
        z = eph.exchange(ec.ECDH(), ek['key'])               # x-coordinate of shared point
        n = (ek['curve'].key_size + 7) // 8
        en = eph.public_key().public_numbers()
        ex, ey = en.x.to_bytes(n, 'big'), en.y.to_bytes(n, 'big')
        seed = kdfe(alg, z, b"IDENTITY", ex, ek['x'], hlen * 8)
        enc_secret = struct.pack(">H", n) + ex + struct.pack(">H", n) + ey   # TPMS_ECC_POINT
    symkey = kdfa(alg, seed, b"STORAGE", ak_name, b"", ek['symbits'])
    hmackey = kdfa(alg, seed, b"INTEGRITY", b"", b"", hlen * 8)
    plain = struct.pack(">H", len(cred)) + cred                        # TPM2B_DIGEST
    enc = Cipher(algorithms.AES(symkey), modes.CFB(b"\0" * 16)).encryptor().update(plain)
    outer = hmac.new(hmackey, enc + ak_name, H[alg]).digest()
    id_object = struct.pack(">H", len(outer)) + outer + enc           # TPMS_ID_OBJECT
    return (struct.pack(">H", len(id_object)) + id_object,             # TPM2B_ID_OBJECT
            struct.pack(">H", len(enc_secret)) + enc_secret)           # TPM2B_ENCRYPTED_SECRET

if __name__ == "__main__":
    ek = parse_public(open(sys.argv[1], "rb").read())
    akpub = parse_public(open(sys.argv[2], "rb").read())
    ak_name = name_of(akpub)
    assert ak_name == open(sys.argv[3], "rb").read(), "AK name mismatch"
    idobj, secret = make_credential(ek, ak_name, open(sys.argv[4], "rb").read())
    # tpm2-tools credential file: BADCC0DE || u32 version 1 || TPM2B_ID_OBJECT || TPM2B_ENCRYPTED_SECRET
    open(sys.argv[5], "wb").write(bytes.fromhex("badcc0de00000001") + idobj + secret)
    print("ok", hex(ek['nameAlg']), ek['symbits'], len(idobj), len(secret))
