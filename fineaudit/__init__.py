"""fineaudit: is this fine-tuning dataset ready to train on?

    import fineaudit
    report = fineaudit.audit("train.jsonl", production="prod.jsonl")
    fineaudit.gate("train.jsonl")   # raises fineaudit.DatasetNotReady when it is not
"""
import fineaudit.render  # noqa: F401  (registers the report writer that Report.write uses)
from fineaudit.audit import audit, gate, version
from fineaudit.core import (AuditContext, Checker, CheckResult, ConfigError, DatasetNotReady, Finding,
                            FineauditError, InputError, Record, RecordBatch, Records, Report, Status)

__version__ = version()

__all__ = ["audit", "gate", "Report", "DatasetNotReady", "Checker", "CheckResult", "Finding", "Status",
           "Record", "RecordBatch", "Records", "AuditContext", "FineauditError", "InputError",
           "ConfigError", "__version__"]
