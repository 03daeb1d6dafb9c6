"""A Hugging Face `transformers` callback that refuses to train on a dataset that is not ready.

    from fineaudit.integrations.transformers import FineauditCallback
    trainer = Trainer(..., callbacks=[FineauditCallback(train=raw_train, eval=raw_eval)])
    trainer.train()   # raises fineaudit.DatasetNotReady before the first step when not ready

The datasets are given to the callback, not taken from the Trainer: by `on_train_begin` the
Trainer holds the tokenized datasets (and may have dropped the text columns), while fineaudit
audits the text a person wrote. On failure the callback raises `DatasetNotReady` rather than
setting `control.should_training_stop`: that flag is only read after a step, and a run that
"finishes" with zero steps looks like success to a script or a scheduler. Every process of a
distributed run audits the same data and reaches the same verdict, so all of them stop.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

try:
    from transformers import TrainerCallback
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError("FineauditCallback needs transformers: pip install 'fineaudit[transformers]'") from exc

from fineaudit.audit import audit
from fineaudit.core import Report


class FineauditCallback(TrainerCallback):
    """Audits `train` and `eval` at on_train_begin; raises DatasetNotReady when either is not ready.

    `train`/`eval`/`production` are anything `fineaudit.audit` accepts (a path, a
    `datasets.Dataset`, a DatasetDict, a DataFrame, a list of dicts); other keyword arguments
    (`config`, `format`, `only`, `skip`, `fail_on`, ...) go to `fineaudit.audit`. The training
    audit uses `eval` for leakage and `production` for drift; `eval` is then audited on its own
    too (without `size`: eval sets are small by design), since a broken eval set makes every
    evaluation of the run lie. With `report_dir` (default: the Trainer's output_dir) the HTML and
    JSON reports are written there.
    """

    def __init__(self, train: Any, eval: Any = None, production: Any = None, *,
                 report_dir: str | Path | None = None, write_reports: bool = True, **audit_kwargs: Any):
        self.train, self.eval, self.production = train, eval, production
        self.report_dir, self.write_reports = report_dir, write_reports
        self.audit_kwargs = audit_kwargs
        self.report: Report | None = None
        self.eval_report: Report | None = None

    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> Any:
        self.report = audit(self.train, eval=self.eval, production=self.production, **self.audit_kwargs)
        if self.eval is not None:
            skip = [*(self.audit_kwargs.get("skip") or []), "size"]
            self.eval_report = audit(self.eval, **{**self.audit_kwargs, "skip": skip})
        if self.write_reports and state.is_world_process_zero:
            self._write(Path(self.report_dir or args.output_dir))
        self.report.raise_for_failure()
        if self.eval_report is not None:
            self.eval_report.raise_for_failure()
        return control

    def _write(self, folder: Path) -> None:
        # the one output path of every report: atomic, never through a planted link
        from fineaudit.render import write_report

        folder.mkdir(parents=True, exist_ok=True)
        for name, report in (("fineaudit_report", self.report), ("fineaudit_eval_report", self.eval_report)):
            if report is not None:
                write_report("json", [report], folder / f"{name}.json")
                write_report("html", [report], folder / f"{name}.html")


__all__ = ["FineauditCallback"]
