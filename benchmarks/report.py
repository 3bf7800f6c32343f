"""Turn benchmark outcomes into the side-by-side table (plain text or markdown).

Pure functions over plain data: no process, no clock. A *gain* is how many times
better this project is than pylm 0.14.4 on a metric (ours/original for rates,
original/ours for latencies), so a gain above 1 always means faster.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import Enum

ORIGINAL_LABEL = "pylm 0.14.4"
OURS_LABEL = "pylm (this)"


class Better(Enum):
    HIGHER = "higher"
    LOWER = "lower"


class Status(Enum):
    OK = "ok"
    UNAVAILABLE = "not available"
    FAILED = "failed"
    SKIPPED = "not run"


@dataclass(frozen=True)
class Metric:
    """One figure a workload reports, read from the result under ``key``."""

    key: str
    label: str
    unit: str
    better: Better
    target_gain: float | None = None
    target_max: float | None = None

    def target_text(self) -> str:
        parts = []
        if self.target_gain is not None:
            parts.append(f">= {self.target_gain:g}x")
        if self.target_max is not None:
            parts.append(f"<= {format_value(self.target_max, self.unit)}")
        return ", ".join(parts)


@dataclass
class Outcome:
    """What one project did on one workload."""

    status: Status
    values: dict = field(default_factory=dict)
    note: str = ""

    @classmethod
    def ok(cls, values: dict, note: str = "") -> Outcome:
        return cls(Status.OK, values, note)


@dataclass(frozen=True)
class Workload:
    """A PALM workload run on both projects."""

    name: str
    title: str
    metrics: tuple[Metric, ...]
    features: frozenset[str]


@dataclass(frozen=True)
class Comparison:
    """A PALM figure set against a baseline: ``metric_key`` of workload ``workload``."""

    workload: str
    metric_key: str
    label: str


@dataclass(frozen=True)
class Baseline:
    """A raw pyzmq figure (no pylm at all) that gives the PALM figures their scale."""

    name: str
    title: str
    metric: Metric
    comparisons: tuple[Comparison, ...]


@dataclass
class BaselineResult:
    baseline: Baseline
    outcome: Outcome


@dataclass
class WorkloadResult:
    workload: Workload
    original: Outcome
    ours: Outcome


def format_value(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    if unit == "%":
        return f"{value:.1f} %"
    if unit == "/s":
        return f"{value:,.0f}/s"
    if value >= 100:
        return f"{value:,.0f} {unit}"
    return f"{value:.1f} {unit}"


def format_ratio(ratio: float) -> str:
    if ratio >= 10:
        return f"{ratio:.0f}x"
    if ratio >= 0.1:
        return f"{ratio:.2f}x".replace(".00x", "x")
    return f"{ratio:.2g}x"


def metric_value(outcome: Outcome, metric: Metric) -> float | None:
    if outcome.status is not Status.OK:
        return None
    value = outcome.values.get(metric.key)
    return None if value is None else float(value)


def gain(original: float | None, ours: float | None, better: Better) -> float | None:
    if original is None or ours is None or original <= 0 or ours <= 0:
        return None
    return ours / original if better is Better.HIGHER else original / ours


def verdict(metric: Metric, original: float | None, ours: float | None) -> str:
    """'met', 'MISSED' or '' (no target, or nothing to judge)."""
    checks = []
    if metric.target_gain is not None:
        measured = gain(original, ours, metric.better)
        if measured is not None:
            checks.append(measured >= metric.target_gain)
    if metric.target_max is not None and ours is not None:
        checks.append(ours <= metric.target_max)
    if not checks:
        return ""
    return "met" if all(checks) else "MISSED"


def _cell(outcome: Outcome, metric: Metric) -> str:
    if outcome.status is not Status.OK:
        return outcome.status.value
    return format_value(metric_value(outcome, metric), metric.unit)


HEADER = ("workload", "metric", ORIGINAL_LABEL, OURS_LABEL, "gain", "target", "verdict")


def table_rows(results: Sequence[WorkloadResult]) -> list[tuple[str, ...]]:
    rows = []
    for result in results:
        for index, metric in enumerate(result.workload.metrics):
            original = metric_value(result.original, metric)
            ours = metric_value(result.ours, metric)
            measured = gain(original, ours, metric.better)
            rows.append(
                (
                    result.workload.title if index == 0 else "",
                    metric.label,
                    _cell(result.original, metric),
                    _cell(result.ours, metric),
                    "-" if measured is None else format_ratio(measured),
                    metric.target_text(),
                    verdict(metric, original, ours),
                )
            )
    return rows


def notes(results: Sequence[WorkloadResult]) -> list[str]:
    lines = []
    for result in results:
        for label, outcome in ((ORIGINAL_LABEL, result.original), (OURS_LABEL, result.ours)):
            if outcome.note:
                lines.append(f"{result.workload.title} [{label}]: {outcome.note}")
    return lines


BASELINE_HEADER = ("raw pyzmq baseline", "metric", "value", "pylm figure",
                   f"{ORIGINAL_LABEL} / raw", f"{OURS_LABEL} / raw")


def _relative(value: float | None, raw: float | None) -> str:
    if value is None or raw is None or raw <= 0:
        return "-"
    return format_ratio(value / raw)


def baseline_rows(
    baselines: Sequence[BaselineResult], results: Sequence[WorkloadResult]
) -> list[tuple[str, ...]]:
    by_name = {result.workload.name: result for result in results}
    rows = []
    for item in baselines:
        metric = item.baseline.metric
        raw = metric_value(item.outcome, metric)
        head = (item.baseline.title, metric.label, _cell(item.outcome, metric))
        compared = [c for c in item.baseline.comparisons if c.workload in by_name]
        if not compared:
            rows.append((*head, "-", "-", "-"))
        for index, comparison in enumerate(compared):
            result = by_name[comparison.workload]
            figure = next(m for m in result.workload.metrics if m.key == comparison.metric_key)
            rows.append(
                (
                    *(head if index == 0 else ("", "", "")),
                    comparison.label,
                    _relative(metric_value(result.original, figure), raw),
                    _relative(metric_value(result.ours, figure), raw),
                )
            )
    return rows


def _text_table(header: tuple[str, ...], body: list[tuple[str, ...]]) -> list[str]:
    rows = [header, *body]
    widths = [max(len(row[column]) for row in rows) for column in range(len(header))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
             for row in rows]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return [line.rstrip() for line in lines]


def _markdown_table(header: tuple[str, ...], body: list[tuple[str, ...]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    for row in body:
        lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |")
    return lines


def render_text(
    results: Sequence[WorkloadResult], baselines: Sequence[BaselineResult] = ()
) -> str:
    lines = _text_table(HEADER, table_rows(results)) if results else []
    if baselines:
        lines += ["", *_text_table(BASELINE_HEADER, baseline_rows(baselines, results))]
    extra = notes(results) + baseline_notes(baselines)
    if extra:
        lines += ["", "Notes:", *(f"- {line}" for line in extra)]
    return "\n".join(lines)


def render_markdown(
    results: Sequence[WorkloadResult],
    baselines: Sequence[BaselineResult],
    preamble: Sequence[str],
) -> str:
    lines = [*preamble, ""]
    if results:
        lines += _markdown_table(HEADER, table_rows(results))
    if baselines:
        lines += ["", *_markdown_table(BASELINE_HEADER, baseline_rows(baselines, results))]
    extra = notes(results) + baseline_notes(baselines)
    if extra:
        lines += ["", "Notes:", "", *(f"- {line}" for line in extra)]
    return "\n".join(lines) + "\n"


def baseline_notes(baselines: Sequence[BaselineResult]) -> list[str]:
    return [f"{item.baseline.title}: {item.outcome.note}" for item in baselines
            if item.outcome.note]
