"""What a submission carries: no credential files, never the state folder; a cell that does not compile stays home."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell

from pai_jupyter.api.jobs import jobs
from pai_jupyter.backends.registry import reset_backends
from pai_jupyter.config import set_current_config
from pai_jupyter.storage.uri import OssUri
from tests.conftest import run_cli, stop_control_plane

SECRETS = {
    ".env": "ALIBABA_CLOUD_ACCESS_KEY_SECRET=s3cr3t\n",
    ".env.production": "DB_PASSWORD=hunter2\n",
    ".netrc": "machine example.com login me password hunter2\n",
    ".pypirc": "[pypi]\npassword = pypi-token\n",
    "id_rsa": "-----BEGIN OPENSSH PRIVATE KEY-----\n",
    "deploy/server.pem": "-----BEGIN CERTIFICATE-----\n",
    "credentials.json": '{"key": "x"}\n',
    ".ossutilconfig": "[Credentials]\naccessKeySecret=x\n",
}
CODE = {"train_lib.py": "X = 1\n", "data/config.yaml": "lr: 0.1\n"}


@pytest.fixture
def home_in_workdir(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The state folder and the Jupyter runtime folder inside the notebook's working folder."""
    home = workdir / "pai-state"
    monkeypatch.setenv("PAI_JUPYTER_HOME", str(home))
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(workdir / "jupyter-runtime"))
    monkeypatch.setenv("PAI_JUPYTER_BACKEND", "local")
    reset_backends()
    set_current_config(None)
    for rel, text in {**SECRETS, **CODE}.items():
        (workdir / rel).parent.mkdir(parents=True, exist_ok=True)
        (workdir / rel).write_text(text)
    yield home
    stop_control_plane(home)
    reset_backends()
    set_current_config(None)


@pytest.fixture
def shell(home_in_workdir: Path) -> Iterator[InteractiveShell]:
    ip = InteractiveShell.instance()
    ip.extension_manager.load_extension("pai_jupyter")
    yield ip
    ip.extension_manager.unload_extension("pai_jupyter")
    InteractiveShell.clear_instance()


def snapshot_files(code_uri: str, home: Path) -> set[str]:
    uri = OssUri.parse(code_uri)
    root = home / "storage" / uri.bucket / uri.key
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}


@pytest.mark.slow
def test_a_notebook_job_leaves_credentials_and_the_state_folder_behind(
    shell: InteractiveShell, home_in_workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shell.run_cell_magic("pai_train", "--wait --no-widget", "print('ok')\n")
    job = shell.user_ns["_pai_job"]
    assert job.record.state == "Succeeded"
    files = snapshot_files(job.record.code_uri, home_in_workdir)
    assert files == {"main.py", *CODE}  # no secret, no pai-state/state.sqlite, no runtime file
    err = capsys.readouterr().err
    assert "left out of the code snapshot as credential files" in err and ".netrc" in err


@pytest.mark.slow
def test_include_copies_a_named_credential_file(home_in_workdir: Path, workdir: Path) -> None:
    (workdir / "train.py").write_text("print('ok')\n")
    proc = run_cli("train", str(workdir / "train.py"), "--include", ".env", "--wait", "--json")
    import json

    record = json.loads(proc.stdout)
    files = snapshot_files(record["code_uri"], home_in_workdir)
    assert ".env" in files and ".netrc" not in files and ".env.production" not in files
    assert not any(f.startswith(("pai-state/", "jupyter-runtime/")) for f in files)
    assert ".netrc" in proc.stderr and "--include PATTERN" in proc.stderr


def test_a_cell_with_a_syntax_error_is_not_submitted(ip: InteractiveShell) -> None:
    with pytest.raises(UsageError) as info:
        ip.run_cell_magic("pai_train", "--no-widget", "x = 1\nif x\n    print(x)\n")
    text = str(info.value)
    assert "the cell has a syntax error at line 2: expected ':'; nothing was submitted" in text
    assert "\n" not in text
    assert jobs() == []


def test_a_script_with_a_syntax_error_is_not_submitted(pai_home: Path, tmp_path: Path) -> None:
    script = tmp_path / "bad.py"
    script.write_text("import os\n\nprint(os.getcwd()\n")
    proc = run_cli("train", str(script), check=False)
    assert proc.returncode == 2
    assert "bad.py has a syntax error at line 3" in proc.stderr and "nothing was submitted" in proc.stderr
    assert "Traceback" not in proc.stderr
    listed = run_cli("jobs", "list", "--json").stdout
    assert '"jobs": []' in listed and '"total": 0' in listed
