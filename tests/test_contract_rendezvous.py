"""Rendezvous fuzzing of render-farm.clar: invariants (random call sequences, time passing) and
property tests (contract/contracts/render-farm.tests.clar), on the real Clarity VM (simnet).

CI size: RENDEZVOUS_RUNS (default 1000) invariant runs and twice as many property runs, about a
minute on 2 cores. For a soak: RENDEZVOUS_RUNS=20000 .venv/bin/python -m pytest tests/test_contract_rendezvous.py
RENDEZVOUS_SEED fixes the seed (a failure prints the seed to replay).
"""

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FUZZ_DIR = ROOT / "contract" / "fuzz"
RUNNER = FUZZ_DIR / "run-rendezvous.mjs"
RUNS = int(os.environ.get("RENDEZVOUS_RUNS", "1000"))


def run_rendezvous(mode: str, runs: int, tmp_path: Path) -> str:
    if shutil.which("node") is None:
        pytest.fail("Node.js is required: install Node 20+ and run ./dev setup")
    if not (FUZZ_DIR / "node_modules" / "@stacks" / "rendezvous").is_dir():
        pytest.fail("contract/fuzz/node_modules is missing: run ./dev setup")
    command = ["node", str(RUNNER), "--mode", mode, "--runs", str(runs), "--log", str(tmp_path / f"{mode}.log")]
    if "RENDEZVOUS_SEED" in os.environ:
        command += ["--seed", os.environ["RENDEZVOUS_SEED"]]
    done = subprocess.run(command, capture_output=True, text=True, timeout=1800)
    report = done.stdout + done.stderr
    assert done.returncode == 0, f"rendezvous {mode} run failed:\n{report}"
    return report


def successful_calls(report: str) -> dict[str, int]:
    """Counts from the SUCCESSFUL/PASSED section of the statistics tree."""
    section = re.search(r"\+ (?:SUCCESSFUL|PASSED)\n(.*?)\n│\n", report, re.S)
    assert section, f"no statistics in the rendezvous report:\n{report}"
    return {name: int(count) for name, count in re.findall(r"─ ([\w-]+): x(\d+)", section.group(1))}


@pytest.mark.slow
def test_invariants_hold_under_random_call_sequences(tmp_path):
    report = run_rendezvous("invariant", RUNS, tmp_path)
    assert f"OK, invariants passed after {RUNS} runs" in report
    calls = successful_calls(report)
    # the run explored the lifecycle, not only failing calls
    for step in ("fuzz-register", "fuzz-create-job", "fuzz-create-jobs", "fuzz-expire", "fuzz-reassign"):
        assert calls.get(step, 0) > 0, f"{step} never succeeded:\n{report}"
    assert calls.get("fuzz-start", 0) + calls.get("fuzz-progress", 0) > 0, report


@pytest.mark.slow
def test_properties_hold(tmp_path):
    report = run_rendezvous("test", 2 * RUNS, tmp_path)
    assert f"OK, properties passed after {2 * RUNS} runs" in report
    passed = successful_calls(report)
    for test in ("test-create-job-escrows", "test-create-jobs-batch", "test-expire-refunds",
                 "test-strangers-cannot-act", "test-cancel-refunds"):
        assert passed.get(test, 0) > 0, f"{test} never ran to completion:\n{report}"


def test_smoke_lifecycle_on_simnet():
    """contract/fuzz/smoke.mjs: every public function's main path and failure codes, deadlines and
    conservation after each step, on the clarinet-sdk the local chain uses."""
    done = subprocess.run(["node", str(FUZZ_DIR / "smoke.mjs")], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    assert "smoke: all checks passed" in done.stdout
