"""The landing page: for reseller users the team's dashboard (Översikt), whose sections
refresh one by one over htmx; VIP admins go to their Admin Console."""

from flask import Blueprint, redirect, render_template, url_for
from flask_babel import get_locale
from flask_login import current_user, login_required

from vip import clock
from vip.models import Role
from vip.services import dashboard
from vip.web.htmx import is_htmx
from vip.web.labels import dashboard_section_labels
from vip.web.versions import entity_tag, shown_is_current


def _tags(versions: dict) -> dict[str, str]:
    """Section key -> the tag of its version in the user's language."""
    language = str(get_locale())
    return {key: entity_tag(*version, language) for key, version in versions.items()}


bp = Blueprint("home", __name__)

SECTION_KEYS = ", ".join(key.value for key in dashboard.SectionKey)


@bp.get("/")
@login_required
def index():
    if current_user.role == Role.VIP_ADMIN:
        return redirect(url_for("admin_console.home"))
    today = clock.today_for(current_user)
    return render_template(
        "dashboard/index.html",
        sections=dashboard.dashboard(user=current_user, today=today),
        shown_tags=_tags(dashboard.section_versions(user=current_user, today=today)),
        titles=dashboard_section_labels(),
        today=today,
    )


@bp.get(f"/dashboard/sections/<any({SECTION_KEYS}):section>")
@login_required
def dashboard_section(section: str):
    """One section, for its own refresh; without htmx, the dashboard at that section.
    When the version the page shows is still the current one, 204 and nothing rendered:
    htmx keeps the section as it is."""
    if not is_htmx():
        return redirect(url_for("home.index", _anchor=f"section-{section}"))
    today = clock.today_for(current_user)
    tags = _tags(dashboard.section_versions(user=current_user, today=today, keys=[section]))
    if shown_is_current(tags[section]):
        return "", 204
    return render_template(
        "dashboard/_section.html",
        section=dashboard.section(user=current_user, key=section, today=today),
        shown=tags[section],
        titles=dashboard_section_labels(),
        today=today,
    )


@bp.get("/healthz")
def health():
    """For load balancers and monitors: the app answers, without touching the database.
    Also the fixed-string baseline of bench/throughput.py."""
    return "ok\n", 200, {"Content-Type": "text/plain; charset=utf-8"}
