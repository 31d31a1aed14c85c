"""Run every benchmark (or those named) and print one table."""

from __future__ import annotations

import importlib
import json
import os
import pkgutil
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(argv: list[str]) -> int:
    wanted = [a for a in argv if not a.startswith("-")]
    names = sorted(m.name for m in pkgutil.iter_modules([str(HERE)]) if m.name.startswith("bench_"))
    if wanted:
        names = [n for n in names if any(w in n for w in wanted)]
    rows: list[dict] = []
    load_before = os.getloadavg()
    run_at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    for name in names:
        started = time.monotonic()
        print(f"== {name}", flush=True)
        module = importlib.import_module(f"benchmarks.{name}")
        try:
            result = module.run()
        except Exception as exc:  # one broken benchmark must not hide the others
            print(f"   failed: {exc!r}", flush=True)
            rows.append({"bench": name, "name": "(failed)", "value": None, "note": repr(exc)})
            continue
        for row in result:
            row.setdefault("bench", name)
            rows.append(row)
            print("   " + format_row(row), flush=True)
        print(f"   ({time.monotonic() - started:.0f}s)", flush=True)
    out = HERE / "results.json"
    out.write_text(json.dumps(rows, indent=2))
    # The run behind the README's figures: one file per selection, with when and on what it ran.
    kept = HERE / "results" / f"{'-'.join(wanted) or 'all'}.json"
    kept.parent.mkdir(exist_ok=True)
    run = {
        "run_at": run_at,
        "selection": wanted or "all",
        "cpu_count": os.cpu_count(),
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "rows": rows,
    }
    kept.write_text(json.dumps(run, indent=2))
    print(f"\nWrote {out.relative_to(HERE.parent)} and {kept.relative_to(HERE.parent)}")
    return 0


def format_row(row: dict) -> str:
    value = row.get("value")
    unit = row.get("unit", "")
    text = f"{row['name']}: {value:.4g} {unit}" if isinstance(value, (int, float)) else f"{row['name']}: {value}"
    if row.get("baseline") is not None:
        text += f" | baseline {row['baseline']:.4g} {unit} ({row.get('baseline_name', 'baseline')})"
    if row.get("ratio") is not None:
        text += f" | ratio {row['ratio']:.3f}"
    if row.get("target"):
        text += f" | target {row['target']}"
    return text


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
