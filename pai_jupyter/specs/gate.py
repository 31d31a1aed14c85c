"""The evaluation gate's expression language: parsed with ``ast``, never ``eval()``'d.

A gate reads like Python over the candidate's metrics and the serving version's
recorded ones::

    accuracy >= serving.accuracy - 0.005 and latency_p95_ms <= 50

Allowed: numbers, metric names (``accuracy``), ``serving.<metric>``, the
comparisons ``< <= > >= == !=`` (chained too), ``and``/``or``/``not``, ``+ - * /``
and unary minus, parentheses. Anything else (calls, subscripts, other attributes,
strings, lambdas, ``**``) is refused with one line naming what was found. The
evaluation is ``pai_jupyter.decisions.gate``.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

from ..errors import ValidationError

SERVING = "serving"
HINT = "write it like: accuracy >= serving.accuracy - 0.005 and latency_p95_ms <= 50"
_COMPARE = (ast.Lt, ast.LtE, ast.Gt, ast.GtE, ast.Eq, ast.NotEq)
_ARITH = (ast.Add, ast.Sub, ast.Mult, ast.Div)
_MAX_LENGTH = 2000


@dataclass(frozen=True)
class GateExpr:
    """A checked gate: its text, its tree, and the metric names it reads on each side."""

    text: str
    tree: ast.Expression
    candidate_names: tuple[str, ...]
    serving_names: tuple[str, ...]


def parse_gate(text: str) -> GateExpr:
    """Check ``text`` and return it parsed; ValidationError (one line) on anything not allowed."""
    if not isinstance(text, str) or not text.strip():
        raise ValidationError("the gate is empty", HINT)
    if len(text) > _MAX_LENGTH:
        raise ValidationError(f"the gate is {len(text)} characters long; keep it under {_MAX_LENGTH}", HINT)
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as exc:
        raise ValidationError(f"the gate {text!r} is not an expression: {exc.msg}", HINT) from None
    candidate: list[str] = []
    serving: list[str] = []
    _check(tree.body, text, candidate, serving, top=True)
    return GateExpr(text.strip(), tree, tuple(dict.fromkeys(candidate)), tuple(dict.fromkeys(serving)))


def _check(node: ast.AST, text: str, candidate: list[str], serving: list[str], top: bool = False) -> None:
    if isinstance(node, ast.BoolOp):
        for value in node.values:
            _check(value, text, candidate, serving, top=True)
        return
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        _check(node.operand, text, candidate, serving, top=True)
        return
    if isinstance(node, ast.Compare):
        if not all(isinstance(op, _COMPARE) for op in node.ops):
            raise ValidationError(f"the gate {text!r} uses a comparison other than < <= > >= == !=", HINT)
        for part in (node.left, *node.comparators):
            _check_value(part, text, candidate, serving)
        return
    if top:
        raise ValidationError(
            f"the gate {text!r} must be a comparison (or several joined by and/or/not); "
            f"found {_describe(node)} on its own",
            HINT,
        )
    _check_value(node, text, candidate, serving)


def _check_value(node: ast.AST, text: str, candidate: list[str], serving: list[str]) -> None:
    if isinstance(node, ast.Constant):
        if isinstance(node.value, bool) or not isinstance(node.value, (int, float)):
            raise ValidationError(f"the gate {text!r} has the constant {node.value!r}; only numbers", HINT)
        return
    if isinstance(node, ast.Name):
        if node.id == SERVING:
            raise ValidationError(f"the gate {text!r} uses 'serving' alone; name a metric: serving.accuracy", HINT)
        candidate.append(node.id)
        return
    if isinstance(node, ast.Attribute):
        if not (isinstance(node.value, ast.Name) and node.value.id == SERVING):
            raise ValidationError(f"the gate {text!r} reads an attribute of something other than 'serving'", HINT)
        serving.append(node.attr)
        return
    if isinstance(node, ast.BinOp):
        if not isinstance(node.op, _ARITH):
            raise ValidationError(f"the gate {text!r} uses an operator other than + - * /", HINT)
        _check_value(node.left, text, candidate, serving)
        _check_value(node.right, text, candidate, serving)
        return
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        _check_value(node.operand, text, candidate, serving)
        return
    raise ValidationError(f"the gate {text!r} contains {_describe(node)}, which a gate may not use", HINT)


def _describe(node: ast.AST) -> str:
    names = {
        ast.Call: "a function call",
        ast.Subscript: "a subscript",
        ast.Lambda: "a lambda",
        ast.Name: "a bare name",
        ast.Constant: "a constant",
        ast.BinOp: "arithmetic",
        ast.Attribute: "an attribute",
    }
    return names.get(type(node), f"'{type(node).__name__}'")


__all__ = ["HINT", "SERVING", "GateExpr", "parse_gate"]
