"""The Dask engine gives the same answers as the local one: every registered checker, same data."""
from __future__ import annotations

import dataclasses
import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from fineaudit.core import AuditContext, ConfigError, RecordBatch
from fineaudit.engines.dask import DaskEngine
from fineaudit.engines.local import LocalEngine
from fineaudit.dataset.formats import PROMPTS
from fineaudit.dataset.loaders import open_source
from fineaudit.engines.work_meter import metered
from fineaudit.registry import load_checkers
from tests.conftest import chat, write_jsonl
from tests.engines.conftest import all_rows
from tests.engines.test_work_meter import busy_batch

pytestmark = pytest.mark.slow

CORPORA = {
    "chat": ("--records", "1200", "--defects"),
    "classification": ("--format", "classification", "--records", "800", "--imbalance", "0.8"),
}
BLOCK = 150_000  # bytes: several blocks per corpus, so partitions and shuffles really happen
SMALL = {"sample_size": 150, "permutations": 100}  # keeps drift's embedding and test short
VOLATILE = ("embedding_seconds",)  # a duration, not an answer


def params_of(cls: Any) -> Any:
    names = {f.name for f in dataclasses.fields(cls.Params)}
    return dataclasses.replace(cls.Params(), **{k: v for k, v in SMALL.items() if k in names})


def stable(result: dict[str, Any]) -> dict[str, Any]:
    result.pop("duration_s", None)
    for key in VOLATILE:
        result.get("metrics", {}).pop(key, None)
    return result


@pytest.fixture(scope="module", params=sorted(CORPORA))
def corpus(request: pytest.FixtureRequest, make_corpus: Any,
           tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Train data with planted defects, an eval split that leaks, production prompts that drift."""
    data, _ = make_corpus(*CORPORA[request.param])
    lines = data.read_text(encoding="utf-8").splitlines()
    out = tmp_path_factory.mktemp("inputs")
    (out / "eval.jsonl").write_text("\n".join(lines[:40] + lines[-30:]) + "\n", encoding="utf-8")
    objs = [json.loads(line) for line in lines[100:300] if line.startswith("{") and line.endswith("}")]
    prompts = [{"prompt": (o["messages"][1]["content"] if "messages" in o else o["text"])} for o in objs]
    write_jsonl(out / "production.jsonl", prompts + [{"prompt": f"novel topic {i} " * 20} for i in range(60)])
    layout = "chat" if request.param == "chat" else "classification"
    return {"train": str(data), "eval": str(out / "eval.jsonl"),
            "production": str(out / "production.jsonl"), "layout": layout}


def run_every_checker(engine: Any, corpus: dict[str, Any]) -> dict[str, Any]:
    layout = corpus["layout"]
    train = engine.load(open_source(corpus["train"]), layout, "train", None)
    ctx = dict(eval=engine.load(open_source(corpus["eval"]), layout, "eval", None),
               production=engine.load(open_source(corpus["production"]), PROMPTS, "production", None))
    results: dict[str, Any] = {"info": train.info}
    for name, cls in load_checkers().items():
        try:
            out = stable(cls().check(train, AuditContext(format=layout, params=params_of(cls), seed=0, **ctx)).to_dict())
        except Exception as exc:  # compared too: both engines must fail alike
            out = {"raised": f"{type(exc).__name__}: {exc}"}
        results[name] = out
    return results


@pytest.fixture(scope="module")
def local_results(corpus: dict[str, Any]) -> dict[str, Any]:
    with LocalEngine(batch_size=300, workers=2, block_bytes=BLOCK) as engine:
        return run_every_checker(engine, corpus)


@pytest.mark.parametrize("name", ["info", *load_checkers()])
def test_same_answers_as_local(corpus: dict[str, Any], local_results: dict[str, Any],
                               dask_results: dict[str, Any], name: str) -> None:
    assert dask_results[name] == local_results[name]


@pytest.fixture(scope="module")
def dask_results(corpus: dict[str, Any], dask_client: Any) -> dict[str, Any]:
    with DaskEngine(batch_size=300, client=dask_client, block_bytes=BLOCK) as engine:
        return run_every_checker(engine, corpus)


def test_cli_dask_report_equals_local(make_corpus: Any, dask_client: Any, run_cli: Any) -> None:
    data, _ = make_corpus(*CORPORA["chat"])
    reports = []
    for engine in (["--engine", "local"], ["--engine", "dask", "--scheduler", dask_client.scheduler.address]):
        result = run_cli("audit", str(data), *engine, "--max-findings", "0", "--json", "-")
        assert result.exit_code in (0, 1), result.stderr
        report = json.loads(result.stdout)
        report.pop("created")
        for check in report["checks"]:
            check.pop("duration_s")
        reports.append(report)
    assert reports[0] == reports[1]


def test_group_by_key_shuffles_across_partitions(tmp_path: Path, dask_client: Any) -> None:
    path = write_jsonl(tmp_path / "d.jsonl", [chat(f"q{i % 11}", f"a{i % 3}") for i in range(300)])
    with LocalEngine(batch_size=7, workers=1, block_bytes=900) as local, \
            DaskEngine(batch_size=7, client=dask_client, block_bytes=900) as dask:
        a, b = (e.load(open_source(str(path)), "chat", "train", None) for e in (local, dask))
        assert len(b.parts) > 4
        assert b.group_by_key(two_keys) == a.group_by_key(two_keys)
        assert len(b.group_by_key(two_keys)) == 14  # 11 prompt groups and 3 response groups
        assert b.take([299, 0, 150]) == a.take([299, 0, 150])
        assert b.sample(17, seed=3) == a.sample(17, seed=3)


def two_keys(batch: RecordBatch) -> tuple[np.ndarray, np.ndarray]:
    """Each record emits two keys: its prompt's number and (offset) its response's."""
    prompts = [int(p[1:]) for p in batch.prompt]
    responses = [1000 + int(r[1:]) for r in batch.response]
    return np.array(prompts + responses, np.uint64), np.array(batch.index * 2, np.int64)


def test_checks_run_at_once_beside_a_cluster_of_several_workers(tmp_path: Path, dask_client: Any) -> None:
    with DaskEngine(client=dask_client) as two:
        assert two.checks_at_once == 3  # one more than the workers, as on the local engine
    with DaskEngine(workers=1) as one:
        assert one.checks_at_once == 1


def test_passes_from_several_threads_at_once_give_their_own_answers(tmp_path: Path, dask_client: Any) -> None:
    """What checks at once do: each thread's passes and shuffles come back whole and its own."""
    path = write_jsonl(tmp_path / "d.jsonl", [chat(f"q{i % 11}", f"a{i % 3}") for i in range(300)])
    with DaskEngine(batch_size=7, client=dask_client, block_bytes=900) as engine:
        data = engine.load(open_source(str(path)), "chat", "train", None)
        passes = {"rows": lambda: all_rows(data), "groups": lambda: data.group_by_key(two_keys),
                  "sizes": lambda: data.map_batches(len), "take": lambda: data.take([299, 0, 150])}
        one_by_one = {name: run() for name, run in passes.items()}
        with ThreadPoolExecutor(len(passes)) as pool:
            at_once = [(name, pool.submit(run)) for name, run in [*passes.items()] * 3]
            assert [(name, f.result()) for name, f in at_once] == [(n, one_by_one[n]) for n, _ in at_once]


def test_passes_charge_their_worker_seconds_to_the_asking_check(tmp_path: Path, dask_client: Any) -> None:
    path = write_jsonl(tmp_path / "d.jsonl", [chat(f"q{i}", f"a{i}") for i in range(60)])
    with DaskEngine(batch_size=10, client=dask_client, block_bytes=900) as engine:
        data = engine.load(open_source(str(path)), "chat", "train", None)
        with metered() as mapped:
            sizes = data.map_batches(busy_batch)
        with metered() as grouped:
            data.group_by_key(busy_keys)
    assert sum(sizes) == 60 and len(sizes) >= 6
    assert mapped.worker_seconds >= len(sizes) * 0.04
    assert grouped.worker_seconds >= len(sizes) * 0.04


def busy_keys(batch: RecordBatch) -> tuple[np.ndarray, np.ndarray]:
    """Module level (it runs on the workers): about 0.05 s of CPU, then one key per record."""
    busy_batch(batch)
    return np.zeros(len(batch), np.uint64), np.asarray(batch.index, np.int64)


def test_in_memory_rows_are_scattered(dask_client: Any) -> None:
    rows = [chat(f"q{i}", "a") for i in range(50)] + [["not", "an", "object"]]
    with LocalEngine(batch_size=4) as local, DaskEngine(batch_size=4, client=dask_client) as dask:
        a, b = (e.load(open_source(rows), "chat", "train", None) for e in (local, dask))
        assert all_rows(b) == all_rows(a) and len(b.parts) > 1
        assert b.take([50, 2]) == a.take([50, 2])


def test_given_client_stays_open(tmp_path: Path, dask_client: Any) -> None:
    path = write_jsonl(tmp_path / "d.jsonl", [chat("q", "a")] * 3)
    with DaskEngine(client=dask_client) as engine:
        assert len(engine.load(open_source(str(path)), "chat", "train", None)) == 3
    assert dask_client.status == "running"


def test_own_cluster_is_started_and_stopped(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "d.jsonl", [chat("q", "a")] * 3)
    with DaskEngine(workers=1) as engine:
        assert len(all_rows(engine.load(open_source(str(path)), "chat", "train", None))) == 3
        cluster = engine._cluster
    assert cluster is not None and cluster.status.name == "closed"


def test_unreachable_scheduler_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="cannot reach"):
        DaskEngine(scheduler="tcp://127.0.0.1:1", connect_timeout="1s")


