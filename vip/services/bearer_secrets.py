"""Secrets that stand for their holder in a request (API keys, calendar links): stored only
as a digest, looked up by the digest of what a request presents. The secrets are 256
random bits, so a plain SHA-256 (no salt, no slow hash) is enough and allows the lookup."""

from __future__ import annotations

import hashlib


def digest_of(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()
