"""Every kind of dialog the sweep opens (`DIALOGS`), in its error state, in both languages
(README, "Every screen, every user"): submitted with input its service refuses, it comes
back with the errors at their fields, still fits a phone, passes axe-core, and tells the
user (focus on the first invalid field); the database is unchanged.

One signed-in browser context per language walks all of them."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from tests.browser.support import DIALOGS, PARTNER_ADMIN, SIGN_INS, sweep_for
from vip.extensions import db


@dataclass(frozen=True)
class BadInput:
    """A dialog (its kind as in `DIALOGS`), a page with its opener (`str.format` with
    `demo_ids`), and what to type into it: (CSS selector inside the dialog, value), ""
    clears the field (or picks a select's empty choice). Each of these fields must come back
    invalid."""

    kind: str
    page: str
    fills: tuple[tuple[str, str], ...]


BAD_INPUTS = (
    BadInput(
        "/customers/N/authorizations/new",
        "/customers/{bryggeri}/plans",
        (("#lines-0-product", ""), ("#lines-0-quantity", "0")),
    ),
    BadInput(
        "/authorizations/N/order/new",
        "/customers/{bryggeri}/plans",
        (("#vendor_order_number", "12"), ("#order_date", "")),
    ),
    BadInput(
        "/orders/N/return/new",
        "/customers/{bryggeri}/orders",
        (("input[id^='line-']", "9999"), ("#reason", "")),
    ),
    BadInput(
        "/customers/N/renewal/new",
        "/renewals",
        (("#vendor_order_number", ""), ("input.renewal-quantity", "-1")),
    ),
    BadInput(
        "/customers/N/commitment/request",
        "/customers/{bryggeri}/info",
        (("#minimum_quantity", "5"), ("#requested_on", "")),
    ),
    BadInput(
        "/customers/N/commitment/answer",
        "/customers/{arkitekter}",
        (("#answer_date", ""),),
    ),
)
#: Dialogs whose submission cannot fail, so that they have no error state: none so far.
#: (A dialog added to `DIALOGS` that only confirms goes here, with the reason.)
CANNOT_FAIL: dict[str, str] = {}


def test_every_dialog_has_its_bad_input():
    assert {bad.kind for bad in BAD_INPUTS} | set(CANNOT_FAIL) == DIALOGS


def database_rows(app) -> dict[str, list[str]]:
    """Every row of every table."""
    with app.app_context():
        rows = {
            table.name: sorted(repr(tuple(row)) for row in db.session.execute(sa.select(table)))
            for table in db.metadata.sorted_tables
        }
        db.session.remove()  # no transaction held: the live server's writes begin IMMEDIATE
    return rows


#: The first visible opener of a kind of dialog on the page, marked for the test.
OPENER = """(kind) => {
  const opener = Array.from(document.querySelectorAll("[data-opens-dialog]")).find((el) =>
    (el.getAttribute("hx-get") || "").replace(/\\d+/g, "N") === kind && el.checkVisibility());
  if (!opener) return null;
  opener.setAttribute("data-bad-input-opener", "");
  return "[data-bad-input-opener]";
}"""


#: The dialog's errors, tied to their fields: each invalid field's aria-describedby names
#: its error, each error belongs to an invalid field (or, for the whole form, is an alert).
ERRORS_AT_FIELDS = """() => {
  const dialog = document.querySelector("dialog[open]");
  const problems = [];
  const invalid = Array.from(dialog.querySelectorAll('[aria-invalid="true"]'));
  const described = new Set();
  for (const field of invalid) {
    const ids = (field.getAttribute("aria-describedby") || "").split(/\\s+/).filter(Boolean);
    const errors = ids.map((id) => document.getElementById(id))
      .filter((el) => el && el.classList.contains("error") && el.textContent.trim());
    if (!errors.length) problems.push(`#${field.id} is invalid but describedby no error`);
    errors.forEach((el) => described.add(el));
  }
  for (const error of dialog.querySelectorAll(".error")) {
    if (!described.has(error) && error.getAttribute("role") !== "alert") {
      problems.push(`"${error.textContent.trim()}" is tied to no field`);
    }
  }
  const active = document.activeElement;
  return {
    problems,
    invalid: invalid.map((field) => field.id),
    focused: active ? active.id : null,
  };
}"""


@pytest.mark.parametrize("language", ["sv", "en"])
def test_every_dialog_shows_its_errors_at_their_fields(
    app, demo_ids, live_server, new_context, language
):
    sweep = sweep_for(new_context, language)
    page = sweep.page
    sweep.sign_in(SIGN_INS[PARTNER_ADMIN])
    before = database_rows(app)
    shown = set()
    for bad in BAD_INPUTS:
        page.goto(bad.page.format(**demo_ids))
        opener = page.evaluate(OPENER, bad.kind)
        assert opener, f"no opener of {bad.kind} on {bad.page}"
        page.locator(opener).click()
        dialog = page.locator("dialog[open]")
        expect(dialog).to_be_visible()
        for selector, value in bad.fills:
            field = dialog.locator(selector).first
            if field.evaluate("(el) => el.tagName") == "SELECT":
                field.select_option(value)
            else:
                field.fill(value)
        dialog.locator("button[type=submit].primary").click()
        for selector, _ in bad.fills:
            expect(dialog.locator(selector).first).to_have_attribute("aria-invalid", "true")
        label = f"[{language}] {bad.kind} with errors"
        found = page.evaluate(ERRORS_AT_FIELDS)
        sweep.problems += [f"{label}: {problem}" for problem in found["problems"]]
        if found["focused"] != found["invalid"][0]:
            sweep.problems.append(
                f"{label}: focus on #{found['focused']}, not the first invalid field"
                f" #{found['invalid'][0]}"
            )
        sweep.check_open_dialog(label)
        page.keyboard.press("Escape")
        expect(page.locator("dialog")).to_have_count(0)
        shown.add(bad.kind)
    assert sweep.problems == [], "\n".join(sweep.problems)
    assert shown == DIALOGS - set(CANNOT_FAIL)
    assert database_rows(app) == before
