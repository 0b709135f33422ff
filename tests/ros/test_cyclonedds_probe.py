"""A second DDS vendor (Eclipse Cyclone DDS from PyPI) watches the memory server on the wire: the topic
names and DDS type names it publishes, and one /diagnostics message decoded from raw DDS. (Services do not
interoperate across DDS vendors; topics do.)"""

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nodetools
import pytest
from cyclonedds.idl import IdlStruct
from cyclonedds.idl import types as t

LOOPBACK = (
    "<CycloneDDS><Domain id='any'><General><Interfaces><NetworkInterface name='lo' multicast='false'/>"
    "</Interfaces><AllowMulticast>false</AllowMulticast></General><Discovery><Peers>"
    "<Peer address='127.0.0.1'/></Peers><ParticipantIndex>auto</ParticipantIndex></Discovery></Domain></CycloneDDS>"
)


# Raw DDS views of the ROS types (module level: cyclonedds resolves the annotations by name here).
@dataclass
class DdsTime(IdlStruct, typename="builtin_interfaces::msg::dds_::Time_"):
    sec: t.int32
    nanosec: t.uint32


@dataclass
class DdsHeader(IdlStruct, typename="std_msgs::msg::dds_::Header_"):
    stamp: DdsTime
    frame_id: str


@dataclass
class DdsKeyValue(IdlStruct, typename="diagnostic_msgs::msg::dds_::KeyValue_"):
    key: str
    value: str


@dataclass
class DdsDiagnosticStatus(IdlStruct, typename="diagnostic_msgs::msg::dds_::DiagnosticStatus_"):
    level: t.byte
    name: str
    message: str
    hardware_id: str
    values: t.sequence[DdsKeyValue]


@dataclass
class DdsDiagnosticArray(IdlStruct, typename="diagnostic_msgs::msg::dds_::DiagnosticArray_"):
    header: DdsHeader
    status: t.sequence[DdsDiagnosticStatus]


def test_topics_on_the_wire_seen_by_cyclonedds(domain_id: int, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CYCLONEDDS_URI", LOOPBACK)
    from cyclonedds.builtin import BuiltinDataReader, BuiltinTopicDcpsPublication
    from cyclonedds.domain import DomainParticipant
    from cyclonedds.sub import DataReader
    from cyclonedds.topic import Topic

    server = nodetools.NodeProcess(
        "robomem-memory-server",
        nodetools.server_args(tmp_path, tmp_path / "memory", extra={"diagnostics_period_s": 0.2,
                                                                     "publish_period_s": 0.2}),
        tmp_path / "server.log",
    )
    try:
        server.wait_for_log("memory server up")
        dp = DomainParticipant(domain_id)
        pubs = BuiltinDataReader(dp, BuiltinTopicDcpsPublication)
        diag = DataReader(dp, Topic(dp, "rt/diagnostics", DdsDiagnosticArray))
        seen: dict[str, str] = {}
        samples: list[Any] = []
        deadline = time.monotonic() + 30
        want = {"rt/robomem/voxel_cloud", "rt/robomem/objects", "rt/diagnostics"}
        while time.monotonic() < deadline and not (want <= set(seen) and samples):
            for s in pubs.take(N=100):
                seen[s.topic_name] = s.type_name
            samples += diag.take(N=10)
            time.sleep(0.1)
    finally:
        rc = server.stop()
    assert rc == 0, server.log()
    assert seen.get("rt/robomem/voxel_cloud") == "sensor_msgs::msg::dds_::PointCloud2_", seen
    assert seen.get("rt/robomem/objects") == "visualization_msgs::msg::dds_::MarkerArray_", seen
    assert seen.get("rt/diagnostics") == "diagnostic_msgs::msg::dds_::DiagnosticArray_", seen
    assert samples, f"no /diagnostics sample decoded by Cyclone DDS (publications seen: {seen})"
    status = samples[-1].status[0]
    assert status.name == "/robomem: ingest" and status.hardware_id == "robomem"
    keys = {kv.key for kv in status.values}
    assert {"ingest_rate_hz", "memory_voxels", "waiting_tf"} <= keys, keys
    assert os.environ["CYCLONEDDS_URI"] == LOOPBACK
