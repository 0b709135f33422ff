"""Fault containment, save backoff, diagnostics, service path/identity rules and the pipeline's time gate
(the node's logic without a node: real rclpy messages, no DDS)."""

from __future__ import annotations

import logging
from pathlib import Path
from types import SimpleNamespace

import bagtools
import numpy as np
import pytest
import scene
from test_tf_pairing import _pipeline_events

from robomem.core.query_types import QueryStatus
from robomem.core.types import Frame
from robomem.encoders.base import create_encoder
from robomem.errors import FrameError, QueryError
from robomem.ros import diagnostics
from robomem.ros.health import FaultLog, SaveScheduler
from robomem.ros.pipeline import FramePipeline, PipelineConfig, Rejection, RejectReason
from robomem.ros.services import MemoryHost, MemoryServices

S = 1_000_000_000


class FakeClock:
    def __init__(self, t: float = 1000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


# ------------------------------------------------------------------------------------------------ faults


def test_guard_catches_records_and_throttles(caplog: pytest.LogCaptureFixture) -> None:
    clock = FakeClock()
    faults = FaultLog(logging.getLogger("t"), throttle_s=10.0, window_s=60.0, clock=clock)

    def boom() -> None:
        raise OSError(28, "No space left on device")

    with caplog.at_level(logging.ERROR, logger="t"):
        for _ in range(5):
            assert faults.guard("publish_viz", boom) is None
    assert len([r for r in caplog.records if "No space left" in r.getMessage()]) == 1  # throttled
    assert faults.guard("ok", lambda: 3) == 3
    (f,) = faults.active()
    assert f.source == "publish_viz" and f.count == 5 and "No space left" in f.message
    st = diagnostics.node_status(faults)
    assert st.level == diagnostics.ERROR and "publish_viz: OSError" in st.message
    assert st.values["faults_publish_viz"] == "5"
    clock.t += 61
    assert faults.active() == [] and diagnostics.node_status(faults).level == diagnostics.OK


def test_periodic_saves_back_off_exponentially_and_recover() -> None:
    clock = FakeClock()
    s = SaveScheduler(period_s=2.0, max_backoff_s=20.0, clock=clock)
    assert not s.due()
    clock.t += 2.0
    assert s.due()
    delays = [s.failed("disk full") for _ in range(5)]
    assert delays == [4.0, 8.0, 16.0, 20.0, 20.0]
    st = diagnostics.persistence_status("/data/m", s, clock.t)
    assert st.level == diagnostics.ERROR and "5 time(s) in a row: disk full" in st.message
    assert "next try in 20" in st.message
    clock.t += 19.9
    assert not s.due()
    clock.t += 0.2
    assert s.due()
    s.succeeded("/data/m")
    assert s.failures == 0 and not s.due()
    assert diagnostics.persistence_status("/data/m", s, clock.t + 3).message == "saved to /data/m 3 s ago"


def test_ingest_status_levels() -> None:
    ok = diagnostics.ingest_status({"ingest_ingested": 3}, {"voxels": 10}, 2.0)
    assert ok.level == diagnostics.OK and ok.values["memory_voxels"] == "10"
    assert diagnostics.ingest_status({"rejected_future_stamp": 1}, {}, 0.0).level == diagnostics.WARN
    err = diagnostics.ingest_status({"ingest_errors": 2}, {}, 0.0)
    assert err.level == diagnostics.ERROR and "internal error" in err.message


# ------------------------------------------------------------------------------------------------ services


@pytest.fixture(scope="module")
def encoder():
    return create_encoder(scene.memory_config().encoder)


def _services(encoder, save_directory: str) -> MemoryServices:
    return MemoryServices(MemoryHost(scene.memory_config(), encoder, scene.REGIONS, save_directory))


def test_service_paths_resolve_under_save_directory_never_the_cwd(encoder, tmp_path: Path, monkeypatch) -> None:
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    base = tmp_path / "robot"
    host = _services(encoder, str(base)).host
    assert host.resolve("", "SaveMemory") == base
    assert host.resolve("snapshots/monday", "SaveMemory") == base / "snapshots" / "monday"
    assert host.resolve(".", "SaveMemory") == base
    assert host.resolve(str(tmp_path / "elsewhere"), "SaveMemory") == tmp_path / "elsewhere"
    with pytest.raises(QueryError, match="leaves save_directory"):
        host.resolve("../../etc", "SaveMemory")
    bare = _services(encoder, "").host
    for relative in (".", "memory", ""):
        with pytest.raises(QueryError, match="absolute path"):
            bare.resolve(relative, "SaveMemory")
    assert list(cwd.iterdir()) == []


def test_save_service_refuses_a_users_directory(encoder, tmp_path: Path) -> None:
    srv = _services(encoder, str(tmp_path / "robot"))
    home = tmp_path / "home"
    home.mkdir()
    (home / "notes.txt").write_text("precious")
    resp = srv.save(SimpleNamespace(directory=str(home)), SimpleNamespace(status=0, message="", directory=""))
    assert resp.status == QueryStatus.ERROR.value and "not a robomem memory" in resp.message
    assert (home / "notes.txt").read_text() == "precious" and sorted(p.name for p in home.iterdir()) == ["notes.txt"]
    for bad in ("", "relative"):
        r = _services(encoder, "").save(SimpleNamespace(directory=bad), SimpleNamespace(status=0, message="",
                                                                                         directory=""))
        assert r.status == QueryStatus.BAD_REQUEST.value and "absolute path" in r.message


def _ident_request(instance_id: int, text: str):
    from builtin_interfaces.msg import Time

    return SimpleNamespace(instance_id=instance_id, text=text, stamp=Time(sec=scene.T0_NS // S + 1))


def _instance_response():
    return SimpleNamespace(status=0, message="", has_instance=False, instance=None, has_placement=False,
                           placement=None)


def test_where_at_with_text_and_default_instance_id_queries_the_text(encoder, monkeypatch) -> None:
    srv = _services(encoder, "")
    calls = []

    def where_at(t, instance_id=None, text=None):
        calls.append((instance_id, text))
        return srv.host.memory.where_at(t, instance_id, text)

    monkeypatch.setattr(srv.host.reads, "where_at", where_at)
    srv.where_at(_ident_request(0, "red mug"), _instance_response())
    srv.where_at(_ident_request(0, ""), _instance_response())
    assert calls == [(None, "red mug"), (0, None)]
    r = srv.where_at(_ident_request(4, "red mug"), _instance_response())
    assert r.status == QueryStatus.BAD_REQUEST.value and "not both" in r.message


def test_query_text_length_is_capped_before_encoding(encoder, monkeypatch) -> None:
    srv = _services(encoder, "")
    monkeypatch.setattr(srv.host.encoder, "encode_text", lambda *a: pytest.fail("encoded a 1 MB text"))
    req = SimpleNamespace(text="mug " * 250_000, feature=[], k=1, include_vanished=False)
    r = srv.locate(req, SimpleNamespace(status=0, message="", matches=[]))
    assert r.status == QueryStatus.BAD_REQUEST.value and "at most 1000" in r.message
    r = srv.last_seen(SimpleNamespace(instance_id=-1, text="x" * 1001), _instance_response())
    assert r.status == QueryStatus.BAD_REQUEST.value and "query.max_text_chars" in r.message


# ------------------------------------------------------------------------------------------------ time gate


def _shift(events, index: int, roles: tuple[str, ...], stamp_ns: int):
    """Restamp the messages of frame ``index`` (counted by rgb messages) with ``stamp_ns``."""
    from robomem.ros.converters import set_stamp

    frame = -1
    for role, msg in events:
        if role == "tf":
            frame += 1
        if frame == index and role in roles:
            for hdr in ([t.header for t in msg.transforms] if role == "tf" else [msg.header]):
                set_stamp(hdr.stamp, stamp_ns)
    return events


def _feed_all(pipe: FramePipeline, events) -> tuple[list[object], list[str]]:
    """Like the node: feed in order; a FrameError from a message (malformed / future TF) is logged, not fatal."""
    feed = {"rgb": pipe.add_rgb, "depth": pipe.add_depth, "info": pipe.add_camera_info,
            "seg": pipe.add_segmentation, "tf": lambda m: pipe.add_tf(m), "tf_static": lambda m: pipe.add_tf(m, True)}
    out: list[object] = []
    errors: list[str] = []
    for role, msg in events:
        try:
            out += feed[role](msg)
        except FrameError as exc:
            errors.append(str(exc))
    return out + pipe.flush(), errors


def test_a_far_future_frame_is_rejected_and_does_not_block_later_frames() -> None:
    """The probe: one set stamped sec=2^31-1 made every later frame 'out of order' until a reset."""
    far = (2**31 - 1) * S
    events = _shift(_pipeline_events(5), 1, ("rgb", "depth", "info", "tf"), far)
    pipe = FramePipeline(PipelineConfig(), clock=lambda: scene.T0_NS)
    out, errors = _feed_all(pipe, events)
    assert sum(isinstance(o, Frame) for o in out) == 4
    rejected = [o for o in out if isinstance(o, Rejection)]
    assert [o.reason for o in rejected] == [RejectReason.FUTURE_STAMP] * 3  # camera_info, depth, rgb
    assert "ahead of the newest frame and of the clock" in rejected[0].message
    assert len(errors) == 1 and "tf message stamp" in errors[0]
    c = pipe.counters()
    assert c["rejected_future_stamp"] == 4 and c["frames"] == 4


def test_future_gate_uses_the_clock_and_can_be_off() -> None:
    # stamps an hour ahead of the node's clock with nothing accepted yet: a clock problem, said so
    pipe = FramePipeline(PipelineConfig(), clock=lambda: scene.T0_NS - 3600 * S)
    out, _ = _feed_all(pipe, _pipeline_events(2))
    assert not any(isinstance(o, Frame) for o in out) and pipe.counters()["rejected_future_stamp"] >= 6
    # a robot back after 12 h: ahead of its newest frame but not of the clock
    events = _pipeline_events(3)
    _shift(events, 2, ("rgb", "depth", "info", "tf"), scene.T0_NS + 12 * 3600 * S)
    out, _ = _feed_all(FramePipeline(PipelineConfig(), clock=lambda: scene.T0_NS + 13 * 3600 * S), events)
    assert sum(isinstance(o, Frame) for o in out) == 3
    # sim time before /clock reads 0: unknown, only the newest frame bounds the stamps
    out, _ = _feed_all(FramePipeline(PipelineConfig(), clock=lambda: 0), _pipeline_events(3))
    assert sum(isinstance(o, Frame) for o in out) == 3
    events = _shift(_pipeline_events(3), 2, ("rgb", "depth", "info", "tf"), (2**31 - 1) * S)
    out, errors = _feed_all(FramePipeline(PipelineConfig(max_future_s=0.0), clock=lambda: scene.T0_NS), events)
    assert sum(isinstance(o, Frame) for o in out) == 3 and not errors


def test_far_future_tf_does_not_evict_the_tf_cache() -> None:
    b = bagtools.Builder("rclpy")
    events = _pipeline_events(3)
    bad_tf = b.tf([b.transform("map", "base_link", (2**31 - 1) * S, np.eye(4))])
    events.insert(3, ("tf", bad_tf))  # after frame 0's tf and camera_info
    pipe = FramePipeline(PipelineConfig(), clock=lambda: scene.T0_NS)
    out, errors = _feed_all(pipe, events)
    assert sum(isinstance(o, Frame) for o in out) == 3 and len(errors) == 1
    assert pipe.counters()["rejected_future_stamp"] == 1
