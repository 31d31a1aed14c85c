"""Models whose loading runs code (pickles) are refused unless trusted; skops models need no trust."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell

from pai_jupyter.api.services import Service
from pai_jupyter.backends.local import LocalBackend
from pai_jupyter.errors import NotFoundError, ValidationError
from pai_jupyter.model_server.processors import detect_processor
from pai_jupyter.specs.service import ServiceSpec
from tests.conftest import run_cli
from tests.serving.helpers import deploy

sys.path.insert(0, str(Path(__file__).parent))
import models

pytestmark = pytest.mark.slow


def digits_rows(model_file: Path) -> tuple[list[list[float]], list[int]]:
    """20 rows and what the model, loaded here in the test, answers for them."""
    import pickle

    import skops.io as sio
    from sklearn.datasets import load_digits

    x = load_digits(return_X_y=True)[0][:20] / 16.0
    if model_file.suffix == ".skops":
        model = sio.load(model_file)
    else:
        with open(model_file, "rb") as fh:
            model = pickle.load(fh)
    return x.tolist(), model.predict(x).tolist()


def test_a_pickle_is_refused_before_any_of_its_code_runs(
    ip: InteractiveShell, workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    marker = workdir / "pwned"
    models.hostile_pickle(workdir / "evil" / "model.pkl", marker)
    with pytest.raises(UsageError) as info:
        ip.run_line_magic("pai_deploy", "evil --model evil")
    message = str(info.value)
    assert "model.pkl is a pickle: loading it runs whatever code it holds" in message
    assert "Uploading" not in capsys.readouterr().out  # refused before it was copied anywhere
    assert "--trust-pickle" in message and "skops" in message
    assert not marker.exists()
    with pytest.raises(NotFoundError, match=r"no service named .evil."):
        Service("evil").refresh()


def test_the_cli_refuses_a_pickle_and_deploys_it_with_trust_pickle(serving_env: Path, tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    evil = models.hostile_pickle(tmp_path / "evil" / "model.pkl", marker)
    refused = run_cli("deploy", "evil", "--model", str(evil), check=False)
    assert refused.returncode == 2
    assert "model.pkl is a pickle" in refused.stderr and "Traceback" not in refused.stderr
    assert not marker.exists()

    good = models.sklearn_digits(tmp_path / "sk" / "model.pkl")
    run_cli("deploy", "digits", "--model", str(good), "--trust-pickle")
    x, y = digits_rows(good)
    svc = Service("digits")
    assert svc.record.spec.trust_pickle is True
    assert svc.predict(x)["outputs"] == y
    svc.delete()


def test_trust_pickle_from_the_configuration(
    serving_env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PAI_JUPYTER_TRUST_PICKLE", "1")
    good = models.sklearn_digits(tmp_path / "sk" / "model.pkl")
    run_cli("deploy", "digits", "--model", str(good))
    x, y = digits_rows(good)
    assert Service("digits").predict(x)["outputs"] == y
    Service("digits").delete()


def test_a_skops_model_deploys_without_trust_and_answers(
    ip: InteractiveShell, workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    skops_file = models.sklearn_digits_skops(workdir / "sk" / "model.skops")
    assert detect_processor(workdir / "sk") == "sklearn"
    ip.run_line_magic("pai_deploy", "digits --model sk")
    assert "Deployed digits v1 (sklearn)" in capsys.readouterr().out
    x, y = digits_rows(skops_file)
    assert ip.user_ns["_pai_service"].predict(x)["outputs"] == y


def test_a_skops_file_naming_untrusted_types_is_refused(ip: InteractiveShell, workdir: Path) -> None:
    import skops.io as sio

    folder = workdir / "odd"
    folder.mkdir()
    sio.dump(models._Payload("1"), folder / "model.skops")  # a type skops does not trust by default
    with pytest.raises(UsageError, match=r"names types skops does not trust by default: .*_Payload"):
        ip.run_line_magic("pai_deploy", "evil --model odd")


def test_trust_pickle_round_trips_through_the_eas_service_json() -> None:
    spec = ServiceSpec("iris", "sklearn", trust_pickle=True).validate()
    body = spec.to_eas("oss://b/m/")
    env = {e["name"]: e["value"] for e in body["containers"][0]["env"]}
    assert env["PAI_TRUST_PICKLE"] == "1"  # our model server in the EAS container loads it only when told
    assert ServiceSpec.from_eas(body).trust_pickle is True
    assert ServiceSpec.from_eas(ServiceSpec("iris", "sklearn").to_eas("oss://b/m/")).trust_pickle is False


def test_the_control_plane_refuses_a_pickle_sent_past_the_client(backend: LocalBackend, tmp_path: Path) -> None:
    """A client that skips the check (or an older one) meets the same refusal in the control plane."""
    marker = tmp_path / "pwned"
    evil = models.hostile_pickle(tmp_path / "evil" / "model.pkl", marker)
    with pytest.raises(ValidationError, match=r"model\.pkl is a pickle"):
        deploy(backend, evil, name="evil", processor="sklearn")
    assert not marker.exists()
    with pytest.raises(ValidationError, match=r"model\.pkl is a pickle"):  # a declared signature skips no check
        deploy(backend, evil, name="evil", processor="sklearn", signature={"inputs": [], "outputs": []})
    assert not marker.exists()
