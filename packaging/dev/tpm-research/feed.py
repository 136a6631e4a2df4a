import sys, struct
log = open(sys.argv[1], "rb").read(); o = 0
pcr, et = struct.unpack_from("<II", log, o); o += 28; (esz,) = struct.unpack_from("<I", log, o); o += 4
spec = log[o:o+esz]; o += esz; nalg, = struct.unpack_from("<I", spec, 24)
sizes = dict(struct.unpack_from("<HH", spec, 28+4*i) for i in range(nalg))
while o < len(log):
    pcr, et, cnt = struct.unpack_from("<III", log, o); o += 12; d = None
    for _ in range(cnt):
        (a,) = struct.unpack_from("<H", log, o); o += 2
        if a == 0xb: d = log[o:o+32]
        o += sizes[a]
    (esz,) = struct.unpack_from("<I", log, o); data = log[o+4:o+4+esz]; o += 4 + esz
    if et == 3:
        if data[:16] == b"StartupLocality\0": print("# StartupLocality", data[16], file=sys.stderr)
        continue
    if pcr < 10: print(f"{pcr}:sha256={d.hex()}")
