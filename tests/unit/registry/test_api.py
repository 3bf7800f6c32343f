"""The JSON API under /api/v1 (docs/runner-protocol.md)."""

from registry_samples import CLUSTER_INI, AppClient

NODE = {"name": "node-a", "ip": "127.0.0.1", "processors": 1, "ports_from": 5555}


def create(reg, key=None, **body):
    r = reg.client.post("/api/v1/clusters", json={"config": CLUSTER_INI, **body},
                        headers=reg.bearer(key or reg.alice_key))
    assert r.status_code == 201, r.text
    return r.json()["key"]


def test_create_list_get_cluster(registry):
    key = create(registry, alias="valuation")
    listing = registry.client.get("/api/v1/clusters", headers=registry.bearer(registry.alice_key))
    assert [c["key"] for c in listing.json()["clusters"]] == [key]
    one = registry.client.get(f"/api/v1/clusters/{key}",
                              headers=registry.bearer(registry.alice_key)).json()
    assert one["alias"] == "valuation" and one["key_generated"] and not one["ready"]
    assert registry.client.get("/api/v1/clusters",
                               headers=registry.bearer(registry.bob_key)).json() == {"clusters": []}


def test_bad_configuration_is_400_naming_section_and_key(registry):
    r = registry.client.post("/api/v1/clusters", json={"config": "[M]\nScript = m\nConnected = X"},
                             headers=registry.bearer(registry.alice_key))
    assert r.status_code == 400
    assert "[M]" in r.json()["error"] and "Connected" in r.json()["error"]


def test_join_with_cluster_key_is_idempotent(registry):
    key = create(registry)
    r = registry.client.post(f"/api/v1/clusters/{key}/join", json=NODE,
                             headers=registry.bearer(key))
    body = r.json()
    assert r.status_code == 200 and body["node"] == "node-a" and body["heartbeat_interval"] == 5.0
    (inst,) = body["instances"]
    assert inst["instance"] == "Valuation Master.0" and inst["restart"] == "always"
    assert inst["command"].endswith("--db tcp://127.0.0.1:5559")
    again = registry.client.post(f"/api/v1/clusters/{key}/join", json=NODE,
                                 headers=registry.bearer(key))
    assert again.json() == body


def test_join_with_bad_node_is_400_naming_the_key(registry):
    key = create(registry)
    r = registry.client.post(f"/api/v1/clusters/{key}/join", json={**NODE, "processors": 0},
                             headers=registry.bearer(key))
    assert r.status_code == 400 and "Processors" in r.json()["error"]


def test_heartbeat_events_and_status(registry):
    key = create(registry)
    registry.client.post(f"/api/v1/clusters/{key}/join", json={**NODE, "processors": 3},
                         headers=registry.bearer(key))
    r = registry.client.post(
        f"/api/v1/clusters/{key}/nodes/node-a/heartbeat", headers=registry.bearer(key),
        json={"instances": [{"instance": "Valuation Master.0", "state": "running", "pid": 42,
                             "restarts": 1, "last_exit": None,
                             "started_at": "2026-12-04T15:00:00.000000+00:00"}]})
    assert r.json() == {"ok": True}
    r = registry.client.post(f"/api/v1/clusters/{key}/events", headers=registry.bearer(key),
                             json={"events": [
                                 {"node": "node-a", "instance": "Valuation Worker.0",
                                  "kind": "exit", "time": "2026-12-04T15:00:01+00:00",
                                  "pid": 7, "status": 3, "signal": None, "detail": ""},
                                 {"node": "node-a", "instance": "Valuation Worker.1",
                                  "kind": "error", "time": "2026-12-04T15:00:01+00:00",
                                  "detail": "no such command"}]})
    assert r.json() == {"accepted": 2}
    status = registry.client.get(f"/api/v1/clusters/{key}/status",
                                 headers=registry.bearer(registry.alice_key)).json()
    assert status["ready"] is True
    assert status["services"]["Valuation Worker"] == {"placed": 2, "needed": 2, "role": "Worker"}
    by_name = {i["instance"]: i for i in status["instances"]}
    assert by_name["Valuation Master.0"]["state"] == "running"
    assert by_name["Valuation Master.0"]["pid"] == 42
    assert by_name["Valuation Worker.0"]["state"] == "exited"
    assert by_name["Valuation Worker.0"]["last_exit"] == 3
    assert by_name["Valuation Worker.1"]["state"] == "failed"
    assert status["nodes"][0]["state"] == "live"
    assert status["sockets"]["_1"] == "tcp://127.0.0.1:5555"
    logs = registry.client.get(f"/api/v1/clusters/{key}/logs", params={"stream": "event"},
                               headers=registry.bearer(registry.alice_key)).json()["lines"]
    assert any("no such command" in line["text"] for line in logs)


def test_heartbeat_for_deleted_cluster_is_404(registry):
    key = create(registry)
    registry.client.request("DELETE", f"/api/v1/clusters/{key}",
                            headers=registry.bearer(registry.alice_key))
    r = registry.client.post(f"/api/v1/clusters/{key}/nodes/node-a/heartbeat",
                             headers=registry.bearer(key), json={"instances": []})
    assert r.status_code == 404


def _batch(seqs, source="spool-1"):
    return {"source": source, "lines": [
        {"node": "node-a", "service": "Valuation Master", "instance": "Valuation Master.0",
         "stream": "stdout", "time": f"2026-12-04T15:00:{s % 60:02d}.000000+00:00", "seq": s,
         "text": f"line {s}"} for s in seqs]}


def test_log_batch_sent_twice_is_stored_once(registry):
    key = create(registry)
    url = f"/api/v1/clusters/{key}/logs"
    assert registry.client.post(url, json=_batch(range(10)),
                                headers=registry.bearer(key)).json() == {
        "accepted": 10, "duplicates": 0}
    assert registry.client.post(url, json=_batch(range(5, 15)),
                                headers=registry.bearer(key)).json() == {
        "accepted": 5, "duplicates": 5}
    lines = registry.client.get(url, params={"limit": 1000},
                                headers=registry.bearer(registry.alice_key)).json()["lines"]
    assert sorted(line["seq"] for line in lines) == list(range(15))


def test_log_pagination_with_cursor_covers_everything_once(registry):
    key = create(registry)
    url = f"/api/v1/clusters/{key}/logs"
    registry.client.post(url, json=_batch(range(25)), headers=registry.bearer(key))
    seen, cursor = [], None
    for _ in range(10):
        params = {"limit": 10, "order": "asc"}
        if cursor:
            params["cursor"] = cursor
        page = registry.client.get(url, params=params,
                                   headers=registry.bearer(registry.alice_key)).json()
        seen += [line["seq"] for line in page["lines"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == list(range(25))
    newest = registry.client.get(url, params={"limit": 3},
                                 headers=registry.bearer(registry.alice_key)).json()
    assert [line["seq"] for line in newest["lines"]] == [24, 23, 22]


def test_log_query_filters(registry):
    key = create(registry)
    url = f"/api/v1/clusters/{key}/logs"
    registry.client.post(url, json=_batch(range(10)), headers=registry.bearer(key))
    get = lambda **p: registry.client.get(  # noqa: E731
        url, params=p, headers=registry.bearer(registry.alice_key)).json()["lines"]
    assert [x["seq"] for x in get(q="line 7")] == [7]
    assert len(get(service="Valuation Master")) == 10
    assert get(service="Other") == []
    assert [x["seq"] for x in get(**{"from": "2026-12-04T15:00:08Z"})] == [9, 8]
    assert [x["seq"] for x in get(to="2026-12-04T15:00:02+00:00", order="asc")] == [0, 1]


def test_bad_log_query_is_400(registry):
    key = create(registry)
    url = f"/api/v1/clusters/{key}/logs"
    h = registry.bearer(registry.alice_key)
    for params, word in (({"from": "noon"}, "from"), ({"limit": "0"}, "limit"),
                         ({"order": "up"}, "order"), ({"cursor": "abc"}, "cursor")):
        r = registry.client.get(url, params=params, headers=h)
        assert r.status_code == 400 and r.json()["error"].startswith(word)


def test_bad_log_batch_is_400_and_stores_nothing(registry):
    key = create(registry)
    url = f"/api/v1/clusters/{key}/logs"
    bad = _batch(range(3))
    bad["lines"][2]["stream"] = "stdweird"
    r = registry.client.post(url, json=bad, headers=registry.bearer(key))
    assert r.status_code == 400 and "lines[2].stream" in r.json()["error"]
    r = registry.client.post(url, content=b"{not json", headers=registry.bearer(key))
    assert r.status_code == 400
    lines = registry.client.get(url, headers=registry.bearer(registry.alice_key)).json()["lines"]
    assert lines == []


def test_retention_patch_prunes(registry):
    key = create(registry)
    url = f"/api/v1/clusters/{key}/logs"
    registry.client.post(url, json=_batch(range(30)), headers=registry.bearer(key))
    r = registry.client.request("PATCH", f"/api/v1/clusters/{key}", json={"retention": 5},
                                headers=registry.bearer(registry.alice_key))
    assert r.status_code == 200
    lines = registry.client.get(url, headers=registry.bearer(registry.alice_key)).json()["lines"]
    assert [x["seq"] for x in lines] == [29, 28, 27, 26, 25]


def test_reset_forgets_placement(registry):
    key = create(registry)
    registry.client.post(f"/api/v1/clusters/{key}/join", json=NODE, headers=registry.bearer(key))
    r = registry.client.post(f"/api/v1/clusters/{key}/reset",
                             headers=registry.bearer(registry.alice_key))
    assert r.status_code == 200
    placement = registry.client.get(f"/api/v1/clusters/{key}/placement",
                                    headers=registry.bearer(registry.alice_key)).json()
    assert placement["instances"] == [] and placement["sockets"] == {}


def test_admin_manages_users(registry):
    h = registry.bearer(registry.admin_key)
    r = registry.client.post("/api/v1/users", json={"name": "carol", "password": "pw"}, headers=h)
    assert r.status_code == 201
    carol_key = r.json()["api_key"]
    assert registry.client.get("/api/v1/me", headers=registry.bearer(carol_key)).json()[
        "name"] == "carol"
    names = [u["name"] for u in registry.client.get("/api/v1/users", headers=h).json()["users"]]
    assert names == ["root", "alice", "bob", "carol"]
    new = registry.client.post("/api/v1/users/carol/keys", headers=h).json()["api_key"]
    assert registry.client.get("/api/v1/me", headers=registry.bearer(carol_key)).status_code == 403
    assert registry.client.get("/api/v1/me", headers=registry.bearer(new)).status_code == 200
    registry.client.post("/api/v1/users/carol/deactivate", headers=h)
    assert registry.client.get("/api/v1/me", headers=registry.bearer(new)).status_code == 403
    dup = registry.client.post("/api/v1/users", json={"name": "alice", "password": "x"}, headers=h)
    assert dup.status_code == 409


def test_openapi_schema_lists_the_runner_endpoints(registry):
    schema = registry.client.get("/api/v1/openapi.json").json()
    assert schema["openapi"].startswith("3.")
    assert "/api/v1/clusters/{cluster}/join" in schema["paths"]
    assert "get" in schema["paths"]["/api/v1/clusters/{cluster}/logs"]


def test_metrics_count_requests_and_lines(registry):
    key = create(registry)
    registry.client.post(f"/api/v1/clusters/{key}/logs", json=_batch(range(4)),
                         headers=registry.bearer(key))
    text = registry.client.get("/metrics").text
    assert "pylm_registry_log_lines_ingested_total 4" in text
    assert "pylm_registry_clusters 1" in text
    assert ('pylm_registry_requests_total{method="POST",route="/api/v1/clusters",'
            'status="201"} 1') in text
    assert key not in text


def test_silent_node_and_its_instances_show_as_lost(store):
    from pylm.registry.app import AppSettings, create_app

    _, key = store.add_user("carol", "pw")
    client = AppClient(create_app(store, AppSettings(heartbeat_interval=0.05,
                                                     lost_after=0.0)))
    try:
        h = {"Authorization": f"Bearer {key}"}
        cluster = client.post("/api/v1/clusters", json={"config": CLUSTER_INI},
                              headers=h).json()["key"]
        client.post(f"/api/v1/clusters/{cluster}/join", json=NODE, headers=h)
        status = client.get(f"/api/v1/clusters/{cluster}/status", headers=h).json()
        assert status["nodes"][0]["state"] == "lost"
        assert status["instances"][0]["state"] == "lost"
    finally:
        client.close()
    live = create_app(store, AppSettings(lost_after=3600.0))
    client = AppClient(live)
    try:
        status = client.get(f"/api/v1/clusters/{cluster}/status", headers=h).json()
        assert status["nodes"][0]["state"] == "live"
        assert status["instances"][0]["state"] == "placed"
    finally:
        client.close()


def test_restart_events_count_and_the_latest_event_wins(registry):
    key = create(registry)
    registry.client.post(f"/api/v1/clusters/{key}/join", json=NODE, headers=registry.bearer(key))
    ev = lambda kind, **kw: {"node": "node-a", "instance": "Valuation Master.0",  # noqa: E731
                             "kind": kind, "time": "2026-12-04T15:00:00Z", **kw}
    r = registry.client.post(f"/api/v1/clusters/{key}/events", headers=registry.bearer(key),
                             json={"events": [ev("start", pid=10), ev("exit", status=1),
                                              ev("restart"), ev("start", pid=11),
                                              ev("exit", status=1), ev("restart"),
                                              ev("start", pid=12)]})
    assert r.json() == {"accepted": 7}
    status = registry.client.get(f"/api/v1/clusters/{key}/status",
                                 headers=registry.bearer(registry.alice_key)).json()
    (inst,) = status["instances"]
    assert (inst["state"], inst["pid"], inst["restarts"], inst["last_exit"]) == (
        "running", 12, 2, 1)
    bad = registry.client.post(f"/api/v1/clusters/{key}/events", headers=registry.bearer(key),
                               json={"events": [ev("start"), ev("explode")]})
    assert bad.status_code == 400 and "events[1].kind" in bad.json()["error"]
