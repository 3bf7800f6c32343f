"""``pylm-runner``: the command line of the runner.

    pylm-runner --registry URI --cluster KEY [--config NODE_FILE] [--name N]
                [--spool DIR] [--key USERKEY] [options]

Without ``--config`` the node is one processor on 127.0.0.1 (ports from 5555). ``--key``
is the user's API key, needed for clusters whose key the user chose; without it the
cluster key itself is the token. Exit status: 0 when stopped (SIGTERM, Ctrl-C, cluster
deleted) or when the registry has nothing for this node or every component ended well;
1 when every component ended and one failed; 2 when the runner cannot work (bad node file,
spool in use, registry refusal or unreachable at start).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from .agent import (
    DEFAULT_FLUSH_TIMEOUT,
    DEFAULT_JOIN_TIMEOUT,
    EXIT_UNUSABLE,
    Agent,
    AgentSettings,
    RunnerFailure,
    default_spool_dir,
)
from .node import NodeDescription, NodeFileError, load_node_file
from .shipper import ShipperSettings
from .spool import DEFAULT_SPOOL_MAX_BYTES, SpoolError
from .supervisor import DEFAULT_GRACE, BackoffPolicy

__all__ = ["build_parser", "main", "settings_from_args"]

log = logging.getLogger("pylm.runner")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``pylm-runner``."""
    parser = argparse.ArgumentParser(
        prog="pylm-runner",
        description="Run the components the registry places on this node, restart them "
        "as their policy says, and ship every line they print to the registry.",
    )
    parser.add_argument("--registry", required=True, help="URL of the registry, e.g. "
                        "http://127.0.0.1:8080")
    parser.add_argument("--cluster", required=True, help="the cluster key")
    parser.add_argument("--config", metavar="NODE_FILE", help="node description (INI); "
                        "default: one processor on 127.0.0.1, ports from 5555")
    parser.add_argument("--name", help="node name (overrides Name in the node file; "
                        "default: the name used last time with this spool, else "
                        "<hostname>-<spool id>)")
    parser.add_argument("--spool", metavar="DIR", help="spool directory (default: "
                        "$XDG_STATE_HOME/pylm-runner/<digest of registry and cluster>)")
    parser.add_argument("--key", help="the user's API key (needed when the user chose the "
                        "cluster key)")
    parser.add_argument("--quiet", action="store_true",
                        help="do not echo component output on stdout")
    parser.add_argument("--spool-max-mb", type=_positive_float, default=(
        DEFAULT_SPOOL_MAX_BYTES / 2**20), help="cap of the spool (MiB; default %(default)g)")
    parser.add_argument("--grace", type=_positive_float, default=DEFAULT_GRACE,
                        help="seconds between SIGTERM and SIGKILL (default %(default)g)")
    parser.add_argument("--flush-timeout", type=_positive_float, default=DEFAULT_FLUSH_TIMEOUT,
                        help="seconds to deliver the spool when stopping "
                        "(default %(default)g)")
    parser.add_argument("--join-timeout", type=_positive_float, default=DEFAULT_JOIN_TIMEOUT,
                        help="seconds to wait for an unreachable registry at start "
                        "(default %(default)g)")
    defaults = BackoffPolicy()
    parser.add_argument("--backoff-initial", type=_positive_float, default=defaults.initial,
                        help="first restart delay, seconds (default %(default)g)")
    parser.add_argument("--backoff-max", type=_positive_float, default=defaults.maximum,
                        help="longest restart delay, seconds (default %(default)g)")
    parser.add_argument("--stable-after", type=_positive_float, default=defaults.stable_after,
                        help="an instance up this long starts its backoff anew "
                        "(default %(default)g s)")
    parser.add_argument("--crashloop-after", type=int, default=defaults.crashloop_after,
                        help="quick exits in a row that make a crash loop "
                        "(default %(default)d)")
    parser.add_argument("--batch-lines", type=int, default=ShipperSettings.batch_lines,
                        help="most lines per batch sent (default %(default)d)")
    parser.add_argument("--linger", type=float, default=ShipperSettings.linger,
                        help="seconds to wait for a batch to fill (default %(default)g)")
    parser.add_argument("--log-level", default="info",
                        choices=["debug", "info", "warning", "error"],
                        help="the runner's own messages on stderr (default %(default)s)")
    return parser


def settings_from_args(args: argparse.Namespace) -> AgentSettings:
    """Validate the parsed arguments into ``AgentSettings`` (``NodeFileError``/``ValueError``)."""
    node = load_node_file(args.config) if args.config else NodeDescription()
    if args.name is not None:
        name = args.name.strip()
        if not name or "/" in name:
            raise ValueError(f"--name {args.name!r}: a node name is not empty and has no '/'")
        node = node.named(name)
    registry = args.registry.strip()
    if not registry.startswith(("http://", "https://")):
        registry = "http://" + registry
    spool = Path(args.spool) if args.spool else default_spool_dir(registry, args.cluster)
    try:
        backoff = BackoffPolicy(
            initial=args.backoff_initial,
            maximum=max(args.backoff_max, args.backoff_initial),
            stable_after=args.stable_after,
            crashloop_after=args.crashloop_after,
        )
        shipper = ShipperSettings(batch_lines=args.batch_lines, linger=args.linger)
    except ValueError as exc:
        raise ValueError(f"bad option: {exc}") from None
    return AgentSettings(
        registry=registry,
        cluster=args.cluster,
        token=args.key or args.cluster,
        node=node,
        spool_dir=spool,
        spool_max_bytes=int(args.spool_max_mb * 2**20),
        backoff=backoff,
        grace=args.grace,
        echo=not args.quiet,
        flush_timeout=args.flush_timeout,
        join_timeout=args.join_timeout,
        shipper=shipper,
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run the runner; returns the exit status."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(), stream=sys.stderr, format="pylm-runner: %(message)s"
    )
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per request is noise
    logging.getLogger("httpcore").setLevel(logging.WARNING)
    try:
        settings = settings_from_args(args)
    except (NodeFileError, ValueError) as exc:
        print(f"pylm-runner: {exc}", file=sys.stderr)
        return EXIT_UNUSABLE
    try:
        return asyncio.run(Agent(settings).run())
    except (RunnerFailure, SpoolError) as exc:
        print(f"pylm-runner: {exc}", file=sys.stderr)
        return EXIT_UNUSABLE
    except KeyboardInterrupt:  # Ctrl-C before the handlers were in place
        return 0


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be positive")
    return value
