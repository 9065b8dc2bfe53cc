"""Parameterized blocks: ``${expr}`` substitution with a small, safe expression language.

A block template's strings may hold ``${...}`` expressions over the block's parameters:
integers, floats, booleans, strings, ``None``, lists and list indexing, the operators
``+ - * / // % **``, comparisons, ``and``/``or``/``not``, ``x if c else y`` and the functions
``min``, ``max``, ``int``, ``round``, ``str``. Nothing else is evaluated: no attribute access,
no calls to anything but those, no imports. A string that is exactly one ``${...}`` takes the
value's type (``"${filters * 4}"`` is an int); otherwise the values are formatted into it.

>>> substitute({"filters": "${f * 4}", "name": "conv_${i}"}, {"f": 64, "i": 2})
{'filters': 256, 'name': 'conv_2'}
"""

from __future__ import annotations

import ast
import operator
import re
from collections.abc import Callable, Mapping
from typing import Any

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
_MAX_POWER = 64


def evaluate(text: str, env: Mapping[str, Any]) -> Any:
    """Evaluate one expression over ``env``.

    >>> evaluate("f * 4 if first else f", {"f": 64, "first": True})
    256
    """
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError:
        raise SpecError(f"invalid expression ${{{text}}}") from None
    try:
        return _eval(tree.body, env, text)
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
        if isinstance(node.op, ast.Pow) and abs(right) > _MAX_POWER:
            raise SpecError(f"exponent too large in ${{{text}}}")
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
        return _FUNCS[node.func.id](*(_eval(a, env, text) for a in node.args))
    raise SpecError(f"unsupported expression ${{{text}}}")


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
