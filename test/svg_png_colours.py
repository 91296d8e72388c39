#!/usr/bin/env python3
"""svg_png_colours.py PNG -- count the pixels of a rendered edp.trips_svg map by colour.

Reads an 8-bit RGB or RGBA PNG (what headless Chromium's --screenshot writes) with
zlib only, undoes the scanline filters, and prints one line:
    width height total background area trips groups other
where the classes are the colours edp.trips_svg draws with (sql/edp--1.0.sql):
    background  the page, white
    area        the area's fill #f5f3ee
    trips       the trip lines, #3778bf at 25% opacity and 0.5 px: blue over the fill
    groups      the group routes and origin dots, #d1495b: red
Antialiased edges fall between classes; thresholds are wide on purpose.
"""
import struct
import sys
import zlib


def read_png(path):
    with open(path, "rb") as f:
        data = f.read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        sys.exit("%s: not a PNG file" % path)
    pos = 8
    idat = []
    width = height = None
    while pos < len(data):
        length, ctype = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        pos += 12 + length
        if ctype == b"IHDR":
            width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", body)
            if depth != 8 or colour not in (2, 6) or interlace != 0:
                sys.exit("%s: only 8-bit RGB/RGBA non-interlaced PNGs are read" % path)
            bpp = 3 if colour == 2 else 4
        elif ctype == b"IDAT":
            idat.append(body)
        elif ctype == b"IEND":
            break
    raw = zlib.decompress(b"".join(idat))
    stride = width * bpp
    rows = []
    prev = bytearray(stride)
    for y in range(height):
        ftype = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        if ftype == 1:
            for i in range(bpp, stride):
                line[i] = (line[i] + line[i - bpp]) & 0xFF
        elif ftype == 2:
            for i in range(stride):
                line[i] = (line[i] + prev[i]) & 0xFF
        elif ftype == 3:
            for i in range(stride):
                left = line[i - bpp] if i >= bpp else 0
                line[i] = (line[i] + ((left + prev[i]) >> 1)) & 0xFF
        elif ftype == 4:
            for i in range(stride):
                a = line[i - bpp] if i >= bpp else 0
                b = prev[i]
                c = prev[i - bpp] if i >= bpp else 0
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                line[i] = (line[i] + pred) & 0xFF
        elif ftype != 0:
            sys.exit("%s: bad filter type %d" % (path, ftype))
        rows.append(line)
        prev = line
    return width, height, bpp, rows


def main():
    width, height, bpp, rows = read_png(sys.argv[1])
    counts = {"background": 0, "area": 0, "trips": 0, "groups": 0, "other": 0}
    for line in rows:
        for i in range(0, len(line), bpp):
            r, g, b = line[i], line[i + 1], line[i + 2]
            if r >= 250 and g >= 250 and b >= 250:
                counts["background"] += 1
            elif abs(r - 0xf5) <= 3 and abs(g - 0xf3) <= 3 and abs(b - 0xee) <= 3:
                counts["area"] += 1
            elif b >= r + 25 and b >= g:
                counts["trips"] += 1
            elif r >= g + 60 and r >= b + 40:
                counts["groups"] += 1
            else:
                counts["other"] += 1
    print(width, height, width * height, counts["background"], counts["area"],
          counts["trips"], counts["groups"], counts["other"])


if __name__ == "__main__":
    main()
