"""On make_corpus --defects output, `format` counts every planted defect exactly, by line."""
from __future__ import annotations

import fineaudit

BROKEN_CHAT = {"missing_assistant": "format.no_assistant_turn", "unknown_role": "format.unknown_role",
               "non_string_content": "format.wrong_type", "malformed_json": "format.unparsable"}


def test_format_finds_every_planted_unparsable_line_and_broken_chat(make_corpus) -> None:
    path, truth = make_corpus("--records", "3000", "--defects")
    result = fineaudit.audit(path, only=["format"], max_findings=0).checks["format"]
    defects = truth["defects"]
    for kind, code in BROKEN_CHAT.items():
        lines = sorted(f.line for f in result.findings if f.code == code)
        assert lines == [i + 1 for i in defects[kind]], kind
    assert result.metrics["unparsable_records"] == len(defects["malformed_json"])
    empty = {f.line for f in result.findings if f.code == "format.empty_content"}
    assert empty == {i + 1 for i in defects["empty_response"]}
    planted = {i for kind in (*BROKEN_CHAT, "empty_response") for i in defects[kind]}
    assert result.metrics["invalid_records"] == len(planted)
