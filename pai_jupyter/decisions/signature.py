"""Model signatures and whether a new version's signature keeps old clients working.

A signature is ``{"inputs": [{"name", "dtype", "shape"}], "outputs": [...]}``;
``shape`` lists dimensions with ``None`` for any size (the batch), ``dtype`` or
``shape`` may be ``None`` when unknown (then they are not compared).
"""

from __future__ import annotations

from typing import Any

Signature = dict[str, list[dict[str, Any]]]  # {"inputs": [{"name","dtype","shape"}], "outputs": [...]}


def compare(old: Signature, new: Signature) -> list[str]:
    """What a client of ``old`` would find broken in ``new`` (empty: compatible).

    Inputs must keep their names, dtypes and shapes, and no input may be added
    (old clients do not send it); outputs may be added, not removed or changed.
    Unknown dtypes or shapes (``None``) and ``None`` dimensions match anything.
    """
    diffs: list[str] = []
    old_in, new_in = _by_name(old.get("inputs", [])), _by_name(new.get("inputs", []))
    old_out, new_out = _by_name(old.get("outputs", [])), _by_name(new.get("outputs", []))
    if not old_in and not old_out:
        return diffs  # nothing declared on the serving side: nothing to hold the new one to
    for name, spec in old_in.items():
        if name not in new_in:
            diffs.append(f"input {name!r} removed")
        else:
            diffs.extend(_field_diffs("input", name, spec, new_in[name]))
    diffs.extend(f"input {name!r} added" for name in new_in if name not in old_in)
    for name, spec in old_out.items():
        if name not in new_out:
            diffs.append(f"output {name!r} removed")
        else:
            diffs.extend(_field_diffs("output", name, spec, new_out[name]))
    return diffs


def _by_name(items: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {str(i.get("name")): i for i in items}


def _field_diffs(side: str, name: str, old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    out = []
    if old.get("dtype") and new.get("dtype") and old["dtype"] != new["dtype"]:
        out.append(f"{side} {name!r} dtype {old['dtype']} -> {new['dtype']}")
    a, b = old.get("shape"), new.get("shape")
    if a is not None and b is not None:
        clash = len(a) != len(b) or any(
            x is not None and y is not None and x != y for x, y in zip(a, b, strict=False)
        )
        if clash:
            out.append(f"{side} {name!r} shape {_fmt(a)} -> {_fmt(b)}")
    return out


def _fmt(shape: list[int | None]) -> str:
    return "[" + ", ".join("?" if d is None else str(d) for d in shape) + "]"
