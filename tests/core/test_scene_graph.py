"""Temporal scene graph: intervals, time travel, events, merging, geometric relations, persistence."""

from __future__ import annotations

import copy
import json

import networkx as nx
import pytest

from robomem.config import GraphConfig
from robomem.core.query_types import GraphEdge, NodeRef
from robomem.core.scene_graph import TemporalSceneGraph, compute_relations
from robomem.core.types import Box3D, NodeKind, Region, Relation, TimeInterval
from robomem.errors import MemoryStateError, PersistenceError, QueryError

CFG = GraphConfig(on_tolerance=0.1, near_distance=1.0)

MUG, TABLE_A, TABLE_B, SHELF = 1, 10, 11, 12


def rec(i: int) -> NodeRef:
    return NodeRef(NodeKind.RECEPTACLE, instance_id=i)


def room(name: str) -> NodeRef:
    return NodeRef(NodeKind.ROOM, name=name)


def box(mn: tuple[float, float, float], mx: tuple[float, float, float]) -> Box3D:
    return Box3D(mn, mx)


@pytest.fixture
def g() -> TemporalSceneGraph:
    graph = TemporalSceneGraph(CFG)
    graph.set_room("kitchen", box((0, 0, 0), (5, 5, 3)))
    graph.set_room("living", box((5, 0, 0), (10, 5, 3)))
    graph.upsert_instance(TABLE_A, NodeKind.RECEPTACLE, "table", 0)
    graph.upsert_instance(TABLE_B, NodeKind.RECEPTACLE, "table", 0)
    graph.upsert_instance(MUG, NodeKind.OBJECT, "red mug", 100)
    return graph


def edge_set(edges: list[GraphEdge]) -> set[tuple[str, str, str]]:
    return {(e.source.key, e.relation.value, e.target.key) for e in edges}


def test_interval_open_close(g: TemporalSceneGraph) -> None:
    g.set_relations(MUG, {(Relation.ON, rec(TABLE_A)), (Relation.IN, room("kitchen"))}, 100)
    (on,) = [e for e in g.edges_of(MUG) if e.relation is Relation.ON]
    assert on.intervals == (TimeInterval(100, None),)
    g.set_relations(MUG, {(Relation.IN, room("kitchen"))}, 200)
    (on,) = [e for e in g.edges_of(MUG) if e.relation is Relation.ON]
    assert on.intervals == (TimeInterval(100, 200),)
    # re-opening appends a new interval on the same networkx edge
    g.set_relations(MUG, {(Relation.ON, rec(TABLE_A)), (Relation.IN, room("kitchen"))}, 300)
    assert g.graph.number_of_edges("object/1", "receptacle/10") == 1
    data = g.graph.get_edge_data("object/1", "receptacle/10", key="on")
    assert data["intervals"] == [TimeInterval(100, 200), TimeInterval(300, None)]
    (room_edge,) = [e for e in g.edges_of(MUG) if e.relation is Relation.IN]
    assert room_edge.intervals == (TimeInterval(100, None),)
    # validity at a time
    assert edge_set(g.edges_of(MUG, t_ns=250)) == {("object/1", "in", "room/kitchen")}
    assert ("object/1", "on", "receptacle/10") in edge_set(g.edges_of(MUG, t_ns=150))
    # edges_of also lists incoming edges
    assert edge_set(g.edges_of(TABLE_A)) == {("object/1", "on", "receptacle/10")}


def test_close_all_closes_both_directions_and_presence(g: TemporalSceneGraph) -> None:
    g.set_relations(MUG, {(Relation.ON, rec(TABLE_A))}, 100)
    g.set_relations(TABLE_A, {(Relation.PART_OF, room("kitchen"))}, 100)
    g.close_all(TABLE_A, 500)
    for e in g.edges_of(TABLE_A):
        assert e.intervals[-1].end_ns == 500, e
    assert g.presence(TABLE_A) == (TimeInterval(0, 500),)
    assert g.edges_at(600) == []
    # the table re-appears: presence re-opens, old edges stay closed until set again
    g.upsert_instance(TABLE_A, NodeKind.RECEPTACLE, "table", 700)
    assert g.presence(TABLE_A) == (TimeInterval(0, 500), TimeInterval(700, None))
    assert g.edges_at(700) == []


def test_identical_relations_do_not_grow(g: TemporalSceneGraph) -> None:
    rels = {(Relation.ON, rec(TABLE_A)), (Relation.NEAR, rec(TABLE_B)), (Relation.IN, room("kitchen"))}
    g.set_relations(MUG, rels, 100)
    before = json.dumps(g.to_dict(), sort_keys=True)
    n_nodes, n_edges = g.graph.number_of_nodes(), g.graph.number_of_edges()
    for t in range(101, 1101):
        g.set_relations(MUG, list(rels), t)
        g.upsert_instance(MUG, NodeKind.OBJECT, "red mug", t)
    assert (g.graph.number_of_nodes(), g.graph.number_of_edges()) == (n_nodes, n_edges)
    after = g.to_dict()
    # only last_seen_ns moved
    for node in after["nodes"]:
        if node["key"] == "object/1":
            assert node["last_seen_ns"] == 1100
            node["last_seen_ns"] = 100
    assert json.dumps(after, sort_keys=True) == before
    assert all(len(e.intervals) == 1 for e in g.edges_of(MUG))


def test_state_at_time_travel(g: TemporalSceneGraph) -> None:
    t1, t2, t3, t4 = 1_000, 2_000, 3_000, 4_000
    g.set_relations(MUG, {(Relation.ON, rec(TABLE_A))}, t1)
    g.set_relations(MUG, {(Relation.ON, rec(TABLE_B))}, t3)

    s2 = g.state_at(t2)
    assert isinstance(s2, nx.MultiDiGraph)
    assert s2.has_edge("object/1", "receptacle/10", key="on")
    assert not s2.has_edge("object/1", "receptacle/11", key="on")
    s4 = g.state_at(t4)
    assert s4.has_edge("object/1", "receptacle/11", key="on")
    assert not s4.has_edge("object/1", "receptacle/10", key="on")
    # before the mug existed: rooms and tables only, no edges
    s0 = g.state_at(50)
    assert set(s0.nodes) == {"room/kitchen", "room/living", "receptacle/10", "receptacle/11"}
    assert s0.number_of_edges() == 0
    # the returned graph is a copy: mutating it leaves the memory alone
    s4.remove_node("object/1")
    assert "object/1" in g.graph


def test_edge_events_between_times(g: TemporalSceneGraph) -> None:
    g.set_relations(MUG, {(Relation.ON, rec(TABLE_A))}, 1_000)
    g.set_relations(MUG, {(Relation.ON, rec(TABLE_B))}, 3_000)
    g.set_relations(MUG, set(), 5_000)
    ev = g.edge_events(2_000, 4_000)
    assert [(e.stamp_ns, e.kind, e.edge.target.key) for e in ev] == [
        (3_000, "closed", "receptacle/10"),
        (3_000, "opened", "receptacle/11"),
    ]
    assert ev[0].edge.intervals == (TimeInterval(1_000, 3_000),)
    all_ev = g.edge_events(0, 10_000)
    assert [e.stamp_ns for e in all_ev] == sorted(e.stamp_ns for e in all_ev)
    assert len(all_ev) == 4
    assert g.edge_events(6_000, 7_000) == []
    with pytest.raises(QueryError, match="t1_ns"):
        g.edge_events(10, 5)


def test_merge_instances(g: TemporalSceneGraph) -> None:
    # instance 2 is a re-detection of the mug, seen on table B later; it was near the mug itself
    g.set_relations(MUG, {(Relation.ON, rec(TABLE_A)), (Relation.IN, room("kitchen"))}, 100)
    g.close_all(MUG, 400)
    g.upsert_instance(2, NodeKind.OBJECT, "mug", 500)
    g.set_relations(2, {(Relation.ON, rec(TABLE_B)), (Relation.IN, room("kitchen"))}, 500)
    g.upsert_instance(3, NodeKind.OBJECT, "spoon", 500)
    g.set_relations(3, {(Relation.NEAR, NodeRef(NodeKind.OBJECT, instance_id=2))}, 500)
    g.set_relations(2, {(Relation.ON, rec(TABLE_B)), (Relation.IN, room("kitchen")),
                        (Relation.NEAR, NodeRef(NodeKind.OBJECT, instance_id=MUG))}, 600)

    g.merge_instances(MUG, 2)
    assert not g.has_instance(2)
    assert "object/2" not in g.graph
    edges = {(e.source.key, e.relation.value, e.target.key): e.intervals for e in g.edges_of(MUG)}
    assert edges[("object/1", "on", "receptacle/10")] == (TimeInterval(100, 400),)
    assert edges[("object/1", "on", "receptacle/11")] == (TimeInterval(500, None),)
    # the room edge of both is one edge with both stays
    assert edges[("object/1", "in", "room/kitchen")] == (TimeInterval(100, 400), TimeInterval(500, None))
    # incoming edges moved too; the self-relation (2 near 1) is dropped
    assert edges[("object/3", "near", "object/1")] == (TimeInterval(500, None),)
    assert not g.graph.has_edge("object/1", "object/1")
    assert g.presence(MUG) == (TimeInterval(100, 400), TimeInterval(500, None))
    assert g.state_at(450).has_node("object/1") is False
    with pytest.raises(MemoryStateError, match="not in the scene graph"):
        g.merge_instances(MUG, 2)
    with pytest.raises(MemoryStateError, match="itself"):
        g.merge_instances(MUG, MUG)


def test_bad_mutations_raise_and_change_nothing(g: TemporalSceneGraph) -> None:
    g.set_relations(MUG, {(Relation.ON, rec(TABLE_A))}, 1_000)
    before = g.to_dict()
    with pytest.raises(MemoryStateError, match="upsert_instance"):
        g.set_relations(99, {(Relation.ON, rec(TABLE_A))}, 2_000)
    with pytest.raises(MemoryStateError, match="room/attic"):
        g.set_relations(MUG, {(Relation.ON, rec(TABLE_B)), (Relation.IN, room("attic"))}, 2_000)
    with pytest.raises(MemoryStateError, match="integer instance_id"):
        g.set_relations(MUG, {(Relation.ON, NodeRef(NodeKind.RECEPTACLE))}, 2_000)
    with pytest.raises(MemoryStateError, match="backwards"):
        g.set_relations(MUG, {(Relation.ON, rec(TABLE_B))}, 500)
    with pytest.raises(MemoryStateError, match="itself"):
        g.set_relations(MUG, {(Relation.NEAR, NodeRef(NodeKind.OBJECT, instance_id=MUG))}, 2_000)
    with pytest.raises(MemoryStateError, match="pairs"):
        g.set_relations(MUG, {("on", rec(TABLE_B))}, 2_000)  # type: ignore[arg-type]
    with pytest.raises(MemoryStateError, match="backwards"):
        g.close_all(MUG, 10)
    with pytest.raises(MemoryStateError, match="set_room"):
        g.upsert_instance(5, NodeKind.ROOM, "x", 0)
    with pytest.raises(MemoryStateError):
        g.edges_of(12345)
    assert g.to_dict() == before


def test_target_not_upserted_yet_is_added(g: TemporalSceneGraph) -> None:
    # a frame's instances may be processed in any order: the new shelf is referenced before its upsert
    g.set_relations(MUG, {(Relation.ON, rec(SHELF))}, 1_000)
    assert g.has_instance(SHELF) and g.presence(SHELF) == (TimeInterval(1_000, None),)
    g.upsert_instance(SHELF, NodeKind.RECEPTACLE, "shelf", 1_000)
    assert g.graph.nodes["receptacle/12"]["label"] == "shelf"
    assert g.presence(SHELF) == (TimeInterval(1_000, None),)
    assert edge_set(g.edges_of(SHELF)) == {("object/1", "on", "receptacle/12")}
    # targets resolve by instance id: a stale kind in the NodeRef still finds the node
    g.set_relations(SHELF, {(Relation.NEAR, NodeRef(NodeKind.RECEPTACLE, instance_id=MUG))}, 1_100)
    assert edge_set(g.edges_of(SHELF, 1_100)) == {
        ("object/1", "on", "receptacle/12"), ("receptacle/12", "near", "object/1")
    }
    assert "receptacle/1" not in g.graph


def test_kind_change_rekeys_node(g: TemporalSceneGraph) -> None:
    g.set_relations(MUG, {(Relation.ON, rec(TABLE_A))}, 100)
    g.upsert_instance(MUG, NodeKind.RECEPTACLE, "tray", 200)
    assert "receptacle/1" in g.graph and "object/1" not in g.graph
    assert edge_set(g.edges_of(MUG)) == {("receptacle/1", "on", "receptacle/10")}


# ------------------------------------------------------------------------------------------ relations

TABLE_BOX = box((1.0, 1.0, 0.0), (2.0, 2.0, 0.75))
DRAWER_BOX = box((3.0, 1.0, 0.3), (3.5, 1.5, 0.6))
CABINET_BOX = box((2.9, 0.9, 0.0), (3.6, 1.6, 1.2))
SOFA_BOX = box((6.0, 1.0, 0.0), (8.0, 2.0, 0.5))
ROOMS = [Region("kitchen", box((0, 0, 0), (5, 5, 3))), Region("living", box((5, 0, 0), (10, 5, 3)))]


def test_compute_relations_on_picks_highest_and_near() -> None:
    recs = [(10, TABLE_BOX), (12, DRAWER_BOX), (20, SOFA_BOX)]
    mug = box((1.4, 1.4, 0.76), (1.5, 1.5, 0.86))  # resting on the table top
    # the drawer is 1.56 m from the mug centre, the sofa 4.5 m: with a 2 m near distance only the drawer is
    # near; the table it is ON is not also NEAR
    rels = compute_relations(mug, recs, ROOMS, GraphConfig(on_tolerance=0.1, near_distance=2.0))
    assert rels == {(Relation.ON, rec(10)), (Relation.IN, room("kitchen")), (Relation.NEAR, rec(12))}
    # two supports within tolerance of the bottom (table top 0.75, tray top 0.80): the higher one wins
    stacked = box((1.4, 1.4, 0.81), (1.5, 1.5, 0.90))
    recs2 = [(10, TABLE_BOX), (11, box((1.2, 1.2, 0.0), (1.8, 1.8, 0.80)))]
    rels2 = compute_relations(stacked, recs2, ROOMS, CFG)
    assert rels2 == {(Relation.ON, rec(11)), (Relation.NEAR, rec(10)), (Relation.IN, room("kitchen"))}


def test_compute_relations_exact_cases() -> None:
    recs = [(10, TABLE_BOX), (12, DRAWER_BOX)]
    mug = box((1.4, 1.4, 0.76), (1.5, 1.5, 0.86))
    # ON the table (so the table is not also NEAR); the drawer is 1.56 m away -> not near at 1.0 m
    expected = {(Relation.ON, rec(10)), (Relation.IN, room("kitchen"))}
    assert compute_relations(mug, recs, ROOMS, CFG) == expected
    # floating 0.3 m above the table: not ON, but NEAR the table
    floating = box((1.4, 1.4, 1.05), (1.5, 1.5, 1.15))
    expected = {(Relation.NEAR, rec(10)), (Relation.IN, room("kitchen"))}
    assert compute_relations(floating, recs, ROOMS, CFG) == expected
    # beside the table at table-top height but no xy overlap: not ON
    beside = box((2.1, 1.4, 0.76), (2.2, 1.5, 0.86))
    assert (Relation.ON, rec(10)) not in compute_relations(beside, recs, ROOMS, CFG)


def test_compute_relations_in_receptacle() -> None:
    # a spoon inside the drawer, which is inside the cabinet: the innermost container wins, the other is near
    spoon = box((3.1, 1.1, 0.31), (3.3, 1.2, 0.35))
    recs = [(12, DRAWER_BOX), (13, CABINET_BOX)]
    rels = compute_relations(spoon, recs, ROOMS, CFG)
    assert rels == {(Relation.IN, rec(12)), (Relation.NEAR, rec(13)), (Relation.IN, room("kitchen"))}


def test_compute_relations_receptacle_part_of_room_and_self_excluded() -> None:
    recs = [(10, TABLE_BOX), (20, SOFA_BOX)]
    rels = compute_relations(SOFA_BOX, recs, ROOMS, CFG, self_id=20)
    assert rels == {(Relation.PART_OF, room("living"))}
    rels = compute_relations(TABLE_BOX, recs, ROOMS, CFG, self_id=10)
    assert rels == {(Relation.PART_OF, room("kitchen"))}
    # explicit flag wins over inference
    rels = compute_relations(TABLE_BOX, [], ROOMS, CFG, self_id=10, is_receptacle=True)
    assert rels == {(Relation.PART_OF, room("kitchen"))}


def test_compute_relations_in_room_and_outside() -> None:
    ball = box((7.0, 3.0, 0.0), (7.2, 3.2, 0.2))
    assert compute_relations(ball, [], ROOMS, CFG) == {(Relation.IN, room("living"))}
    outside = box((20.0, 20.0, 0.0), (20.2, 20.2, 0.2))
    assert compute_relations(outside, [(10, TABLE_BOX)], ROOMS, CFG) == set()
    # nested rooms: the smaller one wins
    nook = Region("nook", box((6.5, 2.5, 0.0), (7.5, 3.5, 3.0)))
    assert compute_relations(ball, [], [*ROOMS, nook], CFG) == {(Relation.IN, room("nook"))}


def test_compute_relations_rejects_bad_boxes() -> None:
    with pytest.raises(MemoryStateError, match="min"):
        compute_relations(box((1, 1, 1), (0, 0, 0)), [], ROOMS, CFG)
    with pytest.raises(MemoryStateError, match=r"\[10\]"):
        compute_relations(box((0, 0, 0), (1, 1, 1)), [(10, box((1, 1, 1), (0, 0, 0)))], ROOMS, CFG)


def test_compute_relations_feeds_graph(g: TemporalSceneGraph) -> None:
    recs = [(TABLE_A, TABLE_BOX)]
    mug = box((1.4, 1.4, 0.76), (1.5, 1.5, 0.86))
    g.set_relations(MUG, compute_relations(mug, recs, ROOMS, CFG, self_id=MUG), 100)
    expected = {("object/1", "on", "receptacle/10"), ("object/1", "in", "room/kitchen")}
    assert edge_set(g.edges_at(100)) == expected


# ------------------------------------------------------------------------------------------ persistence


def test_to_dict_from_dict_round_trip_through_json(g: TemporalSceneGraph) -> None:
    g.set_relations(MUG, {(Relation.ON, rec(TABLE_A)), (Relation.IN, room("kitchen"))}, 1_000)
    g.set_relations(MUG, {(Relation.ON, rec(TABLE_B)), (Relation.IN, room("kitchen"))}, 3_000)
    g.set_relations(TABLE_B, {(Relation.PART_OF, room("kitchen"))}, 3_000)
    g.close_all(TABLE_A, 4_000)
    text = json.dumps(g.to_dict())
    g2 = TemporalSceneGraph.from_dict(CFG, json.loads(text))
    assert g2.to_dict() == g.to_dict()
    assert edge_set(g2.edges_at(2_000)) == edge_set(g.edges_at(2_000))
    assert g2.instance_ids() == [MUG, TABLE_A, TABLE_B]
    assert [r.name for r in g2.rooms()] == ["kitchen", "living"]
    # the loaded graph keeps working
    g2.set_relations(MUG, {(Relation.IN, room("kitchen"))}, 5_000)
    assert edge_set(g2.edges_of(MUG, 5_001)) == {("object/1", "in", "room/kitchen")}
    assert g2.graph.edges["object/1", "receptacle/11", "on"]["intervals"] == [TimeInterval(3_000, 5_000)]


def _corrupt(data: dict, path: list, value: object) -> dict:
    out = copy.deepcopy(data)
    node = out
    for p in path[:-1]:
        node = node[p]
    if value is KeyError:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return out


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (["version"], 99, "version 99"),
        (["format"], "something", "format"),
        (["nodes"], {"a": 1}, "nodes: expected list"),
        (["nodes", 0, "kind"], "planet", "planet"),
        (["nodes", 0, "key"], KeyError, "missing field 'key'"),
        (["nodes", 2, "presence"], [[5, 1]], r"end 1 < start 5"),
        (["nodes", 2, "presence"], [[1, None], [5, None]], "only the last"),
        (["nodes", 2, "instance_id"], "one", "expected an integer"),
        (["nodes", 2, "instance_id"], 77, "does not match"),
        (["edges", 0, "relation"], "under", "under"),
        (["edges", 0, "target"], "receptacle/999", "not in 'nodes'"),
        (["edges", 0, "intervals"], [[1, 2], [0, None]], "sorted and disjoint"),
        (["edges", 0, "intervals"], [], "at least one"),
        (["edges", 0, "intervals"], [[True, None]], "expected an integer"),
    ],
)
def test_from_dict_rejects_malformed(g: TemporalSceneGraph, path: list, value: object, message: str) -> None:
    g.set_relations(MUG, {(Relation.ON, rec(TABLE_A))}, 1_000)
    data = g.to_dict()
    assert [n["key"] for n in data["nodes"]][:3] == ["object/1", "receptacle/10", "receptacle/11"]
    with pytest.raises(PersistenceError, match=message):
        TemporalSceneGraph.from_dict(CFG, _corrupt(data, path, value))


def test_from_dict_rejects_non_mapping_and_duplicates(g: TemporalSceneGraph) -> None:
    with pytest.raises(PersistenceError, match="JSON object"):
        TemporalSceneGraph.from_dict(CFG, [1, 2])
    g.set_relations(MUG, {(Relation.ON, rec(TABLE_A))}, 1_000)
    data = g.to_dict()
    data["edges"].append(copy.deepcopy(data["edges"][0]))
    with pytest.raises(PersistenceError, match="duplicate edge"):
        TemporalSceneGraph.from_dict(CFG, data)
    data = g.to_dict()
    data["nodes"].append(copy.deepcopy(data["nodes"][0]))
    with pytest.raises(PersistenceError, match="duplicate node"):
        TemporalSceneGraph.from_dict(CFG, data)
