"""The resource sampler against a real container with a CPU quota."""

from __future__ import annotations

import time

from harness.stack.docker import LABEL_RUN, ContainerSpec, DockerEngine
from harness.stack.images import StackImages
from harness.stack.sampler import ResourceSampler
from tests.integration.conftest import leftovers


def test_cgroup_sampling_sees_memory_cpu_and_throttling(
    engine: DockerEngine, images: StackImages
) -> None:
    """A busy container limited to 0.2 CPUs is sampled at >= 4 Hz and shows its throttling."""
    labels = {LABEL_RUN: "sampler-test"}
    engine.create_network("loadgate-sampler-test", labels)
    spec = ContainerSpec(
        name="loadgate-sampler-test-busy",
        image=images.base,
        labels=labels,
        network="loadgate-sampler-test",
        aliases=["busy"],
        command=["python3", "-c", "data = bytearray(40 * 1024 * 1024)\nwhile True: pass"],
        cpus=0.2,
        memory_bytes=128 * 1024 * 1024,
    )
    try:
        container = engine.start(spec, "busy")
        sampler = ResourceSampler(container, server_port=8000)
        sampler.start()
        time.sleep(3)
        samples = sampler.stop()
    finally:
        engine.remove_leftovers("sampler-test")
    assert sampler.source.startswith("cgroup-v")
    assert len(samples) >= 12  # 3 s at >= 4 Hz
    assert samples[-1].memory_bytes > 40 * 1024 * 1024
    span = samples[-1].t - samples[0].t
    cores = (samples[-1].cpu_ns - samples[0].cpu_ns) / 1e9 / span
    assert 0.1 < cores < 0.3
    assert samples[-1].throttled_ns > samples[0].throttled_ns
    assert leftovers(engine, "sampler-test") == []
