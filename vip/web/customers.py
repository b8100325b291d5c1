"""Customers list, Customer details (Kunddetaljer) tabs, and creating a customer."""

from __future__ import annotations

from datetime import date
from functools import cache

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from wtforms import EmailField, SelectField, StringField

from vip import clock
from vip.services import (
    access,
    audit,
    authorizations,
    customer_status,
    customers,
    dashboard,
    discount_levels,
    invitations,
    orders,
    renewals,
    timeline,
)
from vip.services.errors import DomainError
from vip.web import charts
from vip.web.cached_regions import cached_html, cached_value, data_stamp
from vip.web.forms import CONTROL_CHARACTERS, Form, attach_errors
from vip.web.htmx import is_htmx, render_page_or_partial, render_page_or_region
from vip.web.labels import (
    CUSTOMER_STATUS_LABELS,
    LANGUAGE_CHOICES,
    country_choices,
    dashboard_section_labels,
    market_segment_choices,
)
from vip.web.throttling import signed_in_account, throttled

bp = Blueprint("customers", __name__, url_prefix="/customers")

TABS = (
    ("info", _l("VIP information")),
    ("plans", _l("Plans")),
    ("orders", _l("Orders")),
    ("renewals", _l("Renewals")),
    ("timeline", _l("Timeline")),
    ("history", _l("History")),
)


@bp.get("")
@login_required
def index():
    search = CONTROL_CHARACTERS.sub("", request.args.get("q", ""))[:100]
    status = request.args.get("status", "")
    attention = request.args.get("attention", "")
    attention = attention if attention in dashboard.CUSTOMER_FILTERS else ""
    anniversary = _date_argument("anniversary")
    sort = request.args.get("sort", "name")
    page = request.args.get("page", 1, type=int) or 1
    today = clock.today_for(current_user)
    page_size = current_app.config["VIP_PAGE_SIZE"]
    context = {
        "search": search,
        "status": status,
        "attention": attention,
        "anniversary": anniversary,
        "sort": sort,
        # The filters every sort and page link keeps (templates/partials/_lists.html).
        "list_params": {
            "q": search or None,
            "status": status or None,
            "attention": attention or None,
            "anniversary": anniversary.isoformat() if anniversary else None,
        },
    }

    def results() -> str:
        result = customers.list_customers(
            user=current_user,
            search=search,
            status=status,
            attention=attention,
            today=today,
            anniversary=anniversary,
            sort=sort,
            page=page,
            page_size=page_size,
        )
        counts = authorizations.counts_by_customer(
            customer_ids=[customer.id for customer in result.items], today=today
        )
        return render_template(
            "customers/_results.html", result=result, authorization_counts=counts, **context
        )

    region = cached_html("customers.results", results, page=page, page_size=page_size, **context)
    if is_htmx():
        return region
    return render_template(
        "customers/index.html",
        region=region,
        attention_label=dashboard_section_labels().get(attention) if attention else None,
        statuses=CUSTOMER_STATUS_LABELS,
        counts=cached_value(
            "customers.status_counts", lambda: customers.status_counts(user=current_user)
        ),
        **context,
    )


def _date_argument(name: str) -> date | None:
    """A date in the query string (YYYY-MM-DD); anything else is no filter."""
    try:
        return date.fromisoformat(request.args.get(name, ""))
    except ValueError:
        return None


class CustomerForm(Form):
    """Parses only: `customers.create_customer` checks every field and says why at it."""

    company_name = StringField(_l("Company name"))
    country = SelectField(_l("Country"), validate_choice=False)
    market_segment = SelectField(
        _l("Market segment"), choices=market_segment_choices(), validate_choice=False
    )
    admin_name = StringField(_l("VIP admin's name"))
    admin_email = EmailField(_l("VIP admin's email"))
    admin_language = SelectField(
        _l("VIP admin's language"), choices=LANGUAGE_CHOICES, validate_choice=False
    )


@bp.route("/new", methods=["GET", "POST"])
@login_required
def new():
    access.require(current_user, "customers.create")
    form = CustomerForm()
    form.country.choices = country_choices()
    if request.method == "GET":
        form.country.data = current_user.reseller.country
        form.admin_language.data = current_user.language
    if form.validate_on_submit():
        try:
            customer = customers.create_customer(
                user=current_user,
                today=clock.today_for(current_user),
                company_name=form.company_name.data,
                country=form.country.data,
                market_segment=form.market_segment.data,
                admin_name=form.admin_name.data,
                admin_email=form.admin_email.data,
                admin_language=form.admin_language.data,
            )
        except DomainError as error:
            attach_errors(form, getattr(error, "errors", None) or {error.field: [error]})
        else:
            flash(
                _(
                    "%(name)s was created with VIP ID %(vip_id)s. The invitation was sent to "
                    "%(email)s.",
                    name=customer.company_name,
                    vip_id=customer.vip_id,
                    email=customer.admin_email,
                ),
                "success",
            )
            return redirect(url_for("customers.tab", customer_id=customer.id, tab="info"), 303)
    status = 422 if form.errors else 200
    return render_template("customers/new.html", form=form), status


@bp.get("/<int:customer_id>")
@login_required
def details(customer_id: int):
    access.get_customer_for(user=current_user, customer_id=customer_id)
    return redirect(url_for("customers.tab", customer_id=customer_id, tab="info"))


def _info_context(customer, standing) -> dict:
    """What VIP information shows besides the customer's own row (`standing`: the level
    and commitment, read once for the header and this)."""
    today = clock.today_for(current_user)
    invitation = invitations.current_invitation(customer)
    state = customer_status.invitation_state(customer)
    return {
        "standing": standing,
        "invitation": invitation,
        # An imported customer may have none yet (imported without invitations).
        "may_invite": invitation is None and not state.admin_in_place,
        # The link itself is never shown to reseller users (S57): only the invited mailbox
        # gets it, so nobody of the reseller can accept in the VIP admin's place.
        "invitation_awaiting": invitation is not None and state.awaiting,
        "today": today,
        "inventory": orders.license_inventory(customer=customer),
        "renewal_history": renewals.renewal_history(customer=customer),
    }


@bp.get("/<int:customer_id>/<any(info, plans, orders, renewals, timeline, history):tab>")
@login_required
def tab(customer_id: int, tab: str):
    if tab == "info" or not is_htmx():  # a kept region is asked for (cached_regions.py)
        data_stamp()  # its data's version, read before the customer is
    customer = access.get_customer_for(user=current_user, customer_id=customer_id)
    context = {"customer": customer, "tab": tab, "tabs": TABS}

    @cache
    def standing():
        return discount_levels.standing(customer=customer, today=clock.today_for(current_user))

    if not is_htmx():  # the page's header (kept per version of the reseller's data)
        context["header"] = cached_html(
            "customers.header",
            lambda: render_template("customers/_header.html", standing=standing(), **context),
            customer=customer.id,
        )
    if tab == "info":
        region = cached_html(
            "customers.info",
            lambda: render_template(
                "customers/_tabs.html", **_info_context(customer, standing()), **context
            ),
            customer=customer.id,
        )
        return render_page_or_region("customers/details.html", region, **context)
    if tab == "orders":
        rows = orders.orders_of(customer=customer)
        context.update(
            orders=rows,
            returns_by_order=orders.returns_by_order(orders=rows),
            today=clock.today_for(current_user),
        )
    elif tab == "plans":
        today = clock.today_for(current_user)
        rows = authorizations.authorizations_of(customer=customer)
        context.update(
            authorizations=rows,
            today=today,
            cancellable=authorizations.cancellable_ids(rows),
            counts=authorizations.counts_by_customer(customer_ids=[customer.id], today=today).get(
                customer.id, authorizations.AuthorizationCounts()
            ),
        )
    elif tab == "renewals":
        context.update(
            today=clock.today_for(current_user),
            lines=renewals.lines_by_customer([customer.id]).get(customer.id, []),
        )
    elif tab == "timeline":
        today = clock.today_for(current_user)
        dates = timeline.customer_timeline(customer=customer, today=today)
        context.update(today=today, timeline=dates, chart=charts.timeline_chart(dates))
    elif tab == "history":
        context["events"] = audit.history_for(customer=customer)
    return render_page_or_partial("customers/details.html", "customers/_tabs.html", **context)


@bp.post("/<int:customer_id>/invitation/resend")
@login_required
@throttled("invitation_resend", account=signed_in_account)
def resend_invitation(customer_id: int):
    try:
        invitation = invitations.resend_invitation(
            user=current_user,
            customer_id=customer_id,
            today=clock.today_for(current_user),
            now=clock.now(),
        )
        flash(
            _(
                "A new invitation was sent to %(email)s. The previous link no longer works.",
                email=invitation.email,
            ),
            "success",
        )
    except DomainError as error:
        flash(str(error), "error")
    return redirect(url_for("customers.tab", customer_id=customer_id, tab="info"), 303)
