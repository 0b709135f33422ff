"""Habitat / FindingDory observation conversion: known geometry in, known robomem points out."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest
from robomem_sim.habitat_adapter import (
    NS_PER_MIN,
    ROBOMEM_T_HABITAT,
    HabitatAdapterConfig,
    ObservationConverter,
    habitat_pose_to_world_T_camera,
    habitat_to_robomem_point,
    intrinsics_from_hfov,
    matrix_to_quaternion,
    quaternion_to_matrix,
    robomem_to_habitat_point,
    time_of_day_minutes,
    world_T_camera_to_habitat_pose,
)

from robomem.errors import SimError

W, H = 64, 48


def _unproject(frame, u: int, v: int) -> np.ndarray:
    """World point (robomem) of pixel (u, v) of ``frame``."""
    k = frame.intrinsics
    d = float(frame.depth[v, u])
    p_cam = np.array([(u - k.cx) / k.fx * d, (v - k.cy) / k.fy * d, d, 1.0])
    return (frame.world_T_camera @ p_cam)[:3]


def _obs(position, rotation, depth=2.0, tod="08:30", **extra):
    obs = {
        "head_rgb": np.full((H, W, 4), 200, np.uint8),
        "head_depth": np.full((H, W, 1), depth, np.float32),
        "camera_pose": {"position": position, "rotation": rotation},
        "time_of_day": tod,
        "can_take_action": 0,
    }
    obs.update(extra)
    return obs


def test_world_axes_map_y_up_to_z_up():
    assert habitat_to_robomem_point((1.0, 2.0, 3.0)) == (1.0, -3.0, 2.0)
    assert robomem_to_habitat_point(habitat_to_robomem_point((1.0, 2.0, 3.0))) == (1.0, 2.0, 3.0)
    r = ROBOMEM_T_HABITAT[:3, :3]
    assert np.isclose(np.linalg.det(r), 1.0)  # a rotation, not a reflection
    assert np.allclose(r @ np.array([0.0, 1.0, 0.0]), [0.0, 0.0, 1.0])  # habitat up -> robomem up


def test_intrinsics_from_hfov_90_degrees():
    k = intrinsics_from_hfov(90.0, 64, 48)
    assert k.fx == pytest.approx(32.0) and k.fy == pytest.approx(32.0)
    assert (k.cx, k.cy, k.width, k.height) == (32.0, 24.0, 64, 48)
    with pytest.raises(SimError, match="hfov"):
        intrinsics_from_hfov(0.0, 64, 48)


def test_identity_camera_looks_along_habitat_minus_z():
    conv = ObservationConverter(HabitatAdapterConfig(hfov_deg=90.0))
    frame = conv.convert(_obs((1.0, 1.5, 2.0), (0.0, 0.0, 0.0, 1.0)))
    assert frame.rgb.shape == (H, W, 3) and frame.depth.shape == (H, W)
    # the optical axis hits habitat (1, 1.5, 0) = robomem (1, 0, 1.5)
    centre = _unproject(frame, W // 2, H // 2)
    assert np.allclose(centre, [1.0, 0.0, 1.5], atol=1e-6)
    # right of centre is +x, above centre is up (+z in robomem)
    right = _unproject(frame, W - 1, H // 2)
    top = _unproject(frame, W // 2, 0)
    assert right[0] > 1.5 and np.isclose(right[2], 1.5)
    assert top[2] > 2.5 and np.isclose(top[0], 1.0)
    # the camera's optical z axis (forward) is robomem +y, its image y axis (down) is robomem -z
    assert np.allclose(frame.world_T_camera[:3, 2], [0.0, 1.0, 0.0])
    assert np.allclose(frame.world_T_camera[:3, 1], [0.0, 0.0, -1.0])


def test_yaw_left_90_degrees_looks_along_minus_x():
    s = math.sin(math.pi / 4)
    conv = ObservationConverter(HabitatAdapterConfig(hfov_deg=90.0))
    # quaternion (x, y, z, w): +90 deg about habitat +y (a left turn seen from above)
    frame = conv.convert(_obs((0.0, 1.0, 0.0), (0.0, s, 0.0, s), depth=3.0))
    assert np.allclose(_unproject(frame, W // 2, H // 2), [-3.0, 0.0, 1.0], atol=1e-6)
    # same pose given as wxyz and as a quaternion object
    conv2 = ObservationConverter(HabitatAdapterConfig(hfov_deg=90.0, quaternion_order="wxyz"))
    f2 = conv2.convert(_obs((0.0, 1.0, 0.0), (s, 0.0, s, 0.0), depth=3.0))
    assert np.allclose(f2.world_T_camera, frame.world_T_camera)
    q = SimpleNamespace(w=s, x=0.0, y=s, z=0.0)
    assert np.allclose(habitat_pose_to_world_T_camera((0.0, 1.0, 0.0), q), frame.world_T_camera)


def test_pose_roundtrip_and_quaternion_roundtrip():
    rng = np.random.default_rng(0)
    for _ in range(20):
        q = rng.normal(size=4)
        q /= np.linalg.norm(q)
        r = quaternion_to_matrix(*q)
        assert np.allclose(r @ r.T, np.eye(3), atol=1e-9)
        assert np.allclose(quaternion_to_matrix(*matrix_to_quaternion(r)), r, atol=1e-9)
        pos = tuple(rng.normal(size=3))
        T = habitat_pose_to_world_T_camera(pos, q)
        p2, q2 = world_T_camera_to_habitat_pose(T)
        assert np.allclose(p2, pos)
        assert np.allclose(quaternion_to_matrix(*q2), r, atol=1e-9)


def test_agent_state_sensor_states_and_normalized_depth():
    state = SimpleNamespace(
        position=np.zeros(3),
        rotation=SimpleNamespace(w=1.0, x=0.0, y=0.0, z=0.0),
        sensor_states={"head_rgb": SimpleNamespace(position=np.array([0.0, 1.2, 0.0]), rotation=(0, 0, 0, 1))},
    )
    obs = _obs(None, None, depth=0.25)
    del obs["camera_pose"]
    obs["agent_state"] = state
    conv = ObservationConverter(HabitatAdapterConfig(hfov_deg=90.0, depth_normalized=True, max_depth=8.0))
    frame = conv.convert(obs)
    assert np.allclose(_unproject(frame, W // 2, H // 2), [0.0, 2.0, 1.2], atol=1e-6)


def test_stamps_increase_within_a_minute_and_when_clock_goes_back():
    cfg = HabitatAdapterConfig(hfov_deg=90.0, day_start_ns=0, min_step_ns=1000)
    conv = ObservationConverter(cfg)
    stamps = [conv.convert(_obs((0, 1, 0), (0, 0, 0, 1), tod=t)).stamp_ns for t in ("06:00", "06:00", "06:01", "00:00")]
    assert stamps[0] == 6 * 60 * NS_PER_MIN
    assert stamps[1] == stamps[0] + 1000
    assert stamps[2] == 6 * 60 * NS_PER_MIN + NS_PER_MIN
    assert stamps[3] == stamps[2] + 1000
    assert time_of_day_minutes("21:59") == 21 * 60 + 59


@pytest.mark.parametrize(
    ("mutate", "match"),
    [
        (lambda o: o.pop("head_depth"), "head_depth"),
        (lambda o: o.pop("camera_pose"), "camera pose"),
        (lambda o: o.update(time_of_day="8h30"), "HH:MM"),
        (lambda o: o.update(head_depth=np.ones((10, 10), np.float32)), "does not match"),
        (lambda o: o.update(camera_pose={"position": (0, 0, 0), "rotation": (0, 0, 0, 0)}), "zero"),
    ],
)
def test_bad_observations_are_rejected_with_a_clear_error(mutate, match):
    conv = ObservationConverter(HabitatAdapterConfig(hfov_deg=90.0))
    obs = _obs((0.0, 1.0, 0.0), (0.0, 0.0, 0.0, 1.0))
    mutate(obs)
    with pytest.raises(SimError, match=match):
        conv.convert(obs)
    # the converter keeps working afterwards
    assert conv.convert(_obs((0.0, 1.0, 0.0), (0.0, 0.0, 0.0, 1.0))).stamp_ns > 0


def test_semantic_image_becomes_instance_mask_with_labels():
    conv = ObservationConverter(
        HabitatAdapterConfig(hfov_deg=90.0, semantic_key="head_panoptic"),
        labels={3: "red mug", 7: "table", 9: "never visible"},
        receptacle_ids=frozenset({7}),
    )
    sem = np.zeros((H, W, 1), np.int32)
    sem[10:20, 10:20] = 3
    sem[30:40, :] = 7
    frame = conv.convert(_obs((0.0, 1.0, 0.0), (0, 0, 0, 1), head_panoptic=sem))
    assert frame.instance_mask is not None and frame.instance_mask.shape == (H, W)
    assert dict(frame.instance_labels) == {3: "red mug", 7: "table"}
    assert frame.receptacle_ids == frozenset({7})
    assert set(np.unique(frame.instance_mask).tolist()) == {-1, 3, 7}  # unlabelled background -> NO_INSTANCE


def test_findingdory_agent_answers_with_frame_indices_and_stored_states():
    """Replay a small sim episode as FindingDory observation dicts (poses converted to Habitat's conventions)
    through the agent: it stores every frame in a real memory and answers with indices of frames that show
    the asked-for object, plus the agent states recorded with them."""
    import dataclasses

    from robomem_sim.agents import AgentsConfig, eval_memory_config, get_encoder
    from robomem_sim.config import SimConfig
    from robomem_sim.episode import generate_episode, iter_frames
    from robomem_sim.habitat_adapter import FindingDoryMemoryAgent

    from robomem.core.memory import SpatioSemanticMemory
    from robomem.planner.rule_based import RuleBasedPlanner

    c = SimConfig()
    c = dataclasses.replace(
        c,
        house=dataclasses.replace(c.house, n_rooms=2, n_objects=6, n_distractors=0),
        dynamics=dataclasses.replace(c.dynamics, days=1, min_interactions_per_day=2, max_interactions_per_day=2),
        agent=dataclasses.replace(c.agent, frame_every=2),
    )
    ep = generate_episode(c, seed=2)
    day0 = ep.clock.day_start_ns(0)
    mem_cfg = eval_memory_config(AgentsConfig(encoder="hash"))
    agent = FindingDoryMemoryAgent(
        memory_factory=lambda: SpatioSemanticMemory(mem_cfg, get_encoder("hash"), ep.house.regions()),
        planner=RuleBasedPlanner(),
        converter=ObservationConverter(
            HabitatAdapterConfig(hfov_deg=ep.config.camera.hfov_deg, day_start_ns=day0, semantic_key="sem"),
            labels=ep.house.labels(),
            receptacle_ids=frozenset(ep.house.receptacles),
        ),
    )
    agent.reset()
    for i, f in enumerate(iter_frames(ep)):
        pos, quat = world_T_camera_to_habitat_pose(f.world_T_camera)
        s = (f.stamp_ns - day0) // 1_000_000_000
        obs = {
            "head_rgb": f.rgb,
            "head_depth": f.depth[..., None],
            "sem": f.instance_mask,
            "camera_pose": {"position": pos, "rotation": quat},
            "time_of_day": f"{s // 3600:02d}:{s % 3600 // 60:02d}",
            "can_take_action": 0,
            "agent_state": SimpleNamespace(frame=i),
            "manipulation_mode": False,
        }
        assert agent.act(obs) == {"action": "move_forward"}
    assert agent.num_frames == len(ep.frames) and agent.rejected_frames == 0
    # the memory's world is robomem's z-up world again: the receptacles are where the simulator put them
    rec = next(iter(ep.house.receptacles.values()))
    found = [i for i in agent.memory.instances() if i.label == rec.label]
    assert found and rec.box.contains(found[0].position, margin=0.3)

    target = next(o for o in sorted(ep.house.objects) if ep.log.sightings.get(o))
    agent.reset_new_task(0)
    act = agent.act({"can_take_action": 1, "lang_memory_goal": f"Navigate to the {ep.house.label(target)}."})
    assert act["action"] == "high_level_policy_action"
    idx = act["action_args"]["nav_indices"]
    assert len(idx) == 1 and idx[0] >= 0
    seen_in = {s.frame_index for s in ep.log.sightings[target]}
    assert idx[0] in seen_in, (idx, sorted(seen_in))
    assert act["action_args"]["nav_goal_states"][0].frame == idx[0]
    assert act["action_args"]["nav_mode_flag"] == [True]
    pos, quat = act["action_args"]["nav_goal_poses"][0]
    assert np.allclose(habitat_pose_to_world_T_camera(pos, quat), ep.frames[idx[0]].world_T_camera, atol=1e-6)
    # "I don't know" is FindingDory's invalid answer [-1], with the reason kept
    agent.reset_new_task(1)
    act = agent.act({"can_take_action": 1, "lang_memory_goal": "Navigate to the purple velvet giraffe."})
    assert act["action_args"]["nav_indices"] == [-1] and act["action_args"]["nav_goal_states"] == []
    assert agent.last_answer is not None and "giraffe" in agent.last_answer.text
