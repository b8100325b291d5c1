"""An unexpected error as an incident: logged once with its traceback under a short id the
user can quote, and the request's transaction rolled back. The pages (security.py) and the
API (api/problems.py) answer it each in their own form."""

from __future__ import annotations

import logging
import uuid

from flask import request

from vip.extensions import db


def record_incident(error: Exception, log: logging.Logger) -> str:
    incident = uuid.uuid4().hex[:12]
    log.error(
        "incident %s: unhandled error on %s %s",
        incident,
        request.method,
        request.path,
        exc_info=error,
    )
    try:
        db.session.rollback()
    except Exception:  # pragma: no cover - the database itself may be what failed
        log.exception("incident %s: rollback failed too", incident)
    return incident
