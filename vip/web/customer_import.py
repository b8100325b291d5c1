"""Kunder → Importera: a partner admin uploads a CSV file of existing VIP customers, sees
every problem (or a preview), and imports it. Files above PROGRESS_FROM_ROWS rows import
in the background while the page polls for progress.

An upload is kept on disk (`VIP_IMPORT_DIR`, by default `instance/imports/`) under a random
token, in a folder of the reseller's own: another reseller's token is simply not found.
A small JSON file beside it holds the run's state, which every worker process can read.
"""

from __future__ import annotations

import csv
import io
import json
import os
import secrets
import threading
from dataclasses import asdict, dataclass
from pathlib import Path

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import force_locale, get_locale
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select

from vip import clock
from vip.extensions import db
from vip.models import LicenseType, Product, User
from vip.services import access, customer_import
from vip.services.errors import DomainError
from vip.services.terms import add_months
from vip.web.htmx import is_htmx, render_page_or_partial

bp = Blueprint("customer_import", __name__, url_prefix="/customers/import")

MAX_BYTES = 20 * 1024 * 1024  # 50,000 rows of a wide file fit well inside
SHOWN_PROBLEMS = 200
TOKEN_LENGTH = 32


# -- The uploads on disk ------------------------------------------------------------------------


@dataclass
class RunState:
    file_name: str
    invite: bool
    status: str = "checked"  # checked -> running -> done | failed
    done: int = 0
    total: int = 0
    imported: int = 0
    licenses: int = 0
    invitations: int = 0
    error: str = ""

    @property
    def is_running(self) -> bool:
        return self.status == "running"

    @property
    def is_done(self) -> bool:
        return self.status == "done"

    @property
    def has_failed(self) -> bool:
        return self.status == "failed"


def _folder(reseller_id: int) -> Path:
    base = current_app.config.get("VIP_IMPORT_DIR") or Path(current_app.instance_path) / "imports"
    folder = Path(base) / str(reseller_id)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _paths(reseller_id: int, token: str) -> tuple[Path, Path]:
    if len(token) != TOKEN_LENGTH or not token.isalnum():
        abort(404)
    folder = _folder(reseller_id)
    return folder / f"{token}.csv", folder / f"{token}.json"


def _write_state(path: Path, state: RunState) -> None:
    partial = path.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp")
    partial.write_text(json.dumps(asdict(state)))
    partial.replace(path)  # atomic: a poll reads all of it or the previous one


def _read_state(path: Path) -> RunState:
    if not path.exists():
        abort(404)
    return RunState(**json.loads(path.read_text()))


def _claim_run(reseller_id: int, token: str) -> bool:
    """Single-shot: only the first request may start this upload's import."""
    lock = _folder(reseller_id) / f"{token}.started"
    try:
        os.close(os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
    except FileExistsError:
        return False
    return True


# -- Pages ---------------------------------------------------------------------------------------


def _check(data: bytes, file_name: str):
    return customer_import.check_file(
        data=data,
        file_name=file_name,
        default_language=current_user.language,
        today=clock.today_for(current_user),
    )


def _render(template_context: dict, status: int = 200):
    page = render_page_or_partial(
        "customer_import/index.html", "customer_import/_result.html", **template_context
    )
    return page, status


@bp.get("")
@login_required
def index():
    access.require(current_user, "customers.import")
    return render_template("customer_import/index.html", check=None)


@bp.post("")
@login_required
def upload():
    access.require(current_user, "customers.import")
    upload = request.files.get("file")
    invite = request.form.get("invite") == "1"
    if upload is None or not upload.filename:
        return _render({"check": None, "upload_error": _("Choose a CSV file.")}, 422)
    data = upload.stream.read(MAX_BYTES + 1)
    if len(data) > MAX_BYTES:
        return _render(
            {"check": None, "upload_error": _("The file is larger than 20 MB; split it.")}, 422
        )
    file_name = Path(upload.filename).name[:200]
    check = _check(data, file_name)
    token = secrets.token_hex(TOKEN_LENGTH // 2)
    csv_path, state_path = _paths(current_user.reseller_id, token)
    csv_path.write_bytes(data)
    _write_state(state_path, RunState(file_name=file_name, invite=invite))
    context = {
        "check": check,
        "token": token,
        "invite": invite,
        "shown": check.problems[:SHOWN_PROBLEMS],
    }
    return _render(context, 200 if check.valid else 422)


@bp.post("/<token>/run")
@login_required
def run(token: str):
    access.require(current_user, "customers.import")
    csv_path, state_path = _paths(current_user.reseller_id, token)
    state = _read_state(state_path)
    if not csv_path.exists() or not _claim_run(current_user.reseller_id, token):
        return _progress_response(token, state)
    check = _check(csv_path.read_bytes(), state.file_name)
    if not check.valid:  # something changed since the preview (another import, say)
        (csv_path.parent / f"{token}.started").unlink(missing_ok=True)
        context = {
            "check": check,
            "token": token,
            "invite": state.invite,
            "shown": check.problems[:SHOWN_PROBLEMS],
        }
        return _render(context, 422)
    state.status, state.total = "running", len(check.customers)
    _write_state(state_path, state)
    if check.rows > customer_import.PROGRESS_FROM_ROWS:
        app = current_app._get_current_object()
        worker = threading.Thread(
            target=_import_in_background,
            args=(app, current_user.id, token, state),
            name=f"vip-import-{token[:8]}",
            daemon=True,
        )
        worker.start()
        return _progress_response(token, state)
    _import(current_user._get_current_object(), check, state, state_path, csv_path)
    if state.status == "done":
        message = _(
            "%(count)s customers were imported (%(licenses)s licenses, %(invitations)s "
            "invitations queued).",
            count=state.imported,
            licenses=state.licenses,
            invitations=state.invitations,
        )
        flash(message, "success")
        target = url_for("customers.index", sort="name")
        if is_htmx():
            response = Response(status=204)
            response.headers["HX-Redirect"] = target
            return response
        return redirect(target, 303)
    return _progress_response(token, state)


def _import(user: User, check, state: RunState, state_path: Path, csv_path: Path) -> None:
    def progress(done: int, total: int) -> None:
        state.done, state.total = done, total
        _write_state(state_path, state)

    try:
        result = customer_import.import_customers(
            user=user,
            check=check,
            invite=state.invite,
            today=clock.today_for(user),
            progress=progress,
        )
    except DomainError as error:
        state.status, state.error = "failed", str(error)
    except Exception:  # noqa: BLE001 - the page says it failed; the log has the traceback
        current_app.logger.exception("customer import %s failed", state_path.stem)
        state.status, state.error = "failed", _("The import failed; nothing was imported.")
    else:
        state.status = "done"
        state.imported, state.licenses = result.customers, result.licenses
        state.invitations = result.invitations
        csv_path.unlink(missing_ok=True)
    _write_state(state_path, state)


def _import_in_background(app, user_id: int, token: str, state: RunState) -> None:
    """The import of a large file, in its own session: the file is checked again there, so
    nothing of the request's session crosses over."""
    with app.app_context():
        try:
            user = db.session.get(User, user_id)
            with force_locale(user.language):
                csv_path, state_path = _paths(user.reseller_id, token)
                check = customer_import.check_file(
                    data=csv_path.read_bytes(),
                    file_name=state.file_name,
                    default_language=user.language,
                    today=clock.today_for(user),
                )
                _import(user, check, state, state_path, csv_path)
        finally:
            db.session.remove()


def _progress_response(token: str, state: RunState):
    return render_page_or_partial(
        "customer_import/progress.html", "customer_import/_progress.html", token=token, state=state
    )


@bp.get("/<token>/progress")
@login_required
def progress(token: str):
    access.require(current_user, "customers.import")
    _, state_path = _paths(current_user.reseller_id, token)
    return _progress_response(token, _read_state(state_path))


@bp.get("/<token>/problems.csv")
@login_required
def problems_csv(token: str):
    """Every problem of the upload (the page shows the first 200)."""
    access.require(current_user, "customers.import")
    csv_path, state_path = _paths(current_user.reseller_id, token)
    state = _read_state(state_path)
    if not csv_path.exists():
        abort(404)
    check = _check(csv_path.read_bytes(), state.file_name)
    swedish = str(get_locale()) == "sv"
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";" if swedish else ",", lineterminator="\r\n")
    writer.writerow([_("Row"), _("Column"), _("Problem")])
    for problem in check.problems:
        row, column, message = problem.as_row()
        writer.writerow([row or "", check.column_label(column), message])
    body = "\ufeff" + buffer.getvalue()
    return Response(
        body,
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{_("problems")}-{token[:8]}.csv"'},
    )


#: The sample file's columns, each in English and Swedish (the import reads both).
SAMPLE_HEADERS = {
    "en": [names[0] for names in customer_import.COLUMNS.values()],
    "sv": [names[-1] if len(names) > 1 else names[0] for names in customer_import.COLUMNS.values()],
}


@bp.get("/sample-<any(sv, en):language>.csv")
@login_required
def sample(language: str):
    access.require(current_user, "customers.import")
    team = db.session.scalars(
        select(Product)
        .where(
            Product.license_type == LicenseType.TEAM,
            Product.active.is_(True),
            Product.education_device.is_(False),
            Product.market_segment == "commercial",
        )
        .order_by(Product.id)
        .limit(2)
    ).all()
    if len(team) < 2:
        abort(404)
    anniversary = add_months(clock.today_for(current_user), 6)
    swedish = language == "sv"
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";" if swedish else ",", lineterminator="\r\n")
    writer.writerow(SAMPLE_HEADERS[language])
    with force_locale(language):
        company = "Exempel AB" if swedish else "Example Ltd"
        writer.writerow(
            [company, "", "COM", "Anna Andersson", "anna@example.com", language,
             anniversary.isoformat(), "Team", team[0].sku, 10, "PO-1001"]
        )  # fmt: skip
        writer.writerow(
            [company, "", "COM", "Anna Andersson", "anna@example.com", language,
             anniversary.isoformat(), "Team", team[1].renewal_sku, 3, ""]
        )  # fmt: skip
        writer.writerow(
            ["Ny Kund AB" if swedish else "New Customer Ltd", "", "COM", "Per Persson",
             "per@example.com", language, "", "", "", "", ""]
        )  # fmt: skip
    body = ("\ufeff" if swedish else "") + buffer.getvalue()
    return Response(
        body.encode("utf-8"),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="vip-import-{language}.csv"'},
    )
