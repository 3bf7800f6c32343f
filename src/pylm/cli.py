"""``pylm``: manage clusters and read their logs on a registry.

    pylm [--registry URL] [--key API_KEY] cluster create FILE [--alias A] [--key CLUSTER_KEY]
    pylm cluster list | status KEY | reset KEY | delete KEY
    pylm logs KEY [--service S] [--follow]

The registry URL and API key come from ``--registry``/``--key`` or the environment
variables ``PYLM_REGISTRY`` and ``PYLM_KEY``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from typing import Any

__all__ = ["main"]

REGISTRY_ENV = "PYLM_REGISTRY"
KEY_ENV = "PYLM_KEY"
DEFAULT_REGISTRY = "http://127.0.0.1:8080"


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--registry", default=argparse.SUPPRESS,
                        help=f"registry URL (${REGISTRY_ENV}, default {DEFAULT_REGISTRY})")
    common.add_argument("--key", dest="api_key", default=argparse.SUPPRESS,
                        help=f"your API key (${KEY_ENV})")
    parser = argparse.ArgumentParser(prog="pylm", description=__doc__.split("\n")[0],
                                     parents=[common])
    sub = parser.add_subparsers(dest="command", required=True)
    cluster = sub.add_parser("cluster", help="clusters on the registry", parents=[common])
    actions = cluster.add_subparsers(dest="action", required=True)
    create = actions.add_parser("create", help="submit a cluster file")
    create.add_argument("file")
    create.add_argument("--alias", default="")
    create.add_argument("--key", dest="cluster_key", default=None,
                        help="choose the cluster key (then runners need your API key); "
                             "give your API key before the subcommand or in $PYLM_KEY")
    create.add_argument("--registry", default=argparse.SUPPRESS)
    create.add_argument("--api-key", dest="api_key", default=argparse.SUPPRESS)
    actions.add_parser("list", help="your clusters", parents=[common])
    for name, text in (("status", "placement and readiness"),
                       ("reset", "forget the placement"), ("delete", "remove the cluster")):
        p = actions.add_parser(name, help=text, parents=[common])
        p.add_argument("cluster")
        if name == "status":
            p.add_argument("--json", action="store_true", help="the raw JSON status")
    logs = sub.add_parser("logs", help="a cluster's output", parents=[common])
    logs.add_argument("cluster")
    logs.add_argument("--service")
    logs.add_argument("--node")
    logs.add_argument("--instance")
    logs.add_argument("--stream", choices=["stdout", "stderr", "event"])
    logs.add_argument("--since", help="ISO 8601 time")
    logs.add_argument("--until", help="ISO 8601 time")
    logs.add_argument("--grep", help="lines containing this text")
    logs.add_argument("--lines", "-n", type=int, default=100, help="newest N lines (max 1000)")
    logs.add_argument("--follow", "-f", action="store_true", help="then wait for new lines")
    return parser


def _line(row: dict[str, Any]) -> str:
    label = row["instance"] or row["service"] or "-"
    return f"{row['time']} {label} {row['stream']}: {row['text']}"


def _status(status: dict[str, Any]) -> str:
    out = [f"cluster {status['key']}" + (f" ({status['alias']})" if status["alias"] else ""),
           f"ready: {'yes' if status['ready'] else 'no'}"]
    for name, s in status["services"].items():
        out.append(f"  {name} [{s['role']}]: {s['placed']}/{s['needed']} placed")
    for inst in status["instances"]:
        out.append(f"  {inst['instance']} on {inst['node']}: {inst['state']} "
                   f"(restarts {inst['restarts']})  {inst['command']}")
    for node in status["nodes"]:
        out.append(f"  node {node['name']} {node['ip']}: {node['state']}")
    for placeholder, address in status["sockets"].items():
        out.append(f"  {placeholder} = {address}")
    return "\n".join(out)


def _run(args: argparse.Namespace) -> int:
    from pylm.registry.client import RegistryClient

    url = getattr(args, "registry", None) or os.environ.get(REGISTRY_ENV) or DEFAULT_REGISTRY
    key = getattr(args, "api_key", None) or os.environ.get(KEY_ENV)
    if not key:
        print(f"pylm: no API key: pass --key or set {KEY_ENV}", file=sys.stderr)
        return 2
    with RegistryClient(url, key) as registry:
        if args.command == "logs":
            filters = {"service": args.service, "node": args.node, "instance": args.instance,
                       "stream": args.stream, "since": args.since, "until": args.until,
                       "text": args.grep}
            page = registry.logs(args.cluster, limit=max(1, min(args.lines, 1000)), **filters)
            for row in reversed(page["lines"]):
                print(_line(row), flush=True)
            if args.follow:
                newest = page["lines"][0]["id"] if page["lines"] else None
                for row in registry.follow(args.cluster, after=newest, **filters):
                    print(_line(row), flush=True)
            return 0
        if args.action == "create":
            try:
                with open(args.file, encoding="utf-8") as f:
                    text = f.read()
            except OSError as exc:
                print(f"pylm: cannot read {args.file}: {exc.strerror}", file=sys.stderr)
                return 2
            print(registry.create_cluster(text, alias=args.alias, key=args.cluster_key)["key"])
        elif args.action == "list":
            for c in registry.clusters():
                ready = "ready" if c["ready"] else "not ready"
                print(f"{c['key']}\t{c['alias'] or '-'}\t{ready}\t{c['created_at']}")
        elif args.action == "status":
            status = registry.status(args.cluster)
            print(json.dumps(status, indent=2) if args.json else _status(status))
        elif args.action == "reset":
            print(registry.reset(args.cluster)["reset"])
        else:
            print(registry.delete(args.cluster)["deleted"])
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    import httpx

    from pylm.registry.client import RegistryError

    try:
        return _run(args)
    except RegistryError as exc:
        print(f"pylm: {exc.reason} ({exc.status})", file=sys.stderr)
        return 1
    except httpx.HTTPError as exc:
        print(f"pylm: cannot reach the registry: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0


if __name__ == "__main__":
    raise SystemExit(main())
