"""Run the tutorial notebook end to end (``make demo``) and print what it shows.

Executes ``digits_tutorial.ipynb`` in a real kernel with nbclient, prints each
cell's text output, writes the executed copy next to it
(``digits_tutorial.executed.ipynb``), and exits non-zero if any cell fails.
The local control plane it starts is stopped again unless it was already
running (then it is left alone).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

HERE = Path(__file__).resolve().parent
NOTEBOOK = HERE / "digits_tutorial.ipynb"


def _text(output: dict) -> str:
    if output.get("output_type") == "stream":
        return output.get("text", "")
    data = output.get("data", {})
    if "text/plain" in data:
        return data["text/plain"] + "\n"
    if output.get("output_type") == "error":
        return f"{output.get('ename')}: {output.get('evalue')}\n"
    return ""


def main() -> int:
    from pai_jupyter.config import PaiConfig
    from pai_jupyter.controlplane.server import running_server

    config = PaiConfig()
    was_running = running_server(config.home_path) is not None
    nb = nbformat.read(NOTEBOOK, as_version=4)
    client = NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(HERE)}})
    started = time.monotonic()
    failed = False
    try:
        client.execute()
    except CellExecutionError as exc:
        failed = True
        print(f"\nA cell failed:\n{exc}", file=sys.stderr)
    finally:
        executed = HERE / "digits_tutorial.executed.ipynb"
        nbformat.write(nb, executed)
        for i, cell in enumerate(nb.cells):
            if cell.cell_type != "code":
                continue
            first = cell.source.splitlines()[0] if cell.source else ""
            print(f"\n[{i}] {first}")
            for output in cell.get("outputs", []):
                sys.stdout.write("    " + _text(output).replace("\n", "\n    ").rstrip() + "\n")
        if not was_running:
            _stop(config)
    print(
        f"\nDemo {'FAILED' if failed else 'finished'} in {time.monotonic() - started:.1f}s; "
        f"executed notebook: {executed.relative_to(HERE.parent)}"
    )
    print(f"State folder of the local backend: {config.home_path}")
    return 1 if failed else 0


def _stop(config: object) -> None:
    from pai_jupyter.frontends.cli.main import main as cli_main

    try:
        cli_main(["server", "stop"])
    except SystemExit:
        pass


if __name__ == "__main__":
    sys.exit(main())
