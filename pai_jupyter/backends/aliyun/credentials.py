"""Credentials and client configuration for the Alibaba Cloud SDKs.

Credentials come only from ``alibabacloud-credentials``' default chain
(environment variables, ``~/.aliyun/config.json``, the credentials INI file,
the ECS / DSW RAM role, ``ALIBABA_CLOUD_CREDENTIALS_URI``). Nothing here logs,
stores or returns a secret: the chain hands them to the SDK clients directly.

The chain reads its environment variables when ``auth_util`` is first imported;
``credential_client()`` re-reads them so that variables exported after import
(a kernel started before ``%env`` ran, a test) are seen.
"""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING, Any

from ...config import PaiConfig, in_dsw
from ...errors import AuthError

if TYPE_CHECKING:  # pragma: no cover
    from alibabacloud_credentials.client import Client as CredentialClient

# auth_util attribute -> environment variable it mirrors.
_CHAIN_ENV = {
    "environment_access_key_id": "ALIBABA_CLOUD_ACCESS_KEY_ID",
    "environment_access_key_secret": "ALIBABA_CLOUD_ACCESS_KEY_SECRET",
    "environment_security_token": "ALIBABA_CLOUD_SECURITY_TOKEN",
    "environment_ECSMeta_data": "ALIBABA_CLOUD_ECS_METADATA",
    "environment_ecs_metadata": "ALIBABA_CLOUD_ECS_METADATA",
    "environment_credentials_file": "ALIBABA_CLOUD_CREDENTIALS_FILE",
    "environment_profile_name": "ALIBABA_CLOUD_PROFILE",
    "environment_oidc_token_file": "ALIBABA_CLOUD_OIDC_TOKEN_FILE",
    "environment_role_arn": "ALIBABA_CLOUD_ROLE_ARN",
    "environment_oidc_provider_arn": "ALIBABA_CLOUD_OIDC_PROVIDER_ARN",
    "environment_role_session_name": "ALIBABA_CLOUD_ROLE_SESSION_NAME",
    "environment_credentials_uri": "ALIBABA_CLOUD_CREDENTIALS_URI",
}
_CHAIN_FLAGS = {
    "environment_imds_v1_disabled": ("ALIBABA_CLOUD_IMDSV1_DISABLED", "false"),
    "environment_ecs_metadata_disabled": ("ALIBABA_CLOUD_ECS_METADATA_DISABLED", "false"),
    "environment_cli_profile_disabled": ("ALIBABA_CLOUD_CLI_PROFILE_DISABLED", "false"),
}

CHAIN_HINT = (
    "set ALIBABA_CLOUD_ACCESS_KEY_ID and ALIBABA_CLOUD_ACCESS_KEY_SECRET, write ~/.alibabacloud/credentials.ini, "
    "or run inside DSW/ECS with a RAM role (see docs/aliyun.md)"
)


def _sync_chain_environment() -> None:
    from alibabacloud_credentials.utils import auth_util

    for attr, name in _CHAIN_ENV.items():
        setattr(auth_util, attr, os.environ.get(name))
    for attr, (name, fallback) in _CHAIN_FLAGS.items():
        setattr(auth_util, attr, os.environ.get(name, fallback))
    auth_util.client_type = os.environ.get("ALIBABA_CLOUD_PROFILE", "default")
    auth_util.enable_oidc_credential = all(
        os.environ.get(n)
        for n in ("ALIBABA_CLOUD_OIDC_TOKEN_FILE", "ALIBABA_CLOUD_ROLE_ARN", "ALIBABA_CLOUD_OIDC_PROVIDER_ARN")
    )


def credential_client() -> CredentialClient:
    """The default credential chain (resolved lazily, on the first signed request)."""
    from alibabacloud_credentials.client import Client

    # The chain logs a traceback to stderr (its own handler) for each provider that does not apply,
    # e.g. no ECS metadata service outside Alibaba Cloud; what failed reaches the user as one AuthError.
    logging.getLogger("credentials").setLevel(logging.CRITICAL)
    _sync_chain_environment()
    try:
        return Client()
    except Exception as exc:  # the chain raises CredentialException when nothing is configured
        raise AuthError("no Alibaba Cloud credentials found", CHAIN_HINT) from exc


def region_endpoint(config: PaiConfig, product: str) -> str:
    """The endpoint for ``product`` (dlc, eas, oss): the override, else the regional default."""
    region = config.region
    if product == "dlc":
        return config.dlc_endpoint or f"pai-dlc.{region}.aliyuncs.com"
    if product == "eas":
        return config.eas_endpoint or f"pai-eas.{region}.aliyuncs.com"
    if product == "workspace":  # the AIWorkspace SDK's regional rule: aiworkspace.<region>.aliyuncs.com
        return config.workspace_endpoint or f"aiworkspace.{region}.aliyuncs.com"
    if product == "dsw":  # the PAI-DSW SDK's regional rule: pai-dsw.<region>.aliyuncs.com
        return config.dsw_endpoint or f"pai-dsw.{region}.aliyuncs.com"
    if product == "paiflow":  # the PAIFlow SDK's regional rule: paiflow.<region>.aliyuncs.com
        return config.paiflow_endpoint or f"paiflow.{region}.aliyuncs.com"
    if product == "sts":  # STS's regional endpoint: sts.<region>.aliyuncs.com
        return config.sts_endpoint or f"sts.{region}.aliyuncs.com"
    if product == "oss":
        # Inside DSW (an Alibaba Cloud VPC) the internal endpoint is free and faster.
        return config.oss_endpoint or f"oss-{region}{'-internal' if in_dsw() else ''}.aliyuncs.com"
    raise ValueError(product)


def openapi_config(config: PaiConfig, product: str) -> Any:
    """A tea-openapi ``Config`` for DLC or EAS with the default chain and explicit endpoint."""
    from alibabacloud_tea_openapi.models import Config

    return Config(
        credential=credential_client(),
        region_id=config.region,
        endpoint=region_endpoint(config, product),
        protocol=config.protocol or "https",
        connect_timeout=5000,
        read_timeout=20000,
    )


class OssCredentialsProvider:
    """An ``oss2`` credentials provider backed by the default chain (refreshes STS tokens)."""

    def __init__(self) -> None:
        self._client: CredentialClient | None = None

    def get_credentials(self) -> Any:
        import oss2.credentials

        if self._client is None:
            self._client = credential_client()
        try:
            cred = self._client.get_credential()
        except Exception as exc:
            raise AuthError("no Alibaba Cloud credentials found for OSS", CHAIN_HINT) from exc
        return oss2.credentials.Credentials(cred.access_key_id, cred.access_key_secret, cred.security_token)
