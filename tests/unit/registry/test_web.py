"""The web interface in process: log-in, CSRF, ownership, pages, cookie reads of the API."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from urllib.parse import quote

import pytest
from conftest import AppClient
from registry_samples import CLUSTER_INI

from pylm.registry.app import AppSettings, create_app
from pylm.registry.logs import LogRow
from pylm.registry.sessions import COOKIE

CSRF = re.compile(r'name="csrf_token" value="([0-9a-f]+)"')


@pytest.fixture
def web(store):
    app = create_app(store, AppSettings(max_body=2 * 1024 * 1024))
    store.add_user("root", "root-password", admin=True)
    store.add_user("alice", "alice-password")
    store.add_user("bob", "bob-password")
    clients: list[AppClient] = []

    def browser() -> AppClient:
        clients.append(AppClient(app))
        return clients[-1]

    try:
        yield browser
    finally:
        for client in clients:
            client.close()


def csrf(client: AppClient, path: str) -> str:
    page = client.get(path)
    assert page.status_code == 200, page.text
    return CSRF.search(page.text).group(1)


def login(client: AppClient, name: str, password: str, next_: str = "") -> object:
    token = csrf(client, "/login")
    return client.post("/login", data={"csrf_token": token, "name": name,
                                       "password": password, "next": next_})


def logged_in(web, name: str) -> AppClient:
    client = web()
    answer = login(client, name, f"{name}-password")
    assert answer.status_code == 303, answer.text
    return client


def create(client: AppClient, config: str = CLUSTER_INI, **fields: str):
    token = csrf(client, "/clusters/new")
    return client.post("/clusters/new", data={"csrf_token": token, "config": config, **fields})


def new_cluster(store, owner: str) -> str:
    return store.create_cluster(store.get_user(owner).id, CLUSTER_INI, alias="val").key


def test_pages_need_a_login_and_carry_a_strict_csp(web):
    client = web()
    answer = client.get("/")
    assert answer.status_code == 303 and answer.headers["location"] == "/login?next=%2F"
    page = client.get("/login")
    policy = page.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy
    cookie = page.headers["set-cookie"]
    assert cookie.startswith(COOKIE + "=") and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Secure" not in cookie  # plain HTTP here


def test_login_without_csrf_token_is_refused(web):
    client = web()
    client.get("/login")
    answer = client.post("/login", data={"name": "alice", "password": "alice-password"})
    assert answer.status_code == 403
    assert client.get("/").status_code == 303  # still logged out


def test_failed_login_does_not_say_which_half_was_wrong(web):
    wrong_password = login(web(), "alice", "nope")
    no_such_user = login(web(), "nobody", "alice-password")
    assert wrong_password.status_code == no_such_user.status_code == 401
    for answer in (wrong_password, no_such_user):
        assert "Wrong user name or password." in answer.text


def test_repeated_failures_slow_down_even_the_right_password(web):
    client = web()
    for _ in range(3):
        assert login(client, "alice", "bad").status_code == 401
    answer = login(client, "alice", "alice-password")
    assert answer.status_code == 429 and "Try again in" in answer.text
    assert login(web(), "bob", "bob-password").status_code == 303  # other users unaffected


def test_login_rotates_the_session_and_logout_revokes_it(web):
    client = web()
    client.get("/login")
    anonymous = client.client.cookies[COOKIE]
    assert login(client, "alice", "alice-password").status_code == 303
    session = client.client.cookies[COOKIE]
    assert session != anonymous
    assert client.get("/").status_code == 200
    token = csrf(client, "/")
    assert client.post("/logout", data={"csrf_token": token}).status_code == 303
    replay = web()
    replay.client.cookies.set(COOKIE, session)
    assert replay.get("/").status_code == 303


def test_login_goes_to_next_only_on_this_site(web):
    assert login(web(), "alice", "alice-password", "/account").headers["location"] == "/account"
    for evil in ("//evil.example/", "https://evil.example/", "/\\evil.example"):
        assert login(web(), "alice", "alice-password", evil).headers["location"] == "/"


def test_bad_configuration_is_shown_naming_section_and_key(web, store):
    client = logged_in(web, "alice")
    answer = create(client, "[M]\nScript = m\nConnected = X\n", alias="bad")
    assert answer.status_code == 400
    assert "section [M], key Connected" in answer.text and "unknown service" in answer.text
    assert "Connected = X" in answer.text  # the text stays in the form
    assert create(client, "  ").status_code == 400
    huge = create(client, "[M]\nScript = m\n#" + "x" * (1024 * 1024))
    assert huge.status_code == 400 and ("1 MiB" in huge.text or "1024KB" in huge.text)
    assert store.clusters_of(store.get_user("alice").id) == []


def test_created_cluster_shows_join_key_and_runner_command(web, store):
    client = logged_in(web, "alice")
    answer = create(client, alias="valuation")
    assert answer.status_code == 303
    (cluster,) = store.clusters_of(store.get_user("alice").id)
    assert answer.headers["location"] == f"/clusters/{cluster.key}?created=1"
    page = client.get(answer.headers["location"])
    assert (f"pylm-runner --registry http://registry.test --cluster {cluster.key}"
            in page.text)
    assert "Valuation Worker" in page.text and "waiting 0/3" in page.text
    dashboard = client.get("/")
    assert "valuation" in dashboard.text and cluster.key in dashboard.text


def test_configuration_from_an_uploaded_file(web, store):
    client = logged_in(web, "alice")
    token = csrf(client, "/clusters/new")
    answer = client.post("/clusters/new", data={"csrf_token": token, "config": ""},
                         files={"config_file": ("c.ini", CLUSTER_INI.encode(), "text/plain")})
    assert answer.status_code == 303
    (cluster,) = store.clusters_of(store.get_user("alice").id)
    assert cluster.description == CLUSTER_INI


def test_chosen_key_conflict_is_shown_next_to_the_key(web, store):
    client = logged_in(web, "alice")
    assert create(client, key="mine").status_code == 303
    answer = create(client, key="mine")
    assert answer.status_code == 400 and "already in use" in answer.text
    page = client.get("/clusters/mine")
    assert "--cluster mine --key YOUR_API_KEY" in page.text


def test_other_users_cluster_pages_are_404(web, store):
    key = new_cluster(store, "alice")
    bob = logged_in(web, "bob")
    for path in ("", "/logs", "/reset", "/delete"):
        assert bob.get(f"/clusters/{key}{path}").status_code == 404
    token = csrf(bob, "/")
    assert bob.post(f"/clusters/{key}/delete", data={"csrf_token": token}).status_code == 404
    assert store.get_cluster(key) is not None
    assert bob.get("/clusters/no-such-cluster").status_code == 404


def test_reset_and_delete_need_confirmation_and_token(web, store):
    key = new_cluster(store, "alice")
    alice = logged_in(web, "alice")
    confirm = alice.get(f"/clusters/{key}/delete")
    assert confirm.status_code == 200 and "removed for good" in confirm.text
    assert alice.post(f"/clusters/{key}/delete", data={}).status_code == 403
    assert store.get_cluster(key) is not None
    token = CSRF.search(confirm.text).group(1)
    store.join(key, __import__("pylm.registry.config", fromlist=["x"]).node_from_fields(
        {"name": "n", "ip": "127.0.0.1", "processors": 1, "ports_from": 5555}))
    assert alice.post(f"/clusters/{key}/reset", data={"csrf_token": token}).status_code == 303
    assert store.get_cluster(key).placement.instances == ()
    assert alice.post(f"/clusters/{key}/delete", data={"csrf_token": token}).status_code == 303
    assert store.get_cluster(key) is None


def test_cookie_reads_the_api_but_never_changes_it(web, store):
    key = new_cluster(store, "alice")
    alice = logged_in(web, "alice")
    status = alice.get(f"/api/v1/clusters/{key}/status")
    assert status.status_code == 200 and status.json()["key"] == key
    assert alice.post(f"/api/v1/clusters/{key}/reset").status_code == 401
    bob = logged_in(web, "bob")
    assert bob.get(f"/api/v1/clusters/{key}/status").status_code == 403
    assert web().get(f"/api/v1/clusters/{key}/status").status_code == 401


def test_log_lines_are_escaped_and_paged(web, store):
    key = new_cluster(store, "alice")
    cluster = store.get_cluster(key)
    start = datetime(2026, 1, 1)
    lines = [LogRow(start + timedelta(seconds=i), "", "Valuation Master", "Valuation Master.0",
                    "stderr" if i % 2 else "stdout", "", None, f"line {i}")
             for i in range(250)]
    lines.append(LogRow(start + timedelta(seconds=300), "", "Valuation Master",
                        "Valuation Master.0", "stdout", "", None, "<script>alert(1)</script>"))
    store.ingest(cluster.id, lines)
    alice = logged_in(web, "alice")
    page = alice.get(f"/clusters/{key}/logs")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    assert "<script>alert" not in page.text
    shown = re.findall(r'<span class="text">line (\d+)</span>', page.text)
    assert shown == [str(i) for i in range(151, 250)]
    older = re.search(r'id="older" href="\?([^"]+)"', page.text).group(1)
    page2 = alice.get(f"/clusters/{key}/logs?" + older.replace("&amp;", "&"))
    shown2 = re.findall(r'<span class="text">line (\d+)</span>', page2.text)
    assert shown2 == [str(i) for i in range(51, 151)]
    newer = re.search(r'id="newer" href="\?([^"]+)"', page2.text).group(1)
    page3 = alice.get(f"/clusters/{key}/logs?" + newer.replace("&amp;", "&"))
    assert re.findall(r'<span class="text">line (\d+)</span>', page3.text)[0] == "151"
    stderr = alice.get(f"/clusters/{key}/logs?stream=stderr&q=line+1")
    texts = re.findall(r'<div class="line (\w+)"[^>]*>.*?<span class="text">([^<]*)</span>',
                       stderr.text)
    assert texts and all(s == "stderr" and t.startswith("line 1") for s, t in texts)
    bad = alice.get(f"/clusters/{key}/logs?from=yesterday")
    assert bad.status_code == 400 and "from" in bad.text


def test_administration(web, store):
    alice = logged_in(web, "alice")
    assert alice.get("/admin/users").status_code == 404
    root = logged_in(web, "root")
    token = csrf(root, "/admin/users")
    created = root.post("/admin/users", data={"csrf_token": token, "name": "carol",
                                              "password": "carol-password"})
    key = re.search(r'id="shown-key">([^<]+)<', created.text).group(1)
    assert store.user_by_key(key).name == "carol"
    again = root.post("/admin/users", data={"csrf_token": token, "name": "carol",
                                            "password": "x"})
    assert again.status_code == 400 and "already exists" in again.text
    assert root.post("/admin/users/alice/deactivate", data={}).status_code == 403
    assert root.post("/admin/users/alice/deactivate",
                     data={"csrf_token": token}).status_code == 303
    assert alice.get("/").status_code == 303  # a deactivated user's session ends at once
    fresh = root.post(f"/admin/users/{quote('carol')}/key", data={"csrf_token": token})
    new_key = re.search(r'id="shown-key">([^<]+)<', fresh.text).group(1)
    assert store.user_by_key(key) is None and store.user_by_key(new_key).name == "carol"


def test_own_key_page_issues_a_key_once(web, store):
    bob = logged_in(web, "bob")
    page = bob.get("/account")
    assert page.status_code == 200 and 'id="new-key"' not in page.text
    token = CSRF.search(page.text).group(1)
    issued = bob.post("/account", data={"csrf_token": token})
    key = re.search(r'id="new-key">([^<]+)<', issued.text).group(1)
    assert store.user_by_key(key).name == "bob"
    assert 'id="new-key"' not in bob.get("/account").text


def test_static_assets_are_served(web):
    client = web()
    for name in ("app.css", "cluster.js", "dashboard.js", "logs.js"):
        assert client.get(f"/static/{name}").status_code == 200
    assert "innerHTML" not in client.get("/static/logs.js").text


def test_cookie_is_secure_over_https(store):
    import asyncio

    import httpx

    app = create_app(store)

    async def fetch() -> httpx.Response:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                     base_url="https://registry.test") as client:
            return await client.get("/login")

    answer = asyncio.run(fetch())
    assert answer.headers["set-cookie"].endswith("; Secure")
