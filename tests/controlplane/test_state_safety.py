"""The state folder at rest: private whatever the umask, a damaged database refused, backups restored."""

from __future__ import annotations

import os
import sqlite3
import stat
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from pai_jupyter.backends.local import LocalBackend, ensure_server
from pai_jupyter.config import PaiConfig
from pai_jupyter.controlplane.runtime import runtime_file
from pai_jupyter.errors import BackendUnavailable
from pai_jupyter.specs.job import JobSpec
from tests.conftest import run_cli, stop_control_plane, wait_until
from tests.controlplane.jobs_helpers import submit_script, wait_for


@pytest.fixture
def loose_umask() -> Iterator[None]:
    """The umask most systems start users with: files 0644, folders 0755."""
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def stop_and_wait(config: PaiConfig) -> None:
    """Stop the control plane and wait for its process to end (it closes the database last)."""
    pid = ensure_server(config)["pid"]
    stop_control_plane(config.home_path)
    wait_until(lambda: not psutil.pid_exists(pid) or psutil.Process(pid).status() == "zombie", what="exit")


def mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_state_folder_is_0700_and_its_files_0600_under_umask_022(pai_config: PaiConfig, loose_umask: None) -> None:
    backend = LocalBackend(pai_config)
    job = submit_script(backend, "print('hello')\n", JobSpec(name="perm", entry="main.py"))
    assert wait_for(backend, job.id, {"Succeeded", "Failed"}).state == "Succeeded"
    home = pai_config.home_path
    assert mode(home) == 0o700
    files = {
        home / "state.sqlite",
        home / "state.sqlite-wal",
        home / "state.sqlite-shm",
        home / "server.log",
        runtime_file(home),
        *home.glob("backups/state-*.sqlite"),
        *home.glob("jobs/*/logs/*.log"),
    }
    assert len(list(home.glob("backups/state-*.sqlite"))) == 1  # the one taken at start
    assert len(list(home.glob("jobs/*/logs/*.log"))) == 1
    assert {str(p): oct(mode(p)) for p in files} == {str(p): "0o600" for p in files}
    backend.close()


def test_an_old_world_readable_database_is_made_private(pai_config: PaiConfig, loose_umask: None) -> None:
    home = pai_config.home_path
    home.mkdir(mode=0o755, parents=True)
    sqlite3.connect(home / "state.sqlite").close()  # as an older version left it: 0644 in 0755
    assert mode(home / "state.sqlite") == 0o644
    ensure_server(pai_config)
    assert (mode(home), mode(home / "state.sqlite")) == (0o700, 0o600)


def _start_fails(config: PaiConfig) -> str:
    with pytest.raises(BackendUnavailable) as info:
        ensure_server(config)
    return str(info.value)


def test_a_garbled_database_stops_the_start_with_one_line_naming_the_file(pai_config: PaiConfig) -> None:
    home = pai_config.home_path
    stop_and_wait(pai_config)
    db = home / "state.sqlite"
    data = bytearray(db.read_bytes())
    data[:100] = b"\x00garbled" * 12 + b"\x00" * 4  # the header: not a database any more
    db.write_bytes(bytes(data))
    message = _start_fails(pai_config)
    assert f"the state database {db} is damaged" in message
    assert "jupyter pai server restore" in message
    assert "Traceback" not in (home / "server.log").read_text()
    # and in the foreground, one line on stderr and exit code 2
    proc = run_cli("server", check=False, timeout=60)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert f"the state database {db} is damaged" in proc.stderr


def test_a_truncated_database_is_refused(pai_config: PaiConfig) -> None:
    backend = LocalBackend(pai_config)
    for i in range(3):
        submit_script(backend, "print(1)\n", JobSpec(name=f"t{i}", entry="main.py"))
    backend.close()
    home = pai_config.home_path
    stop_and_wait(pai_config)
    db = home / "state.sqlite"
    size = db.stat().st_size
    assert size > 8192
    with open(db, "r+b") as fh:
        fh.truncate(size // 2)
    assert "is damaged" in _start_fails(pai_config)


def test_an_emptied_database_is_damage_not_a_fresh_start_and_restore_brings_the_records_back(
    pai_config: PaiConfig,
) -> None:
    backend = LocalBackend(pai_config)
    job = submit_script(backend, "print('kept')\n", JobSpec(name="kept", entry="main.py"))
    wait_for(backend, job.id, {"Succeeded"})
    backend.close()
    home = pai_config.home_path
    stop_and_wait(pai_config)
    stop_and_wait(pai_config)  # (re)started: a start takes a backup that holds the job
    db = home / "state.sqlite"
    db.write_bytes(b"")
    for side in ("state.sqlite-wal", "state.sqlite-shm"):
        (home / side).unlink(missing_ok=True)
    message = _start_fails(pai_config)
    assert "is empty but backups of it exist" in message
    restored = run_cli("server", "restore")
    assert "Restored" in restored.stdout and "kept as" in restored.stdout
    assert list(home.glob("state.sqlite.damaged-*"))
    backend = LocalBackend(pai_config)
    assert [j.id for j in backend.training.list()] == [job.id]
    backend.close()


def test_restore_refuses_while_the_control_plane_runs(pai_config: PaiConfig) -> None:
    ensure_server(pai_config)
    proc = run_cli("server", "restore", check=False)
    assert proc.returncode == 2
    assert "stop it first" in proc.stderr


def test_backups_rotate_at_the_configured_interval_and_keep_n(
    pai_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PAI_JUPYTER_BACKUP_INTERVAL", "0.2")
    monkeypatch.setenv("PAI_JUPYTER_BACKUP_KEEP", "3")
    config = PaiConfig()
    ensure_server(config)
    seen: set[str] = set()

    def rotated() -> bool:
        names = {p.name for p in pai_home.glob("backups/state-*.sqlite")}
        assert len(names) <= 3
        seen.update(names)
        return len(seen) >= 6

    wait_until(rotated, timeout=60, what="six backups taken, three kept")
    for path in pai_home.glob("backups/state-*.sqlite"):
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        assert conn.execute("PRAGMA quick_check").fetchone()[0] == "ok"
        assert conn.execute("SELECT count(*) FROM migrations").fetchone()[0] >= 1
        conn.close()


def test_clients_racing_to_start_the_control_plane_all_get_the_one_that_won(pai_config: PaiConfig) -> None:
    """The sidebar opens with a REST call and the push socket at once: both may start it."""
    from concurrent.futures import ThreadPoolExecutor

    stop_and_wait(pai_config)
    with ThreadPoolExecutor(4) as pool:
        infos = list(pool.map(lambda _: ensure_server(pai_config), range(4)))
    assert len({info["pid"] for info in infos}) == 1
