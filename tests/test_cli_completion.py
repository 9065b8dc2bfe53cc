"""`paramcount completion bash|zsh`: the scripts are sourced into real shells. Bash completion
is driven as bash drives it (COMP_WORDS, COMP_CWORD, COMP_LINE, COMP_POINT, then the function,
then COMPREPLY); zsh, where installed, loads the script both ways the README gives."""

from __future__ import annotations

import importlib
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from paramcount import cli
from paramcount.cli import main

BASH = shutil.which("bash")
ZSH = shutil.which("zsh")
needs_bash = pytest.mark.skipif(BASH is None, reason="bash is not installed")
needs_zsh = pytest.mark.skipif(ZSH is None, reason="zsh is not installed")

# one completion per call: the line up to the cursor, then the replies one a line, then a mark
_DRIVE = r"""
source "$1"; shift
for line in "$@"; do
    COMP_LINE=$line; COMP_POINT=${#line}
    read -ra COMP_WORDS <<< "$line"
    [[ $line == *" " ]] && COMP_WORDS+=("")
    COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); COMPREPLY=()
    _paramcount paramcount "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
    printf '%s\n' "${COMPREPLY[@]}" "--end--"
done
"""


def _script(capsys, shell: str, tmp_path: Path) -> Path:
    assert main(["completion", shell]) == 0
    path = tmp_path / f"paramcount.{shell}"
    path.write_text(capsys.readouterr().out)
    return path


@pytest.fixture
def complete(capsys, tmp_path):
    """Complete lines in bash, in a folder holding model.yaml and models/."""
    script = _script(capsys, "bash", tmp_path)
    work = tmp_path / "work"
    (work / "models").mkdir(parents=True)
    (work / "model.yaml").write_text("layers: []\n")

    def run(*lines: str) -> list[list[str]]:
        proc = subprocess.run([BASH, "--norc", "--noprofile", "-c", _DRIVE, "drive",
                               str(script), *lines], cwd=work, capture_output=True, text=True,
                              check=True, timeout=60)
        replies = proc.stdout.split("--end--\n")[:-1]
        return [[w for w in r.splitlines() if w] for r in replies]
    return run


@needs_bash
def test_bash_completes_commands_names_options_and_choices(complete):
    zo, gp, conv, form, fmt, head, shell = complete(
        "paramcount zo", "paramcount zoo gp", "paramcount layer Conv", "paramcount memory --for",
        "paramcount layer Dense --format ", "paramcount zoo gpt2 --head ",
        "paramcount completion ")
    assert zo == ["zoo"]
    assert {"gpt2", "gpt3-175b"} <= set(gp) and all(w.startswith("gp") for w in gp)
    assert {"Conv2D", "Conv2d", "Conv1d", "ConvTranspose2d"} <= set(conv)
    assert form == ["--format"]
    assert fmt == ["table", "json", "csv", "markdown", "html"]
    assert head == ["base"]
    assert shell == ["bash", "zsh"]


@needs_bash
def test_bash_completes_a_source_with_files_zoo_names_and_commands(complete):
    first, later, second, value = complete(
        "paramcount m", "paramcount --framework torch m", "paramcount diff model.yaml m",
        "paramcount layer Dense -i ")
    assert {"model.yaml", "models", "memory", "mistral-7b", "mixtral-8x7b"} <= set(first)
    assert "memory" not in later and {"model.yaml", "mistral-7b"} <= set(later)
    assert {"model.yaml", "models", "mistral-7b"} <= set(second)
    assert value == []  # -i wants dimensions: nothing to offer


@needs_bash
def test_bash_completes_every_source_of_a_scan(complete):
    first, third, listing = complete("paramcount scan m", "paramcount scan gpt2 model.yaml m",
                                     "paramcount scan --from ")
    assert {"model.yaml", "models", "mistral-7b"} <= set(first)
    assert {"model.yaml", "models", "mistral-7b"} <= set(third)
    assert listing == []  # --from takes a value: nothing offered, as for -i


def _parser(command: str):
    if command in cli.MODULE_COMMANDS:
        return importlib.import_module(f"paramcount.cli.{command}")._parser()
    return cli.PARSERS[command]()


@needs_bash
@pytest.mark.parametrize("command", ["summary", *cli.COMMANDS, *cli.MODULE_COMMANDS])
def test_bash_offers_every_option_of_the_real_parser(complete, command):
    words = [] if command == "summary" else [command]
    (offered,) = complete(" ".join(["paramcount", *words, "-"]))
    wanted = {s for a in _parser(command)._actions for s in a.option_strings}
    assert set(offered) == wanted


@needs_bash
def test_bash_sources_the_script_from_the_command(tmp_path):
    line = f"source <({sys.executable} -m paramcount completion bash); complete -p paramcount"
    proc = subprocess.run([BASH, "--norc", "--noprofile", "-c", line], capture_output=True,
                          text=True, check=True, timeout=60)
    assert proc.stdout.strip() == "complete -F _paramcount paramcount"


def test_an_unknown_shell_is_one_line(capsys):
    assert main(["completion", "fish"]) == 2
    assert "invalid choice: 'fish'" in capsys.readouterr().err


@needs_zsh
def test_zsh_loads_the_script_when_sourced(capsys, tmp_path):
    script = _script(capsys, "zsh", tmp_path)
    line = (f"autoload -Uz compinit; compinit -u -D; source {script}; "
            "whence -w _paramcount; print -r -- $_comps[paramcount]")
    proc = subprocess.run([ZSH, "-f", "-c", line], capture_output=True, text=True,
                          timeout=60, env={"HOME": str(tmp_path), "PATH": "/usr/bin:/bin"})
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split("\n")[:2] == ["_paramcount: function", "_paramcount"]


@needs_zsh
def test_zsh_finds_the_script_in_fpath(capsys, tmp_path):
    folder = tmp_path / "completions"
    folder.mkdir()
    _script(capsys, "zsh", tmp_path).rename(folder / "_paramcount")
    line = (f"fpath=({folder} $fpath); autoload -Uz compinit; compinit -u -D; "
            "print -r -- $_comps[paramcount]")
    proc = subprocess.run([ZSH, "-f", "-c", line], capture_output=True, text=True,
                          timeout=60, env={"HOME": str(tmp_path), "PATH": "/usr/bin:/bin"})
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "_paramcount"
