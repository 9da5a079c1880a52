"""The deploy check's farms, from containers of one image only (make deploy-check runs this):

1. S3, as in production: the migration, the API and two CPU worker containers against
   PostgreSQL, Redis and moto's S3 server on loopback. An edit is rendered in pieces through the
   published `videojungle` client; both worker containers must render pieces; the file is
   downloaded and decoded frame by frame. Then the faults: a worker container killed while it
   renders a piece (the render still ends `uploaded`, with one output), and the API container
   restarted mid-render (its status answers again, nothing is lost).
2. deploy/README.md's one-machine path: one local volume for objects, shared by the API and
   one worker container, and a render there too.

    python -m deploy.check.farm IMAGE
"""
from __future__ import annotations

import signal
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

import requests
import yaml
from sqlalchemy import select

from deploy.check import kube, manifests
from deploy.check.podman import (Podman, log, postgres_database, redis_server, s3_server,
                                 write_env)
from shared.config import Settings
from shared.db import Database
from shared.models import Asset, RenderJob, RenderPiece
from shared.storage import open_storage
from tests.fixtures.livesrv import ApiCaller, free_port, wait_for
from tests.fixtures.mediakit import make_audio, make_counting_video, read_index
from tests.fixtures.measure import largest_click, read_audio

FPS = 30
# deploy/README.md's worker command; the S3 farm runs one render at a time in each of its two
# containers, so that both must take pieces.
WORKER = ["celery", "-A", "worker", "worker", "-Q", "media,render.cpu", "--concurrency", "2",
          "--loglevel", "INFO", "-n", "cpu@%h"]
FINISHED = ("uploaded", "failed", "canceled")


class Farm:
    """One farm's API, its user and what it rendered."""

    def __init__(self, pod: Podman, env_file: Path, port: int, volumes=None):
        self.pod, self.env_file, self.volumes = pod, env_file, volumes or {}
        self.url = f"http://127.0.0.1:{port}"
        self.port = port

    def start_api(self) -> str:
        return self.pod.start("api" + self.suffix, self.env_file, env={"PORT": str(self.port)},
                              volumes=self.volumes)

    @property
    def suffix(self) -> str:
        return "-local" if self.volumes else ""

    def start_worker(self, n: int, concurrency: int = 2) -> str:
        command = [*WORKER]
        command[command.index("--concurrency") + 1] = str(concurrency)
        return self.pod.start(f"worker{n}{self.suffix}", self.env_file, *command, volumes=self.volumes)

    def create_user(self) -> None:
        out = self.pod.once(self.env_file, "python", "-m", "shared.cli", "create-user",
                            "check@example.com")
        self.key = out.strip().splitlines()[-1]
        self.api = ApiCaller(self.url, self.key)
        from videojungle import ApiClient

        ApiClient.BASE_URL = self.url  # the published client, pointed at this farm
        self.vj = ApiClient(self.key)
        self.project = self.vj.projects.create("deploy check", "containers only").id

    def upload(self, path: Path) -> str:
        video = self.vj.video_files.create(path.stem, str(path))
        def analyzed():
            self.pod.guard()
            return self.vj.video_files.get(video.id).current_status == "analyzed"

        wait_for(analyzed, 180, f"probe of {path.name}", interval=0.2)
        return video.id

    def submit(self, edit: dict) -> str:
        return self.vj.projects.render_edit(self.project, edit)["asset_id"]

    def status(self, asset_id: str) -> dict | None:
        try:
            response = self.api("GET", f"/assets/{asset_id}/status")
        except requests.RequestException:
            return None
        return response.json() if response.status_code == 200 else None

    def finished(self, asset_id: str, timeout: float = 480) -> dict:
        def done():
            self.pod.guard()
            status = self.status(asset_id)
            return status if status and status["status"] in FINISHED else None

        status = wait_for(done, timeout, f"the render of {asset_id}", interval=0.2)
        assert status["status"] == "uploaded", status
        return status

    def download(self, asset_id: str, folder: Path) -> Path:
        out = folder / f"{asset_id}.mp4"
        response = requests.get(self.vj.assets.get(asset_id).download_url, timeout=120)
        assert response.status_code == 200, response.status_code
        out.write_bytes(response.content)
        return out


def edit(video: str, sine: str | None, clips, resolution: str, chunk_seconds: float) -> dict:
    body = {
        "video_edit_version": "1.0", "video_output_format": "mp4",
        "video_output_resolution": resolution, "video_output_fps": FPS,
        "video_output_filename": "check.mp4",
        "video_series_sequential": [
            {"video_id": video, "type": "videofile", "video_start_time": start,
             "video_end_time": end} for start, end in clips],
        "render_options": {"chunk_seconds": chunk_seconds},
    }
    if sine:
        body["audio_overlay"] = [{"audio_id": sine, "type": "music"}]
    return body


def check_frames(path: Path, clips) -> None:
    """Every output frame shows the source frame the clips say, none missing or doubled."""
    import av

    expected = [k for start, end in clips for k in range(start * FPS, end * FPS)]
    with av.open(str(path)) as container:
        shown = [read_index(frame) for frame in container.decode(container.streams.video[0])]
    wrong = [(k, i, e) for k, (i, e) in enumerate(zip(shown, expected)) if i != e]
    assert len(shown) == len(expected) and not wrong, (len(shown), len(expected), wrong[:5])


def check_sound(path: Path, seconds: int) -> None:
    samples, rate, count = read_audio(path)
    assert (rate, count) == (48000, seconds * 48000), (rate, count)
    assert largest_click(samples) < 0.02  # one unbroken sine across every seam


def piece_hosts(db: Database, asset_id: str) -> dict[int, tuple[str, int]]:
    """Piece index -> (the container that rendered it last, its attempt)."""
    with db.session() as session:
        job = select(RenderJob.id).where(RenderJob.asset_id == asset_id).scalar_subquery()
        rows = session.execute(select(RenderPiece).where(RenderPiece.job_id == job)).scalars()
        return {r.index: (host_of(r.worker_id), r.attempt) for r in rows if r.worker_id}


def host_of(worker_id: str) -> str:
    """The container a worker id names: `HOST:PID` or `NODE@HOST:PID`."""
    return worker_id.rsplit(":", 1)[0].rsplit("@", 1)[-1]


def stored_outputs(db: Database, storage_url: str, asset_id: str) -> list[str]:
    """Every object under the asset's folder of the store (pieces are deleted after the join)."""
    with db.session() as session:
        asset = session.get(Asset, asset_id)
        prefix = f"{asset.owner_id}/{asset.project_id}/{asset_id}/"
    store = open_storage(Settings(storage_url=storage_url))
    return sorted(o.key[len(prefix):] for o in store.list_objects(prefix))


class S3Farm:
    """Scenario 1: the migration, the API and two workers on S3; a render; the two faults."""

    CLIPS = [(0, 5), (7, 14)]  # 12 s, two clips: pieces of about 2 s
    LONG = [(0, 16)]           # 16 s at 720p: 8 pieces, long enough to interrupt
    # The API restart's render: another size, so that none of its pieces is one stored before.
    RESTART_SIZE = "1024x576"

    def __init__(self, pod: Podman, env: dict[str, str], folder: Path, media):
        self.pod, self.folder, self.media = pod, folder, media
        self.env = env
        self.db = Database(env["CANOPY_DATABASE_URL"])
        port = int(env.pop("PORT"))  # the API's alone (-e PORT), not in the env file
        self.farm = Farm(pod, write_env(folder / "s3.env", env), port)
        self.figures: dict[str, float] = {}

    def up(self) -> None:
        began = time.monotonic()
        self.pod.once(self.farm.env_file, "python", "-m", "shared.cli", "migrate")
        self.api = self.farm.start_api()
        self.workers = [self.farm.start_worker(1, concurrency=1), self.farm.start_worker(2, concurrency=1)]
        self.pod.wait_healthy(self.farm.url)
        self.farm.create_user()
        self.video, self.sine = (self.farm.upload(path) for path in self.media)
        self.figures["farm up, sources probed (s)"] = time.monotonic() - began

    def render_across_both(self) -> None:
        began = time.monotonic()
        asset_id = self.farm.submit(edit(self.video, self.sine, self.CLIPS, "320x180", 2))
        status = self.farm.finished(asset_id)
        self.figures["render in pieces, submit to uploaded (s)"] = time.monotonic() - began
        assert status["pieces"]["total"] >= 2 and status["pieces"]["done"] == status["pieces"]["total"], status
        hosts = {host for host, _ in piece_hosts(self.db, asset_id).values()}
        assert hosts == set(self.workers), f"pieces rendered by {hosts}, not both {self.workers}"
        out = self.farm.download(asset_id, self.folder)
        check_frames(out, self.CLIPS)
        check_sound(out, 12)
        self.metrics_served()
        log(f"render in pieces checked: 360 frames, 12 s of sound, {status['pieces']['total']} "
            f"pieces on {sorted(hosts)}")

    def metrics_served(self) -> None:
        """The API container's /metrics (loopback: no token) serves every series the Grafana
        dashboard queries."""
        response = requests.get(f"{self.farm.url}/metrics", timeout=30)
        assert response.status_code == 200, response.status_code
        missing = manifests.dashboard_metrics() - manifests.served_metrics(response.text)
        assert not missing, f"the dashboard queries series /metrics does not serve: {missing}"

    def kill_a_worker(self) -> None:
        asset_id = self.farm.submit(edit(self.video, None, self.LONG, "1280x720", 2))
        victim = self.workers[1]

        def victim_renders():
            with self.db.session() as session:
                job = select(RenderJob.id).where(RenderJob.asset_id == asset_id).scalar_subquery()
                return session.execute(select(RenderPiece).where(
                    RenderPiece.job_id == job, RenderPiece.state == "rendering",
                    RenderPiece.kind == "video", RenderPiece.worker_id.contains(victim + ":"),
                )).scalars().first()

        piece = wait_for(victim_renders, 300, f"a piece rendering in {victim}", interval=0.05)
        self.pod.kill(victim)
        log(f"killed {victim} while it rendered piece {piece.index}")
        self.farm.finished(asset_id)
        attempts = {i: a for i, (_, a) in piece_hosts(self.db, asset_id).items()}
        assert attempts[piece.index] == 2, attempts
        outputs = stored_outputs(self.db, self.env["CANOPY_STORAGE_URL"], asset_id)
        assert len(outputs) == 1, outputs  # uploaded once: one output, the pieces gone
        check_frames(self.farm.download(asset_id, self.folder), self.LONG)
        self.pod.restart(victim)
        log(f"killed worker: the render ended uploaded once ({outputs[0]}), 480 frames checked")

    def rendered(self) -> set[str]:
        return {a.id for a in self.farm.vj.assets.list_generated_for_project(self.farm.project)}

    def restart_the_api(self) -> None:
        before = self.rendered()
        asset_id = self.farm.submit(edit(self.video, None, self.LONG, self.RESTART_SIZE, 2))
        wait_for(lambda: (self.farm.status(asset_id) or {}).get("status") == "rendering", 300,
                 "the render under way", interval=0.05)
        self.pod.restart(self.api)
        self.pod.wait_healthy(self.farm.url)
        assert self.farm.status(asset_id) is not None, "the status does not answer"
        self.farm.finished(asset_id)
        assert self.rendered() == before | {asset_id}, (before, self.rendered())
        check_frames(self.farm.download(asset_id, self.folder), self.LONG)
        log("API restarted mid-render: the status answered again, the render ended uploaded")


def render_and_check(farm: Farm, folder: Path, media) -> float:
    """Once the API answers: a user, the sources, the two-clip edit rendered in pieces,
    downloaded and checked; seconds from submit to `uploaded`."""
    farm.pod.wait_healthy(farm.url)
    farm.create_user()
    video, sine = (farm.upload(path) for path in media)
    began = time.monotonic()
    asset_id = farm.submit(edit(video, sine, S3Farm.CLIPS, "320x180", 2))
    farm.finished(asset_id)
    took = time.monotonic() - began
    out = farm.download(asset_id, folder)
    check_frames(out, S3Farm.CLIPS)
    check_sound(out, 12)
    return took


def local_volume_farm(pod: Podman, env: dict[str, str], folder: Path, media) -> float:
    """Scenario 2, deploy/README.md's commands: one volume of objects for the API and a worker."""
    volume = pod.volume("objects")
    port = int(env.pop("PORT"))
    farm = Farm(pod, write_env(folder / "local.env", env), port,
                volumes={volume: "/app/var/objects"})
    pod.once(farm.env_file, "python", "-m", "shared.cli", "migrate")
    farm.start_api()
    farm.start_worker(1)
    took = render_and_check(farm, folder, media)
    log("local-volume farm: render checked")
    return took


def kube_farm(pod: Podman, env: dict[str, str], folder: Path, media) -> float:
    """Scenario 3: deploy/k8s built, validated and played (deploy/check/kube.py)."""
    docs = kube.kustomize()
    kube.validate(docs, folder)
    port = int(env.pop("PORT"))
    farm = Farm(pod, write_env(folder / "kube.env", env), port)
    job = yaml.safe_load((kube.DEPLOY / "k8s" / "migrate-job.yaml").read_text())
    pod.once(farm.env_file, *job["spec"]["template"]["spec"]["containers"][0]["command"])
    kube.play(pod, docs, env, folder, pod.image, port)
    took = render_and_check(farm, folder, media)
    log("Kubernetes Deployments played by podman: render checked")
    return took


def services_env(run: str, stack: ExitStack, folder: Path) -> tuple[dict, dict, dict]:
    """The farms' settings: one PostgreSQL database each, one Redis (DB 0, 1, 2), the S3
    farms a bucket each."""
    redis = stack.enter_context(redis_server(folder))
    s3 = stack.enter_context(s3_server(run))
    envs = []
    kube_s3 = s3.replace(f"canopy-check-{run}?", f"canopy-check-{run}-kube?")
    for n, storage in enumerate([s3, "file:///app/var/objects", kube_s3]):
        port = free_port()
        envs.append({"PORT": str(port),
                     "CANOPY_DATABASE_URL": stack.enter_context(postgres_database(f"{run}_{n}")),
                     "CANOPY_REDIS_URL": f"{redis}/{n}", "CANOPY_STORAGE_URL": storage,
                     "CANOPY_SECRET_KEY": f"deploy-check-{run}-{n}",
                     "CANOPY_PUBLIC_URL": f"http://127.0.0.1:{port}"})
    # The S3 farm's faults: a dead worker's lease runs out in 5 s, the reaper looks every second.
    envs[0].update(CANOPY_LEASE_SECONDS="5", CANOPY_REAP_INTERVAL="1")
    return envs[0], envs[1], envs[2]


def main(image: str, only: list[str]) -> int:
    """Runs the scenarios named in `only` (s3, local, kube), or all of them."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so that cleanup runs
    pod = Podman(image)
    log(f"run {pod.run}: containers of {image}")
    figures = {}
    with tempfile.TemporaryDirectory(prefix="canopy-check-") as tmp, ExitStack() as stack:
        folder = Path(tmp)
        media = (make_counting_video(folder / "count.mp4", size=(320, 180), fps=FPS, duration=16,
                                     tone_hz=None),
                 make_audio(folder / "sine.m4a", duration=13, tone_hz=1000))
        s3_env, local_env, kube_env = services_env(pod.run, stack, folder)
        stack.callback(pod.cleanup)
        try:
            if not only or "s3" in only:
                s3 = S3Farm(pod, s3_env, folder, media)
                s3.up()
                s3.render_across_both()
                s3.kill_a_worker()
                s3.restart_the_api()
                figures.update(s3.figures)
            if not only or "local" in only:
                figures["local volume render, submit to uploaded (s)"] = local_volume_farm(
                    pod, local_env, folder, media)
            if not only or "kube" in only:
                figures["Kubernetes render, submit to uploaded (s)"] = kube_farm(
                    pod, kube_env, folder, media)
        except BaseException:
            pod.dump_logs()
            raise
    for what, seconds in figures.items():
        log(f"{what}: {seconds:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2:]))
