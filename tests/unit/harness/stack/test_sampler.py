"""Finding and reading a container's cgroup files, v1 and v2, on a fake /sys/fs/cgroup."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from harness.stack.sampler import CgroupReader, ResourceSample, tcp_connections
from reports.aggregate import RESOURCE_COLUMNS

CID = "abc123"


def make_v1(root: Path, split_cpu: bool = False) -> None:
    memory = root / "memory" / "docker" / CID
    memory.mkdir(parents=True)
    (memory / "memory.usage_in_bytes").write_text("300000\n")
    (memory / "memory.stat").write_text("cache 1000\ntotal_inactive_file 100000\ntotal_rss 5\n")
    accounting = root / ("cpuacct" if split_cpu else "cpu,cpuacct") / "docker" / CID
    quota = root / ("cpu" if split_cpu else "cpu,cpuacct") / "docker" / CID
    accounting.mkdir(parents=True)
    quota.mkdir(parents=True, exist_ok=True)
    (accounting / "cpuacct.usage").write_text("5000000000\n")
    (quota / "cpu.stat").write_text("nr_periods 10\nnr_throttled 2\nthrottled_time 7000\n")


def make_v2(root: Path) -> None:
    root.mkdir(parents=True, exist_ok=True)
    (root / "cgroup.controllers").write_text("cpu memory\n")
    group = root / "system.slice" / f"docker-{CID}.scope"
    group.mkdir(parents=True)
    (group / "memory.current").write_text("400000\n")
    (group / "memory.stat").write_text("anon 1\ninactive_file 150000\nactive_file 3\n")
    (group / "cpu.stat").write_text("usage_usec 2500000\nnr_throttled 1\nthrottled_usec 40\n")


@pytest.mark.parametrize("split_cpu", [False, True], ids=["cpu,cpuacct", "cpu+cpuacct"])
def test_v1_working_set_is_usage_minus_inactive_file(tmp_path: Path, split_cpu: bool) -> None:
    """On cgroup v1 the reader finds docker/<id> in each controller and reads throttling."""
    make_v1(tmp_path, split_cpu)
    reader = CgroupReader.locate(CID, pid=0, root=tmp_path)
    assert reader is not None and reader.version == 1
    assert reader.read() == (200000, 300000, 5_000_000_000, 7000)


def test_v2_working_set_is_current_minus_inactive_file(tmp_path: Path) -> None:
    """On cgroup v2 the reader finds the systemd scope and converts microseconds."""
    make_v2(tmp_path)
    reader = CgroupReader.locate(CID, pid=0, root=tmp_path)
    assert reader is not None and reader.version == 2
    assert reader.read() == (250000, 400000, 2_500_000_000, 40_000)


def test_no_cgroup_files_means_no_reader(tmp_path: Path) -> None:
    """Where the files are not visible (Docker Desktop), locate() says so and stats take over."""
    (tmp_path / "memory").mkdir()
    assert CgroupReader.locate(CID, pid=0, root=tmp_path) is None


def test_established_connections_are_counted_from_proc_net(tmp_path: Path) -> None:
    """State 01 rows are established: to the server port inbound, others outbound; a listener
    (0A) and a TIME_WAIT (06) are neither."""
    net = tmp_path / "42" / "net"
    net.mkdir(parents=True)
    header = "  sl  local_address rem_address   st tx_queue rx_queue\n"
    (net / "tcp").write_text(
        header
        + "   0: 00000000:1F40 00000000:0000 0A 00000000:00000000\n"
        + "   1: 0100007F:1F40 0100007F:9C40 01 00000000:00000000\n"
        + "   2: 0100007F:9C40 0100007F:1F90 01 00000000:00000000\n"
    )
    (net / "tcp6").write_text(header + "   0: 0000:1F40 0000:0000 06 00000000:00000000\n")
    assert tcp_connections(42, server_port=0x1F40, proc=tmp_path) == (1, 1)
    assert tcp_connections(43, server_port=0x1F40, proc=tmp_path) is None


def test_sample_fields_are_the_resource_columns_in_order() -> None:
    """resources.csv and the resource frame are written from the sample's fields as they are."""
    assert [f.name for f in dataclasses.fields(ResourceSample)] == RESOURCE_COLUMNS
