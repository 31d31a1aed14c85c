"""The widget under a cell, in a real ipykernel driven as JupyterLab drives it (execute requests
with the cell's id in their metadata): re-running a cell leaves one polling thread, the output
carries a static rendering, and once the job ends the output is static only and offers no Stop."""

from __future__ import annotations

import json
import queue
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from jupyter_client.manager import KernelManager

from tests.conftest import python_env

pytestmark = pytest.mark.slow

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
LONG_JOB = """%%pai_train --name {name}
import time
from pai_jupyter import report
for step in range(1, 600):
    report(step=step, loss=1.0 / step)
    time.sleep(0.2)
"""


class Kernel:
    def __init__(self, km: KernelManager) -> None:
        self.km = km
        self.client = km.client()
        self.client.start_channels()
        self.client.wait_for_ready(timeout=60)
        self.iopub: list[dict[str, Any]] = []

    def run(self, code: str, cell: str | None = None, timeout: float = 120) -> dict[str, Any]:
        """Execute like JupyterLab does (cellId in the metadata); return the reply, keep iopub."""
        msg = self.client.session.msg(
            "execute_request",
            {"code": code, "silent": False, "store_history": True, "user_expressions": {}, "allow_stdin": False},
            metadata={"cellId": cell} if cell else {},
        )
        self.client.shell_channel.send(msg)
        deadline = time.monotonic() + timeout
        while True:
            reply = self.client.get_shell_msg(timeout=max(1, deadline - time.monotonic()))
            if reply["parent_header"].get("msg_id") == msg["header"]["msg_id"]:
                break
        self.drain()
        assert reply["content"]["status"] == "ok", reply["content"]
        return reply

    def drain(self, wait: float = 0.5) -> None:
        while True:
            try:
                self.iopub.append(self.client.get_iopub_msg(timeout=wait))
            except queue.Empty:
                return

    def value(self, expression: str) -> Any:
        start = len(self.iopub)
        self.run(f"import json as _j; print(_j.dumps({expression}))")
        out = "".join(m["content"]["text"] for m in self.iopub[start:] if m["msg_type"] == "stream")
        return json.loads(out.strip().splitlines()[-1])

    def displays(self, kind: str) -> list[dict[str, Any]]:
        return [m["content"] for m in self.iopub if m["msg_type"] == kind]


@pytest.fixture
def kernel(pai_home: Path, workdir: Path) -> Iterator[Kernel]:
    km = KernelManager(kernel_name="python3")
    km.start_kernel(env=python_env(), cwd=str(workdir))
    k = Kernel(km)
    try:
        k.run("%load_ext pai_jupyter")
        yield k
    finally:
        k.client.stop_channels()
        km.shutdown_kernel(now=True)


POLLERS = "sorted(t.name for t in __import__('threading').enumerate() if t.name.startswith('pai-widget-'))"


def test_rerunning_a_cell_keeps_one_poller_and_a_static_copy(kernel: Kernel) -> None:
    kernel.run(LONG_JOB.format(name="first"), cell="cell-a")
    (shown,) = [d for d in kernel.displays("display_data") if "text/html" in d["data"]]
    first = kernel.value("_pai_job.id")
    data = shown["data"]
    assert WIDGET_VIEW in data and "pai-job-static" in data["text/html"] and first in data["text/plain"]
    display_id = shown["transient"]["display_id"]

    kernel.run(LONG_JOB.format(name="second"), cell="cell-a")  # the same cell again
    second = kernel.value("_pai_job.id")
    assert kernel.value(POLLERS) == [f"pai-widget-{second}"]

    kernel.run(LONG_JOB.format(name="other-cell"), cell="cell-b")  # another cell keeps its own
    third = kernel.value("_pai_job.id")
    assert kernel.value(POLLERS) == sorted([f"pai-widget-{second}", f"pai-widget-{third}"])

    kernel.iopub.clear()
    kernel.run(f"from pai_jupyter.api.jobs import get_job; get_job({third!r}).stop()")
    deadline = time.monotonic() + 40
    while kernel.value(POLLERS) != [f"pai-widget-{second}"]:
        assert time.monotonic() < deadline, "the stopped job's widget kept polling"
        time.sleep(0.5)
    kernel.drain()
    updates = [u for u in kernel.displays("update_display_data") if third in u["data"]["text/plain"]]
    final = updates[-1]["data"]
    assert WIDGET_VIEW not in final, "a finished job's output is static"
    assert 'data-state="Stopped"' in final["text/html"] and "<details>" in final["text/html"]
    assert updates[-1]["transient"]["display_id"] != display_id
    kernel.run(f"get_job({second!r}).stop()")
