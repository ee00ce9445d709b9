"""The smallest invoice PDFs that still have a real text layer: about 1 KB each,
written by hand, deterministic, and read without OCR. For load tests and
benchmarks that need thousands of distinct documents in seconds (``paperbeam
synth`` makes realistic ones; these are only fast)."""

from __future__ import annotations


def tiny_pdf(lines) -> bytes:
    """A one-page PDF with a real text layer, written by hand: deterministic and about 1 KB."""
    ops, y = [], 800
    for line in lines:
        esc = line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
        ops.append(f"BT /F1 11 Tf 50 {y} Td ({esc}) Tj ET")
        y -= 16
    stream = "\n".join(ops).encode("latin-1")
    objs = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 5 0 R >> >> /Contents 4 0 R >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out, offsets = bytearray(b"%PDF-1.4\n"), []
    for i, body in enumerate(objs, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1)
    out += b"".join(b"%010d 00000 n \n" % off for off in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objs) + 1, xref)
    return bytes(out)


def invoice(i: int, variant: str = "") -> bytes:
    return tiny_pdf([f"ACME Supplies GmbH {variant}", "INVOICE", f"Invoice No: INV-{i:06d}",
                     f"Date: {1 + i % 28:02d}/10/2024", f"Widget {i} 1 {100 + i % 900}.00", f"Total: {100 + i % 900}.00 EUR"])
