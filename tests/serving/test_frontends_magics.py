"""The serving magics in a real IPython shell, and the service widget, on the real control plane."""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

import numpy as np
import pytest
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell

from pai_jupyter.api.services import Service

pytestmark = pytest.mark.slow

X = np.zeros((1, 64), dtype=np.float32)


def test_deploy_rollout_rollback_from_the_notebook(
    ip: InteractiveShell,
    workdir: Path,
    onnx_model: Path,
    onnx_model_b: Path,
    onnx_model_other_api: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    shutil.copytree(onnx_model.parent, workdir / "v1")
    shutil.copytree(onnx_model_b.parent, workdir / "v2")
    shutil.copytree(onnx_model_other_api.parent, workdir / "v3")

    ip.run_line_magic("pai_deploy", "digits-svc --model v1 --min 1 --max 2 --qps-per-instance 200")
    out = capsys.readouterr().out
    svc = ip.user_ns["_pai_service"]
    assert isinstance(svc, Service)
    assert "Deployed digits-svc v1 (onnx) on local." in out
    assert f"endpoint: {svc.endpoint}" in out
    assert "_pai_service.token()" in out and "jupyter pai services token digits-svc" in out
    assert "VERSION" in out and "v1" in out and "100%" in out
    assert "Uploading the model" in out
    assert np.asarray(svc.predict(X)["outputs"]).shape == (1, 10)

    # v2 with a plan that waits for requests: the rollout holds at 50 %.
    ip.run_line_magic("pai_deploy", "digits-svc --model v2 --plan 50,100 --bake 0 --min-requests 1000 --as svc2")
    out = capsys.readouterr().out
    assert "Deployed digits-svc v2: rolling out from v1 (50% -> 100%)" in out
    assert "%pai_rollout digits-svc status|pause|resume|promote|abort" in out

    ip.run_line_magic("pai_rollout", "digits-svc")
    out = capsys.readouterr().out
    assert "rollout v1 -> v2 running: [50%] -> 100%" in out

    ip.run_line_magic("pai_rollout", "digits-svc pause")
    assert "rollout v1 -> v2 paused" in capsys.readouterr().out
    ip.run_line_magic("pai_rollout", "digits-svc resume")
    assert "rollout v1 -> v2 running" in capsys.readouterr().out
    ip.run_line_magic("pai_rollout", "digits-svc promote")
    assert "succeeded" in capsys.readouterr().out or svc.refresh().weights == {2: 100.0}
    assert svc.refresh().weights == {2: 100.0}

    # An incompatible signature is refused, with the difference, unless it is a new API version.
    with pytest.raises(UsageError) as info:
        ip.run_line_magic("pai_deploy", "digits-svc --model v3")
    assert "\n" not in str(info.value) and ("incompatible" in str(info.value) or "signature" in str(info.value))

    # ... and served beside the current one when it is a new API version.
    ip.run_line_magic("pai_deploy", "digits-svc --model v3 --new-api-version")
    out = capsys.readouterr().out
    assert f"as a new API version beside the serving one: {svc.endpoint}@v3" in out
    assert np.asarray(svc.predict(np.zeros((1, 32)), version=3)["outputs"]).shape == (1, 10)
    assert svc.refresh().weights == {2: 100.0}

    ip.run_line_magic("pai_rollback", "digits-svc --to 1")
    assert "Rolled digits-svc back to v1: digits-svc: Running, v1 100%" in capsys.readouterr().out

    ip.run_line_magic("pai_services", "")
    out = capsys.readouterr().out
    assert "digits-svc" in out and "v1 100%" in out and "TRAFFIC" in out
    ip.run_line_magic("pai_services", "digits-svc")
    out = capsys.readouterr().out
    assert "autoscaler: 1-2 instances, 200.0 QPS/instance" in out
    assert "rollout v1 -> v2" in out

    with pytest.raises(UsageError, match=r"no version 9|has no version"):
        ip.run_line_magic("pai_rollback", "digits-svc --to 9")
    with pytest.raises(UsageError, match="digits-nope"):
        ip.run_line_magic("pai_rollout", "digits-nope status")


def test_wait_fails_the_cell_when_the_rollout_reverts(
    ip: InteractiveShell, workdir: Path, onnx_model: Path, onnx_model_b: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ip.run_line_magic("pai_deploy", f"digits-svc --model {onnx_model}")
    svc: Service = ip.user_ns["_pai_service"]
    stop = threading.Event()

    def load() -> None:
        client = Service("digits-svc")
        while not stop.is_set():
            try:
                client.predict(X)
            except Exception:
                pass

    thread = threading.Thread(target=load, daemon=True)
    thread.start()
    try:
        # A p95 cap no model can meet: the first judged window reverts to v1.
        with pytest.raises(UsageError) as info:
            ip.run_line_magic(
                "pai_deploy",
                f"digits-svc --model {onnx_model_b} --plan 10,100 --bake 0 --min-requests 5 --max-p95-ms 0.001 --wait",
            )
    finally:
        stop.set()
        thread.join(10)
    assert "rollout of digits-svc v2 failed" in str(info.value) and "p95" in str(info.value)
    assert svc.refresh().weights == {1: 100.0}


def test_service_widget_renders_split_figures_and_rollout(
    serving_env: Path, workdir: Path, onnx_model: Path, onnx_model_b: Path
) -> None:
    pytest.importorskip("ipywidgets")
    from pai_jupyter.api.services import deploy
    from pai_jupyter.frontends.widgets.services import ServiceWidget
    from pai_jupyter.specs.service import RolloutPlan

    svc = deploy("widget-svc", onnx_model)
    for _ in range(30):
        svc.predict(X)
    deploy("widget-svc", onnx_model_b, plan=RolloutPlan(steps=(25, 100), bake_s=300, min_requests=1))
    widget = ServiceWidget(svc, start=False)
    import time

    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not widget.figures.versions:
        svc.predict(X)
        time.sleep(0.3)
        widget.update()
    assert "v1 75%" in widget.bar.value and "v2 25%" in widget.bar.value
    assert "<table" in widget.table.value and "v2" in widget.table.value
    assert widget.figures.versions, "metrics reached the widget"
    assert "<svg" in widget.charts.value or "waiting for data" in widget.charts.value
    assert "25 %" in widget.rollout.value and "baking" in widget.rollout.value
    assert not widget.buttons["pause"].disabled and widget.buttons["resume"].disabled
    widget._act("pause")
    assert widget.buttons["resume"].disabled is False and widget.buttons["pause"].disabled
    widget._act("abort")
    assert svc.refresh().weights == {1: 100.0}
    bundle = widget._repr_mimebundle_()
    assert bundle["text/plain"].startswith("widget-svc: Running, v1 100%")
    # the background thread polls and stops when the service goes away
    live = ServiceWidget(svc, poll=0.1)
    svc.delete()
    assert live._thread is not None
    live._thread.join(5)
    assert not live._thread.is_alive()
    assert "no service" in live.message.value or "widget-svc" in live.message.value


def test_deploy_shows_the_live_widget_in_a_widget_frontend(
    ip: InteractiveShell, onnx_model: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("ipywidgets")
    from pai_jupyter.frontends.magics.services import ServingMagics
    from pai_jupyter.frontends.widgets import services as serving_widgets

    shown: list[object] = []
    monkeypatch.setattr(ServingMagics, "_widgets", property(lambda self: True))
    monkeypatch.setattr("IPython.display.display", lambda obj, **kw: shown.append(obj))
    ip.run_line_magic("pai_deploy", f"digits-svc --model {onnx_model}")
    out = capsys.readouterr().out
    (widget,) = shown
    assert isinstance(widget, serving_widgets.ServiceWidget)
    assert "v1 100%" in widget.bar.value
    assert "endpoint:" in out and "VERSION" not in out  # the widget replaces the text table
    widget.close()
