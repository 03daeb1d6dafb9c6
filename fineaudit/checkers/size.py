"""The size check: enough examples for a fine-tune to change behaviour."""
from __future__ import annotations

from dataclasses import dataclass, field

from fineaudit.core import AuditContext, Checker, CheckResult, Finding, RecordBatch, Records, Status


@dataclass(frozen=True)
class SizeParams:
    min_records: int = field(default=100, metadata={"help": "fail below this many valid records"})
    warn_records: int = field(default=500, metadata={"help": "warn below this many valid records"})


def count_valid(batch: RecordBatch) -> int:
    """Records that parse and fit their layout (schema, chat rules, output schema): what a
    trainer can use; decided once at load, so size and format read the same answer."""
    return sum(batch.valid)


class SizeChecker(Checker[SizeParams]):
    """Counts the records, and the valid ones among them (those `format` does not reject).

    Why it matters: fine-tuning on a few dozen examples rarely moves a model, and providers
    recommend at least 50-100 and often several hundred. A file that lost most of its records
    to a broken export also shows up here first.

    Fix: collect more examples, or repair the records that `format` reports as unparsable.
    """

    name = "size"
    parallel_safe = True
    Params = SizeParams
    order = 10
    codes = {"size.too_small": "fewer valid records than min_records (or warn_records)"}

    def check(self, data: Records, ctx: AuditContext) -> CheckResult:
        p = self.params(ctx)
        valid = sum(data.map_batches(count_valid))
        metrics = {"records": len(data), "valid_records": valid}
        thresholds = {"min_records": p.min_records, "warn_records": p.warn_records}
        if valid < p.min_records:
            status, score = Status.FAIL, valid / max(p.min_records, 1)
        elif valid < p.warn_records:
            status, score = Status.WARN, 0.6 + 0.4 * valid / max(p.warn_records, 1)
        else:
            return self.result(Status.PASS, f"{valid} valid records", metrics, thresholds=thresholds)
        limit = p.min_records if status is Status.FAIL else p.warn_records
        message = (f"only {valid} valid records (of {len(data)}); fine-tunes usually need at "
                   f"least {limit} to change behaviour")
        finding = Finding(code="size.too_small", message=message)
        return self.result(status, message, metrics, thresholds=thresholds, findings=[finding], score=score)
