"""Draw the web app's PNG icons (run once, the files are committed):
``python -m hospeda.gateway.web.draw_icons``.

Plain Python (zlib) so drawing them needs no imaging library: a white "H" on
the brand blue, with anti-aliased edges (4×4 samples per pixel). The maskable
icon fills the whole square and keeps the letter inside the safe circle (80%).
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

BLUE = (11, 92, 173)
WHITE = (255, 255, 255)
IMG = Path(__file__).parent / "static" / "img"
SAMPLES = 4


def png(width: int, height: int, rows: list[bytes]) -> bytes:
    """An RGBA PNG from ``rows`` of ``width * 4`` bytes."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    raw = b"".join(b"\x00" + row for row in rows)
    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw, 9))
        + chunk(b"IEND", b"")
    )


def in_letter(x: float, y: float, scale: float) -> bool:
    """The "H", in a unit square centred on 0.5, shrunk by ``scale``."""
    u, v = (x - 0.5) / scale + 0.5, (y - 0.5) / scale + 0.5
    if not (0.22 <= v <= 0.78):
        return False
    stem = 0.13
    return (
        0.24 <= u <= 0.24 + stem
        or 0.76 - stem <= u <= 0.76
        or (0.44 <= v <= 0.56 and 0.24 <= u <= 0.76)
    )


def in_tile(x: float, y: float, radius: float) -> bool:
    """A rounded square filling the unit square (``radius`` 0: the full square)."""
    cx, cy = min(max(x, radius), 1 - radius), min(max(y, radius), 1 - radius)
    return (x - cx) ** 2 + (y - cy) ** 2 <= radius**2


def icon(size: int, *, maskable: bool) -> bytes:
    radius, scale = (0.0, 0.72) if maskable else (0.2, 1.0)
    rows = []
    step = 1 / (size * SAMPLES)
    for py in range(size):
        row = bytearray()
        for px in range(size):
            tile = letter = 0
            for sy in range(SAMPLES):
                for sx in range(SAMPLES):
                    x = (px * SAMPLES + sx + 0.5) * step
                    y = (py * SAMPLES + sy + 0.5) * step
                    if in_tile(x, y, radius):
                        tile += 1
                        letter += in_letter(x, y, scale)
            n = SAMPLES * SAMPLES
            if tile == 0:
                row += b"\x00\x00\x00\x00"
                continue
            mix = letter / tile
            colour = [round(b + (w - b) * mix) for b, w in zip(BLUE, WHITE, strict=True)]
            row += bytes([*colour, round(255 * tile / n)])
        rows.append(bytes(row))
    return png(size, size, rows)


def main() -> None:
    IMG.mkdir(parents=True, exist_ok=True)
    (IMG / "icon-192.png").write_bytes(icon(192, maskable=False))
    (IMG / "icon-512.png").write_bytes(icon(512, maskable=False))
    (IMG / "icon-maskable-512.png").write_bytes(icon(512, maskable=True))


if __name__ == "__main__":
    main()
