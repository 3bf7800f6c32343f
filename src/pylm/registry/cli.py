"""``pylm-registry``: serve the registry, or manage its users.

    pylm-registry [serve] [--db URL] [--host 127.0.0.1] [--port 8080] [--sync]
    pylm-registry user add NAME [--admin] [--db URL]     (password on stdin; key printed last)
    pylm-registry user list | deactivate NAME | new-key NAME   [--db URL]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import getpass
import logging
import signal
import sys
from collections.abc import Sequence

from sqlalchemy.exc import ArgumentError, NoSuchModuleError, OperationalError

from pylm.registry.store import (
    Conflict,
    NotFound,
    Store,
    UnsupportedDatabase,
    default_db_url,
)

__all__ = ["main"]

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8080
MAX_PASSWORD = 1024
MAX_NAME = 100


def _db_option(parser: argparse.ArgumentParser, inherited: bool = False) -> None:
    parser.add_argument("--db", default=argparse.SUPPRESS if inherited else None,
                        help="SQLAlchemy URL (default: SQLite file in $PYLM_REGISTRY_HOME or "
                             "~/.local/share/pylm-registry; sqlite:// is volatile)")


def _serve_options(parser: argparse.ArgumentParser, inherited: bool = False) -> None:
    """Options of ``serve``; on the subcommand they default to what came before it."""

    def default(value: object) -> object:
        return argparse.SUPPRESS if inherited else value

    _db_option(parser, inherited)
    parser.add_argument("--host", default=default(DEFAULT_HOST))
    parser.add_argument("--port", type=int, default=default(DEFAULT_PORT),
                        help="0: the OS picks one")
    parser.add_argument("--sync", action="store_true", default=default(False),
                        help="accepted for compatibility: the schema is always migrated")
    parser.add_argument("--heartbeat-interval", type=float, default=default(5.0))
    parser.add_argument("--lost-after", type=float, default=default(None),
                        help="seconds of silence before a node is lost (3 x heartbeat)")
    parser.add_argument("--max-body", type=int, default=default(8 * 1024 * 1024))
    parser.add_argument("--log-retention", type=int, default=default(None),
                        help="default lines kept per new cluster (unlimited)")
    parser.add_argument("--legacy-log-read", action="store_true", default=default(False),
                        help="let GET /logs read with a generated cluster key alone, as "
                             "pylm-registry 0.4's LogClient.download needs (off: owner only)")
    parser.add_argument("--log-level", default=default("info"))


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pylm-registry", description=__doc__.split("\n")[0])
    _serve_options(parser)
    sub = parser.add_subparsers(dest="command")
    _serve_options(sub.add_parser("serve", help="serve the registry (the default)"), True)
    user = sub.add_parser("user", help="manage users")
    users = user.add_subparsers(dest="user_command", required=True)
    add = users.add_parser("add", help="add a user; reads the password from stdin")
    add.add_argument("name")
    add.add_argument("--admin", action="store_true")
    _db_option(add, True)
    _db_option(users.add_parser("list", help="list users"), True)
    for name, text in (("deactivate", "deactivate a user"),
                       ("new-key", "a new API key for a user (old keys stop working)")):
        p = users.add_parser(name, help=text)
        p.add_argument("name")
        _db_option(p, True)
    return parser


def _read_password() -> str:
    if sys.stdin.isatty():
        first = getpass.getpass("Password: ")
        if getpass.getpass("Again: ") != first:
            raise SystemExit("pylm-registry: passwords differ")
        return first
    return sys.stdin.readline().rstrip("\r\n")


def _user_command(args: argparse.Namespace, store: Store) -> int:
    if args.user_command == "add":
        if not args.name.strip() or len(args.name) > MAX_NAME:
            print(f"pylm-registry: the user name must have 1 to {MAX_NAME} characters",
                  file=sys.stderr)
            return 2
        password = _read_password()
        if not password or len(password) > MAX_PASSWORD:
            print("pylm-registry: the password must have 1 to 1024 characters", file=sys.stderr)
            return 2
        try:
            user, key = store.add_user(args.name, password, admin=args.admin)
        except Conflict as exc:
            print(f"pylm-registry: {exc}", file=sys.stderr)
            return 1
        role = "administrator" if user.is_admin else "user"
        print(f"added {role} {user.name}; API key (shown once):")
        print(key)
        return 0
    if args.user_command == "list":
        for user in store.list_users():
            flags = ("admin " if user.is_admin else "") + ("active" if user.active
                                                           else "inactive")
            print(f"{user.name}\t{flags}\t{user.created_at.isoformat(timespec='seconds')}")
        return 0
    try:
        if args.user_command == "deactivate":
            store.set_active(args.name, False)
            print(f"deactivated {args.name}")
        else:
            key = store.new_key(args.name)
            print(f"new API key for {args.name} (shown once; previous keys revoked):")
            print(key)
    except NotFound as exc:
        print(f"pylm-registry: {exc}", file=sys.stderr)
        return 1
    return 0


async def _serve(args: argparse.Namespace, store: Store) -> None:
    import uvicorn

    from pylm.registry.app import AppSettings, create_app

    settings = AppSettings(max_body=args.max_body, heartbeat_interval=args.heartbeat_interval,
                           lost_after=args.lost_after, legacy_log_read=args.legacy_log_read)
    app = create_app(store, settings)
    config = uvicorn.Config(app, host=args.host, port=args.port, access_log=False,
                            log_level=args.log_level, server_header=False,
                            proxy_headers=False)
    server = uvicorn.Server(config)

    async def announce() -> None:
        while not server.started:
            if server.should_exit:
                return
            await asyncio.sleep(0.02)
        for srv in server.servers:
            for sock in srv.sockets:
                host, port = sock.getsockname()[:2]
                shown = f"[{host}]" if ":" in host else host
                print(f"pylm-registry listening on http://{shown}:{port}", flush=True)
                return

    watcher = asyncio.create_task(announce())
    try:
        await server.serve()
    finally:
        watcher.cancel()


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    level = "warning" if args.command == "user" else args.log_level
    logging.basicConfig(level=level.upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    url = args.db or default_db_url()
    try:
        store = Store(url, default_retention=getattr(args, "log_retention", None))
    except (ArgumentError, NoSuchModuleError, OperationalError, OSError,
            UnsupportedDatabase) as exc:
        reason = str(getattr(exc, "orig", None) or exc).splitlines()[0]
        print(f"pylm-registry: cannot open the database: {reason}", file=sys.stderr)
        return 2
    try:
        if args.command == "user":
            return _user_command(args, store)
        if args.sync:
            logging.getLogger("pylm.registry").info("--sync: the schema is migrated on start")
        # uvicorn shuts down gracefully on SIGTERM/SIGINT, then re-raises the signal to the
        # handler installed before it: make that one a no-op so a clean stop exits 0.
        signal.signal(signal.SIGTERM, lambda *_: None)
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(_serve(args, store))
        return 0
    finally:
        store.close()
