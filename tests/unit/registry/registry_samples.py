"""Sample configuration texts shared by the registry unit tests."""

CLUSTER_INI = """
[Valuation Master]
Script = python3 valuation_master.py
--pull = _1
--pub = _2
--workerpull = _3
--workerpush = _4
--db = _5

[Valuation Worker]
Script = python3 valuation_worker.py
--db = _5
Connected = Valuation Master
Role = Worker
Replicas = 2
"""


def node_ini(name: str, ip: str = "127.0.0.1", processors: int = 1, ports_from: int = 5555) -> str:
    return (f"[DEFAULT]\nName = {name}\nIp = {ip}\nProcessors = {processors}\n"
            f"Ports_from = {ports_from}\n")
