"""A rich table on a terminal; plain aligned text in a pipe, under NO_COLOR or TERM=dumb;
FORCE_COLOR asks for rich in a pipe."""

from __future__ import annotations

import io
import os
import subprocess
import sys

import pytest

from paramcount.cli import main
from paramcount.cli.terminal import wants_rich

LAYER = ["layer", "Dense", "units=2", "-i", "4"]
RICH_MARK = "┃"  # a rich table's heavy header rule; the plain table draws with = only


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(("tty", "env", "rich"), [
    (True, {}, True),
    (False, {}, False),                                      # a pipe or a file
    (True, {"NO_COLOR": "1"}, False),
    (True, {"NO_COLOR": "anything"}, False),                 # any non-empty value
    (True, {"NO_COLOR": ""}, True),                          # an empty value is unset
    (True, {"TERM": "dumb"}, False),
    (True, {"TERM": "xterm-256color"}, True),
    (False, {"FORCE_COLOR": "1"}, True),
    (True, {"TERM": "dumb", "FORCE_COLOR": "1"}, True),
    (True, {"NO_COLOR": "1", "FORCE_COLOR": "1"}, False),    # NO_COLOR wins
])
def test_wants_rich(tty, env, rich):
    stream = Terminal() if tty else io.StringIO()
    assert wants_rich(stream, env) is rich


def _table(capsys, monkeypatch, tty: bool, **env: str) -> str:
    for name in ("NO_COLOR", "FORCE_COLOR", "TERM"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(sys.stdout, "isatty", lambda: tty)
    assert main(LAYER) == 0
    return capsys.readouterr().out


def test_a_terminal_gets_rich(capsys, monkeypatch):
    out = _table(capsys, monkeypatch, tty=True)
    assert RICH_MARK in out


def test_a_pipe_gets_plain_text(capsys, monkeypatch):
    out = _table(capsys, monkeypatch, tty=False)
    assert RICH_MARK not in out and "\x1b[" not in out
    assert out.splitlines()[1].startswith("=====")


def test_no_color_gets_plain_text_on_a_terminal(capsys, monkeypatch):
    out = _table(capsys, monkeypatch, tty=True, NO_COLOR="1")
    assert RICH_MARK not in out and "\x1b[" not in out
    assert "dense (Dense)" in out and "10" in out


def test_a_dumb_terminal_gets_plain_text(capsys, monkeypatch):
    out = _table(capsys, monkeypatch, tty=True, TERM="dumb")
    assert RICH_MARK not in out and "\x1b[" not in out


def test_force_color_gets_rich_in_a_pipe(capsys, monkeypatch):
    assert RICH_MARK in _table(capsys, monkeypatch, tty=False, FORCE_COLOR="1")


def test_a_real_pipe_is_plain_and_force_color_is_rich():
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR")}
    plain = subprocess.run([sys.executable, "-m", "paramcount", *LAYER], env=env,
                           capture_output=True, text=True, check=True).stdout
    forced = subprocess.run([sys.executable, "-m", "paramcount", *LAYER],
                            env={**env, "FORCE_COLOR": "1"}, capture_output=True, text=True,
                            check=True).stdout
    assert RICH_MARK not in plain and RICH_MARK in forced
