"""Fixtures: fake OSS / DLC / EAS servers and an aliyun backend pointed at them."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.aliyun.fakes.dlc import FakeDlc
from tests.aliyun.fakes.oss import FakeOss
from tests.aliyun.fakes.paiflow import FakePaiflow
from tests.aliyun.fakes.signing import ACCESS_KEY, ACCESS_SECRET
from tests.aliyun.fakes.workspace import FakeWorkspace

BUCKET = "pai-test"


@dataclass
class AliyunFakes:
    oss: FakeOss
    dlc: FakeDlc
    eas: object | None
    home: Path
    workspace: FakeWorkspace | None = None  # AIWorkspace ListImages + DSW GetInstance
    paiflow: FakePaiflow | None = None  # PAIFlow pipelines and runs + STS GetCallerIdentity


def start_fakes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AliyunFakes:
    from pai_jupyter.backends.registry import reset_backends
    from pai_jupyter.config import set_current_config

    oss = FakeOss(tmp_path / "oss").start()
    oss.create_bucket(BUCKET)
    dlc = FakeDlc(oss, tmp_path / "dlc").start()
    workspace = FakeWorkspace().start()
    paiflow = FakePaiflow().start()
    eas = None
    try:
        from tests.aliyun.fakes.eas import FakeEas

        eas = FakeEas(oss).start()
        monkeypatch.setenv("PAI_JUPYTER_EAS_ENDPOINT", eas.endpoint)
    except ImportError:
        pass
    home = tmp_path / "pai-home"
    for name, value in {
        "PAI_JUPYTER_BACKEND": "aliyun",
        "PAI_JUPYTER_HOME": str(home),
        "PAI_JUPYTER_REGION": "cn-hangzhou",
        "PAI_JUPYTER_WORKSPACE_ID": "ws-test",
        "PAI_JUPYTER_OSS_BUCKET": BUCKET,
        "PAI_JUPYTER_OSS_ENDPOINT": oss.endpoint,
        "PAI_JUPYTER_DLC_ENDPOINT": dlc.endpoint,
        "PAI_JUPYTER_WORKSPACE_ENDPOINT": workspace.endpoint,
        "PAI_JUPYTER_DSW_ENDPOINT": workspace.endpoint,
        "PAI_JUPYTER_PAIFLOW_ENDPOINT": paiflow.endpoint,
        "PAI_JUPYTER_STS_ENDPOINT": paiflow.endpoint,
        "PAI_JUPYTER_PROTOCOL": "http",
        "ALIBABA_CLOUD_ACCESS_KEY_ID": ACCESS_KEY,
        "ALIBABA_CLOUD_ACCESS_KEY_SECRET": ACCESS_SECRET,
        "ALIBABA_CLOUD_ECS_METADATA_DISABLED": "true",
        "ALIBABA_CLOUD_CLI_PROFILE_DISABLED": "true",
        "ALIBABA_CLOUD_CREDENTIALS_FILE": str(tmp_path / "no-credentials.ini"),
        "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"),
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("DSW_INSTANCE_ID", raising=False)
    reset_backends()
    set_current_config(None)
    return AliyunFakes(oss, dlc, eas, home, workspace, paiflow)


def stop_fakes(fakes: AliyunFakes) -> None:
    from pai_jupyter.backends.registry import reset_backends
    from pai_jupyter.config import set_current_config

    reset_backends()
    set_current_config(None)
    fakes.dlc.stop()
    fakes.oss.stop()
    if fakes.workspace is not None:
        fakes.workspace.stop()
    if fakes.paiflow is not None:
        fakes.paiflow.stop()
    if fakes.eas is not None:
        fakes.eas.stop()  # type: ignore[attr-defined]


@pytest.fixture
def fakes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[AliyunFakes]:
    f = start_fakes(tmp_path, monkeypatch)
    yield f
    stop_fakes(f)
    assert not f.dlc.errors, f"the backend broke the DLC contract: {f.dlc.errors}"
    assert f.paiflow is None or not f.paiflow.errors, f"the backend broke the PAIFlow contract: {f.paiflow.errors}"
    assert f.eas is None or not f.eas.errors, f"the backend broke the EAS contract: {f.eas.errors}"  # type: ignore[attr-defined]


@pytest.fixture
def aliyun(fakes: AliyunFakes):
    from pai_jupyter.backends.registry import get_backend
    from pai_jupyter.config import PaiConfig

    return get_backend("aliyun", PaiConfig())
