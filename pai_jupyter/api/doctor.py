"""The checks behind ``jupyter pai doctor [--json]`` and ``%pai_doctor``: is this account ready for PAI?

A first real run fails most often on setup, so each check makes one harmless call and, when
it fails, says how to fix it:

- credentials: which provider of the default chain answered (env, profile, ECS/DSW RAM role, ...);
- region and workspace (the configured one, or the DSW instance's through GetInstance);
- the bucket: write, read back and delete one object under ``pai-jupyter/.doctor/``;
- PAI-DLC and PAI-EAS permissions: ``ListJobs`` and ``ListServices`` with a page size of 1;
- the endpoints: internal (VPC) or public, and whether a TCP connection gets through.

Nothing here prints a secret; the access key id is shown shortened.
"""

from __future__ import annotations

import json
import re
import secrets
import socket
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

from ..config import PaiConfig, current_config, in_dsw
from ..errors import AuthError, BackendUnavailable, PaiError

OK, WARN, FAIL = "ok", "warn", "fail"
_REGION = re.compile(r"^[a-z]{2,}(-[a-z0-9]+)+$")
DOCTOR_PREFIX = "pai-jupyter/.doctor/"


@dataclass
class Check:
    name: str
    status: str  # ok | warn | fail
    detail: str
    fix: str = ""


def _attempt(name: str, fn: Callable[[], str], fix_for: Callable[[PaiError], str]) -> Check:
    """Run one check: its detail on success, the error and its fix on failure."""
    try:
        return Check(name, OK, fn())
    except PaiError as exc:
        return Check(name, FAIL, exc.message, fix_for(exc))


def _permission_fix(product: str, policy: str) -> Callable[[PaiError], str]:
    def fix(exc: PaiError) -> str:
        if isinstance(exc, AuthError):
            return f"grant the RAM user or role the {policy} policy (or the {product} actions it lists)"
        if isinstance(exc, BackendUnavailable):
            return f"check PaiConfig.region and the {product} endpoint override; see the endpoints rows"
        return exc.hint or f"check the {product} settings in docs/aliyun.md"

    return fix


def check_credentials() -> Check:
    from ..backends.aliyun.credentials import CHAIN_HINT, credential_client

    try:
        cred = credential_client().get_credential()
    except PaiError as exc:
        return Check("credentials", FAIL, exc.message, CHAIN_HINT)
    except Exception as exc:  # the chain's CredentialException: every provider failed
        first = " ".join(str(exc).split())[:160]
        return Check("credentials", FAIL, f"no provider of the default chain answered ({first})", CHAIN_HINT)
    key = str(cred.access_key_id or "")
    shown = f"{key[:4]}...{key[-3:]}" if len(key) > 8 else "***"
    kind = "STS token" if cred.security_token else "access key"
    return Check("credentials", OK, f"{cred.provider_name or 'default chain'}: {kind} {shown}")


def check_region(config: PaiConfig) -> Check:
    region = config.region
    if not region or not _REGION.match(region):
        return Check(
            "region", FAIL, f"region {region!r} is not a region id", "set PAI_JUPYTER_REGION, e.g. cn-hangzhou"
        )
    source = "from the DSW instance (REGION)" if in_dsw() else "configured"
    return Check("region", OK, f"{region} ({source})")


def check_workspace(config: PaiConfig) -> Check:
    from ..backends.aliyun.workspace import PaiWorkspace

    def find() -> str:
        workspace = PaiWorkspace(config).workspace_id()
        if not workspace:
            raise PaiError("no workspace configured; jobs go to the account's default workspace")
        source = "configured" if config.workspace_id else "from the DSW instance (GetInstance)"
        return f"{workspace} ({source})"

    check = _attempt(
        "workspace",
        find,
        lambda exc: exc.hint or "set PAI_JUPYTER_WORKSPACE_ID (the PAI console shows it on the workspace page)",
    )
    if check.status == FAIL and check.detail.startswith("no workspace configured"):
        check.status = WARN
    return check


def check_bucket(config: PaiConfig) -> Check:
    from ..backends.aliyun.oss_storage import OssStorage
    from ..storage.uri import OssUri

    def round_trip() -> str:
        from ..backends.aliyun.workspace import PaiWorkspace

        bucket = config.oss_bucket
        if not bucket and in_dsw():  # the workspace's default OSS storage, as the backend adopts it
            bucket = PaiWorkspace(config).default_bucket()
        bucket = bucket or config.bucket
        storage = OssStorage(config)
        uri = OssUri(bucket, f"{DOCTOR_PREFIX}{secrets.token_hex(6)}")
        payload = f"pai-jupyter doctor {time.time()}".encode()
        storage.write_bytes(uri, payload)
        try:
            if storage.read_bytes(uri) != payload:
                raise PaiError(f"{uri} read back different bytes")
        finally:
            storage.delete(uri)
        return f"oss://{bucket}/{DOCTOR_PREFIX}: write, read and delete work"

    def fix(exc: PaiError) -> str:
        if isinstance(exc, AuthError):
            return f"grant oss:PutObject, oss:GetObject, oss:DeleteObject, oss:ListObjects on {config.bucket}/pai-jupyter/*"
        return exc.hint or "check PAI_JUPYTER_OSS_BUCKET and that the bucket is in the configured region"

    return _attempt("bucket", round_trip, fix)


def check_dlc(config: PaiConfig) -> Check:
    from ..backends.aliyun.credentials import openapi_config, region_endpoint
    from ..backends.aliyun.sdk_errors import sdk_call

    def list_one() -> str:
        from alibabacloud_pai_dlc20201203 import models
        from alibabacloud_pai_dlc20201203.client import Client

        request = models.ListJobsRequest(page_size=1, page_number=1, workspace_id=config.workspace_id or None)
        with sdk_call("ListJobs", region_endpoint(config, "dlc")):
            total = Client(openapi_config(config, "dlc")).list_jobs(request).body.total_count
        return f"ListJobs answered ({total or 0} job(s) visible)"

    return _attempt("dlc permission", list_one, _permission_fix("PAI-DLC", "AliyunPAIDLCFullAccess"))


def check_eas(config: PaiConfig) -> Check:
    from ..backends.aliyun.credentials import openapi_config, region_endpoint
    from ..backends.aliyun.sdk_errors import sdk_call

    def list_one() -> str:
        from alibabacloud_eas20210701 import models
        from alibabacloud_eas20210701.client import Client

        with sdk_call("ListServices", region_endpoint(config, "eas")):
            body = (
                Client(openapi_config(config, "eas")).list_services(models.ListServicesRequest(page_size=1)).body
            )
        return f"ListServices answered ({body.total_count or 0} service(s) visible)"

    return _attempt("eas permission", list_one, _permission_fix("PAI-EAS", "AliyunPAIEASFullAccess"))


def _reachable(endpoint: str, protocol: str, timeout: float = 3.0) -> str | None:
    """None when a TCP connection to the endpoint succeeds, else why not."""
    host = endpoint.split("://", 1)[-1].split("/", 1)[0]
    name, _, port = host.rpartition(":") if ":" in host else (host, "", "")
    port_number = int(port) if port.isdigit() else (80 if protocol == "http" else 443)
    try:
        with socket.create_connection((name or host, port_number), timeout=timeout):
            return None
    except socket.gaierror:
        return "host name not found"
    except OSError as exc:
        return exc.strerror or type(exc).__name__


def check_endpoints(config: PaiConfig) -> list[Check]:
    from ..backends.aliyun.credentials import region_endpoint

    out = []
    for product in ("dlc", "eas", "oss", "workspace"):
        endpoint = region_endpoint(config, product)
        internal = "-internal." in endpoint or "-vpc." in endpoint or "-vpc-" in endpoint
        network = "internal (VPC)" if internal else "public"
        why = _reachable(endpoint, config.protocol or "https")
        name = f"endpoint {product}"
        if why is None:
            status, fix = OK, ""
            if product == "oss" and in_dsw() and not internal:
                status, fix = WARN, f"inside DSW use oss-{config.region}-internal.aliyuncs.com (free, faster)"
            out.append(Check(name, status, f"{endpoint} ({network}) reachable", fix))
            continue
        fix = f"set PAI_JUPYTER_{product.upper()}_ENDPOINT or check PaiConfig.region"
        if internal:
            fix = f"internal endpoints answer only inside Alibaba Cloud; outside it, {fix}"
        out.append(Check(name, FAIL, f"{endpoint} ({network}) unreachable: {why}", fix))
    return out


def run_checks(config: PaiConfig | None = None) -> list[Check]:
    """Every check, in the order a first run needs them."""
    config = config or current_config()
    checks = [check_credentials(), check_region(config), check_workspace(config)]
    checks += check_endpoints(config)
    unreachable = {c.name.split(" ", 1)[1] for c in checks if c.name.startswith("endpoint ") and c.status == FAIL}
    for product, check in (("oss", check_bucket), ("dlc", check_dlc), ("eas", check_eas)):
        if product in unreachable:
            checks.append(
                Check(
                    {"oss": "bucket", "dlc": "dlc permission", "eas": "eas permission"}[product],
                    FAIL,
                    f"not tried: the {product} endpoint is unreachable",
                    "fix the endpoint row first",
                )
            )
        else:
            checks.append(check(config))
    return checks


def render_table(checks: list[Check]) -> str:
    width = max(len(c.name) for c in checks)
    lines = [f"{'check':<{width}}  status  detail", f"{'-' * width}  ------  ------"]
    for c in checks:
        lines.append(f"{c.name:<{width}}  {c.status:<6}  {c.detail}")
        if c.fix:
            lines.append(f"{'':<{width}}          fix: {c.fix}")
    failed = sum(c.status == FAIL for c in checks)
    lines.append("")
    lines.append("All checks passed." if not failed else f"{failed} check(s) failed: apply the fixes above.")
    return "\n".join(lines)


def as_json(checks: list[Check]) -> str:
    return json.dumps(
        {"ok": all(c.status != FAIL for c in checks), "checks": [asdict(c) for c in checks]}, indent=2
    )
