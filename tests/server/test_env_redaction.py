"""`--env` values that are secrets never leave through `jobs show --json`, the REST API or the sidebar's data."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import run_cli
from tests.server.helpers import get_json

pytestmark = pytest.mark.slow

PASSWORD = "hunter2-" + "p" * 12
AK = "LTAI" + "5tQx9aBcDeFgHiJk"  # an AccessKey id's shape under a harmless name


def submit_with_secrets(tmp_path: Path) -> dict[str, Any]:
    script = tmp_path / "train.py"
    script.write_text("import os\nassert os.environ['MY_PASSWORD']\n")  # the job itself gets the real value
    out = run_cli(
        "train",
        str(script),
        "--env",
        f"MY_PASSWORD={PASSWORD}",
        "--env",
        f"NOTE={AK}",
        "--env",
        "EPOCHS=3",
        "--wait",
        "--json",
    ).stdout
    return json.loads(out)


async def test_env_secrets_are_redacted_in_the_cli_and_the_rest_api(jp_fetch: Any, tmp_path: Path) -> None:
    record = submit_with_secrets(tmp_path)
    assert record["state"] == "Succeeded"  # the worker saw the password
    shown = json.loads(run_cli("jobs", "show", record["id"], "--json").stdout)
    listed = json.loads(run_cli("jobs", "list", "--json").stdout)
    detail = await get_json(jp_fetch, "jobs", record["id"])
    listing = await get_json(jp_fetch, "jobs")
    for env in (
        record["spec"]["env"],
        shown["job"]["spec"]["env"],
        listed["jobs"][0]["spec"]["env"],
        detail["job"]["spec"]["env"],
        listing["jobs"][0]["spec"]["env"],
    ):
        assert env == {"MY_PASSWORD": "<redacted>", "NOTE": "<redacted>", "EPOCHS": "3"}
    everything = json.dumps([shown, listed, detail, listing])
    assert PASSWORD not in everything and AK not in everything
