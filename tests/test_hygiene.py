"""The suite keeps its files to itself: the run's own temp dir, tmp_path for each test's
folders, nothing written into the repository but the screenshots of browser tests.
`leaves_no_files_behind` (tests/conftest.py) counts the files before and after the run."""

from __future__ import annotations

import tempfile
from pathlib import Path

from tests.conftest import ROOT, SYSTEM_TEMP, leftovers


def test_the_run_has_a_temp_dir_of_its_own(tmp_path):
    run_temp = Path(tempfile.gettempdir())
    assert run_temp.parent == SYSTEM_TEMP
    assert run_temp.name.startswith("vip-tests-")
    assert run_temp in tmp_path.parents


def test_an_apps_folders_are_below_pytests_basetemp(app, tmp_path_factory):
    basetemp = tmp_path_factory.getbasetemp()
    for folder in (
        app.config["VIP_OUTBOX_DIR"],
        app.config["VIP_IMPORT_DIR"],
        app.instance_path,
    ):
        assert basetemp in Path(folder).parents
        assert ROOT not in Path(folder).parents


def test_a_new_file_in_the_temp_dir_or_the_repository_is_a_leftover():
    before = {"temp": {"pytest-of-root"}, "instance": {".gitkeep"}, "test-artifacts": set()}
    after = {
        "temp": {"pytest-of-root", "pytest-of-root/pytest-3/x.db", "tmpab12cd"},
        "instance": {".gitkeep", "vip.db"},
        "test-artifacts": {"browser/FAILED-x.png", "trace.zip"},
    }
    assert leftovers(before, after) == [
        "temp/tmpab12cd",
        "instance/vip.db",
        "test-artifacts/trace.zip",
    ]


def test_nothing_left_is_no_leftover():
    snapshot = {"temp": {"pytest-of-root"}, "instance": {".gitkeep"}}
    assert leftovers(snapshot, snapshot) == []
