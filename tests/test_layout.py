"""The package layout stays readable: few entries on top, no huge module."""

from __future__ import annotations

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _tracked(pattern: str) -> list[str]:
    out = subprocess.run(
        ["git", "ls-files", pattern], cwd=ROOT, capture_output=True, text=True, check=True
    )
    return out.stdout.split()


def test_atexpert_has_at_most_15_entries() -> None:
    entries = {path.split("/")[1] for path in _tracked("atexpert")}
    assert len(entries) <= 15, sorted(entries)


def test_no_module_over_550_lines() -> None:
    sizes = {p: len((ROOT / p).read_text(encoding="utf-8").splitlines()) for p in _tracked("*.py")}
    big = {p: n for p, n in sizes.items() if p.startswith("atexpert/") and n > 550}
    assert not big, big
