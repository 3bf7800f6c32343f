"""benchmarks/report.py: gains point the right way, targets are judged, gaps are shown."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

from report import (  # noqa: E402
    Better,
    Metric,
    Outcome,
    Status,
    Workload,
    WorkloadResult,
    gain,
    render_markdown,
    render_text,
    verdict,
)

RATE = Metric("rate", "messages/s", "/s", Better.HIGHER, target_gain=20)
P50 = Metric("p50_us", "p50", "us", Better.LOWER, target_max=300)
JOB = Workload("job", "job", (RATE,), frozenset({"core"}))
EVAL = Workload("eval", "eval", (P50,), frozenset({"core"}))


def test_gain_is_above_one_when_ours_is_better_either_way() -> None:
    assert gain(2_500, 50_000, Better.HIGHER) == 20
    assert gain(2_000, 250, Better.LOWER) == 8
    assert gain(2_000, 4_000, Better.LOWER) == 0.5
    assert gain(None, 10, Better.HIGHER) is None
    assert gain(0, 10, Better.HIGHER) is None


def test_verdict_judges_gain_and_ceiling() -> None:
    assert verdict(RATE, 2_500, 50_000) == "met"
    assert verdict(RATE, 2_500, 49_000) == "MISSED"
    assert verdict(RATE, None, 49_000) == ""  # nothing to compare with
    assert verdict(P50, None, 250) == "met"  # an absolute target needs only ours
    assert verdict(P50, 2_000, 301) == "MISSED"


def test_table_shows_both_projects_gain_and_unavailable_side() -> None:
    results = [
        WorkloadResult(JOB, Outcome.ok({"rate": 2_500.0}), Outcome.ok({"rate": 60_000.0})),
        WorkloadResult(EVAL, Outcome.ok({"p50_us": 1_600.0}, "lost 10 of 20"),
                       Outcome(Status.UNAVAILABLE, note="not available: no Server")),
    ]
    text = render_text(results)
    job_line = next(line for line in text.splitlines() if line.startswith("job"))
    assert "2,500/s" in job_line and "60,000/s" in job_line and "24x" in job_line
    assert "met" in job_line
    eval_line = next(line for line in text.splitlines() if line.startswith("eval"))
    assert "1,600 us" in eval_line and "not available" in eval_line
    assert "lost 10 of 20" in text and "not available: no Server" in text

    markdown = render_markdown(results, [], ["# Benchmarks", "measured today"])
    assert markdown.startswith("# Benchmarks\nmeasured today\n")
    assert "| job | messages/s | 2,500/s | 60,000/s | 24x | >= 20x | met |" in markdown
