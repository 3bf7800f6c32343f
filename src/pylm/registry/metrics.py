"""Prometheus text exposition of the registry's counters (``GET /metrics``)."""

from __future__ import annotations

from collections import Counter

__all__ = ["Metrics"]


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


class Metrics:
    """Counters kept in process; gauges are read from the store when scraped."""

    def __init__(self) -> None:
        self.requests: Counter[tuple[str, str, int]] = Counter()
        self.ingested_lines = 0
        self.duplicate_lines = 0

    def count_request(self, method: str, route: str, status: int) -> None:
        self.requests[(method, route, status)] += 1

    def count_lines(self, accepted: int, duplicates: int = 0) -> None:
        self.ingested_lines += accepted
        self.duplicate_lines += duplicates

    def render(self, gauges: dict[str, int]) -> str:
        out = ["# HELP pylm_registry_requests_total HTTP requests answered.",
               "# TYPE pylm_registry_requests_total counter"]
        for (method, route, status), n in sorted(self.requests.items()):
            out.append(f'pylm_registry_requests_total{{method="{_escape(method)}",'
                       f'route="{_escape(route)}",status="{status}"}} {n}')
        out += ["# HELP pylm_registry_log_lines_ingested_total Log lines stored.",
                "# TYPE pylm_registry_log_lines_ingested_total counter",
                f"pylm_registry_log_lines_ingested_total {self.ingested_lines}",
                "# HELP pylm_registry_log_lines_duplicate_total Resent log lines dropped.",
                "# TYPE pylm_registry_log_lines_duplicate_total counter",
                f"pylm_registry_log_lines_duplicate_total {self.duplicate_lines}"]
        for name, value in sorted(gauges.items()):
            out += [f"# HELP pylm_registry_{name} Number of {name} in the database.",
                    f"# TYPE pylm_registry_{name} gauge",
                    f"pylm_registry_{name} {value}"]
        return "\n".join(out) + "\n"
