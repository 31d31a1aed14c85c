"""A real child process gets a private /ml built from host folders; the host's /ml is never touched."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from pai_jupyter.controlplane import private_view
from pai_jupyter.controlplane.private_view import LAUNCH_FAILED, Bind

needs_view = pytest.mark.skipif(
    not private_view.support().available, reason=f"no private views here: {private_view.support().reason}"
)


def _run(argv: list[str], binds: list[Bind], cwd: str | None = None) -> subprocess.CompletedProcess[str]:
    return private_view.run(argv, binds, cwd=cwd, capture_output=True, text=True, timeout=60)


def _host_ml() -> list[str] | None:
    """What the host's /ml holds (None: it does not exist), to prove a view left it alone."""
    return sorted(os.listdir("/ml")) if os.path.isdir("/ml") else None


@needs_view
def test_child_sees_private_ml_and_writes_land_in_the_job_folders(tmp_path: Path) -> None:
    before = _host_ml()
    data, model, config = tmp_path / "data", tmp_path / "model", tmp_path / "hps.json"
    data.mkdir()
    model.mkdir()
    (data / "train.csv").write_text("1,2\n")
    config.write_text('{"lr": "0.01"}')
    script = (
        "import os, json\n"
        "print(open('/ml/input/data/train/train.csv').read().strip())\n"
        "print(json.load(open('/ml/input/config/hyperparameters.json'))['lr'])\n"
        "open('/ml/output/model/model.txt', 'w').write('weights')\n"
        "print(sorted(os.listdir('/ml')), os.getcwd(), os.getuid())\n"
    )
    done = _run(
        [sys.executable, "-c", script],
        [
            Bind(str(data), "/ml/input/data/train"),
            Bind(str(model), "/ml/output/model"),
            Bind(str(config), "/ml/input/config/hyperparameters.json", read_only=True),
        ],
        cwd="/ml/output/model",
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["1,2", "0.01", f"['input', 'output'] /ml/output/model {os.getuid()}"]
    assert (model / "model.txt").read_text() == "weights"
    assert _host_ml() == before


@needs_view
def test_read_only_bind_refuses_writes_and_the_host_keeps_its_file(tmp_path: Path) -> None:
    config = tmp_path / "hyperparameters.json"
    config.write_text("{}")
    done = _run(
        ["/bin/sh", "-c", "echo x > /ml/input/config/hyperparameters.json"],
        [Bind(str(config), "/ml/input/config/hyperparameters.json", read_only=True)],
    )
    assert done.returncode != 0
    assert "Read-only" in done.stderr
    assert config.read_text() == "{}"


@needs_view
def test_other_top_level_paths_are_the_hosts(tmp_path: Path) -> None:
    (tmp_path / "seen-from-the-view").write_text("host file")
    (tmp_path / "m").mkdir()
    done = _run(
        ["/bin/sh", "-c", f"cat {tmp_path}/seen-from-the-view && echo from-view > {tmp_path}/written"],
        [Bind(str(tmp_path / "m"), "/eas/workspace/model")],
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == "host file"
    assert (tmp_path / "written").read_text() == "from-view\n"
    assert not os.path.exists("/eas/workspace/model") or os.listdir("/eas/workspace/model") != []


@needs_view
def test_a_missing_source_fails_before_the_command_runs(tmp_path: Path) -> None:
    done = _run(
        ["/bin/sh", "-c", f"touch {tmp_path}/ran"],
        [Bind(str(tmp_path / "absent"), "/ml/input/data/train")],
    )
    assert done.returncode == LAUNCH_FAILED
    assert "does not exist" in done.stderr
    assert not (tmp_path / "ran").exists()


_SPAWNS_ITSELF = "import subprocess, sys; subprocess.run([sys.executable, '-c', 'pass'], check=True)"


def _unprivileged_python() -> str | None:
    """A Python an unprivileged user can run (the venv may live under /root)."""
    for candidate in (sys.executable, "/usr/bin/python3"):
        check = subprocess.run(
            ["setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups", candidate, "-c", _SPAWNS_ITSELF],
            capture_output=True,
        )
        if check.returncode == 0:
            return candidate
    return None


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("setpriv"), reason="needs root to become nobody")
def test_an_unprivileged_user_gets_the_view_through_a_user_namespace() -> None:
    python = _unprivileged_python()
    if python is None:
        pytest.skip("no Python that user nobody may run")
    with tempfile.TemporaryDirectory() as tmp:  # pytest's tmp_path is under a 0700 folder nobody cannot enter
        Path(tmp).chmod(0o777)
        _run_as_nobody(python, Path(tmp))


def _run_as_nobody(python: str, tmp_path: Path) -> None:
    model = tmp_path / "model"
    model.mkdir()
    model.chmod(0o777)
    # A copy nobody can read: the checkout may sit in a 0700 folder (a clone into mktemp -d).
    module = tmp_path / "private_view.py"
    shutil.copyfile(Path(private_view.__file__).resolve(), module)
    module.chmod(0o644)
    script = (
        "import importlib.util, sys\n"
        f"spec = importlib.util.spec_from_file_location('pv', {str(module)!r})\n"
        "pv = importlib.util.module_from_spec(spec); sys.modules['pv'] = pv; spec.loader.exec_module(pv)\n"
        "print(pv.support())\n"
        f"done = pv.run(['/bin/sh', '-c', 'id -u; echo m > /ml/output/model/m'], [pv.Bind({str(model)!r}, '/ml/output/model')])\n"
        "sys.exit(done.returncode)\n"
    )
    before = _host_ml()
    done = subprocess.run(
        ["setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups", python, "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    if "available=False" in done.stdout:
        pytest.skip(f"user namespaces are not allowed for nobody here: {done.stdout}")
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.splitlines()[-1] == "65534"
    assert (model / "m").read_text() == "m\n"
    assert (model / "m").stat().st_uid == 65534
    assert _host_ml() == before


@pytest.mark.skipif(not shutil.which("unshare") or not shutil.which("setpriv"), reason="needs util-linux")
def test_where_the_os_forbids_namespaces_support_says_why() -> None:
    # A user namespace whose own limit on nested user namespaces is 0 (user.max_user_namespaces is
    # per user namespace, so the host's value stays as it is), with every capability dropped:
    # exactly a machine that forbids unprivileged user namespaces.
    probe = (
        "import importlib.util, sys\n"
        f"spec = importlib.util.spec_from_file_location('pv', {str(Path(private_view.__file__).resolve())!r})\n"
        "pv = importlib.util.module_from_spec(spec); sys.modules['pv'] = pv; spec.loader.exec_module(pv)\n"
        "print(pv.support())\n"
    )
    inner = (
        "echo 0 > /proc/sys/user/max_user_namespaces && "
        f'exec setpriv --bounding-set=-all --inh-caps=-all {sys.executable} -c "$0"'
    )
    before = _host_ml()
    done = subprocess.run(
        ["unshare", "--user", "--map-root-user", "/bin/sh", "-c", inner, probe],
        capture_output=True,
        text=True,
        timeout=60,
    )
    if done.returncode != 0 and "unshare" in done.stderr.split(":", 1)[0]:
        pytest.skip(f"cannot make a user namespace to simulate it: {done.stderr}")
    assert done.returncode == 0, done.stderr
    assert "available=False" in done.stdout
    assert "max_user_namespaces is 0" in done.stdout
    assert "sysctl -w user.max_user_namespaces" in done.stdout
    assert _host_ml() == before


def test_turned_off_on_purpose(monkeypatch: pytest.MonkeyPatch) -> None:
    private_view.support.cache_clear()
    monkeypatch.setenv(private_view.DISABLE_ENV, "0")
    try:
        result = private_view.support()
        assert not result.available
        assert result.reason == "private views are turned off by PAI_JUPYTER_PRIVATE_VIEW=0"
    finally:
        private_view.support.cache_clear()


def test_targets_must_be_below_root() -> None:
    with pytest.raises(ValueError, match="absolute path below /"):
        Bind("/tmp", "ml/output")
    with pytest.raises(ValueError, match="absolute path below /"):
        Bind("/tmp", "/")
