"""The layers hold and CI enforces them (README "Layout"): `lint-imports` checks the
contracts in pyproject.toml (web and the command line over services, services over mail
and models, no import loops), and fails on a deliberately bad import. Services never reach
for the request, the session or the signed-in user: they are given the actor and the date."""

from __future__ import annotations

import ast
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def lint_imports(project: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(LINT_IMPORTS), "--config", str(project / "pyproject.toml"), "--no-cache"],
        cwd=project,
        env={**os.environ, "PYTHONPATH": str(project)},
        capture_output=True,
        text=True,
        timeout=120,
    )


def copy_of_the_package(tmp_path: Path) -> Path:
    project = tmp_path / "project"
    shutil.copytree(
        ROOT / "vip",
        project / "vip",
        ignore=shutil.ignore_patterns("__pycache__", "*.mo", "*.po", "*.pot", "*.csv"),
    )
    shutil.copy(ROOT / "pyproject.toml", project / "pyproject.toml")
    return project


def test_the_import_contracts_hold():
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 kept, 0 broken" in result.stdout


def test_a_model_importing_a_service_breaks_the_layers(tmp_path):
    project = copy_of_the_package(tmp_path)
    model = project / "vip" / "models" / "catalog.py"
    model.write_text(model.read_text() + "\nfrom vip.services import access  # noqa: E402,F401\n")
    result = lint_imports(project)
    assert result.returncode == 1, result.stdout
    assert "vip.models.catalog -> vip.services.access" in result.stdout


def test_a_loop_between_two_services_breaks_the_contract(tmp_path):
    project = copy_of_the_package(tmp_path)
    terms = project / "vip" / "services" / "terms.py"
    terms.write_text(terms.read_text() + "\nfrom vip.services import orders  # noqa: E402,F401\n")
    result = lint_imports(project)
    assert result.returncode == 1, result.stdout
    assert "No import loops" in result.stdout and "BROKEN" in result.stdout


FORBIDDEN_IN_SERVICES = {"request", "session", "current_user", "g"}


def test_services_and_models_never_touch_the_request_or_the_signed_in_user():
    offenders = []
    for folder in ("services", "models"):
        for path in sorted((ROOT / "vip" / folder).glob("*.py")):
            tree = ast.parse(path.read_text())
            for node in ast.walk(tree):
                if isinstance(node, ast.ImportFrom) and node.module in ("flask", "flask_login"):
                    names = {alias.name for alias in node.names} & FORBIDDEN_IN_SERVICES
                    if names:
                        offenders.append(f"{path.relative_to(ROOT)}: {sorted(names)}")
    assert offenders == []


# -- One home per rule (docs/rules.md) ------------------------------------------------------

RULES_DOC = ROOT / "docs" / "rules.md"


def documented_rules() -> dict[str, Path]:
    """Rule id -> the file its heading in docs/rules.md names as its definition."""
    rules: dict[str, Path] = {}
    rule = None
    for line in RULES_DOC.read_text(encoding="utf-8").splitlines():
        heading = re.match(r"## (R\d+) ", line)
        if heading:
            rule = heading.group(1)
            continue
        defined = re.match(r"Defined in `([^`]+)`", line)
        if rule and defined:
            rules[rule] = ROOT / defined.group(1)
            rule = None
    return rules


def mentions_of_rule_ids() -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for path in sorted((ROOT / "vip").rglob("*.py")):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            for rule in re.findall(r"\bR\d{1,2}\b", line):
                found.setdefault(rule, []).append(f"{path.relative_to(ROOT)}:{number}")
    return found


def test_every_rule_names_its_one_definition_and_the_id_appears_only_there():
    rules = documented_rules()
    headings = re.findall(r"^## (R\d+) ", RULES_DOC.read_text(encoding="utf-8"), re.M)
    assert headings and sorted(rules) == sorted(headings), "a rule heading lacks 'Defined in'"
    mentions = mentions_of_rule_ids()
    for rule, path in rules.items():
        places = mentions.get(rule, [])
        assert len(places) == 1, f"{rule} appears {len(places)} times in vip/: {places}"
        assert places[0].startswith(str(path.relative_to(ROOT)) + ":"), (rule, places, path)
    assert set(mentions) <= set(rules), f"ids in vip/ without a rule: {set(mentions) - set(rules)}"


def test_every_rule_has_a_test_named_after_it():
    names = set()
    for path in (ROOT / "tests").rglob("test_*.py"):
        names.update(re.findall(r"def (test_r\d+)_", path.read_text(encoding="utf-8")))
    missing = [rule for rule in documented_rules() if f"test_{rule.lower()}" not in names]
    assert not missing, f"rules without a test named after them: {missing}"
