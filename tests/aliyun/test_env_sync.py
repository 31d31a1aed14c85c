"""The kernel's environment, reproduced on DLC: the CreateJob request installs what the code
imports at the kernel's versions (fake DLC, whose fields come from the SDK models), the image
follows the kernel's framework/Python/CUDA, and the job records what it ran with."""

from __future__ import annotations

import json
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path

import pytest
from IPython.core.interactiveshell import InteractiveShell

from pai_jupyter.backends.aliyun import dlc_jobs as dj
from pai_jupyter.specs.job import JobSpec
from tests.aliyun.conftest import BUCKET, AliyunFakes
from tests.envsync_dist import MODULE, NAME, VERSION, build_wheel, install_into

pytestmark = pytest.mark.slow

CELL = """
import numpy
import helpers
print("demo", helpers.demo_version(), "numpy", numpy.__version__)
"""
HELPERS = f"""
import {MODULE}  # the notebook's own module imports the package the image lacks

def demo_version():
    return {MODULE}.VERSION
"""


@pytest.fixture
def ip(fakes: AliyunFakes, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[InteractiveShell]:
    work = tmp_path / "work"
    work.mkdir()
    (work / "helpers.py").write_text(HELPERS)
    monkeypatch.chdir(work)
    # The kernel has envsync-demo 1.2.3; the "image" (the fake DLC's interpreter, run isolated) has not.
    monkeypatch.syspath_prepend(str(install_into(tmp_path / "kernel-site")))
    shell = InteractiveShell.instance()
    shell.extension_manager.load_extension("pai_jupyter")
    yield shell
    shell.extension_manager.unload_extension("pai_jupyter")
    InteractiveShell.clear_instance()


def _last_create(fakes: AliyunFakes) -> dict:
    return fakes.dlc.calls("CreateJob")[-1].json


def test_the_request_installs_what_the_code_imports_at_the_kernels_versions(
    ip: InteractiveShell, fakes: AliyunFakes, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fakes.dlc.wheelhouse = build_wheel(tmp_path / "wheels").parent  # DLC's pip finds it there
    ip.run_cell_magic("pai_train", "--name synced --wait --as job", CELL)
    job = ip.user_ns["job"]
    body = _last_create(fakes)
    # ThirdpartyLibs: CreateJobRequest.thirdparty_libs (List[str]) in the SDK model.
    assert body["ThirdpartyLibs"] == [f"{NAME}=={VERSION}", f"numpy=={metadata.version('numpy')}"]
    assert "ThirdpartyLibDir" not in body
    assert job.status() == "Succeeded"
    assert f"demo {VERSION}" in job.logs()
    env = job.environment()
    assert env["recorded"] and env["mode"] == "auto"
    assert {"name": NAME, "version": VERSION} in env["installed"]
    assert not [d for d in env["differs"] if d["name"] in (NAME, "numpy")], env["differs"]
    recorded = json.loads(
        fakes.oss.path(BUCKET, job.record.outputs["run"].split(f"{BUCKET}/", 1)[1] + dj.ENV_RECORD).read_text()
    )
    assert recorded["packages"][NAME] == VERSION
    events = [e.message for e in job.events()]
    assert any("installs 2 pinned requirement(s)" in m for m in events)


def test_a_failed_install_is_listed_with_its_reason(ip: InteractiveShell, fakes: AliyunFakes) -> None:
    # No wheelhouse: DLC's pip cannot find envsync-demo, so the environment never becomes ready.
    ip.run_cell_magic("pai_train", "--name unsynced --as job", CELL)
    job = ip.user_ns["job"]
    job.wait(raise_on_failure=False, timeout=60)
    assert job.record.state == "Failed" and "pip install failed" in (job.record.reason or "")


def test_requirements_file_replaces_the_list_and_no_env_sync_turns_it_off(
    ip: InteractiveShell, fakes: AliyunFakes, tmp_path: Path
) -> None:
    reqs = tmp_path / "requirements.txt"
    reqs.write_text(f"# pinned by hand\n{NAME}==1.0.0\nrequests\n")
    ip.run_cell_magic("pai_train", f"--name by-file --requirements {reqs} --as a", CELL)
    body = _last_create(fakes)
    assert body["ThirdpartyLibs"] == [f"{NAME}==1.0.0", "requests"]
    assert ip.user_ns["a"].spec.env_sync == "file"
    assert JobSpec.from_dlc({**body, "UserCommand": dj.strip_wrapper(body["UserCommand"])}).env_sync == "file"

    ip.run_cell_magic("pai_train", "--name unsynced --no-env-sync --as b", CELL)
    body = _last_create(fakes)
    assert "ThirdpartyLibs" not in body and "ThirdpartyLibDir" not in body
    job = ip.user_ns["b"]
    assert job.spec.env_sync == "off" and job.spec.requirements == ()
    # The plan still names what the code imports, so the diff can say why it differs.
    assert job.provenance["env_sync"]["distributions"][NAME] == VERSION

    with pytest.raises(Exception, match="--no-env-sync installs nothing"):
        ip.run_cell_magic("pai_train", f"--name both --no-env-sync --requirements {reqs}", CELL)


def test_cuda_tagged_pins_come_from_the_pytorch_index(
    ip: InteractiveShell, fakes: AliyunFakes, tmp_path: Path
) -> None:
    reqs = tmp_path / "requirements.txt"
    reqs.write_text("torch==2.3.1+cu121\n")
    ip.run_cell_magic("pai_train", f"--name cuda --requirements {reqs} --as job", "print('x')\n")
    body = _last_create(fakes)
    assert "ThirdpartyLibs" not in body
    assert body["ThirdpartyLibDir"] == f"{dj.RUN_MOUNT}/{dj.REQUIREMENTS_DIR}/"
    run = ip.user_ns["job"].record.outputs["run"].split(f"{BUCKET}/", 1)[1]
    text = fakes.oss.path(BUCKET, run + "env/requirements.txt").read_text()
    assert text.splitlines() == ["--extra-index-url https://download.pytorch.org/whl/cu121", "torch==2.3.1+cu121"]


def test_the_kernels_framework_python_and_cuda_pick_the_image(aliyun, fakes: AliyunFakes) -> None:
    spec = JobSpec(name="gpu", framework="pytorch", gpu_count=1)
    kernel = {
        "python": {"version": "3.10.14"},
        "frameworks": {"torch": {"version": "2.3.1+cu121", "cuda": "12.1"}},
    }
    image, why = aliyun.training.workspace.image_choice(spec, kernel)
    assert image.endswith("pytorch-training:2.3-gpu-py310-cu121-ubuntu22.04")
    assert why == "matches the kernel's framework, Python, CUDA"
    newer = {"python": {"version": "3.11.9"}, "frameworks": {"torch": {"version": "2.5.1", "cuda": None}}}
    assert aliyun.training.workspace.image_choice(spec, newer)[0].endswith("2.5-gpu-py311-cu124-ubuntu22.04")
    # Nothing known about the kernel: the newest, as before.
    assert aliyun.training.workspace.image_choice(spec, None)[0].endswith("2.5-gpu-py311-cu124-ubuntu22.04")
