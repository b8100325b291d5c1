"""docs/deploy/ (issue 13): systemd accepts the units, nginx the proxy, and each runs what
the README's Production section and cron line run, at the address gunicorn listens on."""

from __future__ import annotations

import configparser
import re
import shlex
import shutil
import subprocess
from datetime import datetime
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "docs" / "deploy"
UNITS = (
    "vip-console.service",
    "vip-tick.service",
    "vip-tick.timer",
    "vip-deliver.service",
    "vip-deliver.timer",
)
FOLDER = "/srv/vip"


def readme_block(name: str) -> str:
    """The code block between `<!-- name:begin -->` and `<!-- name:end -->`."""
    found = re.search(
        rf"<!-- {name}:begin -->\n```\w*\n(.*?)```\n<!-- {name}:end -->",
        (ROOT / "README.md").read_text(),
        re.DOTALL,
    )
    assert found, name
    return found.group(1)


def readme_command(block: str, program: str) -> list[str]:
    """The words of the one line of a README block that runs `program`."""
    lines = [line for line in readme_block(block).splitlines() if program in line]
    assert len(lines) == 1, lines
    return shlex.split(lines[0], comments=True)


def unit(name: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    parser.optionxform = str
    parser.read(DEPLOY / name)
    return parser


# --- what the units run --------------------------------------------------------------------


def test_the_console_unit_runs_the_readmes_gunicorn_line_in_the_folder():
    service = unit("vip-console.service")["Service"]
    words = readme_command("production-run", ".venv/bin/gunicorn")
    assert shlex.split(service["ExecStart"]) == [f"{FOLDER}/{words[0]}", *words[1:]]
    assert service["WorkingDirectory"] == FOLDER
    assert (service["User"], service["Group"]) == ("vip", "vip")


def test_the_tick_unit_runs_what_the_readmes_cron_line_runs():
    cron = readme_block("production-cron").strip()
    schedule, command = cron.split(" ", 5)[:5], cron.split(" ", 5)[5]
    assert schedule == ["*/15", "*", "*", "*", "*"]
    found = re.fullmatch(r"cd (\S+) && (.+?) >> \S+ 2>&1", command)
    assert found, command
    folder, job = found.groups()
    service = unit("vip-tick.service")["Service"]
    assert service["WorkingDirectory"] == folder == FOLDER
    assert shlex.split(service["ExecStart"]) == [f"{FOLDER}/{job.split()[0]}", *job.split()[1:]]
    assert service["Type"] == "oneshot"
    assert "Environment" not in service and "EnvironmentFile" not in service  # as cron: .env
    assert unit("vip-tick.timer")["Timer"]["OnCalendar"] == "*:0/15"


def test_the_deliver_unit_runs_what_the_readmes_deliver_cron_line_runs():
    cron = readme_block("production-deliver-cron").strip()
    schedule, command = cron.split(" ", 5)[:5], cron.split(" ", 5)[5]
    assert schedule == ["*", "*", "*", "*", "*"]
    found = re.fullmatch(r"cd (\S+) && (.+?) >> \S+ 2>&1", command)
    assert found, command
    folder, job = found.groups()
    assert job.endswith("vip deliver")
    service = unit("vip-deliver.service")["Service"]
    assert service["WorkingDirectory"] == folder == FOLDER
    assert shlex.split(service["ExecStart"]) == [f"{FOLDER}/{job.split()[0]}", *job.split()[1:]]
    assert "Environment" not in service and "EnvironmentFile" not in service  # as cron: .env
    assert unit("vip-deliver.timer")["Timer"]["OnCalendar"] == "minutely"


def test_the_proxy_forwards_to_where_gunicorn_listens():
    words = readme_command("production-run", ".venv/bin/gunicorn")
    bind = words[words.index("-b") + 1]
    proxy = (DEPLOY / "nginx-vip.conf").read_text()
    assert re.findall(r"proxy_pass (\S+);", proxy) == [f"http://{bind}"]
    assert "proxy_set_header X-Forwarded-Proto $scheme;" in proxy


# --- what systemd and nginx say ------------------------------------------------------------


@pytest.mark.skipif(
    shutil.which("systemd-analyze") is None,
    reason="systemd-analyze is not installed (apt-get install systemd)",
)
def test_systemd_analyze_verify_accepts_the_units(tmp_path):
    """In a copy whose /srv/vip is under tmp_path, with the programs it starts present:
    verify checks that every ExecStart command exists."""
    folder = tmp_path / FOLDER.lstrip("/")
    (folder / ".venv" / "bin").mkdir(parents=True)
    for program in ("gunicorn", "flask"):
        path = folder / ".venv" / "bin" / program
        path.write_text("#!/bin/sh\n")
        path.chmod(0o755)
    copies = tmp_path / "units"
    copies.mkdir()
    for name in UNITS:
        (copies / name).write_text((DEPLOY / name).read_text().replace(FOLDER, str(folder)))
    result = subprocess.run(
        ["systemd-analyze", "verify", *(str(copies / name) for name in UNITS)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0 and result.stdout + result.stderr == "", result.stderr

    # The timer's calendar: every quarter of an hour.
    result = subprocess.run(
        ["systemd-analyze", "calendar", "--iterations=4", "*:0/15"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    elapses = [
        datetime.strptime(" ".join(line.split()[-4:-1]), "%a %Y-%m-%d %H:%M:%S")
        for line in result.stdout.splitlines()
        if "Next elapse:" in line or re.match(r"\s+Iter\. #\d+:", line)
    ]
    assert len(elapses) == 4
    assert {(b - a).total_seconds() for a, b in zip(elapses, elapses[1:])} == {900}


@pytest.mark.skipif(
    shutil.which("nginx") is None or shutil.which("openssl") is None,
    reason="nginx or openssl is not installed (apt-get install nginx-light openssl)",
)
def test_nginx_accepts_the_proxy_example(tmp_path):
    """`nginx -t` on the example in a throwaway prefix, with a self-signed certificate at
    the paths it names."""
    certificate, key = tmp_path / "fullchain.pem", tmp_path / "privkey.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"]
        + ["-subj", "/CN=vip.example.com", "-keyout", str(key), "-out", str(certificate)],
        check=True,
        capture_output=True,
        timeout=60,
    )
    site = (DEPLOY / "nginx-vip.conf").read_text()
    site = re.sub(r"ssl_certificate (\S+);", f"ssl_certificate {certificate};", site)
    site = re.sub(r"ssl_certificate_key (\S+);", f"ssl_certificate_key {key};", site)
    (tmp_path / "logs").mkdir()
    (tmp_path / "vip.conf").write_text(site)
    (tmp_path / "nginx.conf").write_text(
        f"pid {tmp_path / 'nginx.pid'};\nerror_log {tmp_path / 'logs' / 'error.log'};\n"
        f"events {{}}\nhttp {{ access_log off; include {tmp_path / 'vip.conf'}; }}\n"
    )
    result = subprocess.run(
        ["nginx", "-t", "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    # nginx 1.25.1 and later deprecate `listen ... http2` (the file says so); nothing else.
    warnings = [line for line in result.stderr.splitlines() if "[warn]" in line]
    assert all("http2" in line for line in warnings), result.stderr
