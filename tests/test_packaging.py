"""The wheel is the product: built, installed in a fresh virtual environment away from the
repository, it serves every page and static file, and says its version.

The fresh environment gets the wheel itself (``--no-deps``) and borrows the dependencies
of the test environment through a path entry, so the test needs no download; a path entry
doesn't run the ``.pth`` files beside it, so the repository's editable install stays out.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import sysconfig
import zipfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

import atexpert
from atexpert.web.pages import PAGES, STATIC_DIRS
from tests.support.processes import free_port, wait_ready

REPO = Path(__file__).resolve().parents[1]
FRONTEND = REPO / "frontend"
SECRET_KEY = "packaging-test-secret-" + "k" * 32


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
         "--wheel-dir", str(out), str(REPO)],
        check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    (built,) = out.glob("atexpert-*.whl")
    return built


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory, wheel: Path) -> Path:
    """A fresh virtual environment holding the wheel, outside the repository."""
    root = tmp_path_factory.mktemp("venv")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(root)], check=True)
    python = root / "bin" / "python"
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet",
         "--no-deps", str(wheel)],
        check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        check=True, capture_output=True, text=True,
    ).stdout.strip()  # fmt: skip
    (Path(site) / "borrowed-dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")
    return root


def test_the_wheel_carries_the_pages_and_the_lua(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    pages = {str(p.relative_to(REPO)) for p in FRONTEND.rglob("*") if p.is_file()}
    assert {f"atexpert/{p}" for p in pages} <= names
    lua = {str(p.relative_to(REPO)) for p in (REPO / "atexpert").rglob("*.lua")}
    assert lua and lua <= names
    assert "atexpert/py.typed" in names


def test_one_version_number(wheel: Path, venv: Path) -> None:
    said = subprocess.run(
        [str(venv / "bin" / "atexpert"), "--version"], check=True, capture_output=True,
        text=True, cwd=venv,
    ).stdout.strip()  # fmt: skip
    assert said == f"atexpert {atexpert.__version__}"
    assert wheel.name.startswith(f"atexpert-{atexpert.__version__}-")


@pytest.fixture(scope="module")
def served(venv: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``atexpert serve`` from the fresh environment, with its own embedded Redis."""
    home = tmp_path_factory.mktemp("home")
    port = free_port()
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("ATEXPERT_", "PYTHON"))}
    environ |= {"ATEXPERT_SECRET_KEY": SECRET_KEY, "ATEXPERT_DATA_DIR": str(home / "data")}
    proc = subprocess.Popen(
        [str(venv / "bin" / "atexpert"), "serve", "--port", str(port)],
        cwd=home, env=environ, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(proc, base)
        yield base
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)


def test_the_installed_app_runs_from_the_wheel(venv: Path) -> None:
    where = subprocess.run(
        [str(venv / "bin" / "python"), "-c",
         "import atexpert.web.pages as p; print(p.__file__); print(p.FRONTEND)"],
        check=True, capture_output=True, text=True, cwd=venv,
    ).stdout.split()  # fmt: skip
    assert all(Path(w).is_relative_to(venv) for w in where), where


def test_the_installed_app_serves_every_page_and_static_file(served: str) -> None:
    with httpx.Client(base_url=served, timeout=30) as http:
        linked: set[str] = set()
        for route in PAGES:
            path = re.sub(r"\{[^}]+\}", "s_0000000000000000", route)
            page = http.get(path)
            assert page.status_code == 200, path
            assert page.headers["content-type"].startswith("text/html")
            linked |= set(re.findall(r'(?:src|href)="(/static/[^"]+)"', page.text))
        files = [p for d in STATIC_DIRS for p in (FRONTEND / d).rglob("*") if p.is_file()]
        every = {"/static/" + str(p.relative_to(FRONTEND)) for p in files}
        assert linked and linked <= every
        for url in sorted(every):
            got = http.get(url)
            assert got.status_code == 200, url
            assert got.content == (FRONTEND / url.removeprefix("/static/")).read_bytes(), url
