"""Security headers: `X-Content-Type-Options: nosniff` on every response, and on every HTML page (the
dashboard, /docs, /redoc) a Content-Security-Policy that allows scripts from the service itself and the
page's own inline scripts by their SHA-256 hash (Swagger UI's initialisation), nothing else: a script
injected into a page (a job's argument shown in the dashboard) does not run.
"""

from __future__ import annotations

import base64
import hashlib
import re

NOSNIFF = (b"x-content-type-options", b"nosniff")
MAX_HTML_BYTES = 1024 * 1024  # an HTML page is held this far to hash its inline scripts
_INLINE_SCRIPT = re.compile(rb"<script(?![^>]*\bsrc\s*=)[^>]*>(.*?)</script>", re.S | re.I)
POLICY = (
    "default-src 'self'; script-src 'self'{hashes}; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; worker-src 'self' blob:; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


def needs_policy(headers: list[tuple[bytes, bytes]]) -> bool:
    """An HTML page without a policy of its own (the dashboard sets a stricter one itself)."""
    names = {name.lower(): value for name, value in headers}
    return (
        names.get(b"content-type", b"").startswith(b"text/html") and b"content-security-policy" not in names
    )


def content_security_policy(html: bytes) -> bytes:
    """The policy for this page: its inline scripts allowed by hash, and only them."""
    hashes = "".join(
        f" 'sha256-{base64.b64encode(hashlib.sha256(script).digest()).decode()}'"
        for script in _INLINE_SCRIPT.findall(html)
    )
    return POLICY.format(hashes=hashes).encode()
