"""The web dashboard in Chromium, against real registry (and runner) processes."""

from __future__ import annotations

import re
import signal
import sys
import time
from pathlib import Path

import pytest

from tests.browser.conftest import Registry, log_in, new_page

pytestmark = [pytest.mark.browser, pytest.mark.timeout(240)]

XSS_LINES = ["<script>alert(1)</script>", "<img src=x onerror=alert(1)>"]

TICKER = """
import sys, time
for text in {xss!r}:
    print(text, flush=True)
n = 0
while True:
    print(f"tick {{n}}", flush=True)
    if n % 3 == 0:
        print(f"warn {{n}}", file=sys.stderr, flush=True)
    n += 1
    time.sleep(0.2)
"""

WORKER = """
import sys, time
print("worker up with", " ".join(sys.argv[1:]), flush=True)
n = 0
while True:
    print(f"work {n}", flush=True)
    n += 1
    time.sleep(0.5)
"""


FLAKY = """
import sys, time
print("flaky starting", flush=True)
time.sleep(0.5)
print("flaky gives up", file=sys.stderr, flush=True)
sys.exit(3)
"""


def tiny_cluster(tmp_path: Path, flaky: bool = False) -> str:
    (tmp_path / "ticker.py").write_text(TICKER.format(xss=XSS_LINES))
    (tmp_path / "worker.py").write_text(WORKER)
    (tmp_path / "flaky.py").write_text(FLAKY)
    python = sys.executable
    config = (f"[Ticker]\nScript = {python} -u {tmp_path / 'ticker.py'}\n--out = _1\n\n"
              f"[Worker]\nScript = {python} -u {tmp_path / 'worker.py'}\n--out = _1\n"
              "Connected = Ticker\nRole = Worker\nReplicas = 2\n")
    if flaky:
        config += f"\n[Flaky]\nScript = {python} -u {tmp_path / 'flaky.py'}\nRole = Flaky\n"
    return config


def instance_cell(page, instance: str, label: str) -> str:
    return page.text_content(f"#instances-body tr[data-instance='{instance}'] "
                             f"td[data-label='{label}']").strip()


def wait_until(predicate, timeout: float = 30.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def create_cluster_in_ui(page, alias: str, config: str) -> str:
    page.click("text=New cluster")
    page.fill("input[name=alias]", alias)
    page.fill("textarea[name=config]", config)
    page.click("#new-cluster button[type=submit]")
    page.wait_for_selector("#runner-command")
    return page.text_content("#runner-command").strip()


def test_end_to_end_with_a_real_runner(registry: Registry, browser, procs, tmp_path, shots):
    registry.add_user("alice")
    dialogs: list[str] = []
    page = new_page(browser, registry, dialogs)
    log_in(page, "alice")
    shots.take(page, "dashboard-empty")

    page.click("text=New cluster")
    page.fill("textarea[name=config]", "[Worker]\nScript = w\nConnected = Master\n")
    page.click("#new-cluster button[type=submit]")
    assert page.text_content("#config-error").strip() == (
        "section [Worker], key Connected: unknown service 'Master'")
    shots.take(page, "cluster-new-error")
    page.goto("/")
    command = create_cluster_in_ui(page, "tiny", tiny_cluster(tmp_path, flaky=True))
    match = re.fullmatch(r"pylm-runner --registry (\S+) --cluster (\S+)", command)
    assert match and match.group(1) == registry.url, command
    key = match.group(2)
    assert page.text_content("#readiness").strip() == "waiting 0/4"
    shots.take(page, "cluster-created")

    node = tmp_path / "node.ini"
    node.write_text("[DEFAULT]\nName = laptop\nIp = 127.0.0.1\nProcessors = 4\n"
                    "Ports_from = 47100\n")
    overview = page.context.new_page()  # the dashboard, open while the runner joins
    overview.goto("/")
    assert overview.text_content(f"tr[data-key='{key}'] .badge").strip() == "waiting 0/4"
    runner = procs.python("-m", "pylm.runner", "--registry", registry.url, "--cluster", key,
                          "--config", str(node), "--spool", str(tmp_path / "spool"),
                          "--linger", "0.1", "--quiet", "--backoff-initial", "0.2",
                          "--backoff-max", "0.5", "--crashloop-after", "1000", name="runner")
    # The page updates by itself: no reload between these checks.
    page.wait_for_function(
        "() => document.getElementById('readiness').textContent.trim() === 'ready 4/4'")
    for instance in ("Ticker.0", "Worker.0", "Worker.1"):
        page.wait_for_selector(f"#instances-body tr[data-instance='{instance}'] "
                               ".state:text-is('running')")
    # The flaky component exits with status 3 and is restarted: the table shows it.
    wait_until(lambda: instance_cell(page, "Flaky.0", "Restarts") not in ("0", ""),
               what="a restart of Flaky.0 on the page")
    wait_until(lambda: instance_cell(page, "Flaky.0", "Last exit") == "3",
               what="the last exit status of Flaky.0 on the page")
    assert page.text_content("#nodes-body [data-node=laptop] .state") == "live"
    addresses = page.text_content("#instances-body").count("tcp://127.0.0.1:47100")
    assert addresses == 3  # the ticker binds it, both workers connect to it
    shots.take(page, "cluster-ready")

    # A silent node turns lost, with its instances, and comes back: still no reload.
    runner.signal(signal.SIGSTOP)
    try:
        page.wait_for_selector("#nodes-body [data-node=laptop] .state:text-is('lost')")
        page.wait_for_selector("#instances-body tr[data-instance='Ticker.0'] "
                               ".state:text-is('lost')")
        shots.take(page, "cluster-node-lost")
    finally:
        runner.signal(signal.SIGCONT)
    page.wait_for_selector("#nodes-body [data-node=laptop] .state:text-is('live')")

    # The open dashboard caught up by itself too.
    row = f"#clusters tr[data-key='{key}']"
    overview.wait_for_selector(f"{row} .badge:text-is('ready 4/4')")
    overview.wait_for_selector(f"{row} .node:text-is('laptop (live)')")
    shots.take(overview, "dashboard")
    overview.close()

    page.click("#logs-link")
    page.wait_for_selector("#log .line")
    page.wait_for_function("() => document.getElementById('follow-state').textContent === "
                           "'following'")
    before = page.locator("#log .line").count()
    page.wait_for_function(
        f"() => document.querySelectorAll('#log .line').length > {before + 5}")
    stderr = page.eval_on_selector_all("#log .line.stderr .text",
                                       "ls => ls.map(l => l.textContent)")
    assert any(t.startswith("warn ") for t in stderr), stderr
    assert all(t.startswith(("warn ", "flaky gives up")) for t in stderr), stderr
    shots.take(page, "logs-live")

    # Scrolled up, the view stays put while lines keep arriving.
    page.eval_on_selector("#log", "el => { el.scrollTop = 0; }")
    page.wait_for_selector("#jump:not([hidden])")
    count = page.locator("#log .line").count()
    page.wait_for_function(
        f"() => document.querySelectorAll('#log .line').length > {count + 3}")
    assert page.eval_on_selector("#log", "el => el.scrollTop") == 0
    page.click("#jump")
    page.wait_for_function("() => { const l = document.getElementById('log');"
                           " return l.scrollHeight - l.scrollTop - l.clientHeight < 24; }")

    page.select_option("select[name=stream]", "stderr")
    page.click("#filters button[type=submit]")
    page.wait_for_url(re.compile(r"stream=stderr"))
    classes = page.eval_on_selector_all("#log .line", "ls => ls.map(l => l.className)")
    assert classes and set(classes) == {"line stderr"}
    page.select_option("select[name=stream]", "")
    page.select_option("select[name=service]", "Worker")
    page.fill("input[name=q]", "work 1")
    page.click("#filters button[type=submit]")
    page.wait_for_url(re.compile(r"service=Worker"))
    texts = page.eval_on_selector_all("#log .line .text", "ls => ls.map(l => l.textContent)")
    assert texts and all("work 1" in t for t in texts)
    sources = page.eval_on_selector_all("#log .line .src", "ls => ls.map(l => l.textContent)")
    assert set(sources) <= {"Worker.0", "Worker.1"}
    shots.take(page, "logs-filtered")

    # Untrusted lines are text: no element from them, no dialog.
    page.select_option("select[name=service]", "Ticker")
    page.fill("input[name=q]", "alert(1)")
    page.click("#filters button[type=submit]")
    page.wait_for_url(re.compile(r"service=Ticker"))
    texts = page.eval_on_selector_all("#log .line .text", "ls => ls.map(l => l.textContent)")
    assert texts == XSS_LINES
    assert page.locator("#log img, #log script").count() == 0

    page.goto(f"/clusters/{key}")
    page.click("#reset-link")
    shots.take(page, "confirm-reset")
    page.click("#confirm")
    page.wait_for_url(re.compile(rf"/clusters/{key}$"))
    assert page.text_content("#readiness").strip().startswith("waiting 0/4")

    page.click("#delete-link")
    page.click("#confirm")
    page.wait_for_url(registry.url + "/")
    assert key not in page.content()
    # The runner learns at its next heartbeat that the cluster is gone and stops.
    assert runner.wait(timeout=30) == 0
    assert dialogs == []


def test_log_lines_are_text_live_and_rendered(registry: Registry, browser, shots):
    registry.add_user("alice")
    with registry.api("alice") as api:
        key = api.post("/clusters", json={"config": "[Svc]\nScript = x\n",
                                          "alias": "xss"}).json()["key"]

        def send(texts: list[str], stream: str = "stdout") -> None:
            answer = api.post(f"/clusters/{key}/logs", json={"source": "t", "lines": [
                {"service": "Svc", "instance": "Svc.0", "stream": stream, "text": t}
                for t in texts]})
            assert answer.status_code == 200, answer.text

        send(XSS_LINES, "stderr")
        dialogs: list[str] = []
        page = new_page(browser, registry, dialogs)
        log_in(page, "alice")
        page.goto(f"/clusters/{key}/logs")
        page.wait_for_function("() => document.getElementById('follow-state').textContent === "
                               "'following'")
        send([t + " live" for t in XSS_LINES] + ['"><svg onload=alert(2)>'])
        page.wait_for_selector("#log .text:text-is('\"><svg onload=alert(2)>')")
    texts = page.eval_on_selector_all("#log .line .text", "ls => ls.map(l => l.textContent)")
    assert texts == [*XSS_LINES, *(t + " live" for t in XSS_LINES), '"><svg onload=alert(2)>']
    assert page.locator("#log img, #log script, #log svg").count() == 0
    page.wait_for_timeout(500)  # give an injected handler (there must be none) time to fire
    assert dialogs == []
    shots.take(page, "logs-xss-as-text")


def test_another_users_cluster_and_logs_are_404(registry: Registry, browser):
    registry.add_user("alice")
    registry.add_user("bob")
    with registry.api("alice") as api:
        key = api.post("/clusters", json={"config": "[Svc]\nScript = x\n"}).json()["key"]
    page = new_page(browser, registry, [])
    log_in(page, "bob")
    for path in (f"/clusters/{key}", f"/clusters/{key}/logs", f"/clusters/{key}/delete"):
        answer = page.goto(path)
        assert answer.status == 404, path
        assert key not in page.content()
    answer = page.request.get(f"/api/v1/clusters/{key}/logs")
    assert answer.status == 403


def test_form_without_csrf_token_is_refused(registry: Registry, browser, shots):
    registry.add_user("alice")
    with registry.api("alice") as api:
        key = api.post("/clusters", json={"config": "[Svc]\nScript = x\n"}).json()["key"]
        page = new_page(browser, registry, [])
        log_in(page, "alice")
        page.goto(f"/clusters/{key}/delete")
        page.eval_on_selector("main form input[name=csrf_token]", "el => el.remove()")
        page.click("#confirm")
        page.wait_for_selector("text=Form refused")
        shots.take(page, "csrf-refused")
        forged = page.request.post(f"/clusters/{key}/delete", form={"x": "1"})
        assert forged.status == 403
        wrong = page.request.post(f"/clusters/{key}/delete", form={"csrf_token": "0" * 64})
        assert wrong.status == 403
        assert api.get(f"/clusters/{key}").status_code == 200  # still there


def test_login_failure_and_administration(registry: Registry, browser, shots):
    registry.add_user("root", admin=True)
    page = new_page(browser, registry, [])
    page.goto("/")
    page.fill("input[name=name]", "root")
    page.fill("input[name=password]", "wrong")
    page.click("button[type=submit]")
    assert page.text_content("#login-error").strip() == "Wrong user name or password."
    shots.take(page, "login-failed")
    log_in(page, "root")
    page.click("text=Users")
    page.fill("#new-user input[name=name]", "carol")
    page.fill("#new-user input[name=password]", "carol's password")
    page.click("#new-user button[type=submit]")
    key = page.text_content("#shown-key").strip()
    assert key.startswith("pylm_")
    shots.take(page, "admin-users")
    page.click("tr[data-user=carol] button:text('Deactivate')")
    page.wait_for_selector("tr[data-user=carol] :text('inactive')")
    with registry.api("root") as api:
        api.headers["Authorization"] = f"Bearer {key}"
        assert api.get("/me").status_code == 403


def test_phone_width_pages(registry: Registry, browser, shots, tmp_path):
    registry.add_user("alice")
    with registry.api("alice") as api:
        key = api.post("/clusters", json={"config": tiny_cluster(tmp_path),
                                          "alias": "phone"}).json()["key"]
        api.post(f"/clusters/{key}/logs", json={"source": "t", "lines": [
            {"service": "Worker", "instance": f"Worker.{i % 2}",
             "stream": "stderr" if i % 4 == 0 else "stdout",
             "text": f"line {i}: " + "a fairly long line of output " * (i % 3)}
            for i in range(30)]}).raise_for_status()
    page = new_page(browser, registry, [], width=390, height=844)
    log_in(page, "alice")
    shots.take(page, "phone-dashboard")
    for path, name in ((f"/clusters/{key}", "phone-cluster"),
                       (f"/clusters/{key}/logs", "phone-logs")):
        page.goto(path)
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"{path} scrolls sideways on a phone ({width} px)"
        shots.take(page, name)


def test_paging_time_range_and_logout(registry: Registry, browser, shots):
    registry.add_user("alice")
    with registry.api("alice") as api:
        key = api.post("/clusters", json={"config": "[Svc]\nScript = x\n"}).json()["key"]
        api.post(f"/clusters/{key}/logs", json={"source": "t", "lines": [
            {"service": "Svc", "instance": "Svc.0", "seq": i,
             "time": f"2026-01-01T00:{i // 60:02d}:{i % 60:02d}+00:00", "text": f"line {i}"}
            for i in range(250)]}).raise_for_status()
    page = new_page(browser, registry, [])
    log_in(page, "alice")
    page.goto(f"/clusters/{key}/logs")

    def shown() -> list[str]:
        return page.eval_on_selector_all("#log .line .text", "ls => ls.map(l => l.textContent)")

    assert shown() == [f"line {i}" for i in range(150, 250)]
    page.click("#older")
    assert shown() == [f"line {i}" for i in range(50, 150)]
    assert page.locator("#follow").count() == 0  # history does not follow
    page.click("#older")
    assert shown() == [f"line {i}" for i in range(50)]
    page.click("#newer")
    assert shown() == [f"line {i}" for i in range(50, 150)]
    page.click("#newest")
    assert shown()[-1] == "line 249"

    page.fill("input[name=from]", "2026-01-01T00:01:00")
    page.fill("input[name=to]", "2026-01-01T00:01:10")
    page.click("#filters button[type=submit]")
    page.wait_for_url(re.compile(r"from="))
    assert shown() == [f"line {i}" for i in range(60, 70)]
    page.fill("input[name=from]", "last tuesday")
    page.click("#filters button[type=submit]")
    assert "is not an ISO 8601 time" in page.text_content("main")
    shots.take(page, "logs-bad-filter")

    page.click("#logout")
    page.wait_for_url(re.compile(r"/login$"))
    page.goto(f"/clusters/{key}/logs")
    assert "/login?next=" in page.url
