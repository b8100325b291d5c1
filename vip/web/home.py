"""The landing page: reseller users go to their customers, VIP admins to their console."""

from flask import Blueprint, redirect, url_for
from flask_login import current_user, login_required

from vip.models import Role

bp = Blueprint("home", __name__)


@bp.get("/")
@login_required
def index():
    if current_user.role == Role.VIP_ADMIN:
        return redirect(url_for("admin_console.index"))
    return redirect(url_for("customers.index"))


@bp.get("/healthz")
def health():
    """For load balancers and monitors: the app answers, without touching the database.
    Also the fixed-string baseline of bench/throughput.py."""
    return "ok\n", 200, {"Content-Type": "text/plain; charset=utf-8"}
