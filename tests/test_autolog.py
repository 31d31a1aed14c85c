"""Autologging as users meet it: a cell that trains with Hugging Face Trainer, PyTorch Lightning or
Keras inside %%pai_train (a real IPython shell, real job processes) reports its loss with no
report() call; --no-autolog leaves the job alone. Tiny models built in the cell, no downloads."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from IPython.core.interactiveshell import InteractiveShell

from pai_jupyter.autolog import SITE_DIR

pytestmark = pytest.mark.slow

HF_TRAINER = """
import tempfile
import torch
from transformers import BertConfig, BertForSequenceClassification, Trainer, TrainingArguments

torch.manual_seed(0)
config = BertConfig(vocab_size=64, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                    intermediate_size=32, max_position_embeddings=16, num_labels=2)
model = BertForSequenceClassification(config)  # randomly initialised: nothing downloaded
data = [{"input_ids": torch.randint(0, 64, (8,)), "labels": torch.tensor(i % 2)} for i in range(32)]
args = TrainingArguments(output_dir=tempfile.mkdtemp(), max_steps=5, logging_steps=1,
                         per_device_train_batch_size=8, report_to="none", save_strategy="no", disable_tqdm=True)
Trainer(model=model, args=args, train_dataset=data).train()
"""

LIGHTNING = """
import tempfile
import torch
import pytorch_lightning as pl

class Regression(pl.LightningModule):
    def __init__(self):
        super().__init__()
        self.layer = torch.nn.Linear(4, 1)
    def training_step(self, batch, _):
        x, y = batch
        loss = torch.nn.functional.mse_loss(self.layer(x), y)
        self.log("train_loss", loss)
        return loss
    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.05)

torch.manual_seed(0)
x = torch.randn(32, 4)
loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, x.sum(1, keepdim=True)), batch_size=8)
trainer = pl.Trainer(max_steps=4, log_every_n_steps=1, accelerator="cpu", default_root_dir=tempfile.mkdtemp(),
                     enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False)
trainer.fit(Regression(), loader)
print("loggers:", [type(lg).__name__ for lg in trainer.loggers])
"""

KERAS = """
import numpy as np
import keras

x = np.random.default_rng(0).random((32, 4)).astype("float32")
model = keras.Sequential([keras.layers.Input((4,)), keras.layers.Dense(1)])
model.compile(optimizer="sgd", loss="mse")
model.fit(x, x.sum(1, keepdims=True), epochs=2, batch_size=8, verbose=0, validation_split=0.25)
"""


def _train(ip: InteractiveShell, line: str, cell: str) -> object:
    ip.run_cell_magic("pai_train", f"{line} --wait --no-widget --max-run-time 5m", cell)
    return ip.user_ns["_pai_job"]


def test_hugging_face_trainer_reports_its_loss_without_report(ip: InteractiveShell) -> None:
    assert "report(" not in HF_TRAINER
    job = _train(ip, "--name hf-autolog", HF_TRAINER)
    loss = job.metric("loss")  # type: ignore[attr-defined]
    assert [step for step, _ in loss] == [1, 2, 3, 4, 5], job.logs()  # type: ignore[attr-defined]
    assert all(0 < value < 2 for _, value in loss)
    names = {p.name for p in job.metrics()}  # type: ignore[attr-defined]
    assert {"learning_rate", "grad_norm", "train_loss", "steps_per_sec"} <= names


def test_lightning_logger_joins_the_trainers_loggers(ip: InteractiveShell) -> None:
    job = _train(ip, "--name pl-autolog", LIGHTNING)
    assert "'PaiLightningLogger'" in job.logs()  # type: ignore[attr-defined]
    assert [step for step, _ in job.metric("train_loss")] == [0, 1, 2, 3]  # type: ignore[attr-defined]


def test_keras_fit_reports_batches_and_epochs(ip: InteractiveShell) -> None:
    job = _train(ip, "--name keras-autolog --env KERAS_BACKEND=torch", KERAS)
    assert [step for step, _ in job.metric("loss")][:3] == [1, 2, 3], job.logs()  # type: ignore[attr-defined]
    assert [v for _, v in job.metric("epoch")] == [1.0, 2.0]  # type: ignore[attr-defined]
    assert len(job.metric("val_loss")) == 2  # type: ignore[attr-defined]


def test_no_autolog_leaves_the_job_alone(ip: InteractiveShell) -> None:
    probe = "import sys\nprint('hooked:', 'pai_jupyter.autolog' in sys.modules)\n"
    assert "hooked: True" in _train(ip, "--name on", probe).logs()  # type: ignore[attr-defined]
    off = _train(ip, "--name off --no-autolog", probe)
    assert "hooked: False" in off.logs() and off.spec.autolog is False  # type: ignore[attr-defined]


def test_our_sitecustomize_still_runs_the_one_it_shadows(tmp_path: Path) -> None:
    other = tmp_path / "other"
    other.mkdir()
    (other / "sitecustomize.py").write_text("print('the environment sitecustomize ran')\n")
    repo = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(SITE_DIR), str(repo), str(other)])}
    out = subprocess.run(
        [sys.executable, "-c", "import sys; print('hooked', 'pai_jupyter.autolog' in sys.modules)"],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    assert out.stdout.split("\n")[:2] == ["the environment sitecustomize ran", "hooked True"], out.stderr
    assert out.stderr == ""
