"""``jupyter pai config [--json]``: every effective setting and where its value came from."""

from __future__ import annotations

import dataclasses
from typing import Any

import click

from ...config import config_files, current_config, serving_env_var, serving_setting
from ...controlplane.serving.gateway import GatewayConfig
from ...controlplane.serving.instances import INSTANCE_SETTINGS, InstanceConfig
from ...controlplane.serving.loops import LoopConfig
from ..options.common import emit, json_option
from ..render.common import table

# The gateway listener's address: PAI_SERVING_GATEWAY_HOST (default: PaiConfig.server_ip), _PORT (0: free).
GATEWAY_LISTENER = {"gateway_host": None, "gateway_port": 0}


def serving_settings() -> dict[str, tuple[Any, str]]:
    """The local serving settings (``c.PaiServing.<field>`` / ``PAI_SERVING_<FIELD>``) with their sources."""
    defaults: dict[str, Any] = dict(GATEWAY_LISTENER)
    for cfg, names in ((LoopConfig(), None), (GatewayConfig(), None), (InstanceConfig(), INSTANCE_SETTINGS)):
        for f in dataclasses.fields(cfg):
            if names is None or f.name in names:
                defaults[f.name] = getattr(cfg, f.name)
    out = {}
    for name, value in sorted(defaults.items()):
        found = serving_setting(name)
        out[name] = found if found is not None else (value, "default")
    return out


@click.command("config")
@json_option
def config_command(as_json: bool) -> None:
    """Print every effective setting and its source (flag, env, file, app config, default)."""
    rows = {f"PaiConfig.{k}": v for k, v in current_config().sources().items()}
    rows.update({f"PaiServing.{k}": v for k, v in serving_settings().items()})
    data = {
        "files": [str(p) for p in config_files()],
        "settings": {name: {"value": value, "source": source} for name, (value, source) in rows.items()},
    }
    lines = [
        table(
            [(name, repr(value), source) for name, (value, source) in rows.items()], ["setting", "value", "source"]
        )
    ]
    lines.append("")
    lines.append(
        "config files: "
        + (", ".join(data["files"]) or "none (jupyter_pai_config.py / .json in `jupyter --paths` config dirs)")
    )
    lines.append(f"environment: PAI_JUPYTER_<NAME>, {serving_env_var('<field>')}")
    emit(data, as_json, "\n".join(lines))


def register(cli: click.Group) -> None:
    cli.add_command(config_command)
