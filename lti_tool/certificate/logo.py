"""The operator's logo on certificates (CERTIFICATE_LOGO), checked when the app starts.

Apart from certificate/pdf.py, which makes the PDF, so that checking the setting at start loads neither segno nor
WeasyPrint: a web process imports those with its first certificate (tests/test_startup_imports.py).
"""

from __future__ import annotations

import base64
import mimetypes
from pathlib import Path

LOGO_TYPES = {"image/png", "image/jpeg", "image/svg+xml"}


def data_uri(data: bytes, mime: str) -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def operator_logo(setting: str) -> str | None:
    """The operator's logo file (CERTIFICATE_LOGO) as a data URI; None without one. A setting that names no
    readable PNG, JPEG or SVG file is a configuration error, said at once rather than printed as a gap."""
    if not setting:
        return None
    path = Path(setting)
    mime = mimetypes.guess_type(path.name)[0] or ""
    if mime not in LOGO_TYPES or not path.is_file():
        raise ValueError(f"LTI_TOOL_CERTIFICATE_LOGO must name a PNG, JPEG or SVG file: {setting!r}")
    return data_uri(path.read_bytes(), mime)
