import struct, zlib, random

def png_screenshot(w=240, h=160, seed=7):
    """A tiny mock phone screenshot: status bar, title bar, an error dialog."""
    rnd = random.Random(seed)
    rows = []
    for y in range(h):
        row = bytearray([0])  # filter none
        for x in range(w):
            if y < 12:
                c = (30, 30, 30)
            elif y < 36:
                c = (0, 92, 170)
            elif 50 <= y < 120 and 20 <= x < w - 20:
                if y < 66:
                    c = (200, 40, 40)
                elif 96 <= y < 112 and w - 90 <= x < w - 30:
                    c = (0, 92, 170)
                elif 74 <= y < 90 and 30 <= x < w - 30 and (x // 6 + y // 4) % 3:
                    c = (60, 60, 60)
                else:
                    c = (250, 250, 250)
            else:
                n = 4 if (x // 8 + y // 8) % 2 else 0
                c = (225 + n, 228 + n, 232 + n)
            row += bytes(c)
        rows.append(bytes(row))
    raw = b"".join(rows)

    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xFFFFFFFF)

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))


def pdf_invoice(lines):
    """A minimal valid one-page PDF with the given text lines (Helvetica)."""
    def esc(s):
        return s.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
    content = ["BT", "/F1 11 Tf", "14 TL", "56 780 Td"]
    for i, l in enumerate(lines):
        if i == 0:
            content.append("/F1 18 Tf (%s) Tj /F1 11 Tf T* T*" % esc(l))
        else:
            content.append("(%s) Tj T*" % esc(l))
    content.append("ET")
    stream = "\n".join(content).encode("latin-1")
    objs = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Title (Northwind Gadgets Invoice INV-2026-10-4471) /Producer (Northwind Billing 3.2) /CreationDate (D:20261101090000Z) >>",
    ]
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offs = []
    for i, o in enumerate(objs, 1):
        offs.append(len(out))
        out += b"%d 0 obj\n" % i + o + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1)
    for o in offs:
        out += b"%010d 00000 n \n" % o
    out += b"trailer\n<< /Size %d /Root 1 0 R /Info 6 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objs) + 1, xref)
    return bytes(out)
