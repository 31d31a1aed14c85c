"""Checkpointer on a real folder: atomic saves, manifest, keep-last-K, ranks, formats."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pai_jupyter import Checkpointer
from pai_jupyter.checkpoint import MANIFEST, CheckpointWarning, latest_valid_entry, read_manifest
from pai_jupyter.errors import ValidationError
from tests.conftest import python_env


@pytest.fixture(autouse=True)
def _no_job_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in ("PAI_OUTPUT_CHECKPOINTS", "PAI_CHECKPOINT_INTERVAL", "RANK"):
        monkeypatch.delenv(key, raising=False)


def test_configured_from_the_job_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAI_OUTPUT_CHECKPOINTS", str(tmp_path / "ck"))
    monkeypatch.setenv("PAI_CHECKPOINT_INTERVAL", "900.0")
    ckpt = Checkpointer()
    assert ckpt.directory == tmp_path / "ck" and ckpt.directory.is_dir()
    assert ckpt.interval == 900.0 and ckpt.rank == 0
    explicit = Checkpointer(tmp_path / "other", interval="2m", keep=5)
    assert explicit.directory == tmp_path / "other" and explicit.interval == 120 and explicit.keep == 5


def test_missing_folder_and_bad_arguments_are_one_line_errors(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="PAI_OUTPUT_CHECKPOINTS"):
        Checkpointer()
    with pytest.raises(ValidationError, match="keep"):
        Checkpointer(tmp_path, keep=0)
    with pytest.raises(ValidationError, match="every_steps"):
        Checkpointer(tmp_path, every_steps=0)
    with pytest.raises(ValidationError, match="duration"):
        Checkpointer(tmp_path, interval="soon")


def test_save_writes_file_and_manifest_with_size_and_sha256(tmp_path: Path) -> None:
    ckpt = Checkpointer(tmp_path, every_steps=10)
    info = ckpt.save({"w": [1.0, 2.0], "step": 10}, step=10, format="pickle")
    assert info is not None
    path = tmp_path / info.file
    import hashlib

    data = path.read_bytes()
    manifest = json.loads((tmp_path / MANIFEST).read_text())
    assert manifest["checkpoints"] == [
        {
            "file": "ckpt-000000000010.pkl",
            "step": 10,
            "size": len(data),
            "sha256": hashlib.sha256(data).hexdigest(),
            "format": "pickle",
            "time": info.time,
        }
    ]
    assert not list(tmp_path.glob("*.tmp")), "no temporary file is left behind"
    loaded = ckpt.load_latest()
    assert loaded is not None and loaded.step == 10 and loaded.state == {"w": [1.0, 2.0], "step": 10}


def test_keeps_only_the_last_k(tmp_path: Path) -> None:
    ckpt = Checkpointer(tmp_path, every_steps=1, keep=2)
    for step in range(1, 6):
        ckpt.save(f"state {step}".encode(), step)
    assert [e.step for e in ckpt.checkpoints()] == [4, 5]
    assert sorted(p.name for p in tmp_path.glob("ckpt-*")) == ["ckpt-000000000004.bin", "ckpt-000000000005.bin"]
    assert ckpt.load_latest().state == b"state 5"  # type: ignore[union-attr]


def test_torn_temp_file_is_ignored_and_cleaned(tmp_path: Path) -> None:
    ckpt = Checkpointer(tmp_path, every_steps=1)
    ckpt.save(b"good", 1)
    torn = tmp_path / ".ckpt-abc123.tmp"
    torn.write_bytes(b"\x80\x04partial")  # a process killed mid-save leaves this
    loaded = Checkpointer(tmp_path, rank=1).load_latest()  # a reader does not touch it
    assert loaded is not None and loaded.step == 1 and torn.exists()
    Checkpointer(tmp_path)  # the writer removes it on start
    assert not torn.exists()


def test_corrupt_latest_checkpoint_is_skipped_with_a_warning(tmp_path: Path) -> None:
    ckpt = Checkpointer(tmp_path, every_steps=1)
    ckpt.save({"v": 1}, 1, format="pickle")
    newest = ckpt.save({"v": 2}, 2, format="pickle")
    assert newest is not None
    path = tmp_path / newest.file
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF  # same size, flipped bits
    path.write_bytes(bytes(data))
    with pytest.warns(CheckpointWarning, match="sha256 does not match"):
        loaded = ckpt.load_latest()
    assert loaded is not None and loaded.step == 1 and loaded.state == {"v": 1}


def test_truncated_and_missing_checkpoints_are_skipped(tmp_path: Path) -> None:
    ckpt = Checkpointer(tmp_path, every_steps=1, keep=3)
    for step in (1, 2, 3):
        ckpt.save(bytes([step]) * 1000, step)
    (tmp_path / "ckpt-000000000003.bin").write_bytes(b"\x03" * 10)
    (tmp_path / "ckpt-000000000002.bin").unlink()
    with pytest.warns(CheckpointWarning) as caught:
        loaded = ckpt.load_latest()
    messages = " | ".join(str(w.message) for w in caught)
    assert "torn write" in messages and "missing" in messages
    assert loaded is not None and loaded.step == 1 and loaded.state == b"\x01" * 1000
    assert latest_valid_entry(tmp_path).step == 1  # type: ignore[union-attr]


def test_a_renamed_but_unlisted_checkpoint_is_not_trusted(tmp_path: Path) -> None:
    """Killed between the rename and the manifest write: the manifest still names the previous one."""
    ckpt = Checkpointer(tmp_path, every_steps=1)
    ckpt.save(b"one", 1)
    (tmp_path / "ckpt-000000000002.bin").write_bytes(b"two")
    with pytest.warns(CheckpointWarning, match="not in the manifest"):
        loaded = ckpt.load_latest()
    assert loaded is not None and loaded.step == 1


def test_unreadable_manifest_falls_back_to_files_that_load(tmp_path: Path) -> None:
    ckpt = Checkpointer(tmp_path, every_steps=1)
    ckpt.save({"v": 1}, 1, format="pickle")
    ckpt.save({"v": 2}, 2, format="pickle")
    (tmp_path / "ckpt-000000000002.pkl").write_bytes(b"\x80\x05garbage")
    (tmp_path / MANIFEST).write_text("{not json")
    assert read_manifest(tmp_path) is None
    with pytest.warns(CheckpointWarning):
        loaded = ckpt.load_latest()
    assert loaded is not None and loaded.step == 1 and loaded.state == {"v": 1}


def test_resuming_from_an_older_checkpoint_replaces_the_later_ones(tmp_path: Path) -> None:
    ckpt = Checkpointer(tmp_path, every_steps=1, keep=5)
    for step in (1, 2, 3):
        ckpt.save(f"first run {step}".encode(), step)
    ckpt.save(b"second run 2", 2)
    assert [(e.step, e.file) for e in ckpt.checkpoints()] == [
        (1, "ckpt-000000000001.bin"),
        (2, "ckpt-000000000002.bin"),
    ]
    assert ckpt.load_latest().state == b"second run 2"  # type: ignore[union-attr]


def test_other_ranks_do_not_write_but_can_load(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    Checkpointer(tmp_path, every_steps=1, rank=0).save(b"from rank 0", 3)
    monkeypatch.setenv("RANK", "1")
    worker = Checkpointer(tmp_path, every_steps=1)
    assert worker.rank == 1 and not worker.is_writer
    assert worker.save(b"from rank 1", 4) is None
    assert [e.step for e in worker.checkpoints()] == [3]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt-000000000003.bin", MANIFEST]
    assert worker.load_latest().state == b"from rank 0"  # type: ignore[union-attr]
    monkeypatch.setenv("RANK", "one")
    with pytest.raises(ValidationError, match="RANK"):
        Checkpointer(tmp_path)


def test_torch_state_round_trips_through_torch_save(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    model = torch.nn.Linear(4, 2)
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    model(torch.randn(3, 4)).sum().backward()
    opt.step()
    ckpt = Checkpointer(tmp_path, every_steps=1)
    info = ckpt.save({"model": model.state_dict(), "opt": opt.state_dict(), "rng": torch.get_rng_state()}, 7)
    assert info is not None and info.format == "torch" and info.file.endswith(".pt")
    loaded = ckpt.load_latest()
    assert loaded is not None and loaded.step == 7
    for key, value in model.state_dict().items():
        assert torch.equal(loaded.state["model"][key], value)
    assert torch.equal(loaded.state["rng"], torch.get_rng_state())
    assert loaded.state["opt"]["param_groups"][0]["momentum"] == 0.9
    # The checksum covers exactly what torch.save streamed through the hashing writer.
    assert (tmp_path / info.file).stat().st_size == info.size


@pytest.mark.slow
def test_without_torch_imported_state_is_pickled(tmp_path: Path) -> None:
    """A script that never imported torch pays no torch import to save a dict."""
    code = (
        "import sys; from pai_jupyter import Checkpointer\n"
        f"c = Checkpointer({str(tmp_path)!r}, every_steps=1)\n"
        "info = c.save({'a': 1}, 1)\n"
        "print(info.format, 'torch' in sys.modules, c.load_latest().state)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], env=python_env(), capture_output=True, text=True, check=True
    )
    assert out.stdout.split() == ["pickle", "False", "{'a':", "1}"]


def test_should_save_by_steps_and_by_time(tmp_path: Path) -> None:
    by_steps = Checkpointer(tmp_path, every_steps=50)
    assert [s for s in range(0, 201) if by_steps.should_save(s)] == [50, 100, 150, 200]
    now = [1000.0]  # an injected clock: the interval is a rule about time, not a race against it
    by_time = Checkpointer(tmp_path, interval=60, clock=lambda: now[0])
    assert not by_time.should_save(1)
    now[0] += 59.9
    assert not by_time.should_save(2)
    now[0] += 0.2
    assert by_time.should_save(2)
    by_time.save(b"x", 2)
    assert not by_time.should_save(3), "a save restarts the interval"
    now[0] += 60
    assert by_time.should_save(4)
    default = Checkpointer(tmp_path)
    assert default.interval == 15 * 60 and default.every_steps is None


def test_fresh_start_returns_none(tmp_path: Path) -> None:
    assert Checkpointer(tmp_path / "new").load_latest() is None
    assert Checkpointer(tmp_path / "absent", rank=1).load_latest() is None


@pytest.mark.slow
def test_killed_mid_save_leaves_the_previous_checkpoint_loadable(tmp_path: Path) -> None:
    """SIGKILL a real process while it saves a large state over and over."""
    code = (
        "import os, sys; from pai_jupyter import Checkpointer\n"
        f"c = Checkpointer({str(tmp_path)!r}, every_steps=1, keep=2)\n"
        "blob = os.urandom(8 * 2**20)\n"
        "step = 0\n"
        "while True:\n"
        "    step += 1\n"
        "    c.save(blob[:-1] + bytes([step % 256]), step)\n"
        "    print(step, flush=True)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], env=python_env(), stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    for _ in range(3):
        proc.stdout.readline()
    time.sleep(0.05)
    proc.kill()
    proc.wait()
    loaded = Checkpointer(tmp_path, rank=1).load_latest()
    assert loaded is not None and loaded.step >= 3
    assert loaded.state[-1] == loaded.step % 256 and len(loaded.state) == 8 * 2**20


def test_background_save_snapshots_the_state_and_reports_through_wait(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    model = torch.nn.Linear(64, 64)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    ckpt = Checkpointer(tmp_path, every_steps=1)
    assert ckpt.save({"model": model.state_dict(), "step": 5}, 5, background=True) is None
    with torch.no_grad():
        model.weight.add_(1.0)  # training goes on while the thread writes
    info = ckpt.wait()
    assert info is not None and info.step == 5 and ckpt.wait() is None
    loaded = ckpt.load_latest()
    assert loaded is not None and loaded.state["step"] == 5
    assert torch.equal(loaded.state["model"]["weight"], before["weight"])
    assert hasattr(loaded.state["model"], "_metadata"), "a state_dict keeps its version metadata"
    model.load_state_dict(loaded.state["model"])
    # pickle and bytes states are serialised before the thread starts
    ckpt.save({"v": [1, 2]}, 6, format="pickle", background=True)
    ckpt.save(bytearray(b"raw"), 7, background=True)  # waits for the previous one first
    assert ckpt.wait().step == 7  # type: ignore[union-attr]
    assert [(e.step, e.format) for e in ckpt.checkpoints()] == [(5, "torch"), (6, "pickle"), (7, "bytes")]
    assert Checkpointer(tmp_path, rank=1).load_latest().state == b"raw"  # type: ignore[union-attr]


def test_background_save_errors_surface_on_the_next_call(tmp_path: Path) -> None:
    ckpt = Checkpointer(tmp_path / "gone", every_steps=1)
    (tmp_path / "gone").rmdir()
    ckpt.save(b"x", 1, background=True)
    with pytest.raises(FileNotFoundError):
        ckpt.wait()
    assert ckpt.wait() is None, "an error is raised once"


@pytest.mark.slow
def test_interpreter_exit_waits_for_a_background_save(tmp_path: Path) -> None:
    code = (
        "import os; from pai_jupyter import Checkpointer\n"
        f"Checkpointer({str(tmp_path)!r}, every_steps=1).save(os.urandom(32 * 2**20), 1, background=True)\n"
    )
    subprocess.run([sys.executable, "-c", code], env=python_env(), check=True, timeout=60)
    loaded = Checkpointer(tmp_path, rank=1).load_latest()
    assert loaded is not None and loaded.step == 1 and len(loaded.state) == 32 * 2**20
