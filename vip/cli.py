"""`flask --app app vip ...`: demo data, users, catalog. Each command wraps a service."""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path

import click
from flask.cli import AppGroup
from flask_babel import force_locale
from sqlalchemy import select

from vip import clock
from vip.config import parse_day
from vip.demo import DEFAULT_PASSWORD, load_demo
from vip.extensions import db
from vip.generate import generate_portfolio
from vip.models import Customer, Role
from vip.services import (
    accounts,
    catalog,
    customer_import,
    deadlines,
    job,
    outbox,
    resellers,
    security_log,
    webhooks,
)
from vip.services.errors import DomainError


@click.group("vip", cls=AppGroup, help="VIP Reseller Console commands.")
def vip_cli() -> None:
    pass


@vip_cli.command("load-catalog")
@click.option("--file", "path", type=click.Path(exists=True, dir_okay=False), default=None)
def load_catalog_command(path: str | None) -> None:
    """Upsert the product catalog from CSV (idempotent)."""
    result = catalog.load_catalog(Path(path) if path else catalog.CATALOG_CSV)
    click.echo(
        f"Catalog: {result.created} created, {result.updated} updated, "
        f"{result.unchanged} unchanged."
    )


@vip_cli.command("demo")
@click.option("--password", default=None, help="Password for every demo user.")
def demo_command(password: str | None) -> None:
    """Load the demo resellers, users and customers (idempotent)."""
    password = password or DEFAULT_PASSWORD
    created, logins = load_demo(today=clock.today_in(None), password=password)
    click.echo("Demo data loaded." if created else "Demo data already present; nothing changed.")
    click.echo("Demo logins (password: %s):" % (password if created else "as when loaded"))
    for login in logins:
        click.echo(f"  {login.email:<26} {login.role:<15} {login.where}")


@vip_cli.command("generate")
@click.option("--customers", type=click.IntRange(1, 1_000_000), required=True)
@click.option("--seed", type=int, default=1, show_default=True)
@click.option("--reseller", "reseller_name", default="Bench Reseller AB", show_default=True)
def generate_command(customers: int, seed: int, reseller_name: str) -> None:
    """Fill the database with a distributor-size portfolio for benchmarks (bulk inserts)."""
    report = generate_portfolio(
        customers=customers, today=clock.today_in(None), seed=seed, reseller_name=reseller_name
    )
    click.echo(
        f"Generated for {reseller_name!r} in {report.seconds:.1f} s: "
        f"{report.customers:,} customers ({report.delayed:,} Försenad), "
        f"{report.authorizations:,} purchase authorizations "
        f"({', '.join(f'{k} {v:,}' for k, v in sorted(report.by_status.items()))}), "
        f"{report.authorization_lines:,} authorization lines, {report.orders:,} orders, "
        f"{report.order_lines:,} order lines, {report.assignments:,} license assignments, "
        f"{report.reminders:,} reminder mails already sent."
    )


def _read_password() -> str:
    """From a prompt on a terminal (asked twice), else the first line of stdin."""
    if sys.stdin.isatty():
        return click.prompt("Password", hide_input=True, confirmation_prompt=True)
    return sys.stdin.readline().rstrip("\r\n")


#: The command-line name of each field `create-reseller` may report a problem with.
OPTION_OF_FIELD = {
    "name": "NAME",
    "country": "--country",
    "time_zone": "--time-zone",
    "contact_email": "--contact-email",
    "contact_phone": "--contact-phone",
    "email": "--admin",
    "language": "--language",
    "password": "password",
}


@vip_cli.command("create-reseller")
@click.argument("name")
@click.option("--country", default="SE", show_default=True, help="Two-letter country code.")
@click.option("--time-zone", default="Europe/Stockholm", show_default=True)
@click.option("--contact-email", default=None, help="Shown to VIP admins.")
@click.option("--contact-phone", default=None, help="Shown to VIP admins.")
@click.option("--admin", "admin_email", required=True, help="The first partner admin's email.")
@click.option("--admin-name", default=None, help="Display name (default: from the email).")
@click.option("--language", type=click.Choice(["sv", "en"]), default="sv", show_default=True)
@click.option(
    "--invite",
    is_flag=True,
    help="Mail the admin a single-use link to choose a password instead of asking for one.",
)
def create_reseller_command(
    name,
    country,
    time_zone,
    contact_email,
    contact_phone,
    admin_email,
    admin_name,
    language,
    invite,
) -> None:
    """Create a reseller and its first partner admin. The password is read from a prompt,
    or from stdin when piped; with --invite the admin gets a set-password link by mail."""
    password = None if invite else _read_password()
    try:
        created = resellers.create_reseller(
            profile=resellers.ResellerProfile(
                name=name,
                country=country,
                time_zone=time_zone,
                contact_email=contact_email,
                contact_phone=contact_phone,
            ),
            admin_email=admin_email,
            admin_name=admin_name,
            language=language,
            password=password,
        )
    except DomainError as error:
        problems = getattr(error, "errors", None) or {error.field: error.message}
        with force_locale("en"):  # the command line speaks English
            line = " ".join(
                f"{OPTION_OF_FIELD.get(field, field or 'reseller')}: {message}"
                for field, message in problems.items()
            )
        raise click.ClickException(line) from error
    click.echo(
        f"Created reseller {created.reseller.name!r} and its partner admin "
        f"{created.admin.email} ({created.admin.language})."
    )
    if created.set_password_link:
        click.echo(
            "A set-password link is queued for the admin; `vip send-mail` or the next "
            "`vip tick` delivers it."
        )


@vip_cli.command("create-user")
@click.argument("email")
@click.option("--role", type=click.Choice([role.value for role in Role]), required=True)
@click.option("--reseller", "reseller_name", default=None, help="Reseller name.")
@click.option("--customer", "vip_id", default=None, help="VIP ID of the customer.")
@click.option("--name", default=None, help="Display name (default: from the email).")
@click.option("--language", type=click.Choice(["sv", "en"]), default="sv")
def create_user_command(email, role, reseller_name, vip_id, name, language) -> None:
    """Create a user; the password is read from a prompt, or from stdin when piped."""
    if (reseller_name is None) == (vip_id is None):
        raise click.UsageError("Give exactly one of --reseller NAME or --customer VIPID.")
    reseller = customer = None
    if reseller_name is not None:
        reseller = resellers.find_by_name(reseller_name)
        if reseller is None:
            raise click.ClickException(f"No reseller named {reseller_name!r}.")
    else:
        customer = db.session.scalar(select(Customer).where(Customer.vip_id == vip_id))
        if customer is None:
            raise click.ClickException(f"No customer with VIP ID {vip_id!r}.")
    password = _read_password()
    try:
        user = accounts.create_user(
            email=email,
            name=name or email.split("@")[0],
            password=password,
            role=Role(role),
            language=language,
            reseller=reseller,
            customer=customer,
        )
    except DomainError as error:
        raise click.ClickException(str(error)) from error
    click.echo(f"Created {user.email} ({user.role.value}).")


def _print_delivery(report) -> None:
    click.echo(
        f"Mail: {report.sent} sent, {report.retrying} to retry, {report.failed} failed, "
        f"{report.cancelled} no longer relevant."
    )
    for step in report.steps:
        click.echo(f"  {step.describe()}")


def _print_webhooks(report) -> None:
    click.echo(
        f"Webhooks: {report.delivered} delivered, {report.retrying} to retry, "
        f"{report.failed} failed, {report.cancelled} cancelled."
    )
    for line in report.lines:
        click.echo(f"  {line}")


def _print_deadlines(report) -> None:
    click.echo(f"Försenad: {report.delayed} set, {report.delay_cleared} cleared.")
    click.echo(f"Access removed: {report.access_removed}.")
    for kind in deadlines.ReminderKind:
        click.echo(f"Reminders queued, {kind}: {report.reminders.get(kind, 0)}.")
    click.echo(f"Levels raised by the look-back: {report.lookbacks}.")
    click.echo(f"Three-year commitments changed: {report.commitments}.")
    for change in report.changes:
        click.echo(f"  {change.describe()}")


class OneLineUsageError(click.ClickException):
    """A bad option value, said on one line ("Error: ..."), exit status 2 like click's
    own usage errors (S37)."""

    exit_code = 2


class Day(click.ParamType):
    """A date option: YYYY-MM-DD within the dates the console works on (S37)."""

    name = "YYYY-MM-DD"

    def convert(self, value, param, ctx):
        try:
            return parse_day(value)
        except ValueError as error:
            option = param.opts[0] if param is not None and param.opts else "the date"
            raise OneLineUsageError(f"{option}: {value!r} is not {error}.") from None


@vip_cli.command("tick")
@click.option(
    "--today",
    type=Day(),
    default=None,
    help="YYYY-MM-DD; default: each reseller's local date (or VIP_TODAY).",
)
@click.option("--no-send", is_flag=True, help="Queue mail but do not deliver it.")
@click.option(
    "--dry-run",
    is_flag=True,
    help="Print what the run would change and send, and change nothing.",
)
def tick_command(today: date | None, no_send: bool, dry_run: bool) -> None:
    """Apply the deadlines (Försenad, reminders, access removal), then deliver mail and
    webhook events."""
    days = job.resellers_by_local_date(today)
    if dry_run:
        preview = job.preview_tick(days=days, now=clock.now(), send=not no_send)
        click.echo("Dry run: nothing is changed and no mail is sent.")
        _print_deadlines(preview.deadlines)
        expired = security_log.expired_count(now=clock.now())
        if expired:
            click.echo(f"Security log: {expired} events past the retention period to delete.")
        if no_send:
            click.echo("Mail: not sent (--no-send).")
            return
        cancelled = sum(1 for step in preview.deliveries if step.action == outbox.CANCEL)
        click.echo(
            f"Mail: {len(preview.deliveries) - cancelled} to send, {cancelled} no longer relevant."
        )
        for step in preview.deliveries:
            click.echo(f"  {step.describe()}")
        return
    _print_deadlines(job.run_deadlines(days))
    job.refresh_planner_statistics()
    purged = security_log.purge_expired(now=clock.now())
    if purged:
        click.echo(f"Security log: {purged} events past the retention period deleted.")
    if no_send:
        click.echo("Mail: not sent (--no-send).")
        return
    delivery = job.deliver_mail(days=days, now=clock.now())
    _print_delivery(delivery)
    hooks = webhooks.deliver_pending(now=clock.now())
    if hooks.lines or hooks.cancelled:  # the tick's report stays as it was without webhooks
        _print_webhooks(hooks)
    if delivery.failed or delivery.retrying or hooks.failed or hooks.retrying:
        sys.exit(1)


@vip_cli.command("send-mail")
def send_mail_command() -> None:
    """Deliver queued mail, retrying failures with backoff."""
    delivery = outbox.deliver_queued(now=clock.now())
    _print_delivery(delivery)
    if delivery.failed or delivery.retrying:
        sys.exit(1)


@vip_cli.command("deliver")
def deliver_command() -> None:
    """Deliver queued mail and webhook events, retrying failures with backoff."""
    mail = outbox.deliver_queued(now=clock.now())
    _print_delivery(mail)
    hooks = webhooks.deliver_pending(now=clock.now())
    _print_webhooks(hooks)
    if mail.failed or mail.retrying or hooks.failed or hooks.retrying:
        sys.exit(1)


@vip_cli.command("import-customers")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--reseller", "reseller_name", required=True, help="Reseller name.")
@click.option("--dry-run", is_flag=True, help="Check the file and print what it would import.")
@click.option("--no-invite", is_flag=True, help="Do not mail the VIP admins an invitation.")
@click.option(
    "--language",
    type=click.Choice(["sv", "en"]),
    default="sv",
    show_default=True,
    help="The VIP admins' language where the file's admin_language is empty.",
)
def import_customers_command(path, reseller_name, dry_run, no_invite, language) -> None:
    """Import existing VIP customers from a CSV file (all or nothing)."""
    reseller = resellers.find_by_name(reseller_name)
    if reseller is None:
        raise click.ClickException(f"No reseller named {reseller_name!r}.")
    actor = resellers.first_partner_admin(reseller)
    if actor is None:
        raise click.ClickException(f"{reseller.name!r} has no active partner admin.")
    data = Path(path).read_bytes()
    today = clock.today_in(reseller.time_zone)
    with force_locale("en"):
        check = customer_import.check_file(
            data=data, file_name=Path(path).name, default_language=language, today=today
        )
        if check.problems:
            shown = check.problems[:200]
            for problem in shown:
                row, column, message = problem.as_row()
                where = f"row {row}" if row else "file"
                column = check.column_label(column)
                click.echo(f"{where}{', ' + column if column else ''}: {message}", err=True)
            if len(check.problems) > len(shown):
                click.echo(f"... and {len(check.problems) - len(shown)} more problems.", err=True)
            count = len(check.problems)
            raise click.ClickException(
                f"{count} problem{'' if count == 1 else 's'} in {check.rows} rows; "
                "nothing was imported."
            )
        invite = not no_invite
        click.echo(
            f"{check.file_name}: {len(check.customers)} customers, {check.lines} product lines, "
            f"{check.licenses} licenses, {check.invitations(invite)} invitations to mail."
        )
        if dry_run:
            click.echo("Dry run: nothing was imported.")
            return
        bar = None
        if sys.stdout.isatty() and check.rows > customer_import.PROGRESS_FROM_ROWS:
            bar = click.progressbar(length=len(check.customers), label="Importing")
            bar.__enter__()
        done_before = 0

        def advance(done: int, total: int) -> None:
            nonlocal done_before
            if bar is not None:
                bar.update(done - done_before)
            done_before = done

        try:
            result = customer_import.import_customers(
                user=actor, check=check, invite=invite, today=today, progress=advance
            )
        except DomainError as error:
            raise click.ClickException(str(error)) from error
        finally:
            if bar is not None:
                bar.__exit__(None, None, None)
    click.echo(
        f"Imported {result.customers} customers for {reseller.name!r} "
        f"({result.licenses} licenses; {result.invitations} invitations queued)."
    )
