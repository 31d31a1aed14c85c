"""Clients after a control-plane restart: the kernel, the CLI's long-lived client and raw HTTP clients
find the new address and token in the runtime file; a write cut off mid-way says so instead of repeating."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from IPython.core.interactiveshell import InteractiveShell

from pai_jupyter.backends.local.http import JsonClient
from pai_jupyter.controlplane.server import running_server
from pai_jupyter.errors import BackendUnavailable
from tests.conftest import python_env, stop_control_plane, wait_until


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Foreground:
    """`jupyter pai server --port P` as a user runs it in a terminal."""

    def __init__(self, home: Path, port: int) -> None:
        self.home = home
        log = open(home.parent / f"server-{port}.log", "ab")  # noqa: SIM115 - closed in stop()
        self.log = log
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "pai_jupyter.frontends.cli.main", "server", "--port", str(port)],
            env=python_env(),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        self.info = wait_until(lambda: running_server(home), timeout=60, what="the control plane")

    def stop(self) -> None:
        stop_control_plane(self.home)
        self.proc.wait(timeout=30)
        self.log.close()


@pytest.mark.slow
@pytest.mark.parametrize("same_port", [False, True], ids=["new-port", "same-port-new-token"])
def test_the_kernel_keeps_working_across_a_restart(
    pai_home: Path, workdir: Path, capsys: pytest.CaptureFixture[str], same_port: bool
) -> None:
    pai_home.mkdir(parents=True)
    port = free_port()
    first = Foreground(pai_home, port)
    shell = InteractiveShell.instance()
    shell.extension_manager.load_extension("pai_jupyter")
    # the kernel must find the server the user restarted, not start one of its own
    shell.run_line_magic("config", "PaiConfig.autostart = False")
    try:
        shell.run_cell_magic("pai_train", "--name before-restart --wait --no-widget", "print('ok')\n")
        capsys.readouterr()
        first.stop()
        second = Foreground(pai_home, port if same_port else free_port())
        assert second.info["token"] != first.info["token"]
        assert (second.info["url"] == first.info["url"]) is same_port
        shell.run_line_magic("pai_jobs", "")  # a read: transparent
        assert "before-restart" in capsys.readouterr().out
        shell.run_cell_magic("pai_train", "--name after-restart --wait --no-widget", "print('ok')\n")
        assert shell.user_ns["_pai_job"].record.state == "Succeeded"
        second.stop()
    finally:
        shell.extension_manager.unload_extension("pai_jupyter")
        InteractiveShell.clear_instance()


class DropFirst:
    """A server that reads the first request and hangs up without answering (a control plane
    killed mid-request), then answers every later one: it counts what it received."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen()
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.received: list[str] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                data = conn.recv(65536)
                if not data:
                    continue
                self.received.append(data.split(b"\r\n", 1)[0].decode())
                if len(self.received) == 1:
                    conn.shutdown(socket.SHUT_RDWR)
                    continue
                body = b'{"ok": true}'
                head = f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n"
                conn.sendall(head.encode() + b"Connection: close\r\n\r\n" + body)

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def drop_first() -> Iterator[DropFirst]:
    server = DropFirst()
    yield server
    server.close()


def test_a_read_cut_off_mid_way_is_sent_again(drop_first: DropFirst) -> None:
    client = JsonClient(drop_first.url, "t", "control plane", reconnect=lambda: (drop_first.url, "t"))
    assert client.get("/api/v1/jobs") == {"ok": True}
    assert drop_first.received == ["GET /api/v1/jobs HTTP/1.1"] * 2


def test_a_write_cut_off_mid_way_is_not_repeated_and_says_so(drop_first: DropFirst) -> None:
    client = JsonClient(drop_first.url, "t", "local control plane", reconnect=lambda: (drop_first.url, "t"))
    with pytest.raises(BackendUnavailable) as info:
        client.post("/api/v1/jobs", {"spec": {}})
    assert "went away while POST /api/v1/jobs was in flight: it may or may not have been done" in str(info.value)
    assert drop_first.received == ["POST /api/v1/jobs HTTP/1.1"]  # sent once


def test_a_write_that_reached_nobody_goes_to_the_server_running_now(drop_first: DropFirst) -> None:
    dead = f"http://127.0.0.1:{free_port()}"  # refused: nothing was sent
    drop_first.received.append("(first one answered)")  # answer at once
    client = JsonClient(dead, "old", "control plane", reconnect=lambda: (drop_first.url, "new"))
    assert client.post("/api/v1/jobs", {"spec": {}}) == {"ok": True}
    assert drop_first.received[1:] == ["POST /api/v1/jobs HTTP/1.1"]
