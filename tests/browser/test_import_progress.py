"""Kunder → Importera's progress in every state, in both languages (README, "Every screen,
every user"): while a file imports in the background, when it is done, and when it failed,
the page passes axe-core and fits 390 and 640 px, its progress bar has a name, and each
change is read out by the page's live region without keyboard focus jumping about.

The import is held after its first customer (`HeldImport`) so that the running state stays
on screen as long as the test looks at it; the page polls every second as for any file
above `PROGRESS_FROM_ROWS` rows."""

from __future__ import annotations

import re
import threading
from pathlib import Path

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from tests.browser.support import Sweep, sweep_for
from vip.extensions import db
from vip.models import Customer
from vip.services import customer_import

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "import"
#: Long enough for the page's one-second poll; short enough for a stuck test to end.
HOLD_SECONDS = 15

TEXTS = {
    "sv": {
        "running": "Importerar: 1 av 2 kunder skrivna.",
        "done": "2 kunder importerades",
        "failed": "Importen misslyckades; ingenting importerades.",
    },
    "en": {
        "running": "Importing: 1 of 2 customers written.",
        "done": "2 customers were imported",
        "failed": "The import failed; nothing was imported.",
    },
}


class HeldImport:
    """Wraps the import service: every file imports in the background, one customer at a
    time, and waits after the first until `release()`; with `fail`, it then breaks (and
    the import's transaction is rolled back, as for any unexpected error)."""

    def __init__(self, monkeypatch):
        self.released = threading.Event()
        self.fail = False
        original = customer_import.import_customers

        def held(*, progress, **kwargs):
            def progress_then_wait(done, total):
                progress(done, total)
                if not self.released.wait(HOLD_SECONDS):
                    raise TimeoutError("the test never released the import")
                if self.fail:
                    raise RuntimeError("the import breaks (a test)")

            return original(progress=progress_then_wait, **kwargs)

        monkeypatch.setattr(customer_import, "import_customers", held)
        monkeypatch.setattr(customer_import, "PROGRESS_FROM_ROWS", 0)
        monkeypatch.setattr(customer_import, "WRITE_BATCH", 1)

    def start(self, *, fail: bool = False) -> None:
        self.released.clear()
        self.fail = fail

    def release(self) -> None:
        self.released.set()


@pytest.fixture
def held_import(monkeypatch):
    held = HeldImport(monkeypatch)
    yield held
    held.release()  # a failed test leaves no import thread waiting


def customers(app) -> int:
    with app.app_context():
        count = db.session.scalar(sa.select(sa.func.count(Customer.id)))
        db.session.remove()
    return count


#: Writes down what the page's live region says and how often keyboard focus moves.
LISTEN = """() => {
  const announcer = document.getElementById("announcer");
  window.__heard = [];
  window.__focusMoves = 0;
  new MutationObserver(() => {
    const text = announcer.textContent.trim();
    if (text) window.__heard.push(text);
  }).observe(announcer, { childList: true, characterData: true, subtree: true });
  document.addEventListener("focusin", () => { window.__focusMoves += 1; }, true);
}"""


def upload_and_run(sweep: Sweep, file_name: str) -> str:
    """Checks the file on the import page and presses Import; the progress page's path."""
    page = sweep.page
    page.goto("/customers/import")
    page.locator("#import-file").set_input_files(str(FIXTURES / file_name))
    page.locator("#import-upload button[type=submit]").click()
    run_form = page.locator("#import-result form[action*='/run']")
    expect(run_form).to_be_visible()
    token = re.search(r"/customers/import/(\w+)/run", run_form.get_attribute("action"))
    page.evaluate(LISTEN)
    page.locator("#import-run").click()
    return f"/customers/import/{token.group(1)}/progress"


def check_heard(sweep: Sweep, label: str, text: str) -> None:
    """The page's live region #announcer said `text`, and focus is not lost on the body."""
    page = sweep.page
    expect(page.locator("#announcer")).to_contain_text(text)
    focused = page.evaluate("() => document.activeElement && document.activeElement.tagName")
    if focused in (None, "BODY"):
        sweep.problems.append(f"{label}: keyboard focus fell back to the page's body")


@pytest.mark.parametrize("language", ["sv", "en"])
def test_import_progress_is_accessible_while_running_done_and_failed(
    app, tenants, live_server, new_context, held_import, language
):
    texts = TEXTS[language]
    sweep = sweep_for(new_context, language)
    page = sweep.page
    sweep.sign_in(tenants.a.admin.email)
    before = customers(app)

    # Running: on the import page where Import was pressed, and the progress page itself.
    held_import.start()
    progress_path = upload_and_run(sweep, "utf8-bom-comma.csv")
    bar = page.get_by_role("progressbar", name=texts["running"])
    expect(bar).to_have_attribute("value", "1")
    check_heard(sweep, f"[{language}] import running", texts["running"])
    sweep.check(f"[{language}] /customers/import while importing")
    moves = page.evaluate("() => window.__focusMoves")
    page.wait_for_timeout(2_500)  # two polls more, with nothing new to say
    heard = page.evaluate("() => window.__heard")
    assert heard.count(texts["running"]) == 1, heard
    assert page.evaluate("() => window.__focusMoves") == moves, "focus moved on a poll"
    progress_page = Sweep(page.context.new_page(), language)
    progress_page.page.goto(progress_path)
    expect(progress_page.page.get_by_role("progressbar", name=texts["running"])).to_be_visible()
    progress_page.check(f"[{language}] {progress_path} while importing")
    progress_page.page.close()
    sweep.problems += progress_page.problems

    # Done: the poll brings the outcome, read out; focus stays put.
    held_import.release()
    expect(page.locator("#import-result")).to_contain_text(texts["done"])
    check_heard(sweep, f"[{language}] import done", texts["done"])
    assert page.evaluate("() => window.__focusMoves") == moves, "focus moved on a poll"
    sweep.check(f"[{language}] /customers/import done")
    page.goto(progress_path)
    expect(page.locator("#import-result")).to_contain_text(texts["done"])
    sweep.check(f"[{language}] {progress_path} done")
    assert customers(app) == before + 2

    # Failed: nothing imported, and said at once.
    held_import.start(fail=True)
    progress_path = upload_and_run(sweep, "excel-sv-cp1252-semicolon.csv")
    expect(page.get_by_role("progressbar")).to_be_visible()
    held_import.release()
    alert = page.get_by_role("alert").filter(has_text=texts["failed"])
    expect(alert).to_be_visible()
    sweep.check(f"[{language}] /customers/import failed")
    page.goto(progress_path)
    expect(page.get_by_role("alert").filter(has_text=texts["failed"])).to_be_visible()
    sweep.check(f"[{language}] {progress_path} failed")
    assert customers(app) == before + 2
    assert sweep.problems == [], "\n".join(sweep.problems)
