"""Provenance capture benchmarks.

* Environment capture (every installed distribution with its version, the
  frameworks, selected environment variables) cold, i.e. with the per-sys.path
  cache cleared, against ``importlib.metadata.distributions()`` reading each
  distribution's metadata once - what a straightforward implementation does - in
  the same run. Target: <= 150 ms.
* The same capture warm (cache hit), as a repeated submission pays it.
* The whole ``capture()`` (environment + Git with an uncommitted diff +
  redaction) on a small project.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from importlib import metadata
from pathlib import Path
from typing import Any


def _median_ms(func: Any, repeat: int = 9) -> float:
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        func()
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples)


def _naive() -> dict[str, str]:
    """Each distribution's METADATA parsed once (``d.version`` would parse it a second time)."""
    out = {}
    for d in metadata.distributions():
        meta = d.metadata
        out[meta["Name"]] = meta["Version"]
    return out


def run() -> list[dict[str, Any]]:
    from pai_jupyter.provenance import capture
    from pai_jupyter.provenance import environment as env

    def cold() -> None:
        env._cache.clear()
        env.capture_environment()

    count = len(env.installed_distributions())
    cold_ms, naive_ms = _median_ms(cold), _median_ms(_naive)
    warm_ms = _median_ms(env.capture_environment)
    with tempfile.TemporaryDirectory() as tmp:
        import git

        root = Path(tmp)
        repo = git.Repo.init(root)
        for i in range(20):
            (root / f"m{i}.py").write_text(f"X = {i}\n" * 50)
        repo.index.add([f"m{i}.py" for i in range(20)])
        repo.index.commit("init")
        (root / "m0.py").write_text("X = 'changed'\n")
        (root / "new.py").write_text("Y = 1\n")
        full_ms = _median_ms(lambda: capture(root, entry_source="print(1)"), repeat=5)
    return [
        {
            "name": f"environment capture, cold ({count} distributions)",
            "value": cold_ms,
            "unit": "ms",
            "baseline": naive_ms,
            "baseline_name": "importlib.metadata: each METADATA parsed once",
            "ratio": cold_ms / naive_ms,
            "target": "<= 150 ms",
        },
        {"name": "environment capture, warm (cache hit)", "value": warm_ms, "unit": "ms"},
        {
            "name": "full capture (env + Git diff + redaction)",
            "value": full_ms,
            "unit": "ms",
            "target": "<= 300 ms",
        },
    ]
