"""Which distributions a job's code needs: the kernel's environment, reproduced on DLC.

The entry script is parsed (``ast``, nothing is imported or run) and every
``import`` is followed: a module found in the code snapshot (next to the entry
script, or from the snapshot's root) is parsed in turn, so the user's own
helper modules count; anything else is a top-level import name, mapped to the
distributions that provide it with ``importlib.metadata.packages_distributions()``
and pinned to the version the kernel has. The standard library and pai-jupyter
itself (mounted into every job) are left out.

A wheel built for one CUDA (``torch 2.3.1+cu121``) exists only on the PyTorch
index for that CUDA (``https://download.pytorch.org/whl/cu121``, where the
PyTorch install page points pip); such pins carry that index with them.
"""

from __future__ import annotations

import ast
import re
import sys
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

# The runtime is mounted into every job (dlc_jobs.RUNTIME_MOUNT; the local worker's PYTHONPATH).
ALWAYS_PRESENT = frozenset({"pai-jupyter"})
PYTORCH_INDEX = "https://download.pytorch.org/whl/{tag}"
_CUDA_TAG = re.compile(r"\+(cu\d+)$")
_MAX_FILES = 2000  # a snapshot is at most 50 MB of code; stop following imports past this many files


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass
class EnvSyncPlan:
    """What a job installs so that its code finds the kernel's versions."""

    mode: str  # auto | file | off
    requirements: list[str] = field(default_factory=list)  # pip requirement lines, pinned
    distributions: dict[str, str] = field(default_factory=dict)  # what the code imports: name -> kernel version
    unresolved: list[str] = field(default_factory=list)  # imports no installed distribution provides
    index_urls: list[str] = field(default_factory=list)  # extra indexes the pins need (CUDA-tagged wheels)

    def to_dict(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "requirements": list(self.requirements),
            "distributions": dict(self.distributions),
            "unresolved": list(self.unresolved),
            "index_urls": list(self.index_urls),
        }


_PROVIDERS: dict[tuple[str, ...], dict[str, tuple[str, ...]]] = {}


def _providers() -> dict[str, tuple[str, ...]]:
    """Top-level import name -> canonical distribution names (``packages_distributions``), per sys.path."""
    key = tuple(sys.path)
    if key not in _PROVIDERS:
        _PROVIDERS.clear()
        _PROVIDERS[key] = {
            k: tuple(dict.fromkeys(canonical(d) for d in v)) for k, v in metadata.packages_distributions().items()
        }
    return _PROVIDERS[key]


def _module_names(tree: ast.AST) -> list[tuple[str, int]]:
    """``(dotted name, level)`` of every import in ``tree``; ``level`` > 0 for relative imports."""
    out: list[tuple[str, int]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(alias.name, 0) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            out.append((base, node.level))
            # ``from pkg import mod``: mod may be a module of the user's own package.
            out += [(f"{base}.{alias.name}" if base else alias.name, node.level) for alias in node.names]
    return out


def _local_file(roots: list[Path], dotted: str) -> Path | None:
    parts = [p for p in dotted.split(".") if p]
    if not parts:
        return None
    for root in roots:
        base = root.joinpath(*parts)
        for candidate in (base.with_suffix(".py"), base / "__init__.py"):
            if candidate.is_file():
                return candidate
    return None


def code_imports(code_dir: Path, entry: str, workdir: str = "") -> tuple[set[str], set[str]]:
    """(top-level names of third-party imports, local modules followed) from the entry script on."""
    code_dir = Path(code_dir)
    start_dir = code_dir / workdir if workdir else code_dir
    roots = list(dict.fromkeys([start_dir, code_dir]))
    queue = [start_dir / entry]
    seen: set[Path] = set()
    external: set[str] = set()
    local_tops: set[str] = set()
    while queue and len(seen) < _MAX_FILES:
        path = queue.pop()
        if path in seen or not path.is_file():
            continue
        seen.add(path)
        try:
            tree = ast.parse(path.read_text(encoding="utf-8", errors="replace"), str(path))
        except (SyntaxError, ValueError):
            continue
        for dotted, level in _module_names(tree):
            if level:
                folder = path.parent
                for _ in range(level - 1):
                    folder = folder.parent
                target = _local_file([folder], dotted) if dotted else None
                if target is not None:
                    queue.append(target)
                continue
            top = dotted.split(".", 1)[0]
            if not top:
                continue
            target = _local_file(roots, dotted) or _local_file(roots, top)
            if target is not None:
                local_tops.add(top)
                queue.append(target)
            else:
                external.add(top)
    return external - local_tops, local_tops


def plan_env_sync(
    code_dir: Path,
    entry: str,
    workdir: str,
    packages: dict[str, str],
    mode: str = "auto",
    requirements: tuple[str, ...] | list[str] = (),
) -> EnvSyncPlan:
    """The install list for a job: the code's imports pinned to ``packages`` (the kernel's
    ``{canonical name: version}``), or the given ``requirements`` (``mode="file"``), or nothing."""
    external, _ = code_imports(code_dir, entry, workdir)
    stdlib = set(sys.stdlib_module_names)
    providers = _providers()
    found: dict[str, str] = {}
    unresolved: list[str] = []
    for top in sorted(external - stdlib):
        dists = [d for d in providers.get(top, ()) if d in packages]
        if not dists:
            unresolved.append(top)
            continue
        for dist in dists:
            if dist not in ALWAYS_PRESENT:
                found[dist] = packages[dist]
    plan = EnvSyncPlan(mode=mode, distributions=dict(sorted(found.items())), unresolved=unresolved)
    if mode == "auto":
        plan.requirements = [f"{name}=={version}" for name, version in plan.distributions.items()]
    elif mode == "file":
        plan.requirements = [line for line in requirements if line.strip()]
    plan.index_urls = index_urls(plan.requirements)
    return plan


def index_urls(requirements: list[str] | tuple[str, ...]) -> list[str]:
    """The PyTorch index for each CUDA tag the pins carry (``torch==2.3.1+cu121`` -> ``.../whl/cu121``)."""
    tags = []
    for line in requirements:
        m = _CUDA_TAG.search(line.split(";", 1)[0].strip())
        if m and m.group(1) not in tags:
            tags.append(m.group(1))
    return [PYTORCH_INDEX.format(tag=t) for t in tags]


def read_requirements(path: Path | str) -> tuple[str, ...]:
    """A requirements file's lines, comments and blanks dropped (pip's own syntax otherwise kept)."""
    lines = []
    for raw in Path(path).read_text().splitlines():
        line = raw.split(" #", 1)[0].strip()
        if line and not line.startswith("#"):
            lines.append(line)
    return tuple(lines)
