"""Routing: GPU renders go to render.gpu, which only a GPU worker consumes."""
from __future__ import annotations

from tests.fixtures.faults import prepare
from tests.fixtures.farm import wait_finished
from worker.render import gpu_available
from shared.states import JobState


def test_gpu_edit_goes_to_the_gpu_queue(make_farm, fault_source):
    farm = make_farm(workers=1)  # a CPU worker: takes media and render.cpu only
    setup = prepare(farm, fault_source)
    asset_id = setup.submit(seconds=2, resolution="320x180", render_options={"encoder": "gpu"})
    assert setup.job(asset_id).queue == "render.gpu"

    farm.add_worker(CANOPY_ENCODER="gpu")  # told it has a GPU: it consumes render.gpu
    done = wait_finished(setup.api, asset_id)
    if gpu_available():
        assert done["status"] == JobState.UPLOADED, done
    else:  # this machine has no NVENC: the job fails with a reason a user can act on
        assert done["status"] == JobState.FAILED and "gpu" in done["error"].lower(), done


def test_cpu_edit_goes_to_the_cpu_queue(make_farm, fault_source):
    farm = make_farm(workers=1)
    setup = prepare(farm, fault_source)
    asset_id = setup.submit(seconds=2, resolution="320x180", render_options={"encoder": "cpu"})
    assert setup.job(asset_id).queue == "render.cpu"
    assert wait_finished(setup.api, asset_id)["status"] == JobState.UPLOADED
