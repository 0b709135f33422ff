"""Temporal scene graph: rooms, receptacles and objects, and the time intervals their relations held.

Nodes are keyed by :attr:`robomem.core.query_types.NodeRef.key` (``"room/kitchen"``, ``"object/12"``,
``"receptacle/3"``). Each node carries:

* ``kind`` (:class:`NodeKind`), ``instance_id`` (None for rooms), ``name`` (rooms), ``label`` (text),
* ``box`` (:class:`Box3D`, rooms only, world frame, m),
* ``presence``: list of :class:`TimeInterval` during which an instance was believed to exist (opened by
  :meth:`TemporalSceneGraph.upsert_instance`, closed by :meth:`TemporalSceneGraph.close_all`); rooms always
  exist,
* ``last_seen_ns``: the latest stamp the instance was upserted with (None for rooms).

There is exactly one networkx edge per ``(source, relation, target)``; its key is ``relation.value`` and its
attribute ``intervals`` is a list of :class:`TimeInterval`, oldest first, disjoint; only the last may be
open (``end_ns is None``). Re-opening a closed edge appends a new interval (or extends the last one when it
ended at the very stamp it re-opens at). Intervals are closed ``[start_ns, end_ns]`` (see
:class:`TimeInterval`), so at the exact stamp an object moves from table A to table B both ``on`` edges are
valid.

A static scene must not grow the graph: :meth:`TemporalSceneGraph.set_relations` with an unchanged relation
set and repeated :meth:`TemporalSceneGraph.upsert_instance` calls change nothing but ``last_seen_ns``.

Every mutating method validates its arguments first and raises :class:`~robomem.errors.MemoryStateError`
(with the graph unchanged) on an unknown instance, an unknown relation target or a stamp earlier than the
interval it would close.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Iterable, Literal, Optional, Sequence

import networkx as nx
import numpy as np

from robomem.config import GraphConfig
from robomem.core.query_types import GraphEdge, NodeRef
from robomem.core.scene_graph_checks import _box, _check_stamp, _field, _int, _intervals
from robomem.core.scene_relations import compute_relations as compute_relations  # re-export
from robomem.core.types import Box3D, NodeKind, Region, Relation, TimeInterval
from robomem.errors import MemoryStateError, PersistenceError, QueryError

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
"""Version of the :meth:`TemporalSceneGraph.to_dict` layout."""

EdgeEventKind = Literal["opened", "closed"]


@dataclass(frozen=True)
class EdgeEvent:
    """A relation started (``"opened"``) or stopped (``"closed"``) holding at ``stamp_ns``.

    ``edge.intervals`` holds only the one interval that opened or closed.
    """

    stamp_ns: int
    kind: EdgeEventKind
    edge: GraphEdge


def _instance_key(kind: NodeKind, instance_id: int) -> str:
    return NodeRef(kind, instance_id=instance_id).key


def _room_key(name: str) -> str:
    return NodeRef(NodeKind.ROOM, name=name).key


def _merge_intervals(intervals: Iterable[TimeInterval]) -> list[TimeInterval]:
    """Union of intervals as a sorted list of disjoint intervals (touching ones are joined)."""
    out: list[TimeInterval] = []
    for iv in sorted(intervals, key=lambda i: i.start_ns):
        if out and (out[-1].end_ns is None or iv.start_ns <= out[-1].end_ns):
            last = out[-1]
            if last.end_ns is None or iv.end_ns is None:
                end: Optional[int] = None
            else:
                end = max(last.end_ns, iv.end_ns)
            out[-1] = TimeInterval(last.start_ns, end)
        else:
            out.append(iv)
    return out


def _is_open(intervals: Sequence[TimeInterval]) -> bool:
    return bool(intervals) and intervals[-1].end_ns is None


class TemporalSceneGraph:
    """Rooms, receptacles and objects with time-stamped relations (``on``, ``in``, ``near``, ``part_of``).

    Edges point from the dependent thing to its support/container (object -> receptacle -> room).
    """

    def __init__(self, config: GraphConfig) -> None:
        config.validate()
        self.config = config
        self._g: nx.MultiDiGraph = nx.MultiDiGraph()
        self._keys: dict[int, str] = {}  # instance id -> node key

    # ------------------------------------------------------------------------------------------ accessors

    @property
    def graph(self) -> nx.MultiDiGraph:
        """The live graph (read-only use: mutate only through this class's methods)."""
        return self._g

    def has_instance(self, instance_id: int) -> bool:
        return instance_id in self._keys

    def instance_ids(self) -> list[int]:
        """Ids of every instance node, ascending."""
        return sorted(self._keys)

    def node_ref(self, instance_id: int) -> NodeRef:
        """The :class:`NodeRef` of an instance node (raises MemoryStateError when unknown)."""
        return self._ref(self._key_of(instance_id))

    def rooms(self) -> list[Region]:
        """Every room set with :meth:`set_room`, by name."""
        out = []
        for _, data in self._g.nodes(data=True):
            if data["kind"] is NodeKind.ROOM:
                out.append(Region(data["name"], data["box"]))
        return sorted(out, key=lambda r: r.name)

    def presence(self, instance_id: int) -> tuple[TimeInterval, ...]:
        """When the instance was believed to exist (oldest first; the last may be open)."""
        return tuple(self._g.nodes[self._key_of(instance_id)]["presence"])

    def __len__(self) -> int:
        """Number of edges (one per (source, relation, target), however often it re-opened)."""
        return int(self._g.number_of_edges())

    # ------------------------------------------------------------------------------------------ mutation

    def set_room(self, name: str, box: Box3D) -> None:
        """Add a room node (or update its box). Rooms exist at every time."""
        if not isinstance(name, str) or not name or "/" in name:
            raise MemoryStateError(f"room name must be a non-empty string without '/', got {name!r}")
        box = Box3D(tuple(map(float, box[0])), tuple(map(float, box[1])))  # type: ignore[arg-type]
        if any(box.min_xyz[i] > box.max_xyz[i] for i in range(3)):
            raise MemoryStateError(
                f"room {name!r}: box min {box.min_xyz} must be <= max {box.max_xyz} on every axis"
            )
        key = _room_key(name)
        if key in self._g:
            self._g.nodes[key]["box"] = box
        else:
            self._g.add_node(
                key, kind=NodeKind.ROOM, instance_id=None, name=name, label=name, box=box, presence=[],
                last_seen_ns=None,
            )

    def upsert_instance(self, instance_id: int, kind: NodeKind, label: str, stamp_ns: int) -> None:
        """Add an object/receptacle node or refresh it (label, ``last_seen_ns``).

        A node whose presence was closed by :meth:`close_all` re-opens a presence interval at ``stamp_ns``. A
        changed ``kind`` (object re-classified as receptacle or back) re-keys the node, keeping its edges.
        """
        _check_stamp(stamp_ns)
        if kind is NodeKind.ROOM or not isinstance(kind, NodeKind):
            raise MemoryStateError(
                f"instance {instance_id}: kind must be OBJECT or RECEPTACLE, got {kind!r}; "
                "use set_room for rooms"
            )
        if isinstance(instance_id, bool) or not isinstance(instance_id, (int, np.integer)):
            raise MemoryStateError(f"instance id must be an int, got {instance_id!r}")
        instance_id = int(instance_id)
        key = self._keys.get(instance_id)
        if key is None:
            new_key = _instance_key(kind, instance_id)
            self._g.add_node(
                new_key, kind=kind, instance_id=instance_id, name="", label=str(label), box=None,
                presence=[TimeInterval(stamp_ns)], last_seen_ns=stamp_ns,
            )
            self._keys[instance_id] = new_key
            return
        data = self._g.nodes[key]
        presence: list[TimeInterval] = data["presence"]
        if not _is_open(presence) and presence and presence[-1].end_ns is not None \
                and stamp_ns < presence[-1].end_ns:
            raise MemoryStateError(
                f"instance {instance_id} was closed at {presence[-1].end_ns} ns; it cannot re-appear at the "
                f"earlier stamp {stamp_ns} ns (stamps must not go backwards)"
            )
        if data["kind"] is not kind:
            new_key = _instance_key(kind, instance_id)
            nx.relabel_nodes(self._g, {key: new_key}, copy=False)
            self._keys[instance_id] = new_key
            data = self._g.nodes[new_key]
            data["kind"] = kind
            log.debug("scene graph: instance %d re-keyed %s -> %s", instance_id, key, new_key)
        data["label"] = str(label)
        data["last_seen_ns"] = max(stamp_ns, data["last_seen_ns"])
        if not _is_open(presence):
            if presence and presence[-1].end_ns == stamp_ns:
                presence[-1] = TimeInterval(presence[-1].start_ns)
            else:
                presence.append(TimeInterval(stamp_ns))

    def set_relations(
        self, instance_id: int, relations: Iterable[tuple[Relation, NodeRef]], stamp_ns: int
    ) -> None:
        """Make ``relations`` the instance's open outgoing edges as of ``stamp_ns``.

        Open outgoing edges not in ``relations`` are closed (``end_ns = stamp_ns``); relations not open yet
        are opened (``start_ns = stamp_ns``); an identical set changes nothing.

        Instance targets are resolved by ``instance_id`` (the node's current kind wins over the NodeRef's).
        An instance target not in the graph yet is added (NodeRef's kind, empty label, present from
        ``stamp_ns``) so callers may upsert a frame's instances in any order; a later ``upsert_instance``
        fills in its label. Room targets must exist (:meth:`set_room`).
        """
        _check_stamp(stamp_ns)
        src = self._key_of(instance_id)
        wanted: dict[tuple[str, str], Relation] = {}
        placeholders: dict[str, NodeRef] = {}
        for item in relations:
            try:
                rel, target = item
            except (TypeError, ValueError):
                raise MemoryStateError(
                    f"instance {instance_id}: relations must be (Relation, NodeRef) pairs, got {item!r}"
                ) from None
            if not isinstance(rel, Relation) or not isinstance(target, NodeRef):
                raise MemoryStateError(
                    f"instance {instance_id}: relations must be (Relation, NodeRef) pairs, got {item!r}"
                )
            tid = target.instance_id
            if target.kind is NodeKind.ROOM:
                tkey = target.key
                if tkey not in self._g:
                    raise MemoryStateError(
                        f"instance {instance_id}: relation target {tkey!r} is not in the scene graph; "
                        "add the room first with set_room"
                    )
            elif isinstance(tid, bool) or not isinstance(tid, (int, np.integer)):
                raise MemoryStateError(
                    f"instance {instance_id}: relation target {target!r} has no integer instance_id"
                )
            elif int(tid) in self._keys:  # resolved by id: the node's kind may differ from the NodeRef's
                tkey = self._keys[int(tid)]
            else:
                tkey = target.key
                placeholders[tkey] = target
            if tkey == src:
                raise MemoryStateError(
                    f"instance {instance_id}: a relation cannot point at itself ({rel.value})"
                )
            wanted[(rel.value, tkey)] = rel
        # Validate every change against the stamps before mutating anything.
        to_close: list[tuple[str, str]] = []
        for _, tgt, rkey, data in self._g.out_edges(src, keys=True, data=True):
            ivs: list[TimeInterval] = data["intervals"]
            if _is_open(ivs) and (rkey, tgt) not in wanted:
                if stamp_ns < ivs[-1].start_ns:
                    raise MemoryStateError(
                        f"instance {instance_id}: cannot close '{rkey}' -> {tgt} at {stamp_ns} ns, it opened "
                        f"later at {ivs[-1].start_ns} ns (stamps must not go backwards)"
                    )
                to_close.append((tgt, rkey))
        to_open: list[tuple[str, str]] = []
        for rkey, tgt in wanted:
            existing = self._g.get_edge_data(src, tgt, key=rkey)
            if existing is None:
                to_open.append((tgt, rkey))
                continue
            ivs = existing["intervals"]
            if _is_open(ivs):
                continue
            if ivs and ivs[-1].end_ns is not None and stamp_ns < ivs[-1].end_ns:
                raise MemoryStateError(
                    f"instance {instance_id}: cannot re-open '{rkey}' -> {tgt} at {stamp_ns} ns, it closed "
                    f"later at {ivs[-1].end_ns} ns (stamps must not go backwards)"
                )
            to_open.append((tgt, rkey))
        for tkey, ref in placeholders.items():
            assert ref.instance_id is not None
            log.debug("scene graph: relation target %s added before its upsert_instance", tkey)
            self._g.add_node(
                tkey, kind=ref.kind, instance_id=int(ref.instance_id), name="", label="", box=None,
                presence=[TimeInterval(stamp_ns)], last_seen_ns=stamp_ns,
            )
            self._keys[int(ref.instance_id)] = tkey
        for tgt, rkey in to_close:
            ivs = self._g.edges[src, tgt, rkey]["intervals"]
            ivs[-1] = TimeInterval(ivs[-1].start_ns, stamp_ns)
        for tgt, rkey in to_open:
            self._open_edge(src, tgt, rkey, stamp_ns)

    def close_all(self, instance_id: int, stamp_ns: int) -> None:
        """The instance vanished at ``stamp_ns``: close its open edges (both directions) and its presence."""
        _check_stamp(stamp_ns)
        key = self._key_of(instance_id)
        edges = list(self._g.out_edges(key, keys=True, data=True))
        edges += list(self._g.in_edges(key, keys=True, data=True))
        presence: list[TimeInterval] = self._g.nodes[key]["presence"]
        for u, v, rkey, data in edges:
            ivs = data["intervals"]
            if _is_open(ivs) and stamp_ns < ivs[-1].start_ns:
                raise MemoryStateError(
                    f"instance {instance_id}: cannot close '{rkey}' {u} -> {v} at {stamp_ns} ns, it opened "
                    f"later at {ivs[-1].start_ns} ns (stamps must not go backwards)"
                )
        if _is_open(presence) and stamp_ns < presence[-1].start_ns:
            raise MemoryStateError(
                f"instance {instance_id}: cannot mark it vanished at {stamp_ns} ns, it (re)appeared later at "
                f"{presence[-1].start_ns} ns"
            )
        for _, _, _, data in edges:
            ivs = data["intervals"]
            if _is_open(ivs):
                ivs[-1] = TimeInterval(ivs[-1].start_ns, stamp_ns)
        if _is_open(presence):
            presence[-1] = TimeInterval(presence[-1].start_ns, stamp_ns)

    def merge_instances(self, keep_id: int, drop_id: int) -> None:
        """Re-identification: ``drop_id`` is the same thing as ``keep_id``.

        Every edge of ``drop`` is moved onto ``keep`` (intervals of an edge both had are united); edges
        between the two become self-loops and are discarded. Presence intervals are united; ``keep``'s kind
        and label stay (``drop``'s label is used if ``keep`` has none). ``drop`` is removed.
        """
        if keep_id == drop_id:
            raise MemoryStateError(f"cannot merge instance {keep_id} into itself")
        keep = self._key_of(keep_id)
        drop = self._key_of(drop_id)
        moved: list[tuple[str, str, str, list[TimeInterval]]] = []
        for _, v, rkey, data in self._g.out_edges(drop, keys=True, data=True):
            tgt = keep if v == drop else v
            if tgt != keep:
                moved.append((keep, tgt, rkey, data["intervals"]))
        for u, _, rkey, data in self._g.in_edges(drop, keys=True, data=True):
            src = keep if u == drop else u
            if src != keep:
                moved.append((src, keep, rkey, data["intervals"]))
        for u, v, rkey, ivs in moved:
            existing = self._g.get_edge_data(u, v, key=rkey)
            merged = _merge_intervals(list(ivs) + (list(existing["intervals"]) if existing else []))
            if existing is None:
                self._g.add_edge(u, v, key=rkey, intervals=merged)
            else:
                existing["intervals"] = merged
        kdata = self._g.nodes[keep]
        ddata = self._g.nodes[drop]
        kdata["presence"] = _merge_intervals(list(kdata["presence"]) + list(ddata["presence"]))
        kdata["last_seen_ns"] = max(kdata["last_seen_ns"], ddata["last_seen_ns"])
        if not kdata["label"]:
            kdata["label"] = ddata["label"]
        self._g.remove_node(drop)
        del self._keys[drop_id]
        log.debug("scene graph: merged instance %d into %d (%d edges moved)", drop_id, keep_id, len(moved))

    def remove_instance(self, instance_id: int) -> None:
        """Forget an instance and all its edges (history included)."""
        key = self._key_of(instance_id)
        self._g.remove_node(key)
        del self._keys[instance_id]

    # ------------------------------------------------------------------------------------------ queries

    def edges_of(self, instance_id: int, t_ns: Optional[int] = None) -> list[GraphEdge]:
        """Edges touching the instance (outgoing, then incoming); only those valid at ``t_ns`` when given."""
        key = self._key_of(instance_id)
        edges = list(self._g.out_edges(key, keys=True, data=True)) + [
            e for e in self._g.in_edges(key, keys=True, data=True) if e[0] != key
        ]
        return [
            self._edge(u, v, rkey, data["intervals"])
            for u, v, rkey, data in edges
            if t_ns is None or any(iv.contains(t_ns) for iv in data["intervals"])
        ]

    def edges_at(self, t_ns: int) -> list[GraphEdge]:
        """Every edge valid at ``t_ns`` (with all its intervals)."""
        return [
            self._edge(u, v, rkey, data["intervals"])
            for u, v, rkey, data in self._g.edges(keys=True, data=True)
            if any(iv.contains(t_ns) for iv in data["intervals"])
        ]

    def state_at(self, t_ns: int) -> nx.MultiDiGraph:
        """The graph as it was at ``t_ns``: rooms, instances present then, and the edges valid then.

        Node attributes are copies (``presence`` as a tuple); edges keep their ``intervals`` (as a tuple).
        The endpoints of a valid edge are always included.
        """
        out: nx.MultiDiGraph = nx.MultiDiGraph()

        def add(key: str) -> None:
            if key not in out:
                data = dict(self._g.nodes[key])
                data["presence"] = tuple(data["presence"])
                out.add_node(key, **data)

        for key, data in self._g.nodes(data=True):
            if data["kind"] is NodeKind.ROOM or any(iv.contains(t_ns) for iv in data["presence"]):
                add(key)
        for u, v, rkey, data in self._g.edges(keys=True, data=True):
            if any(iv.contains(t_ns) for iv in data["intervals"]):
                add(u)
                add(v)
                out.add_edge(u, v, key=rkey, intervals=tuple(data["intervals"]))
        return out

    def edge_events(self, t0_ns: int, t1_ns: int) -> list[EdgeEvent]:
        """Relations that opened or closed in ``[t0_ns, t1_ns]``, time-sorted (closings before openings at
        the same stamp, so a move reads "left A, then arrived at B")."""
        if t1_ns < t0_ns:
            raise QueryError(f"edge_events: t1_ns ({t1_ns}) must be >= t0_ns ({t0_ns})")
        events: list[EdgeEvent] = []
        for u, v, rkey, data in self._g.edges(keys=True, data=True):
            for iv in data["intervals"]:
                if t0_ns <= iv.start_ns <= t1_ns:
                    events.append(EdgeEvent(iv.start_ns, "opened", self._edge(u, v, rkey, [iv])))
                if iv.end_ns is not None and t0_ns <= iv.end_ns <= t1_ns:
                    events.append(EdgeEvent(iv.end_ns, "closed", self._edge(u, v, rkey, [iv])))
        events.sort(key=lambda e: (e.stamp_ns, e.kind != "closed", e.edge.source.key, e.edge.relation.value,
                                   e.edge.target.key))
        return events

    # ------------------------------------------------------------------------------------------ persistence

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable snapshot (ints, strings, lists, None only)."""
        nodes = []
        for key, data in sorted(self._g.nodes(data=True), key=lambda kv: kv[0]):
            box = data["box"]
            nodes.append({
                "key": key,
                "kind": data["kind"].value,
                "instance_id": data["instance_id"],
                "name": data["name"],
                "label": data["label"],
                "box": None if box is None else [list(box.min_xyz), list(box.max_xyz)],
                "presence": [[iv.start_ns, iv.end_ns] for iv in data["presence"]],
                "last_seen_ns": data["last_seen_ns"],
            })
        edges = [
            {"source": u, "relation": rkey, "target": v,
             "intervals": [[iv.start_ns, iv.end_ns] for iv in data["intervals"]]}
            for u, v, rkey, data in sorted(
                self._g.edges(keys=True, data=True), key=lambda e: (e[0], e[2], e[1])
            )
        ]
        return {"format": "robomem.scene_graph", "version": FORMAT_VERSION, "nodes": nodes, "edges": edges}

    @classmethod
    def from_dict(cls, config: GraphConfig, data: Any) -> TemporalSceneGraph:
        """Rebuild a graph written by :meth:`to_dict`; raises PersistenceError naming the first bad field."""
        graph = cls(config)
        if not isinstance(data, dict):
            raise PersistenceError(f"scene graph: expected a JSON object, got {type(data).__name__}")
        if data.get("format") != "robomem.scene_graph":
            raise PersistenceError(
                f"scene graph: 'format' is {data.get('format')!r}, expected 'robomem.scene_graph' "
                "(this is not a scene graph written by robomem)"
            )
        if data.get("version") != FORMAT_VERSION:
            raise PersistenceError(
                f"scene graph: version {data.get('version')!r} is not supported (this robomem reads version "
                f"{FORMAT_VERSION}); re-save the memory with a matching robomem"
            )
        nodes = _field(data, "nodes", list, "scene graph")
        edges = _field(data, "edges", list, "scene graph")
        for i, nd in enumerate(nodes):
            where = f"scene graph nodes[{i}]"
            if not isinstance(nd, dict):
                raise PersistenceError(f"{where}: expected an object, got {type(nd).__name__}")
            key = _field(nd, "key", str, where)
            kind_s = _field(nd, "kind", str, where)
            try:
                kind = NodeKind(kind_s)
            except ValueError:
                raise PersistenceError(
                    f"{where}.kind: {kind_s!r} is not one of {[k.value for k in NodeKind]}"
                ) from None
            label = _field(nd, "label", str, where)
            presence = _intervals(nd.get("presence"), f"{where}.presence")
            if key in graph._g:
                raise PersistenceError(f"{where}: duplicate node key {key!r}")
            if kind is NodeKind.ROOM:
                name = _field(nd, "name", str, where)
                box = _box(nd.get("box"), f"{where}.box")
                if key != _room_key(name):
                    raise PersistenceError(f"{where}: key {key!r} does not match room name {name!r}")
                graph._g.add_node(key, kind=kind, instance_id=None, name=name, label=label, box=box,
                                  presence=presence, last_seen_ns=None)
            else:
                iid = _int(nd.get("instance_id"), f"{where}.instance_id")
                last_seen = _int(nd.get("last_seen_ns"), f"{where}.last_seen_ns")
                if key != _instance_key(kind, iid):
                    raise PersistenceError(f"{where}: key {key!r} does not match kind {kind.value!r} and "
                                           f"instance_id {iid}")
                if iid in graph._keys:
                    raise PersistenceError(f"{where}: instance id {iid} appears twice")
                graph._g.add_node(key, kind=kind, instance_id=iid, name="", label=label, box=None,
                                  presence=presence, last_seen_ns=last_seen)
                graph._keys[iid] = key
        valid_rel = {r.value for r in Relation}
        for i, ed in enumerate(edges):
            where = f"scene graph edges[{i}]"
            if not isinstance(ed, dict):
                raise PersistenceError(f"{where}: expected an object, got {type(ed).__name__}")
            src = _field(ed, "source", str, where)
            tgt = _field(ed, "target", str, where)
            rel = _field(ed, "relation", str, where)
            if rel not in valid_rel:
                raise PersistenceError(f"{where}.relation: {rel!r} is not one of {sorted(valid_rel)}")
            for end, k in (("source", src), ("target", tgt)):
                if k not in graph._g:
                    raise PersistenceError(f"{where}.{end}: node {k!r} is not in 'nodes'")
            if src == tgt:
                raise PersistenceError(f"{where}: self-loop on {src!r}")
            if graph._g.has_edge(src, tgt, key=rel):
                raise PersistenceError(f"{where}: duplicate edge {src} -{rel}-> {tgt}")
            ivs = _intervals(ed.get("intervals"), f"{where}.intervals")
            if not ivs:
                raise PersistenceError(f"{where}.intervals: an edge needs at least one interval")
            graph._g.add_edge(src, tgt, key=rel, intervals=ivs)
        return graph

    # ------------------------------------------------------------------------------------------ internals

    def _key_of(self, instance_id: int) -> str:
        try:
            return self._keys[instance_id]
        except (KeyError, TypeError):
            raise MemoryStateError(
                f"instance {instance_id!r} is not in the scene graph; add it with upsert_instance first"
            ) from None

    def _ref(self, key: str) -> NodeRef:
        data = self._g.nodes[key]
        if data["kind"] is NodeKind.ROOM:
            return NodeRef(NodeKind.ROOM, name=data["name"])
        return NodeRef(data["kind"], instance_id=data["instance_id"])

    def _edge(self, u: str, v: str, rkey: str, intervals: Sequence[TimeInterval]) -> GraphEdge:
        return GraphEdge(self._ref(u), Relation(rkey), self._ref(v), tuple(intervals))

    def _open_edge(self, src: str, tgt: str, rkey: str, stamp_ns: int) -> None:
        existing = self._g.get_edge_data(src, tgt, key=rkey)
        if existing is None:
            self._g.add_edge(src, tgt, key=rkey, intervals=[TimeInterval(stamp_ns)])
            return
        ivs: list[TimeInterval] = existing["intervals"]
        if ivs and ivs[-1].end_ns == stamp_ns:  # closed and re-opened at the same stamp: no gap
            ivs[-1] = TimeInterval(ivs[-1].start_ns)
        else:
            ivs.append(TimeInterval(stamp_ns))
