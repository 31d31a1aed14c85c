"""A fake AIWorkspace 2021-02-04 (``ListImages``) and PAI-DSW 2022-01-01 (``GetInstance``).

One server answers both products, told apart by ``x-acs-version``; each request's ACS3
signature is verified with the configured secret (``signing.verify_acs3``).

- ListImages: ``GET /api/v1/images`` (``list_images_with_options`` in
  alibabacloud_aiworkspace20210204/client.py), query keys as that method sends them; the
  ``Labels`` filter is comma-separated ``key=value`` pairs that must all match and ``Name``
  filters by substring, as the PAI SDK uses them (pai/api/image.py, pai/image.py). Images carry
  ``ImageUri``, ``Name`` and ``Labels[{Key, Value}]`` (``ListImagesResponseBodyImages``). The
  catalogue below holds official images of the shape PAI publishes, including an old
  Python 3.6 XGBoost build that pai-jupyter must not pick.
- ListConfigs: ``GET /api/v1/workspaces/{WorkspaceId}/configs`` (``list_configs_with_options``),
  ``ConfigKeys`` comma-separated; answers ``Configs[{ConfigKey, ConfigValue}]``. The PAI SDK reads
  the default OSS storage from ``modelExportPath`` (pai/api/workspace.py, WorkspaceConfigKeys).
- GetInstance: ``GET /api/v2/instances/{InstanceId}`` (``get_instance_with_options`` in
  alibabacloud_pai_dsw20220101/client.py), answering ``InstanceId``, ``WorkspaceId``,
  ``WorkspaceName``, ``Status`` (``GetInstanceResponseBody``); an unknown id is 404
  ``InstanceNotFound``.
"""

from __future__ import annotations

import re
from typing import Any

from .common import FakeServer, Request, Response, acs_error, check_acs_request, json_response, request_id

WORKSPACE_VERSION = "2021-02-04"
DSW_VERSION = "2022-01-01"
LIST_IMAGES_KEYS = {
    "Accessibility",
    "ImageUri",
    "Labels",
    "Name",
    "Options",
    "Order",
    "PageNumber",
    "PageSize",
    "Query",
    "SortBy",
    "Verbose",
    "WorkspaceId",
}


def _image(uri: str, chip: str, python: str, created: str) -> dict[str, Any]:
    repo = uri.rsplit("/", 1)[-1].split(":", 1)[0]
    return {
        "ImageId": "image-" + re.sub(r"[^a-z0-9]", "", uri.rsplit(":", 1)[-1])[:20],
        "Name": repo,
        "ImageUri": uri,
        "Accessibility": "PUBLIC",
        "GmtCreateTime": created,
        "Labels": [
            {"Key": "system.official", "Value": "true"},
            {"Key": "system.supported.dlc", "Value": "true"},
            {"Key": "system.chipType", "Value": chip},
            {"Key": "system.pythonVersion", "Value": python},
            {"Key": "system.origin", "Value": "PAI"},
        ],
    }


def catalogue(region: str) -> list[dict[str, Any]]:
    reg = f"dsw-registry-vpc.{region}.cr.aliyuncs.com/pai"
    return [
        _image(f"{reg}/pytorch-training:2.3-gpu-py310-cu121-ubuntu22.04", "GPU", "3.10", "2024-06-01T00:00:00Z"),
        _image(f"{reg}/pytorch-training:2.5-gpu-py311-cu124-ubuntu22.04", "GPU", "3.11", "2025-01-01T00:00:00Z"),
        _image(f"{reg}/pytorch-training:2.5-cpu-py311-ubuntu22.04", "CPU", "3.11", "2025-01-01T00:00:00Z"),
        _image(f"{reg}/pytorch-training:1.12-cpu-py38-ubuntu20.04", "CPU", "3.8", "2023-01-01T00:00:00Z"),
        _image(f"{reg}/tensorflow-training:2.14-cpu-py311-ubuntu22.04", "CPU", "3.11", "2024-03-01T00:00:00Z"),
        _image(
            f"{reg}/tensorflow-training:2.14-gpu-py311-cu118-ubuntu22.04", "GPU", "3.11", "2024-03-01T00:00:00Z"
        ),
        _image(f"{reg}/xgboost:1.6.0-cpu-py36-ubuntu18.04", "CPU", "3.6", "2022-01-01T00:00:00Z"),
        _image(f"{reg}/xgboost-training:2.0.3-cpu-py310-ubuntu22.04", "CPU", "3.10", "2024-05-01T00:00:00Z"),
    ]


class FakeWorkspace(FakeServer):
    name = "fake-workspace"

    def __init__(self, region: str = "cn-hangzhou") -> None:
        super().__init__()
        self.images = catalogue(region)
        self.instances: dict[str, dict[str, Any]] = {}
        self.configs: dict[str, dict[str, str]] = {}  # workspace id -> ConfigKey -> ConfigValue
        self.errors: list[str] = []

    def add_instance(self, instance_id: str, workspace_id: str) -> None:
        self.instances[instance_id] = {
            "InstanceId": instance_id,
            "InstanceName": f"notebook-{instance_id}",
            "WorkspaceId": workspace_id,
            "WorkspaceName": f"workspace-{workspace_id}",
            "Status": "Running",
        }

    def handle(self, req: Request) -> Response:
        bad = check_acs_request(req, (WORKSPACE_VERSION, DSW_VERSION))
        if bad:
            return bad
        version = req.headers["x-acs-version"]
        action = req.headers["x-acs-action"]
        if version == WORKSPACE_VERSION and req.method == "GET" and req.path == "/api/v1/images":
            if action != "ListImages":
                return acs_error(400, "InvalidAction", f"action {action} does not match the path")
            unknown = set(req.query) - LIST_IMAGES_KEYS
            if unknown:
                self.errors.append(f"ListImages: undocumented query key(s) {sorted(unknown)}")
                return acs_error(400, "InvalidParameter", f"unknown parameter(s) {sorted(unknown)}")
            return self.list_images(req)
        m = re.fullmatch(r"/api/v1/workspaces/([^/]+)/configs", req.path)
        if version == WORKSPACE_VERSION and req.method == "GET" and m and action == "ListConfigs":
            keys = [k for k in (req.query.get("ConfigKeys") or "").split(",") if k]
            values = self.configs.get(m.group(1), {})
            configs = [{"ConfigKey": k, "ConfigValue": v} for k, v in values.items() if not keys or k in keys]
            return json_response({"Configs": configs, "TotalCount": len(configs), "RequestId": request_id()})
        m = re.fullmatch(r"/api/v2/instances/([^/]+)", req.path)
        if version == DSW_VERSION and req.method == "GET" and m and action == "GetInstance":
            instance = self.instances.get(m.group(1))
            if instance is None:
                return acs_error(404, "InstanceNotFound", f"instance {m.group(1)} does not exist")
            return json_response({**instance, "RequestId": request_id(), "Success": True})
        return acs_error(404, "InvalidAction.NotFound", f"no route {req.method} {req.path}")

    def list_images(self, req: Request) -> Response:
        wanted = [tuple(p.split("=", 1)) for p in (req.query.get("Labels") or "").split(",") if "=" in p]
        name = (req.query.get("Name") or "").lower()
        out = []
        for image in self.images:
            labels = {lb["Key"]: lb["Value"] for lb in image["Labels"]}
            if all(labels.get(k) == v for k, v in wanted) and name in image["Name"].lower():
                out.append(image)
        out.sort(key=lambda i: i["GmtCreateTime"], reverse=req.query.get("Order", "DESC").upper() == "DESC")
        page, size = int(req.query.get("PageNumber") or 1), int(req.query.get("PageSize") or 20)
        chosen = out[(page - 1) * size : page * size]
        if req.query.get("Verbose") != "true":
            chosen = [{k: v for k, v in i.items() if k != "Labels"} for i in chosen]
        return json_response({"Images": chosen, "TotalCount": len(out), "RequestId": request_id()})
