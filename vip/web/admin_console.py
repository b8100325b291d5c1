"""The VIP admin's Admin Console (its licenses and banner come with the renewals issue)."""

from __future__ import annotations

from flask import Blueprint, render_template
from flask_login import current_user, login_required

from vip.services import access

bp = Blueprint("admin_console", __name__, url_prefix="/console")


@bp.get("")
@login_required
def index():
    customer = access.get_customer_for(
        user=current_user, customer_id=current_user.customer_id, action="admin_console.use"
    )
    return render_template("admin_console/index.html", customer=customer)
