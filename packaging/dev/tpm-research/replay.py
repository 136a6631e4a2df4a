import sys, struct, hashlib
EV_NO_ACTION, EV_SEPARATOR, EV_EFI_VAR_DRIVER_CONFIG = 0x3, 0x4, 0x80000001
ALG = {0x0004: 'sha1', 0x000b: 'sha256', 0x000c: 'sha384', 0x000d: 'sha512'}
EFI_GLOBAL_VARIABLE = bytes.fromhex("61dfe48bca93d211aa0d00e098032b8c")  # 8BE4DF61-93CA-11D2-AA0D-00E098032B8C, mixed-endian on disk
def replay(log):
    o = 0
    # 1) TCG_PCR_EVENT (SHA1-format header): pcrIndex u32, eventType u32, digest[20], eventSize u32, event
    pcr, etype = struct.unpack_from("<II", log, o); o += 8 + 20
    (esz,) = struct.unpack_from("<I", log, o); o += 4
    spec = log[o:o+esz]; o += esz
    assert etype == EV_NO_ACTION and spec[:16] == b"Spec ID Event03\0"
    plat, vmin, vmaj, errata, uintn, nalg = struct.unpack_from("<IBBBBI", spec, 16)
    sizes = {}
    for i in range(nalg):
        a, s = struct.unpack_from("<HH", spec, 28 + 4*i); sizes[a] = s
    pcrs = {i: bytearray(32) for i in range(24)}
    secureboot = None; n = 0
    while o < len(log):
        # 2) TCG_PCR_EVENT2: pcrIndex u32, eventType u32, TPML_DIGEST_VALUES{count u32, (alg u16, digest[size])*}, eventSize u32, event
        pcr, etype, cnt = struct.unpack_from("<III", log, o); o += 12
        d256 = None
        for _ in range(cnt):
            (a,) = struct.unpack_from("<H", log, o); o += 2
            if a == 0x000b: d256 = log[o:o+32]
            o += sizes[a]
        (esz,) = struct.unpack_from("<I", log, o); o += 4
        data = log[o:o+esz]; o += esz; n += 1
        if etype == EV_NO_ACTION:
            if pcr == 0 and data[:16] == b"StartupLocality\0": pcrs[0][31] = data[16]
            continue
        pcrs[pcr] = bytearray(hashlib.sha256(bytes(pcrs[pcr]) + d256).digest())
        if etype == EV_EFI_VAR_DRIVER_CONFIG and pcr == 7:
            guid = data[:16]; nlen, dlen = struct.unpack_from("<QQ", data, 16)
            name = data[32:32+2*nlen].decode("utf-16-le"); val = data[32+2*nlen:32+2*nlen+dlen]
            ok = hashlib.sha256(data).digest() == d256
            print(f"  PCR7 var {name!r} guid_ok={guid==EFI_GLOBAL_VARIABLE} len={dlen} digest_matches_data={ok}")
            if name == "SecureBoot" and guid == EFI_GLOBAL_VARIABLE: secureboot = val
    print(f"spec {vmaj}.{vmin} errata {errata} uintn {uintn} algs {{{', '.join(f'{ALG.get(a,hex(a))}:{s}' for a,s in sizes.items())}}} events {n}")
    for i in range(10): print(f"  {i}: {pcrs[i].hex()}")
    print("  SecureBoot =", secureboot.hex() if secureboot is not None else None)
replay(open(sys.argv[1], "rb").read())
