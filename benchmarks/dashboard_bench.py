"""Logs page of the web dashboard with 1,000,000 lines stored (a figure, not a test).

    PYTHONPATH=src python benchmarks/dashboard_bench.py [--lines N] [--pages N] [--db URL]
                                                       [--postgres] [--browser]

Fills a SQLite file (or ``--db``, or with ``--postgres`` a database of its own on the local
PostgreSQL, dropped afterwards) with N lines for one cluster (4 services, 3 instances
each, one line in 10 on stderr), starts a real registry process, logs in like a browser
(session cookie + CSRF token) and times, over HTTP on loopback:
1. the first render of the logs page (the very first request after start, then the median
   of 20 more);
2. each page of history, following the page's own "Older" link ``--pages`` times from the
   newest lines, and a page deep in history (reached by its cursor);
3. the same page with common filters (one service, stderr only, one instance, a time range,
   a text search).
With ``--browser`` it also loads the page in Debian's Chromium and reports the time to
``DOMContentLoaded`` and to the load event. The target is 300 ms for 1 and 2.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from html import unescape
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"
sys.path.insert(0, str(SRC))

from pylm.registry.logs import LogRow  # noqa: E402
from pylm.registry.store import Store  # noqa: E402

PASSWORD = "bench password"
PG_DSN = "host=127.0.0.1 port=5432 user=postgres dbname=test"
TARGET_MS = 300.0
SERVICES = ("Master", "Worker", "Cache", "Gateway")
CONFIG = "".join(f"[{s}]\nScript = python3 {s.lower()}.py\nReplicas = 3\n\n" for s in SERVICES)
CSRF = re.compile(r'name="csrf_token" value="([0-9a-f]+)"')
OLDER = re.compile(r'id="older" href="\?([^"]+)"')
BASE_TIME = datetime(2026, 12, 1)


def fill(db: str, lines: int, analyze: bool = True) -> str:
    store = Store(db)
    user, _ = store.add_user("bench", PASSWORD)
    cluster = store.create_cluster(user.id, CONFIG, alias="bench")
    start = time.perf_counter()
    chunk = 10_000
    for offset in range(0, lines, chunk):
        rows = []
        for n in range(offset, min(offset + chunk, lines)):
            service = SERVICES[n % 4]
            rows.append(LogRow(BASE_TIME + timedelta(milliseconds=n), f"node-{n % 3}", service,
                               f"{service}.{n % 3}", "stderr" if n % 10 == 0 else "stdout",
                               "bench", n, f"line {n}: price {n * 7 % 1000} <b>&amp;</b>"))
        store.ingest(cluster.id, rows)
    took = time.perf_counter() - start
    store.close()
    if db.startswith("postgresql") and analyze:
        # What autovacuum does some time after a bulk load: planner statistics.
        import psycopg

        with psycopg.connect(db.replace("postgresql+psycopg", "postgresql"),
                             autocommit=True) as conn:
            conn.execute("ANALYZE log_lines")
        print("ANALYZE log_lines done", flush=True)
    print(f"set-up: {lines} lines stored in {took:.1f} s", flush=True)
    return cluster.key


def start_registry(db: str) -> tuple[subprocess.Popen, str]:
    env = {"PYTHONPATH": str(SRC), "PATH": "/usr/bin:/bin"}
    proc = subprocess.Popen([sys.executable, "-m", "pylm.registry", "--db", db, "--port", "0",
                             "--log-level", "warning"], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True, env=env)
    deadline = time.monotonic() + 60
    assert proc.stdout is not None
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if line.startswith("pylm-registry listening on "):
            return proc, line.split()[-1]
        if not line and proc.poll() is not None:
            break
    proc.kill()
    raise SystemExit("the registry did not start")


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=15)


def log_in(client: httpx.Client) -> None:
    token = CSRF.search(client.get("/login").text).group(1)
    answer = client.post("/login", data={"csrf_token": token, "name": "bench",
                                         "password": PASSWORD, "next": "/"})
    if answer.status_code != 303:
        raise SystemExit(f"log-in failed: {answer.status_code}")


def timed_get(client: httpx.Client, url: str) -> tuple[float, str]:
    start = time.perf_counter()
    answer = client.get(url)
    took = (time.perf_counter() - start) * 1000
    answer.raise_for_status()
    return took, answer.text


def shown_lines(html: str) -> int:
    return html.count('<div class="line ')


def summary(name: str, samples: list[float], lines: int) -> str:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
    verdict = "ok" if max(samples) < TARGET_MS else "OVER 300 ms"
    return (f"  {name:44s} median {statistics.median(samples):7.1f} ms  p95 {p95:7.1f}  "
            f"max {max(samples):7.1f}  ({lines} lines shown) {verdict}")


def bench(url: str, key: str, pages: int, total: int) -> None:
    page = f"/clusters/{key}/logs"
    with httpx.Client(base_url=url, timeout=120) as client:
        log_in(client)
        first, html = timed_get(client, page)
        print(f"  {'first render (first request after start)':44s} {first:7.1f} ms "
              f"({shown_lines(html)} lines shown)")
        samples = [timed_get(client, page)[0] for _ in range(20)]
        print(summary("first render (20 more)", samples, shown_lines(html)))

        samples, link = [], OLDER.search(html)
        count = 0
        for _ in range(pages):
            if link is None:
                break
            took, html = timed_get(client, page + "?" + unescape(link.group(1)))
            samples.append(took)
            count = shown_lines(html)
            link = OLDER.search(html)
        print(summary(f"each older page ({len(samples)} pages)", samples, count))

        deep = f"{page}?to={(BASE_TIME + timedelta(milliseconds=total // 100)).isoformat()}"
        took, html = timed_get(client, deep)
        link = OLDER.search(html)
        samples = [timed_get(client, page + "?" + unescape(link.group(1)))[0]
                   for _ in range(20)] if link else []
        if samples:
            print(summary("a page 99% deep in history (by cursor)", samples, count))

        mid = BASE_TIME + timedelta(milliseconds=total // 2)
        filters = {
            "one service": "service=Worker",
            "stderr only": "stream=stderr",
            "one instance": "instance=Cache.1",
            "one minute (from/to)": f"from={mid.isoformat()}&to="
                                    f"{(mid + timedelta(minutes=1)).isoformat()}",
            "text search (frequent: 'price 99')": "q=price+99",
            "text search (rare: 'line 12345:')": "q=line+12345%3A",
        }
        for name, query in filters.items():
            samples = []
            for _ in range(5):
                took, html = timed_get(client, f"{page}?{query}")
                samples.append(took)
            print(summary("filter: " + name, samples, shown_lines(html)))


def bench_browser(url: str, key: str) -> None:
    from playwright.sync_api import sync_playwright

    args = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run"]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True,
                                    args=args)
        try:
            page = browser.new_page(base_url=url)
            page.goto("/login")
            page.fill("input[name=name]", "bench")
            page.fill("input[name=password]", PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_url(url + "/")
            server, dom, load = [], [], []
            for _ in range(10):
                page.goto(f"/clusters/{key}/logs")
                timing = page.evaluate(
                    "() => { const t = performance.getEntriesByType('navigation')[0];"
                    " return [t.responseEnd - t.requestStart, t.domContentLoadedEventEnd,"
                    " t.loadEventEnd]; }")
                server.append(timing[0])
                dom.append(timing[1])
                load.append(timing[2])
            print(summary("Chromium: request to last byte of the page", server, 100))
            print(summary("Chromium: navigation to DOMContentLoaded", dom, 100))
            print(summary("Chromium: navigation to load event", load, 100))
        finally:
            browser.close()


@contextmanager
def postgres_db() -> Iterator[str]:
    import psycopg

    name = "pylm_dash_bench_" + uuid.uuid4().hex[:10]
    with psycopg.connect(PG_DSN, autocommit=True, connect_timeout=10) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    finally:
        with psycopg.connect(PG_DSN, autocommit=True, connect_timeout=10) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def run(db: str, args: argparse.Namespace) -> None:
    key = fill(db, args.lines, analyze=not args.no_analyze)
    proc, url = start_registry(db)
    try:
        load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
        print(f"logs page with {args.lines} lines stored ({db.split(':')[0]}; load average "
              f"{load} on {os.cpu_count()} cores):")
        bench(url, key, args.pages, args.lines)
        if args.browser:
            bench_browser(url, key)
    finally:
        stop(proc)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--pages", type=int, default=50)
    parser.add_argument("--db", help="SQLAlchemy URL (default: a SQLite file in a temp dir)")
    parser.add_argument("--postgres", action="store_true",
                        help="a database of its own on PostgreSQL at 127.0.0.1:5432")
    parser.add_argument("--no-analyze", action="store_true",
                        help="PostgreSQL: query right after the load, before any ANALYZE")
    parser.add_argument("--browser", action="store_true")
    args = parser.parse_args()
    if args.postgres:
        with postgres_db() as db:
            run(db, args)
        return
    with tempfile.TemporaryDirectory() as tmp:
        run(args.db or f"sqlite:///{Path(tmp) / 'dashboard.db'}", args)


if __name__ == "__main__":
    main()
