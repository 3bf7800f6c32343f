"""The pylm-registry 0.4 endpoints answer as the original did (spec §5)."""

import json

from registry_samples import CLUSTER_INI, node_ini

from pylm.registry.legacy import LogMessages


def new_cluster(reg, user_key=None, **params):
    args = {"method": "new_cluster", "description": CLUSTER_INI, **params}
    return reg.client.get("/cluster", params=args, headers={"Key": user_key or reg.alice_key})


def call(reg, method, key, **params):
    headers = {"Key": key} if key else {}
    return reg.client.get("/cluster", params={"method": method, **params}, headers=headers)


def test_new_cluster_answers_a_generated_uuid_key(registry):
    r = new_cluster(registry)
    assert r.status_code == 200
    assert len(r.text) == 36 and r.text.count("-") == 4


def test_new_cluster_with_chosen_key_and_alias(registry):
    r = new_cluster(registry, alias="prod")
    assert r.status_code == 200
    r = new_cluster(registry, key="my-cluster")
    assert r.text == "my-cluster"
    listing = call(registry, "clusters_list", registry.alice_key).json()
    assert set(listing) >= {"my-cluster"}
    assert listing["my-cluster"]["description"] == CLUSTER_INI.strip()
    assert listing["my-cluster"]["status"] == ""


def test_invalid_configuration_is_refused_with_section_and_key(registry):
    r = registry.client.get("/cluster", params={"method": "new_cluster",
                                                "description": "[W]\nScript = w\nReplicas = 0"},
                            headers={"Key": registry.alice_key})
    assert r.status_code == 400
    assert "[W]" in r.text and "Replicas" in r.text and "Traceback" not in r.text


def test_node_config_worked_facts_and_status_format(registry):
    key = new_cluster(registry).text
    r = call(registry, "node_config", None, cluster=key, node=node_ini("A", processors=1))
    assert r.status_code == 200
    assert r.json() == [
        "python3 valuation_master.py --pull tcp://127.0.0.1:5555 --pub tcp://127.0.0.1:5556 "
        "--workerpull tcp://127.0.0.1:5557 --workerpush tcp://127.0.0.1:5558 "
        "--db tcp://127.0.0.1:5559"]
    r = call(registry, "node_config", registry.alice_key, cluster=key,
             node=node_ini("B", ip="127.0.0.2", processors=2))
    assert r.json() == ["python3 valuation_worker.py --db tcp://127.0.0.1:5559"] * 2
    r = call(registry, "node_config", None, cluster=key, node=node_ini("C", processors=2))
    assert r.text == "[]"
    status = call(registry, "cluster_status", registry.alice_key, cluster=key)
    data = json.loads(status.text)
    assert list(data) == ["socket mapping", "configured resources", "highest port used",
                          "ready"]
    assert data["ready"] is True
    assert data["socket mapping"]["_5"] == "tcp://127.0.0.1:5559"
    assert data["highest port used"] == {"127.0.0.1": 5559}
    assert data["configured resources"]["Valuation Worker 2"] == {
        "commands": ["python3 valuation_worker.py", "--db tcp://127.0.0.1:5559"],
        "node": "127.0.0.2", "ready": True}
    assert status.text.startswith('{"socket mapping": {"_1": ')


def test_status_of_unplaced_cluster_is_empty(registry):
    key = new_cluster(registry).text
    r = call(registry, "cluster_status", registry.alice_key, cluster=key)
    assert r.status_code == 200 and r.text == ""


def test_reset_and_delete_answer_the_key(registry):
    key = new_cluster(registry).text
    call(registry, "node_config", None, cluster=key, node=node_ini("A", processors=3))
    assert call(registry, "cluster_reset", registry.alice_key, cluster=key).text == key
    assert call(registry, "cluster_status", registry.alice_key, cluster=key).text == ""
    again = call(registry, "node_config", None, cluster=key, node=node_ini("A", processors=3))
    assert len(again.json()) == 3
    assert call(registry, "cluster_delete", registry.alice_key, cluster=key).text == key
    assert call(registry, "clusters_list", registry.alice_key).json() == {}


def test_bad_method(registry):
    r = call(registry, "explode", registry.alice_key)
    assert r.status_code == 400 and r.text == "Bad method or method not present"


def test_logs_post_protobuf_and_read_back_with_original_time_format(registry):
    key = new_cluster(registry).text
    batch = LogMessages()
    batch.messages.extend(["first", "second ü"])
    r = registry.client.post("/logs", params={"cluster": key},
                             content=batch.SerializeToString())
    assert r.status_code == 200 and r.text == ""
    r = registry.client.get("/logs", params={"cluster": key}, headers={"Key": registry.alice_key})
    lines = r.json()
    assert [x["text"] for x in lines] == ["first", "second ü"]
    when = lines[0]["when"]
    assert len(when) == 26 and when[10] == "T" and when[19] == "."
    r = registry.client.get("/logs", params={"cluster": key, "fr": when},
                            headers={"Key": registry.alice_key})
    assert [x["text"] for x in r.json()] == ([] if lines[1]["when"] == when else ["second ü"])
    r = registry.client.get("/logs", params={"cluster": key, "to": "1999-01-01T00:00:00.000000"},
                            headers={"Key": registry.alice_key})
    assert r.json() == []


def test_malformed_protobuf_and_dates_are_400(registry):
    key = new_cluster(registry).text
    r = registry.client.post("/logs", params={"cluster": key}, content=b"\x0a\xff\xff\xff")
    assert r.status_code == 400 and "LogMessages" in r.text
    r = registry.client.get("/logs", params={"cluster": key, "fr": "yesterday"},
                            headers={"Key": registry.alice_key})
    assert r.status_code == 400 and r.text.startswith("fr:")
    r = call(registry, "node_config", None, cluster=key, node="[DEFAULT]\nName = x\n")
    assert r.status_code == 400 and "Ip" in r.text


def test_original_default_node_name_places_anew_each_time(registry):
    """Regression: every original runner without a node file is called "My Worker"."""
    key = new_cluster(registry).text
    default = node_ini("My Worker", processors=1)
    first = call(registry, "node_config", None, cluster=key, node=default).json()
    second = call(registry, "node_config", None, cluster=key, node=default).json()
    third = call(registry, "node_config", None, cluster=key, node=default).json()
    fourth = call(registry, "node_config", None, cluster=key, node=default).json()
    assert first[0].startswith("python3 valuation_master.py")
    assert second == third == ["python3 valuation_worker.py --db tcp://127.0.0.1:5559"]
    assert fourth == []
