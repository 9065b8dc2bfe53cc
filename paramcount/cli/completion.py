"""``paramcount completion bash|zsh``: a shell completion script made from the commands' own
argparse parsers (their options and choices) and paramcount's tables (zoo entries, layer types),
so that nothing is typed twice. The README says how to install it."""

from __future__ import annotations

import argparse
import importlib

from paramcount.cli.options import Parser

SHELLS = ("bash", "zsh")
#: what a positional argument completes to, by its dest; any other completes to nothing
_POSITIONALS = {"source": "source", "a": "source", "b": "source", "type": "layer", "name": "zoo",
                "sources": "source"}


def _parser() -> argparse.ArgumentParser:
    p = Parser(prog="paramcount completion",
               description="Print a completion script: source <(paramcount completion bash)")
    p.add_argument("shell", choices=SHELLS)
    return p


def run(args: list[str]) -> str:
    ns = _parser().parse_args(args)
    return _bash() if ns.shell == "bash" else _zsh()


def _commands() -> dict[str, argparse.ArgumentParser]:
    """Each command's parser; "" is `paramcount SOURCE`."""
    from paramcount import cli

    out = {"": cli.PARSERS["summary"](), **{c: cli.PARSERS[c]() for c in cli.COMMANDS}}
    for c in cli.MODULE_COMMANDS:
        out[c] = importlib.import_module(f"paramcount.cli.{c}")._parser()
    return out


def _words() -> str:
    """The zoo entries and layer types as shell arrays (the same syntax in bash and zsh)."""
    from paramcount import zoo
    from paramcount.layers import registered_names

    layers = sorted({n for names in registered_names().values() for n in names})
    return (f"_paramcount_zoo=({' '.join(sorted(zoo.entries()))})\n"
            f"_paramcount_layers=({' '.join(layers)})\n")


def _kind(a: argparse.Action) -> str:
    return "c:" + ",".join(a.choices) if a.choices else _POSITIONALS.get(a.dest, "none")


def _bash() -> str:
    cmds = _commands()
    names = [c for c in cmds if c]
    cases, values = [], []
    for c in [*names, ""]:  # `paramcount SOURCE` last: its case is the catch-all
        actions = cmds[c]._actions
        flags = [s for a in actions for s in a.option_strings]
        takes = [s for a in actions if a.nargs != 0 for s in a.option_strings]
        positionals = [a for a in actions if not a.option_strings]
        kinds = [_kind(a) for a in positionals]
        # a last positional of many values (`scan SOURCE...`): every later word is one more
        more = kinds[-1] if positionals and positionals[-1].nargs in ("*", "+") else "none"
        cases.append(f'        {c or "*"}) opts="{" ".join(flags)}"; takes="{" ".join(takes)}";'
                     f' kinds=({" ".join(kinds)}); more={more};;')
        values += [f'        {"|".join(f"{c}:{s}" for s in a.option_strings)}) '
                   f'words="{" ".join(a.choices)}";;'
                   for a in actions if a.choices and a.option_strings]
    return _BASH.format(words=_words(), commands=" ".join(names), alternatives="|".join(names),
                        cases="\n".join(cases), values="\n".join(values))


_BASH = """# bash completion for paramcount: source <(paramcount completion bash)
{words}
_paramcount() {{
    local cur=${{COMP_WORDS[COMP_CWORD]}} prev=${{COMP_WORDS[COMP_CWORD-1]}}
    local cmd="" start=1 opts takes kinds more words="" i n=0 kind
    case ${{COMP_WORDS[1]}} in
        {alternatives}) ((COMP_CWORD > 1)) && cmd=${{COMP_WORDS[1]}} start=2;;
    esac
    case $cmd in
{cases}
    esac
    case $cmd:$prev in
{values}
    esac
    if [[ -n $words ]]; then COMPREPLY=($(compgen -W "$words" -- "$cur")); return; fi
    if [[ " $takes " == *" $prev "* ]]; then COMPREPLY=(); return; fi
    if [[ $cur == -* ]]; then COMPREPLY=($(compgen -W "$opts" -- "$cur")); return; fi
    for ((i = start; i < COMP_CWORD; i++)); do
        if [[ ${{COMP_WORDS[i]}} != -* ]]; then ((n++))
        elif [[ " $takes " == *" ${{COMP_WORDS[i]}} "* ]]; then ((i++)); fi
    done
    kind=${{kinds[n]:-$more}}
    COMPREPLY=()
    case $kind in
        source) compopt -o filenames 2>/dev/null; mapfile -t COMPREPLY < <(compgen -f -- "$cur")
                COMPREPLY+=($(compgen -W "${{_paramcount_zoo[*]}}" -- "$cur"));;
        zoo) COMPREPLY=($(compgen -W "${{_paramcount_zoo[*]}}" -- "$cur"));;
        layer) COMPREPLY=($(compgen -W "${{_paramcount_layers[*]}}" -- "$cur"));;
        c:*) words=${{kind#c:}}; COMPREPLY=($(compgen -W "${{words//,/ }}" -- "$cur"));;
    esac
    [[ -z $cmd && $COMP_CWORD == 1 ]] && COMPREPLY+=($(compgen -W "{commands}" -- "$cur"))
    return 0
}}
complete -F _paramcount paramcount
"""


_ZSH_ACTIONS = {"source": "_paramcount_source", "layer": "compadd -a _paramcount_layers",
                "zoo": "compadd -a _paramcount_zoo", "first": "_paramcount_first"}


def _zsh_specs(p: argparse.ArgumentParser, first: str | None = None) -> str:
    """``_arguments`` specs for a parser's options and positionals, one a line."""
    specs, n = [], 0
    for a in p._actions:
        if a.help == argparse.SUPPRESS:
            continue
        if a.option_strings:
            names, help = a.option_strings, (a.help or "").translate(_ZSH_HELP)
            value = "" if a.nargs == 0 else f":{a.metavar or a.dest}:" + (
                f"({' '.join(a.choices)})" if a.choices else " ")
            append = isinstance(a, argparse._AppendAction)
            lead = "*" if append else f"({' '.join(names)})" if len(names) > 1 else ""
            opt = f"'{lead}'{{{','.join(names)}}}'" if len(names) > 1 else f"'{lead}{names[0]}"
            specs.append(f"{opt}[{help}]{value}'")
            continue
        n += 1
        kind = first if n == 1 and first else _kind(a)
        action = f"({' '.join(a.choices)})" if a.choices else _ZSH_ACTIONS.get(kind, " ")
        specs.append(f"'{'*' if a.nargs in ('*', '+') else n}:{a.metavar or a.dest}:{action}'")
    return " \\\n          ".join(specs)


_ZSH_HELP = str.maketrans({"[": "(", "]": ")", "'": "’"})


def _zsh() -> str:
    cmds = _commands()
    names = " ".join(c for c in cmds if c)
    cases = "\n".join(f"      {c}) _arguments -s : \\\n          {_zsh_specs(p)};;"
                      for c, p in cmds.items() if c)
    return _ZSH.format(words=_words(), commands=names, cases=cases,
                       summary=_zsh_specs(cmds[""], first="first"))


_ZSH = """#compdef paramcount
# zsh completion for paramcount: paramcount completion zsh > "$fpath[1]/_paramcount"
{words}
_paramcount_source() {{
  _alternative 'files:file:_files' 'zoo:zoo entry:compadd -a _paramcount_zoo'
}}
_paramcount_first() {{
  _alternative 'commands:command:({commands})' 'files:file:_files' \\
    'zoo:zoo entry:compadd -a _paramcount_zoo'
}}
_paramcount() {{
  if (( CURRENT > 2 )) && [[ " {commands} " == *" $words[2] "* ]]; then
    local cmd=$words[2]
    shift words; (( CURRENT-- ))
    case $cmd in
{cases}
    esac
  else
    _arguments -s : \\
          {summary}
  fi
}}
# autoloaded from $fpath: complete now; sourced: register the function
if [[ $zsh_eval_context[-1] == loadautofunc ]]; then _paramcount "$@"
else compdef _paramcount paramcount; fi
"""
