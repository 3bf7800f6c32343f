"""Print which PALM features the importable ``pylm`` offers, as one JSON object.

Each feature maps to ``null`` when all its names import, or to the import error.
Runs under either project's interpreter; the orchestrator uses it to report
"not available" for a workload instead of failing.
"""

from __future__ import annotations

import importlib
import json

FEATURES: dict[str, list[tuple[str, str]]] = {
    "core": [
        ("pylm.servers", "Server"),
        ("pylm.servers", "Master"),
        ("pylm.servers", "Worker"),
        ("pylm.clients", "Client"),
    ],
    "pipeline": [("pylm.servers", "Pipeline")],
    "gateway": [
        ("pylm.parts.servers", "ServerTemplate"),
        ("pylm.parts.services", "CacheService"),
        ("pylm.parts.services", "WorkerPullService"),
        ("pylm.parts.services", "WorkerPushService"),
        ("pylm.parts.gateways", "GatewayRouter"),
        ("pylm.parts.gateways", "GatewayDealer"),
        ("pylm.parts.gateways", "HttpGateway"),
    ],
}


def missing(names: list[tuple[str, str]]) -> str | None:
    for module_name, attribute in names:
        try:
            module = importlib.import_module(module_name)
        except Exception as error:  # any import failure means: not available
            return f"import {module_name}: {type(error).__name__}: {error}"
        if not hasattr(module, attribute):
            return f"{module_name} has no {attribute}"
    return None


if __name__ == "__main__":
    print(json.dumps({feature: missing(names) for feature, names in FEATURES.items()}))
