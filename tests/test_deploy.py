"""deploy/ names what the code names: the queue KEDA scales on, the Deployment it scales,
the secret keys it reads, the path and auth Prometheus scrapes."""
from __future__ import annotations

import yaml

from shared.config import REPO_ROOT
from shared.queue import HOOKS_QUEUE, RENDER_CPU_QUEUE

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


def test_webhooks_are_sent_by_a_worker_of_their_own_everywhere():
    """Every way of starting the farm has the webhook sender, and no render worker takes hooks."""
    compose = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())["services"]
    commands = [service["command"] for service in compose.values()
                if "celery" in service.get("command", [])]
    for name in ("cpu-worker", "gpu-worker", "hooks-worker"):
        spec = documents(DEPLOY / "k8s" / f"{name}.yaml")["Deployment"]["spec"]
        commands.append(spec["template"]["spec"]["containers"][0]["command"])
    procfile = (REPO_ROOT / "Procfile").read_text().splitlines()
    commands += [line.split(": ", 1)[1].split() for line in procfile
                 if line.startswith(("worker:", "hooks:"))]
    queues = [command[command.index("-Q") + 1].split(",") for command in commands]
    senders = [c for c, q in zip(commands, queues) if q == [HOOKS_QUEUE]]
    assert len(senders) == 3 and all(c[c.index("--pool") + 1] == "threads" for c in senders)
    assert all(HOOKS_QUEUE not in q for q in queues if q != [HOOKS_QUEUE])
    assert "hooks-worker.yaml" in (DEPLOY / "k8s" / "kustomization.yaml").read_text()
    assert " hooks" in (REPO_ROOT / "Makefile").read_text().split("\nrun:")[1].split("\n")[1]
