"""The JSON report, and its validation against schemas/report.schema.json."""
from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from fineaudit.core import Report, json_default
from fineaudit.dataset.formats import schema
from fineaudit.render.safe_text import json_strings


def render_json(reports: Sequence[Report]) -> str:
    """One report as an object; several as an array (the contract's rule for several DATA)."""
    value: Any = reports[0].to_dict() if len(reports) == 1 else [r.to_dict() for r in reports]
    # secrets masked in every string, keys included (file names, labels, config values)
    value = json_strings(json.loads(json.dumps(value, ensure_ascii=False, default=json_default)))
    return json.dumps(value, indent=2, ensure_ascii=False, default=json_default)


def validate_report(document: Any) -> None:
    """Raise jsonschema.ValidationError unless the document is a valid report (or list of them)."""
    from jsonschema import Draft202012Validator, FormatChecker

    validator = Draft202012Validator(schema("report"), format_checker=FormatChecker())
    for item in document if isinstance(document, list) else [document]:
        validator.validate(json.loads(json.dumps(item, default=json_default)))
