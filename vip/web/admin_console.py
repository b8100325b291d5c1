"""The VIP admin's Admin Console: the customer's licenses, assigning them to users, the
renewal history, the language preference, and the renewal banner on every page.

One VIP admin may administer several customers (S55): every page and action names its
customer in the URL (`/console/<customer_id>/...`) and looks it up among those the VIP
admin administers (404 otherwise); the switcher is a plain GET form. The last customer
chosen is remembered in the session, for `/console` and the banner of other pages."""

from __future__ import annotations

from flask import Blueprint, abort, flash, g, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from wtforms import EmailField, IntegerField
from wtforms.validators import InputRequired, NumberRange, Optional

from vip import clock
from vip.models import Customer, Role
from vip.services import access, discount_levels, licenses, renewals
from vip.services.errors import DomainError, NotVisible
from vip.web.forms import Form
from vip.web.htmx import is_htmx

bp = Blueprint("admin_console", __name__, url_prefix="/console")

CHOSEN_CUSTOMER = "console_customer_id"
MAX_ID = 2**63 - 1  # the largest id the databases store


class AssignForm(Form):
    # Required and validated by the service, which says why at the field.
    email = EmailField(_l("User's email"), validators=[Optional()])


class ChooseCustomerForm(Form):
    """The customer switcher (a GET form: choosing changes nothing)."""

    class Meta:
        csrf = False

    customer = IntegerField(
        _l("Customer"), validators=[InputRequired(), NumberRange(min=1, max=MAX_ID)]
    )


def open_customer(customer_id: int) -> Customer:
    """The console's customer: one the VIP admin administers (404 otherwise), remembered
    as the chosen one."""
    customer = licenses.console_customer(user=current_user, customer_id=customer_id)
    g.console_customer = customer
    if session.get(CHOSEN_CUSTOMER) != customer.id:
        session[CHOSEN_CUSTOMER] = customer.id
    return customer


def chosen_customer() -> Customer | None:
    """The customer a signed-in VIP admin works in: the console page's, else the one last
    chosen while it is still administered, else its first; None for everyone else."""
    if "console_customer" in g:
        return g.console_customer
    customer = None
    if current_user.is_authenticated and current_user.role == Role.VIP_ADMIN:
        chosen = session.get(CHOSEN_CUSTOMER)
        if isinstance(chosen, int):
            try:
                customer = licenses.console_customer(user=current_user, customer_id=chosen)
            except NotVisible:
                customer = None
        if customer is None:
            customer = next(iter(access.administered_customers(current_user)), None)
    g.console_customer = customer
    return customer


def _stock(customer):
    return licenses.license_inventory(customer=customer, with_pending=True)


def _console(customer):
    return url_for("admin_console.index", customer_id=customer.id)


def _product_block(customer, item, *, form=None, status=200, message=None):
    if item is None:  # the product left the console meanwhile: show the whole page again
        return redirect(_console(customer), 303)
    today = clock.today_of(customer)
    assignments = licenses.assignments_of(customer=customer).get(item.product.id, [])
    return (
        render_template(
            "admin_console/_product.html",
            customer=customer,
            item=item,
            assignments=assignments,
            form=form or AssignForm(formdata=None),
            dates=renewals.dates_for(customer, today),
            assignment_closed=licenses.assignment_closed(customer, today),
            message=message,
        ),
        status,
    )


def _item(customer, product_id: int):
    return next((each for each in _stock(customer) if each.product.id == product_id), None)


@bp.get("")
@login_required
def home():
    """The console of the customer chosen last, else of the first one."""
    access.require(current_user, "admin_console.use")
    customer = chosen_customer()
    if customer is None:
        return render_template("admin_console/no_customer.html")
    return redirect(_console(customer))


@bp.get("/choose")
@login_required
def choose():
    """The switcher's target: to the chosen customer's console (404 for any other)."""
    access.require(current_user, "admin_console.use")
    form = ChooseCustomerForm(request.args)
    if not form.validate():
        abort(404)
    return redirect(_console(open_customer(form.customer.data)), 303)


@bp.get("/<int:customer_id>")
@login_required
def index(customer_id: int):
    customer = open_customer(customer_id)
    today = clock.today_of(customer)
    stock = [item for item in _stock(customer) if item.owned + item.pending or item.assigned]
    return render_template(
        "admin_console/index.html",
        customer=customer,
        customers=access.administered_customers(current_user),
        switcher=ChooseCustomerForm(formdata=None, customer=customer.id),
        stock=stock,
        assignments=licenses.assignments_of(customer=customer),
        form=AssignForm(formdata=None),
        dates=renewals.dates_for(customer, today),
        assignment_closed=licenses.assignment_closed(customer, today),
        renewal_history=renewals.renewal_history(customer=customer),
        standing=discount_levels.standing(customer=customer, today=today),
    )


@bp.post("/<int:customer_id>/licenses/<int:product_id>/assign")
@login_required
def assign(customer_id: int, product_id: int):
    customer = open_customer(customer_id)
    form = AssignForm()
    if form.validate_on_submit():
        try:
            assignment = licenses.assign_license(
                user=current_user,
                customer_id=customer.id,
                product_id=product_id,
                email=form.email.data or "",
                today=clock.today_of(customer),
            )
        except DomainError as error:
            form.email.errors = [*form.email.errors, str(error)]
        else:
            message = _(
                "%(email)s got a license of %(product)s.",
                email=assignment.user_email,
                product=assignment.product.name,
            )
            if not is_htmx():
                flash(message, "success")
                return redirect(_console(customer), 303)
            return _product_block(customer, _item(customer, product_id), message=message)
    item = _item(customer, product_id)
    if not is_htmx():
        for error in form.email.errors:
            flash(error, "error")
        return redirect(_console(customer), 303)
    return _product_block(customer, item, form=form, status=422)


@bp.post("/<int:customer_id>/assignments/<int:assignment_id>/unassign")
@login_required
def unassign(customer_id: int, assignment_id: int):
    customer = open_customer(customer_id)
    form = AssignForm()  # CSRF only
    if not form.validate_on_submit():
        return redirect(_console(customer), 303)
    try:
        assignment = licenses.unassign_license(
            user=current_user, customer_id=customer.id, assignment_id=assignment_id
        )
    except DomainError as error:
        flash(str(error), "error")
        return redirect(_console(customer), 303)
    message = _(
        "The license of %(product)s was taken back from %(email)s.",
        product=assignment.product.name,
        email=assignment.user_email,
    )
    if not is_htmx():
        flash(message, "success")
        return redirect(_console(customer), 303)
    return _product_block(customer, _item(customer, assignment.product_id), message=message)
