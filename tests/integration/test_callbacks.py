"""The framework callbacks over ``reprocheck.record``: a real ``transformers.Trainer`` and a
real Lightning ``Trainer``, each recorded twice (identical) and once with another learning
rate (drift, located in step 0's optimizer update); gradient accumulation records one step
per optimizer step; an exception leaves no run.

Nothing is downloaded: the BERT model is built from a tiny config and the data lives in
memory. Both trainings are seeded and deterministic on the CPU, so they run in-process.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

import reprocheck
from reprocheck.artifacts.runs import load_run

pytestmark = [
    pytest.mark.integration,
    # The frameworks' own deprecation notes and hints (workers, logging) are not ours.
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
    pytest.mark.filterwarnings("ignore::FutureWarning"),
    pytest.mark.filterwarnings("ignore::UserWarning"),
]

transformers = pytest.importorskip("transformers")
lightning = pytest.importorskip("lightning")


def _steps(run: Path) -> list[Any]:
    return list(load_run(run).records["train"].steps)


def _assert_identical_then_drift(a: Path, b: Path, c: Path) -> None:
    same = reprocheck.compare(a, b).scenario("train")
    assert same.verdict == "identical"
    drift = reprocheck.compare(a, c).scenario("train")
    assert drift.verdict == "drift"
    first = drift.first_divergence
    assert first is not None
    assert (first.step, first.phase) == (0, "optimizer")  # the learning rate moves the update


# -- transformers ---------------------------------------------------------------------------


class _Tokens(torch.utils.data.Dataset[dict[str, torch.Tensor]]):
    def __init__(self, fail_at: int | None = None) -> None:
        self.fail_at, self.fetched = fail_at, 0  # fail at the fail_at-th sample fetched
        g = torch.Generator().manual_seed(1)
        self.ids = torch.randint(0, 64, (16, 8), generator=g)
        self.labels = torch.randint(0, 2, (16,), generator=g)

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        self.fetched += 1
        if self.fetched == self.fail_at:
            raise RuntimeError("planted failure")
        return {"input_ids": self.ids[i], "labels": self.labels[i]}


def _hf_trainer(
    out: Path, tmp: Path, *, lr: float = 1e-3, accumulate: int = 1, fail_at: int | None = None
) -> Any:
    from transformers import BertConfig, BertForSequenceClassification, Trainer, TrainingArguments

    from reprocheck.integrations.transformers import ReprocheckCallback

    reprocheck.seed_everything(0)
    config = BertConfig(
        vocab_size=64,
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=32,
    )
    model = BertForSequenceClassification(config)
    args = TrainingArguments(
        output_dir=str(tmp / f"hf-{out.name}"),
        report_to=[],
        use_cpu=True,
        seed=0,
        max_steps=3,
        per_device_train_batch_size=4,
        learning_rate=lr,
        save_strategy="no",
        logging_strategy="no",
        disable_tqdm=True,
        gradient_accumulation_steps=accumulate,
    )
    callback = ReprocheckCallback(out)
    assert isinstance(callback, transformers.TrainerCallback)
    return Trainer(model=model, args=args, train_dataset=_Tokens(fail_at), callbacks=[callback])


def _hf_train(out: Path, tmp: Path, *, lr: float = 1e-3, accumulate: int = 1) -> Path:
    _hf_trainer(out, tmp, lr=lr, accumulate=accumulate).train()
    return out


def test_transformers_trainer_recorded_twice_identical_and_lr_drifts(tmp_path: Path) -> None:
    a = _hf_train(tmp_path / "a", tmp_path)
    b = _hf_train(tmp_path / "b", tmp_path)
    c = _hf_train(tmp_path / "c", tmp_path, lr=2e-3)
    steps = _steps(a)
    assert [s.step for s in steps] == [0, 1, 2]
    assert steps[0].lr == pytest.approx(1e-3)  # taken at the (unwrapped) optimizer's step
    assert all(s.grad_norm > 0 and 0.5 < s.loss < 1.0 for s in steps)
    assert any(k.startswith("optim/") for k in load_run(a).records["train"].tensors)
    _assert_identical_then_drift(a, b, c)


def test_transformers_gradient_accumulation_records_optimizer_steps(tmp_path: Path) -> None:
    run = _hf_train(tmp_path / "acc", tmp_path, accumulate=2)
    steps = _steps(run)
    assert len(steps) == 3  # three optimizer steps over six micro-batches
    assert all(0.5 < s.loss < 1.0 for s in steps)  # the mean of the model's losses


@pytest.mark.parametrize("fail_at", [2, 6])  # in step 0 (traced), in step 1
def test_transformers_failed_train_leaves_no_run_and_the_next_train_records(
    tmp_path: Path, fail_at: int
) -> None:
    trainer = _hf_trainer(tmp_path / "run", tmp_path, fail_at=fail_at)
    with pytest.raises(RuntimeError, match="planted failure"):
        trainer.train()
    assert not (tmp_path / "run").exists()
    trainer.train_dataset.fail_at = None
    trainer.train()  # the same callback: the failed recording is dropped, this one written
    assert len(_steps(tmp_path / "run")) == 3


# -- Lightning ------------------------------------------------------------------------------


class _Module(lightning.LightningModule):  # type: ignore[misc,name-defined]
    def __init__(self, lr: float, fail_at: int | None = None) -> None:
        super().__init__()
        self.lr, self.fail_at = lr, fail_at
        self.net = torch.nn.Sequential(
            torch.nn.Linear(8, 16), torch.nn.Tanh(), torch.nn.Linear(16, 2)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)  # type: ignore[no-any-return]

    def training_step(self, batch: Any, index: int) -> torch.Tensor:
        if index == self.fail_at:
            raise RuntimeError("planted failure")
        x, y = batch
        return torch.nn.functional.cross_entropy(self(x), y)

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.SGD(self.parameters(), lr=self.lr, momentum=0.9)


def _pl_train(
    out: Path, *, lr: float = 0.1, accumulate: int = 1, fail_at: int | None = None
) -> Path:
    from reprocheck.integrations.lightning import ReprocheckCallback

    reprocheck.seed_everything(0)
    g = torch.Generator().manual_seed(1)
    data = torch.utils.data.TensorDataset(
        torch.randn(32, 8, generator=g), torch.randint(0, 2, (32,), generator=g)
    )
    callback = ReprocheckCallback(out)
    assert isinstance(callback, lightning.pytorch.Callback)
    trainer = lightning.Trainer(
        max_steps=4,
        accelerator="cpu",
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        accumulate_grad_batches=accumulate,
        callbacks=[callback],
    )
    trainer.fit(_Module(lr, fail_at), torch.utils.data.DataLoader(data, batch_size=4))
    return out


def test_lightning_recorded_twice_identical_and_lr_drifts(tmp_path: Path) -> None:
    a = _pl_train(tmp_path / "a")
    b = _pl_train(tmp_path / "b")
    c = _pl_train(tmp_path / "c", lr=0.2)
    steps = _steps(a)
    assert [s.step for s in steps] == [0, 1, 2, 3]
    # Gradients and lr are this step's, taken once Lightning's closure ran the backward.
    assert all(s.lr == pytest.approx(0.1) and s.grad_norm > 0 for s in steps)
    assert all(s.grad_digests for s in steps)
    record = load_run(a).records["train"]
    assert {e.phase for e in record.trace} == {"forward", "backward", "optimizer"}
    assert any(k.endswith("/momentum_buffer") for k in record.tensors)
    _assert_identical_then_drift(a, b, c)


def test_lightning_gradient_accumulation_records_optimizer_steps(tmp_path: Path) -> None:
    plain = _steps(_pl_train(tmp_path / "plain"))
    accumulated = _steps(_pl_train(tmp_path / "acc", accumulate=2))
    assert len(accumulated) == 4  # four optimizer steps over eight batches
    # The loss is the mean over the step's batches, as Lightning backpropagates it: in the
    # same range as one batch's loss (about ln 2 here), not halved.
    assert all(0.5 < s.loss < 1.2 for s in accumulated + plain)


def test_lightning_exception_leaves_no_run(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="planted failure"):
        _pl_train(tmp_path / "failed", fail_at=2)
    assert not (tmp_path / "failed").exists()
    assert not [p for p in tmp_path.iterdir() if "partial" in p.name]
