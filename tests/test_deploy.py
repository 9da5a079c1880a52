"""deploy/ names what the code names: the queue KEDA scales on, the Deployment it scales,
the secret keys it reads, the path and auth Prometheus scrapes."""
from __future__ import annotations

import yaml

from shared.config import REPO_ROOT
from shared.queue import RENDER_CPU_QUEUE

DEPLOY = REPO_ROOT / "deploy"


def documents(path) -> dict[str, dict]:
    return {doc["kind"]: doc for doc in yaml.safe_load_all(path.read_text()) if doc}


def test_keda_scales_the_cpu_workers_on_their_queue():
    keda = documents(DEPLOY / "k8s" / "keda-cpu-worker.yaml")
    workers = documents(DEPLOY / "k8s" / "cpu-worker.yaml")["Deployment"]
    secret = documents(DEPLOY / "k8s" / "secret.example.yaml")["Secret"]
    scaled = keda["ScaledObject"]["spec"]
    assert scaled["scaleTargetRef"]["name"] == workers["metadata"]["name"]
    [trigger] = scaled["triggers"]
    assert trigger["type"] == "redis" and trigger["metadata"]["listName"] == RENDER_CPU_QUEUE
    command = workers["spec"]["template"]["spec"]["containers"][0]["command"]
    assert RENDER_CPU_QUEUE in command[command.index("-Q") + 1].split(",")
    auth = keda["TriggerAuthentication"]
    assert trigger["authenticationRef"]["name"] == auth["metadata"]["name"]
    for ref in auth["spec"]["secretTargetRef"]:
        assert ref["name"] == secret["metadata"]["name"] and ref["key"] in secret["stringData"]


def test_prometheus_scrapes_metrics_with_the_token():
    config = yaml.safe_load((DEPLOY / "prometheus.yml").read_text())
    secret = documents(DEPLOY / "k8s" / "secret.example.yaml")["Secret"]
    assert "CANOPY_METRICS_TOKEN" in secret["stringData"]
    for job in config["scrape_configs"]:
        assert job["metrics_path"] == "/metrics" and job["authorization"]["type"] == "Bearer"
