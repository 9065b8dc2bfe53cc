"""Parameterized blocks: ``${expr}`` substitution with a small, safe expression language.

A block template's strings may hold ``${...}`` expressions over the block's parameters:
integers, floats, booleans, strings, ``None``, lists and list indexing, the operators
``+ - * / // % **``, comparisons, ``and``/``or``/``not``, ``x if c else y`` and the functions
``min``, ``max``, ``int``, ``round``, ``str``. Nothing else is evaluated: no attribute access,
no calls to anything but those, no imports. A string that is exactly one ``${...}`` takes the
value's type (``"${filters * 4}"`` is an int); otherwise the values are formatted into it.

An expression is bounded by the budget (:mod:`paramcount.budget`): its length, and the size of
every value it computes (digits of a number, characters of a string, items of a list), which
is refused from its operands *before* it is computed: ``${9**64**64}`` and ``${'a' * 10**10}``
are one line each, not an hour or a gigabyte.

>>> substitute({"filters": "${f * 4}", "name": "conv_${i}"}, {"f": 64, "i": 2})
{'filters': 256, 'name': 'conv_2'}
"""

from __future__ import annotations

import ast
import math
import operator
import re
from collections.abc import Callable, Mapping
from typing import Any

from paramcount.budget import current, exceeded
from paramcount.errors import SpecError
from paramcount.quoting import quote

_EXPR = re.compile(r"\$\{([^{}]*)\}")
_BINOPS: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
    ast.Div: operator.truediv, ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}
_CMPOPS: dict[type, Callable[[Any, Any], Any]] = {
    ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt, ast.LtE: operator.le,
    ast.Gt: operator.gt, ast.GtE: operator.ge,
}
_FUNCS: dict[str, Callable[..., Any]] = {"min": min, "max": max, "int": int, "round": round,
                                         "str": str}


def evaluate(text: str, env: Mapping[str, Any]) -> Any:
    """Evaluate one expression over ``env``.

    >>> evaluate("f * 4 if first else f", {"f": 64, "first": True})
    256
    """
    current().check("expression", len(text), f"the expression ${{{text[:40]}...}}")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError:
        raise SpecError(f"invalid expression ${{{text}}}") from None
    try:
        return _eval(tree.body, env, text)
    except SpecError:
        raise
    except (TypeError, ValueError, ZeroDivisionError, OverflowError) as err:
        raise SpecError(f"cannot evaluate ${{{text}}}: {err}") from None


def _eval(node: ast.AST, env: Mapping[str, Any], text: str) -> Any:
    if isinstance(node, ast.Constant) and (
            node.value is None or isinstance(node.value, int | float | str | bool)):
        return node.value
    if isinstance(node, ast.Name):
        if node.id not in env:
            known = ", ".join(sorted(env)) or "none"
            raise SpecError(f"unknown name {quote(node.id)} in ${{{text}}} (parameters: {known})")
        return env[node.id]
    if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
        left, right = _eval(node.left, env, text), _eval(node.right, env, text)
        _check_size(_result_size(node.op, left, right), text)
        return _BINOPS[type(node.op)](left, right)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd | ast.Not):
        value = _eval(node.operand, env, text)
        return -value if isinstance(node.op, ast.USub) else (
            not value if isinstance(node.op, ast.Not) else value)
    if isinstance(node, ast.BoolOp):
        values = [_eval(v, env, text) for v in node.values]
        return all(values) if isinstance(node.op, ast.And) else any(values)
    if isinstance(node, ast.Compare) and all(type(op) in _CMPOPS for op in node.ops):
        left = _eval(node.left, env, text)
        for op, comp in zip(node.ops, node.comparators, strict=True):
            right = _eval(comp, env, text)
            if not _CMPOPS[type(op)](left, right):
                return False
            left = right
        return True
    if isinstance(node, ast.IfExp):
        test = _eval(node.test, env, text)
        return _eval(node.body if test else node.orelse, env, text)
    if isinstance(node, ast.List | ast.Tuple):
        return [_eval(e, env, text) for e in node.elts]
    if isinstance(node, ast.Subscript) and not isinstance(node.slice, ast.Slice):
        seq, key = _eval(node.value, env, text), _eval(node.slice, env, text)
        if not isinstance(seq, list | tuple) or not isinstance(key, int):
            raise SpecError(f"${{{text}}}: only a list can be indexed, by an integer")
        try:
            return seq[key]
        except IndexError:
            raise SpecError(f"${{{text}}}: index {key} is out of range") from None
    if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
            and node.func.id in _FUNCS and not node.keywords):
        args = [_eval(a, env, text) for a in node.args]
        for arg in args:
            _check_size(_size(arg), text)
        if node.func.id == "round" and len(args) == 2 and isinstance(args[1], int):
            _check_size(abs(args[1]), text)  # round(x, -10**18) computes 10**(10**18)
        return _FUNCS[node.func.id](*args)
    raise SpecError(f"unsupported expression ${{{text}}}")


def _size(value: Any) -> int:
    """The size the budget bounds: decimal digits of a number (about), length of a string or
    list; 0 for anything else."""
    if isinstance(value, bool):
        return 0
    if isinstance(value, int):
        return value.bit_length() * 30103 // 100000 + 1  # log10(2) = 0.30103...
    if isinstance(value, float):
        return 0 if not math.isfinite(value) else max(int(math.log10(abs(value) or 1)), 0) + 1
    if isinstance(value, str | list | tuple):
        return len(value)
    return 0


def _result_size(op: ast.operator, left: Any, right: Any) -> int:
    """The size of ``left op right``, foretold from the operands' sizes without computing it:
    a power's digits are the exponent times the base's, a product's the sum of the factors'
    (a string or list repeated: its length times the count)."""
    ints = (int, float)
    if isinstance(op, ast.Pow) and isinstance(left, ints) and isinstance(right, ints):
        exponent = abs(int(right)) if abs(right) < 2**64 else 2**64
        return int(exponent * math.log10(abs(left))) + 1 if abs(left) > 1 else 1
    if isinstance(op, ast.Mult):
        for seq, n in ((left, right), (right, left)):
            if isinstance(seq, str | list | tuple) and isinstance(n, int):
                return len(seq) * max(n, 0)
        return _size(left) + _size(right)
    return max(_size(left), _size(right)) + 1


def _check_size(size: int, text: str) -> None:
    limit = current().limits.value_size
    if size > limit:
        shown = text if len(text) <= 40 else f"{text[:37]}..."
        raise exceeded("value_size", size, limit, f"the expression ${{{shown}}} would compute a "
                       "value")


def substitute(value: Any, env: Mapping[str, Any]) -> Any:
    """Replace every ``${expr}`` in ``value`` (recursively through lists and mappings)."""
    if isinstance(value, str):
        whole = _EXPR.fullmatch(value.strip())
        if whole:
            return evaluate(whole.group(1), env)
        return _EXPR.sub(lambda m: str(evaluate(m.group(1), env)), value)
    if isinstance(value, list):
        return [substitute(v, env) for v in value]
    if isinstance(value, Mapping):
        return {substitute(k, env): substitute(v, env) for k, v in value.items()}
    return value
