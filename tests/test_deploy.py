"""deploy/ names what the code names: the queue KEDA scales on, the Deployment it scales,
the secret keys it reads, the path and auth Prometheus scrapes."""
from __future__ import annotations

import importlib.util
import re

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


# --- deploy/ against the code and the image (deploy/check/manifests.py reads deploy/) ---

def test_every_command_runs_a_program_the_image_has():
    """Programs: python, sh, or a console script of a requirements.txt package; `python -m`
    modules, the Celery app and the WSGI app: under a folder the Dockerfile copies.
    (make deploy-check also runs each program inside the built image.)"""
    from importlib.metadata import distribution

    from deploy.check.manifests import compose_processes, k8s_processes, programs

    copied = set(re.findall(r"^COPY (\w+) \./\1$", (DEPLOY / "Dockerfile").read_text(), re.M))
    assert {"api", "worker", "shared", "migrations"} <= copied
    scripts = {"python", "sh"}
    for line in (REPO_ROOT / "requirements.txt").read_text().splitlines():
        if line.split("#")[0].strip():
            name = re.split(r"[\[=<>]", line)[0]
            scripts |= {ep.name for ep in distribution(name).entry_points
                        if ep.group == "console_scripts"}
    for program in programs():
        if program.startswith("python -m "):
            module = program.split()[-1]
            assert module.split(".")[0] in copied and importlib.util.find_spec(module), program
        else:
            assert program in scripts, program
    for process in compose_processes() + k8s_processes():
        app = process.command[-1] if process.command[0] == "gunicorn" else process.option("-A")
        if app:
            assert app.split(".")[0].split(":")[0] in copied, (process.where, app)
            assert importlib.util.find_spec(app.split(":")[0]), (process.where, app)


def test_every_canopy_variable_is_a_setting():
    from deploy.check.manifests import canopy_variables, settings_read

    read = settings_read()
    assert {"CANOPY_DATABASE_URL", "CANOPY_STORAGE_URL", "CANOPY_METRICS_TOKEN"} <= read
    unknown = {where: names - read for where, names in canopy_variables().items() if names - read}
    assert not unknown, f"set in deploy/ but read by no setting: {unknown}"


def test_every_healthcheck_hits_a_real_endpoint(app):
    """HTTP probes: a GET route of the app, on the port the API binds. Celery pings: the node
    name the worker's own -n gives it."""
    from deploy.check.manifests import compose_processes, k8s_processes

    routes = {rule.rule for rule in app.url_map.iter_rules() if "GET" in rule.methods}
    checked = 0
    for process in compose_processes() + k8s_processes():
        bind = process.option("--bind")
        probes = [*process.http_probes]
        for argv in process.probes:
            probes += [(path, int(port)) for port, path in
                       re.findall(r"http://127\.0\.0\.1:(\d+)(/[\w/]*)", " ".join(argv))]
            pinged = re.search(r"inspect ping -d (\w+)@\$\$?(\w+)", " ".join(argv))
            if pinged:
                node, host = pinged.groups()
                own = {"HOSTNAME": f"{node}@%h", "POD_NAME": f"{node}@$(POD_NAME)"}[host]
                assert process.option("-n") == own, (process.where, argv)
                checked += 1
        for path, port in probes:
            assert path in routes, (process.where, path)
            port = process.ports.get(port, port)
            assert bind and bind.endswith(f":{port}"), (process.where, bind, port)
            checked += 1
    assert checked >= 8


def test_the_workers_consume_every_queue_the_api_sends_to():
    """Compose and Kubernetes each run workers for every queue (the GPU's under its profile
    / Deployment): nothing sent waits for a consumer that is never started."""
    from deploy.check.manifests import compose_processes, k8s_processes
    from shared.queue import QUEUES

    for processes in (compose_processes(), k8s_processes()):
        consumed = set().union(*(p.queues() for p in processes))
        assert consumed == set(QUEUES), consumed


def test_the_dashboard_and_keda_query_metrics_that_metrics_serves(client):
    """The Grafana dashboard's series (and a KEDA prometheus trigger's, if one is added) are
    all in what GET /metrics answers."""
    from deploy.check.manifests import dashboard_metrics, served_metrics

    response = client.get("/metrics")
    assert response.status_code == 200
    served = served_metrics(response.get_data(as_text=True))
    wanted = dashboard_metrics()
    for trigger in documents(DEPLOY / "k8s" / "keda-cpu-worker.yaml")["ScaledObject"]["spec"]["triggers"]:
        if trigger["type"] == "prometheus":
            wanted |= set(re.findall(r"\b(canopy_[a-z0-9_]+)", trigger["metadata"]["query"]))
    assert len(wanted) >= 10 and not wanted - served, wanted - served
