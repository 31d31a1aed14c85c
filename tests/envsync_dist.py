"""A tiny distribution (``envsync-demo``) for the environment-sync tests: installed in a folder
the test puts on the kernel's sys.path, and as a wheel a fake DLC image can pip-install."""

from __future__ import annotations

import base64
import hashlib
import zipfile
from pathlib import Path

NAME, VERSION, MODULE = "envsync-demo", "1.2.3", "envsync_demo"
_INIT = f'VERSION = "{VERSION}"\n'
_META = f"Metadata-Version: 2.1\nName: {NAME}\nVersion: {VERSION}\n"
_WHEEL = "Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n"


def _files() -> dict[str, str]:
    info = f"{MODULE}-{VERSION}.dist-info"
    return {
        f"{MODULE}/__init__.py": _INIT,
        f"{info}/METADATA": _META,
        f"{info}/WHEEL": _WHEEL,
        f"{info}/top_level.txt": f"{MODULE}\n",
    }


def _record(files: dict[str, str]) -> str:
    info = f"{MODULE}-{VERSION}.dist-info"
    rows = []
    for name, text in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()
        rows.append(f"{name},sha256={digest},{len(text.encode())}")
    rows.append(f"{info}/RECORD,,")
    return "\n".join(rows) + "\n"


def install_into(folder: Path) -> Path:
    """The distribution unpacked into ``folder`` (as pip would leave it); returns ``folder``."""
    files = _files()
    files[f"{MODULE}-{VERSION}.dist-info/RECORD"] = _record(files)
    for name, text in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text)
    return folder


def build_wheel(folder: Path) -> Path:
    """``envsync_demo-1.2.3-py3-none-any.whl`` in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    files = _files()
    files[f"{MODULE}-{VERSION}.dist-info/RECORD"] = _record(files)
    path = folder / f"{MODULE}-{VERSION}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as whl:
        for name, text in files.items():
            whl.writestr(name, text)
    return path
