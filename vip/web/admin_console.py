"""The VIP admin's Admin Console: the customer's licenses, assigning them to users, the
renewal history, the language preference, and the renewal banner on every page."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from wtforms import EmailField
from wtforms.validators import Optional

from vip import clock
from vip.services import licenses, renewals
from vip.services.errors import DomainError
from vip.web.forms import Form
from vip.web.htmx import is_htmx

bp = Blueprint("admin_console", __name__, url_prefix="/console")


class AssignForm(Form):
    # Required and validated by the service, which says why at the field.
    email = EmailField(_l("User's email"), validators=[Optional()])


def _stock(customer):
    return licenses.license_inventory(customer=customer, with_pending=True)


def _product_block(customer, item, *, form=None, status=200, message=None):
    if item is None:  # the product left the console meanwhile: show the whole page again
        return redirect(url_for("admin_console.index"), 303)
    today = clock.today_for(current_user)
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
def index():
    customer = licenses.console_customer(current_user)
    today = clock.today_for(current_user)
    stock = [item for item in _stock(customer) if item.owned + item.pending or item.assigned]
    return render_template(
        "admin_console/index.html",
        customer=customer,
        stock=stock,
        assignments=licenses.assignments_of(customer=customer),
        form=AssignForm(formdata=None),
        dates=renewals.dates_for(customer, today),
        assignment_closed=licenses.assignment_closed(customer, today),
        renewal_history=renewals.renewal_history(customer=customer),
    )


@bp.post("/licenses/<int:product_id>/assign")
@login_required
def assign(product_id: int):
    customer = licenses.console_customer(current_user)
    form = AssignForm()
    if form.validate_on_submit():
        try:
            assignment = licenses.assign_license(
                user=current_user,
                product_id=product_id,
                email=form.email.data or "",
                today=clock.today_for(current_user),
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
                return redirect(url_for("admin_console.index"), 303)
            return _product_block(customer, _item(customer, product_id), message=message)
    item = _item(customer, product_id)
    if not is_htmx():
        for error in form.email.errors:
            flash(error, "error")
        return redirect(url_for("admin_console.index"), 303)
    return _product_block(customer, item, form=form, status=422)


@bp.post("/assignments/<int:assignment_id>/unassign")
@login_required
def unassign(assignment_id: int):
    customer = licenses.console_customer(current_user)
    form = AssignForm()  # CSRF only
    if not form.validate_on_submit():
        return redirect(url_for("admin_console.index"), 303)
    try:
        assignment = licenses.unassign_license(user=current_user, assignment_id=assignment_id)
    except DomainError as error:
        flash(str(error), "error")
        return redirect(url_for("admin_console.index"), 303)
    message = _(
        "The license of %(product)s was taken back from %(email)s.",
        product=assignment.product.name,
        email=assignment.user_email,
    )
    if not is_htmx():
        flash(message, "success")
        return redirect(url_for("admin_console.index"), 303)
    return _product_block(customer, _item(customer, assignment.product_id), message=message)
