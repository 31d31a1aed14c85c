"""Credentials come from the default chain (env, credentials file, STS), and DSW is detected."""

from __future__ import annotations

from pathlib import Path

import pytest

from pai_jupyter.backends.aliyun.credentials import region_endpoint
from pai_jupyter.backends.aliyun.dlc_training import DlcTraining
from pai_jupyter.backends.aliyun.oss_storage import OssStorage
from pai_jupyter.config import PaiConfig
from pai_jupyter.storage.uri import OssUri
from tests.aliyun.conftest import BUCKET, AliyunFakes


def _use(config: PaiConfig) -> None:
    storage = OssStorage(config)
    storage.write_bytes(OssUri(BUCKET, "cred/x"), b"1")
    DlcTraining(config, storage).list()


def test_credentials_file_of_the_chain(
    fakes: AliyunFakes, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ALIBABA_CLOUD_ACCESS_KEY_ID")
    monkeypatch.delenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET")
    ini = tmp_path / "credentials.ini"
    ini.write_text(
        "[default]\ntype = access_key\naccess_key_id = test-ak\naccess_key_secret = test-secret-never-logged\n"
    )
    monkeypatch.setenv("ALIBABA_CLOUD_CREDENTIALS_FILE", str(ini))
    _use(PaiConfig())
    assert fakes.dlc.requests[-1].headers["authorization"].startswith("ACS3-HMAC-SHA256 Credential=test-ak,")
    assert (
        fakes.dlc.requests[-1].headers["x-acs-credentials-provider"] == "default/profile/static_ak"
    )  # the default chain chose the file
    assert fakes.oss.requests[-1].headers["authorization"].startswith("OSS4-HMAC-SHA256 Credential=test-ak/")


def test_sts_token_from_the_environment(fakes: AliyunFakes, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALIBABA_CLOUD_SECURITY_TOKEN", "sts-token-abc")
    _use(PaiConfig())
    dlc = fakes.dlc.requests[-1].headers
    assert dlc["x-acs-security-token"] == "sts-token-abc" and dlc["x-acs-accesskey-id"] == "test-ak"
    assert dlc["x-acs-credentials-provider"].startswith("default/env")
    assert fakes.oss.requests[-1].headers["x-oss-security-token"] == "sts-token-abc"


def test_dsw_environment_sets_region_workspace_and_internal_oss(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "PAI_JUPYTER_REGION",
        "PAI_JUPYTER_WORKSPACE_ID",
        "PAI_JUPYTER_OSS_ENDPOINT",
        "PAI_JUPYTER_DLC_ENDPOINT",
        "PAI_JUPYTER_EAS_ENDPOINT",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DSW_INSTANCE_ID", "dsw-123")
    monkeypatch.setenv("REGION", "cn-shanghai")
    monkeypatch.setenv("PAI_WORKSPACE_ID", "ws-42")
    config = PaiConfig()
    assert (config.region, config.workspace_id) == ("cn-shanghai", "ws-42")
    assert region_endpoint(config, "oss") == "oss-cn-shanghai-internal.aliyuncs.com"
    assert region_endpoint(config, "dlc") == "pai-dlc.cn-shanghai.aliyuncs.com"
    assert region_endpoint(config, "eas") == "pai-eas.cn-shanghai.aliyuncs.com"
    monkeypatch.delenv("DSW_INSTANCE_ID")
    assert region_endpoint(PaiConfig(), "oss") == "oss-cn-shanghai.aliyuncs.com"
    monkeypatch.setenv("PAI_JUPYTER_EAS_ENDPOINT", "pai-eas-manage-vpc.cn-shanghai.aliyuncs.com")
    assert region_endpoint(PaiConfig(), "eas") == "pai-eas-manage-vpc.cn-shanghai.aliyuncs.com"
