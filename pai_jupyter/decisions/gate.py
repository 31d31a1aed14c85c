"""The evaluation gate's decision: does the candidate's metrics pass the gate expression?

Pure: an expression checked by ``specs.gate.parse_gate`` is walked node by node over
two dicts of figures (the candidate's, and the serving version's recorded ones);
nothing is ``eval()``'d. Every comparison is evaluated (no short cut) so the
decision carries all the figures a person needs to see why.

- A metric the candidate did not report fails the gate (the reason names it).
- With no serving version (the first deploy), a comparison that reads ``serving.x`` is
  passed and marked so: there is nothing to be worse than.
- A serving version without the recorded metric fails the comparison (we cannot tell).
"""

from __future__ import annotations

import ast
import math
from dataclasses import asdict, dataclass, field
from typing import Any

from ..specs.gate import SERVING, parse_gate

_OPS = {
    ast.Lt: lambda a, b: a < b,
    ast.LtE: lambda a, b: a <= b,
    ast.Gt: lambda a, b: a > b,
    ast.GtE: lambda a, b: a >= b,
    ast.Eq: lambda a, b: a == b,
    ast.NotEq: lambda a, b: a != b,
}
_ARITH = {
    ast.Add: lambda a, b: a + b,
    ast.Sub: lambda a, b: a - b,
    ast.Mult: lambda a, b: a * b,
    ast.Div: lambda a, b: a / b if b != 0 else math.inf if a > 0 else -math.inf if a < 0 else math.nan,
}


class _Missing(Exception):
    def __init__(self, why: str, serving_absent: bool = False) -> None:
        super().__init__(why)
        self.why = why
        self.serving_absent = serving_absent


@dataclass(frozen=True)
class Comparison:
    """One comparison of the gate with the figures it was judged on."""

    text: str
    values: list[float | None]
    passed: bool
    note: str | None = None


@dataclass(frozen=True)
class GateDecision:
    gate: str
    passed: bool
    reason: str
    comparisons: list[Comparison] = field(default_factory=list)
    candidate: dict[str, float] = field(default_factory=dict)
    serving: dict[str, float] | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def decide_gate(gate: str, candidate: dict[str, float], serving: dict[str, float] | None) -> GateDecision:
    """Judge ``gate`` over ``candidate`` and ``serving`` (None: no serving version)."""
    expr = parse_gate(gate)
    cand = {str(k): float(v) for k, v in candidate.items() if _number(v)}
    serv = None if serving is None else {str(k): float(v) for k, v in serving.items() if _number(v)}
    comparisons: list[Comparison] = []
    passed = _judge(expr.tree.body, cand, serv, comparisons)
    failed = [c for c in comparisons if not c.passed]
    if passed:
        reason = "passed: " + "; ".join(c.text + _shown(c) for c in comparisons)
    else:
        reason = "failed: " + "; ".join(c.text + _shown(c) + (f" ({c.note})" if c.note else "") for c in failed)
    return GateDecision(expr.text, passed, reason, comparisons, cand, serv)


def _shown(c: Comparison) -> str:
    figures = ", ".join("?" if v is None else f"{v:g}" for v in c.values)
    return f" [{figures}]"


def _judge(node: ast.AST, cand: dict[str, float], serv: dict[str, float] | None, out: list[Comparison]) -> bool:
    if isinstance(node, ast.BoolOp):
        results = [_judge(v, cand, serv, out) for v in node.values]  # all of them, for the figures
        return all(results) if isinstance(node.op, ast.And) else any(results)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        return not _judge(node.operand, cand, serv, out)
    assert isinstance(node, ast.Compare)  # parse_gate allows nothing else at this level
    text = ast.unparse(node)
    parts = [node.left, *node.comparators]
    values: list[float | None] = []
    missing: _Missing | None = None
    for part in parts:
        try:
            values.append(_value(part, cand, serv))
        except _Missing as exc:
            values.append(None)
            missing = missing or exc
    if missing is not None:
        if missing.serving_absent and all(
            v is not None for v, p in zip(values, parts, strict=True) if not _reads_serving(p)
        ):
            out.append(Comparison(text, values, True, "no serving version to compare with"))
            return True
        out.append(Comparison(text, values, False, missing.why))
        return False
    ok = all(_OPS[type(op)](a, b) for op, a, b in zip(node.ops, values, values[1:], strict=False) if a is not None)
    out.append(Comparison(text, values, bool(ok)))
    return bool(ok)


def _reads_serving(node: ast.AST) -> bool:
    return any(
        isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name) and n.value.id == SERVING
        for n in ast.walk(node)
    )


def _value(node: ast.AST, cand: dict[str, float], serv: dict[str, float] | None) -> float:
    if isinstance(node, ast.Constant):
        return float(node.value)
    if isinstance(node, ast.Name):
        if node.id not in cand:
            raise _Missing(f"the candidate reported no {node.id}")
        return cand[node.id]
    if isinstance(node, ast.Attribute):
        if serv is None:
            raise _Missing("no serving version", serving_absent=True)
        if node.attr not in serv:
            raise _Missing(f"the serving version has no recorded {node.attr}")
        return serv[node.attr]
    if isinstance(node, ast.BinOp):
        return _ARITH[type(node.op)](_value(node.left, cand, serv), _value(node.right, cand, serv))
    if isinstance(node, ast.UnaryOp):
        operand = _value(node.operand, cand, serv)
        return -operand if isinstance(node.op, ast.USub) else operand
    raise AssertionError(f"parse_gate let {type(node).__name__} through")  # pragma: no cover


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


__all__ = ["Comparison", "GateDecision", "decide_gate"]
