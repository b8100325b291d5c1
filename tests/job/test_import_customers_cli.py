"""`flask vip import-customers FILE --reseller NAME [--dry-run] [--no-invite]`: the same
check and import as the page, from the command line."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select

from vip.extensions import db
from vip.models import Customer, Notification

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "import"


def run(runner, *args):
    return runner.invoke(args=["vip", "import-customers", *args])


def count(app, model) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model))


def test_dry_run_prints_the_preview_and_writes_nothing(app, runner, tenants):
    before = count(app, Customer)
    result = run(runner, str(FIXTURES / "excel-sv-cp1252-semicolon.csv"), "--reseller",
                 "reseller a ab", "--dry-run")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "4 customers, 4 product lines, 60 licenses, 4 invitations to mail." in result.output
    assert "Dry run: nothing was imported." in result.output
    assert count(app, Customer) == before


def test_import_then_the_same_file_again_imports_nothing(app, runner, tenants):
    before_customers, before_mail = count(app, Customer), count(app, Notification)
    path = str(FIXTURES / "utf8-bom-comma.csv")
    result = run(runner, path, "--reseller", "Reseller A AB", "--no-invite")
    assert result.exit_code == 0, result.output
    assert "Imported 2 customers for 'Reseller A AB' (183 licenses; 0 invitations" in result.output
    assert count(app, Customer) == before_customers + 2
    assert count(app, Notification) == before_mail
    again = run(runner, path, "--reseller", "Reseller A AB")
    assert again.exit_code == 1
    assert "row 2, VIP_ID: This VIP ID already exists in the console." in again.output
    assert "nothing was imported" in again.output
    assert count(app, Customer) == before_customers + 2


def test_problems_are_printed_by_row_and_column_with_exit_1(app, runner, tenants):
    result = run(runner, str(FIXTURES / "every-problem.csv"), "--reseller", "Reseller A AB")
    assert result.exit_code == 1
    assert "row 2, sku: Unknown SKU NOSUCHSKU." in result.output
    assert "row 12, anniversary_date: Differs from row 11 of the same customer." in result.output
    assert "problems in 13 rows; nothing was imported." in result.output


def test_an_unknown_reseller_is_refused(app, runner, tenants):
    result = run(runner, str(FIXTURES / "utf8-bom-comma.csv"), "--reseller", "Nobody AB")
    assert result.exit_code == 1 and "No reseller named 'Nobody AB'." in result.output
