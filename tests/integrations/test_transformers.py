"""The transformers callback with a real Trainer and a tiny model built from a config (no download)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import fineaudit
from tests.test_cli import FLAWED, clean_records

transformers = pytest.importorskip("transformers")
pytest.importorskip("accelerate")
torch = pytest.importorskip("torch")

from fineaudit.integrations.transformers import FineauditCallback  # noqa: E402


class StepCounter(transformers.TrainerCallback):
    def __init__(self) -> None:
        self.steps = 0

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self.steps += 1


def tiny_trainer(tmp_path: Path, callback: FineauditCallback, counter: StepCounter) -> Any:
    config = transformers.GPT2Config(vocab_size=64, n_positions=16, n_embd=16, n_layer=1, n_head=2)
    torch.manual_seed(0)
    model = transformers.GPT2LMHeadModel(config)
    tokens = torch.randint(0, 64, (8, 16))
    train = [{"input_ids": row, "labels": row} for row in tokens]  # what the model sees
    args = transformers.TrainingArguments(output_dir=str(tmp_path / "out"), max_steps=2, per_device_train_batch_size=4,
                                          report_to=[], use_cpu=True, save_strategy="no", logging_strategy="no",
                                          disable_tqdm=True, dataloader_num_workers=0)
    return transformers.Trainer(model=model, args=args, train_dataset=train, callbacks=[callback, counter])


@pytest.mark.slow
def test_refuses_to_start_on_flawed_data(tmp_path: Path) -> None:
    counter = StepCounter()
    trainer = tiny_trainer(tmp_path, FineauditCallback(train=[r for r in FLAWED if isinstance(r, dict)] * 40),
                           counter)
    with pytest.raises(fineaudit.DatasetNotReady) as raised:
        trainer.train()
    assert counter.steps == 0 and trainer.state.global_step == 0
    assert not raised.value.report.passed
    assert (tmp_path / "out" / "fineaudit_report.html").exists()


@pytest.mark.slow
def test_starts_on_clean_data(tmp_path: Path) -> None:
    counter = StepCounter()
    records = clean_records(150)
    callback = FineauditCallback(train=records[:120], eval=records[120:], report_dir=tmp_path / "audit")
    tiny_trainer(tmp_path, callback, counter).train()
    assert callback.report is not None and callback.report.passed
    assert counter.steps == 2 and (tmp_path / "audit" / "fineaudit_report.json").exists()
    # written through the one atomic output path: both reports whole, no temporary file left
    assert sorted(p.name for p in (tmp_path / "audit").iterdir()) == [
        "fineaudit_eval_report.html", "fineaudit_eval_report.json", "fineaudit_report.html", "fineaudit_report.json"]


@pytest.mark.slow
def test_refuses_to_start_when_only_the_eval_set_is_broken(tmp_path: Path) -> None:
    counter = StepCounter()
    records = clean_records(150)
    broken = {"messages": [{"role": "human", "content": "key?"},
                           {"role": "assistant", "content": "sk-" + "a1b2c3d4e5f6g7h8i9j0k1l2m3n4o5p6"}]}
    callback = FineauditCallback(train=records[:120], eval=records[120:] + [broken], report_dir=tmp_path / "audit")
    with pytest.raises(fineaudit.DatasetNotReady) as raised:
        tiny_trainer(tmp_path, callback, counter).train()
    assert counter.steps == 0
    assert callback.report is not None and callback.report.passed  # training data itself is fine
    assert raised.value.report is callback.eval_report
    assert {"format", "content"} <= {n for n, c in raised.value.report.checks.items() if c.blocks_verdict()}
    assert (tmp_path / "audit" / "fineaudit_eval_report.html").exists()
