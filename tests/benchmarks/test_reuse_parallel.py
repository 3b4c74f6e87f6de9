"""``benchmarks.reuse --jobs N``: seeds in worker processes, at most N at once, then joined."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from benchmarks import reuse_parallel
from benchmarks.reuse_parallel import Job, JobFailed, run_jobs, threads_per_job
from tests.compare.conftest import make_run

WORKER = """
import json, os, sys, time
from pathlib import Path
folder, recipe, seed = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
start = time.time()
time.sleep(0.4)
print("worker of", recipe, "seed", seed, "threads", os.environ["OMP_NUM_THREADS"])
(folder / recipe).mkdir(parents=True, exist_ok=True)
(folder / recipe / "results.json").write_text(json.dumps({"runs": [], "skipped": {}}))
(folder / "span.json").write_text(json.dumps([start, time.time()]))
sys.exit(3 if seed == int(os.environ.get("FAIL_SEED", "-1")) else 0)
"""


@pytest.fixture()
def fake_worker(monkeypatch: pytest.MonkeyPatch) -> None:
    """Jobs run a short script instead of the benchmark (same folder layout, same environment)."""
    monkeypatch.setattr(reuse_parallel, "POLL_S", 0.05)
    monkeypatch.setattr(Job, "command", lambda self: [
        sys.executable, "-c", WORKER, str(self.folder), self.recipe, str(self.seed)])


def _overlap(spans: list[list[float]]) -> int:
    """The most spans running at one moment."""
    return max(sum(1 for start, end in spans if start <= moment < end) for moment, _ in spans)


@pytest.mark.timeout(60)
@pytest.mark.usefixtures("fake_worker")
def test_every_seed_runs_with_at_most_jobs_processes_at_once(tmp_path: Path) -> None:
    done = run_jobs(["a", "b"], [0, 1, 2], tmp_path / ".parts", 2, Path.cwd())
    assert {recipe: sorted(job.seed for job in jobs) for recipe, jobs in done.items()} == {
        "a": [0, 1, 2], "b": [0, 1, 2]}
    spans = [json.loads((job.folder / "span.json").read_text())
             for jobs in done.values() for job in jobs]
    assert _overlap(spans) == 2
    log = (tmp_path / ".parts" / "b-seed2" / "log.txt").read_text()
    assert f"worker of b seed 2 threads {threads_per_job(2)}" in log


@pytest.mark.timeout(60)
@pytest.mark.usefixtures("fake_worker")
def test_a_failed_seed_raises_and_keeps_its_log(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAIL_SEED", "1")
    with pytest.raises(JobFailed, match=r"a seed 1 \(exit 3, log .*a-seed1/log.txt\)"):
        run_jobs(["a"], [0, 1, 2], tmp_path, 3, Path.cwd())
    assert "worker of a seed 1" in (tmp_path / "a-seed1" / "log.txt").read_text()
    assert (tmp_path / "a-seed2" / "a" / "results.json").exists()


def test_threads_share_the_cores_and_never_drop_to_zero() -> None:
    assert threads_per_job(1, cpus=2) == 2
    assert threads_per_job(2, cpus=2) == 1
    assert threads_per_job(3, cpus=2) == 1
    assert threads_per_job(2, cpus=8) == 4


@pytest.mark.timeout(60)
def test_the_parts_join_into_one_summary_and_are_removed(tmp_path: Path) -> None:
    from benchmarks.reuse import _Log, join_parts

    recipe, jobs = "tweets-all", []
    for seed, f1 in ((0, 0.70), (1, 0.74)):
        job = Job(recipe, seed, tmp_path / ".parts" / f"{recipe}-seed{seed}", started=10.0 + seed,
                  ended=100.0 + seed)
        (job.folder / recipe).mkdir(parents=True)
        part = _Log(job.folder / recipe)
        part.add(make_run("lora", f1, seed=seed, label="lora"))
        part.skip("vpt", "does not apply")
        jobs.append(job)
    out = join_parts(recipe, [0, 1], tmp_path, jobs, 2)
    saved = json.loads((out / "results.json").read_text())
    assert sorted(run["seed"] for run in saved["runs"]) == [0, 1]
    assert saved["skipped"] == {"vpt": "does not apply"}
    summary = (out / "summary.md").read_text()
    assert "--seeds 2 --jobs 2" in summary and "wall time 91 s, one process per seed" in summary
    assert "0.720 ± 0.028" in summary
    assert not any(job.folder.exists() for job in jobs)
