"""QR codes as inline SVG images (``data:`` URIs: the page's CSP allows those
for images, and nothing leaves the server — an authenticator secret must not)."""

from __future__ import annotations

import segno


def qr_svg_data_uri(text: str) -> str:
    return str(segno.make(text, error="m").svg_data_uri(scale=6, border=2))
