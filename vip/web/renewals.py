"""Översikt av förlängningar with its CSV export, and recording a renewal order."""

from __future__ import annotations

import csv
import io
import re

from babel.numbers import get_decimal_symbol
from flask import (
    Blueprint,
    Response,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    stream_with_context,
    url_for,
)
from flask_babel import format_date, get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from wtforms import BooleanField, DateField, StringField
from wtforms.validators import Optional

from vip import clock
from vip.services import access, discount_levels, pipeline, renewals
from vip.services.authorizations import LICENSE_LIMITS, AuthorizationInvalid
from vip.services.errors import DomainError
from vip.web.cached_regions import cached_html
from vip.web.forms import CONTROL_CHARACTERS, Form, posted_quantities
from vip.web.htmx import (
    partial_with_flash_or_redirect,
    render_dialog,
    render_form_errors,
    render_page_or_partial,
    render_page_or_region,
)
from vip.web.labels import (
    COMMITMENT_STATE_LABELS,
    CUSTOMER_STATUS_LABELS,
    RENEWAL_STAGE_LABELS,
)
from vip.web.template_helpers import renewal_stage_label
from vip.web.versions import reseller_data_tag, shown_is_current

bp = Blueprint("renewals", __name__)

COMMITMENT_FILTER_LABELS = {
    renewals.AT_RISK: _l("3YC at risk"),
    renewals.NONCOMPLIANT: _l("3YC noncompliant"),
}
WINDOW_LABELS = {
    "30": _l("Anniversary within 30 days"),
    "60": _l("Anniversary within 60 days"),
    "90": _l("Anniversary within 90 days"),
}


def _filter_from_request() -> renewals.OverviewFilter:
    return renewals.OverviewFilter(
        window=request.args.get("window", ""),
        stage=request.args.get("stage", ""),
        search=CONTROL_CHARACTERS.sub("", request.args.get("q", ""))[:100],
        sort=request.args.get("sort", "anniversary"),
        commitment=request.args.get("commitment", ""),
    ).normalized()


@bp.get("/renewals")
@login_required
def index():
    access.require(current_user, "customers.view")
    chosen = _filter_from_request()
    today = clock.today_for(current_user)
    page_number = request.args.get("page", 1, type=int) or 1
    page_size = current_app.config["VIP_PAGE_SIZE"]
    context = {
        "chosen": chosen,
        # The filters every sort, page and export link keeps (templates/partials/_lists.html).
        "list_params": {
            "q": chosen.search or None,
            "window": chosen.window or None,
            "stage": chosen.stage or None,
            "commitment": chosen.commitment or None,
        },
        "today": today,
        "windows": WINDOW_LABELS,
        "commitment_filters": COMMITMENT_FILTER_LABELS,
        "stages": RENEWAL_STAGE_LABELS,
    }

    def results() -> str:
        page = renewals.renewals_overview(
            user=current_user, today=today, chosen=chosen, page=page_number, page_size=page_size
        )
        return render_template(
            "renewals/_results.html",
            result=page,
            lines=renewals.lines_by_customer([customer.id for customer in page.items]),
            standings=discount_levels.standings(customers=page.items, today=today),
            **context,
        )

    region = cached_html(
        "renewals.results", results, chosen=chosen, page=page_number, page_size=page_size
    )
    return render_page_or_region("renewals/index.html", region, **context)


@bp.get("/renewals/pipeline")
@login_required
def pipeline_chart():
    """The renewal pipeline chart: its partial for htmx (and the lead's dashboard), a page
    of its own otherwise."""
    access.require(current_user, "customers.view")
    today = clock.today_for(current_user)
    shown = reseller_data_tag("pipeline", user=current_user, today=today)
    if shown_is_current(shown):  # a refresh after a change that left the chart as it is
        return "", 204
    return render_page_or_partial(
        "renewals/pipeline.html",
        "renewals/_pipeline.html",
        pipeline=pipeline.renewal_pipeline(reseller_id=current_user.reseller_id, today=today),
        shown=shown,
    )


# -- CSV export -----------------------------------------------------------------------------

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value) -> str | int:
    """Text a spreadsheet would run as a formula gets a leading apostrophe (S18)."""
    if isinstance(value, int):
        return value
    text = str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


def _csv_headers() -> list[str]:
    return [
        _("Company name"),
        _("VIP ID"),
        _("VIP admin"),
        _("Customer status"),
        _("Renewal status"),
        _("Anniversary date"),
        _("Renewal window opens"),
        _("Access removed on"),
        _("Product"),
        _("SKU"),
        _("Renewal SKU"),
        _("Licenses"),
        _("Assigned"),
        _("Suggested renewal quantity"),
        _("Discount level"),
        _("3YC state"),
        _("3YC minimum"),
        _("3YC ends"),
    ]


class CsvRecords:
    """Turns export rows into CSV records. Labels and dates repeat across rows, so each is
    translated or formatted once per export, not once per row."""

    def __init__(self):
        self._texts: dict = {}

    def _once(self, key, make):
        if key not in self._texts:
            self._texts[key] = make()
        return self._texts[key]

    def record(self, row: renewals.ExportRow) -> list:
        customer, line, dates = row.customer, row.line, row.dates
        status = customer.status.value
        return [
            customer.company_name,
            customer.vip_id,
            customer.admin_email,
            self._once(("status", status), lambda: str(CUSTOMER_STATUS_LABELS.get(status, status))),
            self._once(("stage", dates.stage), lambda: renewal_stage_label(dates.stage)),
            *(
                self._once(day, lambda day=day: format_date(day, "short"))
                for day in (dates.anniversary, dates.window_opens_on, dates.access_removed_on)
            ),
            line.product.name,
            line.product.sku,
            line.renewal_sku,
            line.current,
            line.assigned,
            line.suggested,
            customer.discount_level,
            *self._commitment(row.commitment),
        ]

    def _commitment(self, commitment) -> list:
        """The open commitment's state, minimum and end; blank without one."""
        if commitment is None:
            return ["", "", ""]
        state = commitment.state.value
        return [
            self._once(("3yc", state), lambda: str(COMMITMENT_STATE_LABELS[state])),
            commitment.minimum_quantity,
            self._once(commitment.ends_on, lambda: format_date(commitment.ends_on, "short"))
            if commitment.ends_on
            else "",
        ]


@bp.get("/renewals/export.csv")
@login_required
def export():
    """The filtered overview as CSV for Excel: UTF-8 with a BOM, the locale's separator
    (semicolon in Swedish), localized headers and dates, streamed in chunks."""
    access.require(current_user, "customers.view")
    chosen = _filter_from_request()
    today = clock.today_for(current_user)
    # Excel splits on the list separator of the reader's locale: ";" where "," is decimal.
    delimiter = ";" if get_decimal_symbol(get_locale()) == "," else ","

    def generate():
        buffer = io.StringIO()
        writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n")
        writer.writerow([spreadsheet_safe(text) for text in _csv_headers()])
        yield "\ufeff" + buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        records = CsvRecords()
        for number, row in enumerate(
            renewals.export_rows(user=current_user, today=today, chosen=chosen), 1
        ):
            writer.writerow([spreadsheet_safe(value) for value in records.record(row)])
            if number % 500 == 0:
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()
        yield buffer.getvalue()

    filename = f"renewals-{today.isoformat()}.csv"
    return Response(
        stream_with_context(generate()),
        mimetype="text/csv",
        headers={
            "Content-Type": "text/csv; charset=utf-8",
            "Content-Disposition": f'attachment; filename="{filename}"',
        },
    )


# -- Registrera förlängning ------------------------------------------------------------------


MOST_LICENSES = max(LICENSE_LIMITS.values())  # beyond it the service refuses the line
QUANTITY_FIELD = re.compile(r"quantity-[0-9]{1,18}")


class RenewalForm(Form):
    # Required, 6 to 20 letters and digits, not recorded before: the service checks.
    vendor_order_number = StringField(_l("Vendor order number"))
    order_date = DateField(_l("Order date"), validators=[Optional()])
    accept_below_commitment = BooleanField(
        _l("Record it anyway: the commitment becomes noncompliant")
    )


def _outlook(customer, quantities: dict):
    """The level the renewed quantities give and the commitment's verdict."""
    return renewals.renewal_outlook(
        customer=customer,
        quantities={
            pid: q
            for pid, q in quantities.items()
            if isinstance(q, int) and 0 <= q <= MOST_LICENSES
        },
    )


def _renewal_dialog(customer, form, *, quantities=None, line_errors=None, invalid=False):
    today = clock.today_for(current_user)
    lines = renewals.renewal_lines_of(customer)
    render = render_form_errors if invalid else render_dialog
    quantities = (
        quantities
        if quantities is not None
        else {line.product.id: line.suggested for line in lines}
    )
    return render(
        "renewals/record.html",
        "renewals/_dialog.html",
        customer=customer,
        form=form,
        lines=lines,
        dates=renewals.dates_for(customer, today),
        today=today,
        quantities=quantities,
        line_errors=line_errors or {},
        outlook=_outlook(customer, quantities),
    )


@bp.post("/customers/<int:customer_id>/renewal/level")
@login_required
def renewal_level(customer_id: int):
    """The quantities changed: the level they give and the commitment's warning,
    live in the dialog."""
    customer = _renewable_customer(customer_id)
    form = RenewalForm()
    quantities = posted_quantities(request.form, "quantity", not_a_number=None)
    return render_template(
        "renewals/_level.html",
        customer=customer,
        form=form,
        outlook=_outlook(customer, quantities),
    )


def _renewable_customer(customer_id: int):
    access.require(current_user, "orders.record")
    return access.get_customer_for(user=current_user, customer_id=customer_id)


@bp.get("/customers/<int:customer_id>/renewal/new")
@login_required
def record_form(customer_id: int):
    customer = _renewable_customer(customer_id)
    if customer.anniversary_date is None:
        flash(_("%(name)s has no anniversary date yet.", name=customer.company_name), "error")
        return redirect(url_for("customers.tab", customer_id=customer.id, tab="renewals"))
    form = RenewalForm(formdata=None)
    today = clock.today_for(current_user)
    dates = renewals.dates_for(customer, today)
    # After the window, the user enters the real (earlier) order date, or starts over.
    form.order_date.data = today if today <= dates.window_closes_on else None
    return _renewal_dialog(customer, form)


@bp.post("/customers/<int:customer_id>/renewal")
@login_required
def record(customer_id: int):
    customer = _renewable_customer(customer_id)
    form = RenewalForm()
    quantities = posted_quantities(request.form, "quantity", not_a_number=None)
    line_errors: dict[int, list[str]] = {}
    if form.validate_on_submit() and customer.anniversary_date is not None:
        today = clock.today_for(current_user)
        previous = customer.anniversary_date
        try:
            order = renewals.record_renewal(
                user=current_user,
                customer_id=customer.id,
                today=today,
                vendor_order_number=form.vendor_order_number.data,
                order_date=form.order_date.data,
                quantities=quantities,
                accept_below_commitment=form.accept_below_commitment.data,
            )
        except AuthorizationInvalid as invalid:
            for name, messages in invalid.errors.items():
                texts = [str(message) for message in messages]
                if name.startswith("quantity-"):
                    line_errors[int(name.removeprefix("quantity-"))] = texts
                elif name in form._fields:
                    getattr(form, name).errors = [*getattr(form, name).errors, *texts]
                else:
                    form.form_errors.extend(texts)
        except DomainError as error:
            form.form_errors.append(str(error))
        else:
            customer = access.get_customer_for(user=current_user, customer_id=customer.id)
            message = _(
                "Renewal %(number)s was recorded. The anniversary date moved from %(old)s to "
                "%(new)s.",
                number=order.vendor_order_number,
                old=format_date(previous, "long"),
                new=format_date(customer.anniversary_date, "long"),
            )
            return partial_with_flash_or_redirect(
                "renewals/_recorded.html",
                lambda: {
                    "customer": customer,
                    "order": order,
                    "today": today,
                    "lines": renewals.lines_by_customer([customer.id]).get(customer.id, []),
                    "standing": discount_levels.standing(customer=customer, today=today),
                },
                message=message,
                redirect_to=url_for("customers.tab", customer_id=customer.id, tab="info"),
                closes_dialog=True,
            )
    values = {
        int(key.removeprefix("quantity-")): value
        for key, value in request.form.items()
        if QUANTITY_FIELD.fullmatch(key)
    }
    for pid, quantity in quantities.items():  # the whole numbers, for the level's hint
        if quantity is not None and pid in values:
            values[pid] = quantity
    return _renewal_dialog(customer, form, quantities=values, line_errors=line_errors, invalid=True)
