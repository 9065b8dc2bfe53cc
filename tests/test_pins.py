"""The oracles are what the test extra pins: a suite run against other versions would compare
against a different truth, so it says so at once instead of failing somewhere deep."""

from __future__ import annotations

import re
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import pytest

tomllib = pytest.importorskip("tomllib")  # Python 3.11 and later

ROOT = Path(__file__).resolve().parent.parent


def _pins() -> dict[str, str]:
    extra = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"]["test"]
    pins = {}
    for requirement in extra:
        name, sep, pinned = requirement.partition("==")
        assert sep, f"{requirement!r} in the test extra is not pinned to one version"
        pins[name.split("[")[0].strip()] = pinned.strip()  # moto[s3]: the package moto
    return pins


def _constraints() -> dict[str, str]:
    lines = (ROOT / "tests" / "constraints.txt").read_text().splitlines()
    return dict(line.split("==") for line in lines if line and not line.startswith("#"))


def _key(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


@pytest.mark.parametrize(("name", "pinned"), sorted(_pins().items()))
def test_installed_oracle_is_the_pinned_one(name, pinned):
    try:
        installed = version(name)
    except PackageNotFoundError:
        pytest.fail(f"{name} is not installed; run the README's test command")
    # torch's CPU wheel calls itself 2.13.0+cpu
    assert installed.split("+")[0] == pinned


def test_constraints_pin_only_what_the_extra_does_not():
    pins, constraints = {_key(n) for n in _pins()}, {_key(n) for n in _constraints()}
    assert not pins & constraints
