"""Purchase authorizations on Kunddetaljer → Planer: the dialog, its product rows, cancel."""

from __future__ import annotations

import re

from flask import Blueprint, make_response, render_template, request, url_for
from flask_babel import format_date
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from werkzeug.datastructures import MultiDict
from wtforms import (
    DateField,
    FieldList,
    FormField,
    IntegerField,
    SelectChoice,
    SelectField,
    StringField,
)
from wtforms import Form as SubForm
from wtforms.validators import Optional

from vip import clock
from vip.models import LicenseType
from vip.services import access, authorizations, discount_levels
from vip.services.errors import DomainError
from vip.web.forms import Form
from vip.web.htmx import (
    is_htmx,
    partial_with_flash_or_redirect,
    render_dialog,
    render_form_errors,
)
from vip.web.labels import license_type_choices

bp = Blueprint("authorizations", __name__)
ROWS_CHANGED_EVENT = "vip:rows-changed"
ROW_FIELD = re.compile(r"lines-(\d+)-(\w+)")


def _posted_id(raw: str | None) -> int | None:
    """ASCII digits only, at most ten: "²".isdigit() holds but int() refuses it, and so does
    a 5,000-digit number."""
    raw = (raw or "").strip()
    return int(raw) if raw.isascii() and raw.isdigit() and len(raw) <= 10 else None


class ProductRowForm(SubForm):
    product = SelectField(_l("Product"), validate_choice=False)
    quantity = IntegerField(_l("Number of licenses"), validators=[Optional()])


class PurchaseAuthorizationForm(Form):
    license_type = SelectField(_l("License type"), choices=license_type_choices())
    # One row more than the service allows: WTForms drops posted rows beyond max_entries
    # without a word, so a form with too many rows must still reach the service, which
    # refuses it (S35); the rows after that one are never parsed.
    lines = FieldList(
        FormField(ProductRowForm), min_entries=1, max_entries=authorizations.MAX_ROWS + 1
    )
    customer_po_number = StringField(_l("Purchase order number"), validators=[Optional()])
    deployment_date = DateField(_l("Deployment date"), validators=[Optional()])

    def bind_products(self, products) -> None:
        choices = [SelectChoice("", _("Choose a product"))] + [
            SelectChoice(str(p.id), f"{p.name} ({p.sku})") for p in products
        ]
        for row in self.lines:
            row.form.product.choices = choices

    def line_inputs(self) -> list[authorizations.LineInput]:
        inputs = []
        for row in self.lines:
            raw = (row.form.product.data or "").strip()
            inputs.append(
                authorizations.LineInput(
                    product_id=_posted_id(raw)
                    if _posted_id(raw) is not None
                    else (-1 if raw else None),
                    quantity=row.form.quantity.data,
                )
            )
        return inputs

    def field_by_name(self, name: str):
        """The field a service error names: "deployment_date", "lines-1-quantity", ..."""
        for field in self:
            if field.name == name:
                return field
        for row in self.lines:
            for field in row.form:
                if field.name == name:
                    return field
        return None


def _bind(form: PurchaseAuthorizationForm, customer) -> None:
    form.bind_products(
        authorizations.eligible_products(customer=customer, license_type=_license_type(form))
    )


def _license_type(form: PurchaseAuthorizationForm) -> LicenseType:
    try:
        return LicenseType(form.license_type.data)
    except ValueError:
        return LicenseType.ENTERPRISE


def _form_for(customer, *, formdata=None, blank=False) -> PurchaseAuthorizationForm:
    if blank:
        form = PurchaseAuthorizationForm(formdata=None)
        form.license_type.data = LicenseType.ENTERPRISE.value
        form.deployment_date.data = clock.today_for(current_user)
    else:
        form = PurchaseAuthorizationForm(formdata=formdata or request.form)
    _bind(form, customer)
    return form


def _keep_products_across_license_types(form: PurchaseAuthorizationForm, customer) -> None:
    """Team ↔ Enterprise: each row keeps its product where the other type has it too."""
    chosen = {_posted_id(row.form.product.data) for row in form.lines} - {None}
    mapping = authorizations.equivalent_products(
        customer=customer, license_type=_license_type(form), product_ids=chosen
    )
    for row in form.lines:
        chosen_id = _posted_id(row.form.product.data)
        if chosen_id in mapping:
            row.form.product.data = str(mapping[chosen_id])


def _first_invalid_id(form: PurchaseAuthorizationForm) -> str | None:
    """The field that takes the focus when the form comes back with errors."""
    for field in form:
        if field.name == "lines":
            for row in field:
                for sub in row.form:
                    if sub.errors:
                        return sub.id
        elif field.errors:
            return field.id
    return None


def _without_row(formdata, index: int) -> MultiDict:
    """The posted form with row `index` taken out and the later rows renumbered."""
    data = MultiDict()
    for key, value in formdata.items(multi=True):
        match = ROW_FIELD.fullmatch(key)
        if match:
            row = int(match[1])
            if row == index:
                continue
            if row > index:
                key = f"lines-{row - 1}-{match[2]}"
        data.add(key, value)
    return data


def _level_hint(customer, form: PurchaseAuthorizationForm):
    """The level the customer has and the one the form's rows would reach."""
    offered = {
        _posted_id(choice.value) for row in form.lines for choice in row.form.product.choices
    } - {None}
    most = max(authorizations.LICENSE_LIMITS.values())  # beyond it the service refuses the row
    quantities: dict[int, int] = {}
    for line in form.line_inputs():
        quantity = line.quantity
        if line.product_id in offered and isinstance(quantity, int) and 0 < quantity <= most:
            quantities[line.product_id] = quantities.get(line.product_id, 0) + quantity
    return discount_levels.order_hint(
        customer=customer, quantities=quantities, today=clock.today_for(current_user)
    )


def _render_form(customer, form, *, invalid=False, focus_row=None):
    """The dialog (its own page without JavaScript), or with `invalid` the same with the
    form's errors (422) and the focus on the first invalid field."""
    render = render_form_errors if invalid else render_dialog
    return render(
        "authorizations/new.html",
        "authorizations/_dialog.html",
        customer=customer,
        form=form,
        focus_row=focus_row,
        limits=authorizations.LICENSE_LIMITS,
        today=clock.today_for(current_user),
        first_invalid=_first_invalid_id(form) if invalid else None,
        hint=_level_hint(customer, form),
    )


def _row_updates(customer, pa, today) -> dict:
    """The context of an authorization row's update: the row, out of band the Plans tab's
    counters and the customer's status badge (authorizations/_oob_updates.html)."""
    return {
        "customer": customer,
        "pa": pa,
        "today": today,
        "cancellable": authorizations.cancellable_ids([pa]),
        "counts": authorizations.counts_by_customer(customer_ids=[customer.id], today=today).get(
            customer.id, authorizations.AuthorizationCounts()
        ),
    }


@bp.get("/customers/<int:customer_id>/authorizations/new")
@login_required
def new(customer_id: int):
    customer = access.get_customer_for(
        user=current_user, customer_id=customer_id, action="authorizations.manage"
    )
    return _render_form(customer, _form_for(customer, blank=True))


@bp.post("/customers/<int:customer_id>/authorizations/new/rows")
@login_required
def change_rows(customer_id: int):
    """The plus button, a row's remove button and the license type list post the whole
    form here and get it back re-rendered, typed values kept (server-owned rows)."""
    customer = access.get_customer_for(
        user=current_user, customer_id=customer_id, action="authorizations.manage"
    )
    action = request.form.get("row_action", "")
    focus_row = None
    index = _posted_id(action[7:]) if action.startswith("remove-") else None
    if index is not None:
        form = _form_for(customer, formdata=_without_row(request.form, index))
        if not form.lines.entries:
            form.lines.append_entry()
        focus_row = min(index, len(form.lines) - 1)
    else:
        form = _form_for(customer)
        if action == "refresh":
            _keep_products_across_license_types(form, customer)
        if action == "add" and len(form.lines) < authorizations.MAX_ROWS:
            form.lines.append_entry()
            _bind(form, customer)
            focus_row = len(form.lines) - 1
    if is_htmx():
        response = make_response(
            render_template(
                "authorizations/_product_rows.html",
                customer=customer,
                form=form,
                focus_row=focus_row,
            )
        )
        # The level hint (#level-hint) refreshes itself on this event.
        response.headers["HX-Trigger"] = ROWS_CHANGED_EVENT
        return response
    return _render_form(customer, form, focus_row=focus_row)


@bp.post("/customers/<int:customer_id>/authorizations/new/level")
@login_required
def level_hint(customer_id: int):
    """A row or a quantity changed: the level the order would reach, live."""
    customer = access.get_customer_for(
        user=current_user, customer_id=customer_id, action="authorizations.manage"
    )
    form = _form_for(customer)
    return render_template("partials/_level_hint.html", hint=_level_hint(customer, form))


@bp.post("/customers/<int:customer_id>/authorizations")
@login_required
def create(customer_id: int):
    customer = access.get_customer_for(
        user=current_user, customer_id=customer_id, action="authorizations.manage"
    )
    form = _form_for(customer)
    if request.form.get("row_action"):  # the no-JavaScript path of the row buttons
        return change_rows(customer_id)
    # The service checks even when a field could not be parsed, so that every problem
    # shows at once; it writes only when the form was valid too.
    form_valid = form.validate_on_submit()
    today = clock.today_for(current_user)
    authorization = None
    try:
        authorization = authorizations.create_purchase_authorization(
            user=current_user,
            customer_id=customer.id,
            today=today,
            license_type=form.license_type.data,
            lines=form.line_inputs(),
            deployment_date=form.deployment_date.data,
            customer_po_number=form.customer_po_number.data,
            check_only=not form_valid,
        )
    except authorizations.AuthorizationInvalid as invalid:
        for name, messages in invalid.errors.items():
            field = form.field_by_name(name)
            if field is None or name == "lines":
                form.form_errors.extend(str(m) for m in messages)
            elif not field.errors:
                field.errors = [str(m) for m in messages]
    if authorization is not None:
        message = _(
            "Purchase authorization %(number)s was created. The order is due by %(date)s.",
            number=authorization.number,
            date=_format_date(authorization.order_due_on),
        )
        return partial_with_flash_or_redirect(
            "authorizations/_created.html",
            lambda: _row_updates(customer, authorization, today),
            message=message,
            redirect_to=url_for("customers.tab", customer_id=customer.id, tab="plans"),
            closes_dialog=True,
        )
    return _render_form(customer, form, invalid=True)


def _format_date(day):
    return format_date(day, "long")


@bp.post("/authorizations/<int:pa_id>/cancel")
@login_required
def cancel(pa_id: int):
    today = clock.today_for(current_user)
    authorization = authorizations.get_for(user=current_user, pa_id=pa_id)
    number, customer_id = authorization.number, authorization.customer_id
    category = "success"
    try:
        authorizations.cancel_purchase_authorization(
            user=current_user, pa_id=pa_id, today=today, now=clock.now()
        )
        message = _("Purchase authorization %(number)s was cancelled.", number=number)
    except DomainError as error:
        message, category = str(error), "error"

    def cancelled_row() -> dict:
        pa = authorizations.get_for(user=current_user, pa_id=pa_id)
        return _row_updates(pa.customer, pa, today)

    return partial_with_flash_or_redirect(
        "authorizations/_cancelled.html",
        cancelled_row,
        message=message,
        category=category,
        redirect_to=url_for("customers.tab", customer_id=customer_id, tab="plans"),
    )
