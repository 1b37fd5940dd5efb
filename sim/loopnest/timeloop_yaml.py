"""Timeloop YAML files in and out: problems, architectures and mappings of the loop-nest template.

Reads what Timeloop (v0.3 and v0.4, as the timeloop-accelergy exercises write it) reads, into
:class:`~sim.loopnest.problem.Problem`, :class:`~sim.loopnest.architecture.LoopNestAccelerator` and
:class:`~sim.loopnest.mapping.LoopNestMapping`, and writes problems and mappings back. Each reader
takes a file path or the already-parsed document (a dict), and raises a ValueError naming the key
path (``problem.instance.X``, ``architecture.subtree[0].local[1].class``, ``mapping[3].factors``,
prefixed by the file) and what is allowed.

Problem (``problem:``). The shape is Timeloop's CNN layer, named (``CNN-Layer``, ``cnn-layer``) or
spelled out (``dimensions``, ``coefficients``, ``data_spaces`` / ``data-spaces`` with the CNN
layer's projections). ``instance`` gives ``R S P Q C N``, the output channels as ``K`` (Timeloop's
built-in shape) or ``M`` (most exercise files), both our ``M``, and ``Wstride Hstride Wdilation
Hdilation`` (default: the shape's coefficient defaults, else 1). ``G`` is 1: the CNN layer has no
groups. ``W H Wpad Hpad densities`` are informational and ignored.

Architecture (``architecture:``), outermost component first, three layouts:

- v0.3 tree: ``subtree: [node]``, a node has ``local`` components and at most one ``subtree``;
- v0.4 list: ``nodes:`` of ``!Container``, ``!Component`` and ``!Parallel`` / ``!Hierarchical``
  (members read in order, outermost first); a ``spatial: {meshX, meshY}`` multiplies the node and
  everything after it; a container with one becomes a ``container`` level named
  ``inter_<name>_spatial`` above its fan-out (timeloopfe's dummy storage);
- the flattened v0.4 ``local:`` list Timeloop writes (full names, ``meshX`` / ``meshY`` given).

``name[lo..hi]`` is ``hi - lo + 1`` instances, multiplying down the tree; a node's attributes are
inherited by what it contains (v0.4: by every node after it), except ``instances meshX meshY``. A
level's instances and mesh follow Timeloop: ``instances`` (else the tree's count), ``meshX`` (the
whole level's X extent; else instances / ``meshY``; else v0.3 all on X, v0.4 the spatial mesh).
Per storage component: word bits ``word-bits | word_bits | word_width | datawidth`` (default 16);
block size (words per vector access) ``block-size | block_size | n_words``, else ``width /
cluster-size / word bits``, else ``width / word bits``, else 1; size in words ``entries``, else
``depth | memory_depth`` times the block size, else ``sizeKB * 8192 / word bits``, divided by
``multiple-buffering``; none at all is unbounded (DRAM only); ``read_bandwidth`` /
``write_bandwidth`` in words per cycle per instance (deprecated ``bandwidth``: half each). The
class (``subclass`` too where given) names the component, first match wins:

    contains "DRAM"                                             -> "DRAM"
    dummy (dummy_storage), or depth 0                           -> "container" (keeps nothing)
    regfile, RF, register, reg, spad, scratchpad                -> "regfile"
    a MAC (intmac, fpmac, mac, ...), compute, multiplier        -> the ComputeLevel (last)
    SRAM, buffer, smartbuffer, glb, cache                       -> "SRAM"

A level keeps what the architecture's constraints do not bypass (a v0.4 component's
``constraints.dataspace``, the document's ``architecture_constraints`` / ``constraints`` targets of
type bypass or datatype, or the ``constraints`` argument): the mapping may still bypass it.

Mapping (``mapping:``), a list of directives ``{target, type, ...}``; ``target`` a storage level's
name (or Timeloop's level id, 0 the innermost):

- ``temporal``: ``factors`` (``C=1 K=2 R=3``, ``K2``, comma or space separated; missing: 1) and
  ``permutation``, INNERMOST FIRST (``PKCR``: P innermost; missing dimensions go outside, in
  Timeloop's order R S P Q C K N); our temporal loops are the reverse, outer to inner;
- ``spatial``: the same over the fan-out below the target; the first ``split`` dimensions of the
  permutation run along X, the rest along Y (default: all X). Our spatial loops come back Y loops
  first (Timeloop nests X inside Y), each axis outer to inner;
- ``bypass`` / ``datatype``: ``keep`` and ``bypass`` lists; unnamed dataspaces keep what the level
  may keep. A level without one keeps ``None`` (all it may keep).

Factors of 1 are dropped; K is our M. Factor 0 (the whole dimension), residuals (``K=5,3``,
imperfect factorization), skew directives and per-directive options are not supported. Written
mappings give every dimension a factor and ``split``, so that ``load_mapping(dump_mapping(m))``
equals ``m`` up to factor-1 loops and the order of spatial loops across axes.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

from sim import checks
from sim.loopnest.architecture import ComputeLevel, LoopNestAccelerator, StorageLevel
from sim.loopnest.mapping import LevelMapping, LoopNestMapping
from sim.loopnest.problem import COEFFICIENTS, DATASPACES, Problem

TIMELOOP_DIMS = ("R", "S", "P", "Q", "C", "K", "N")
"""Timeloop's CNN-layer dimensions in its dimension-id order (``K``: our ``M``)."""

CHANNELS = ("M", "K")
"""Names the output channels may be written under."""

_TAG = "__tag__"
_INFORMATIONAL = ("W", "H", "Wpad", "Hpad", "densities")
_MESH_KEYS = ("instances", "meshX", "meshY")
_WORD_BITS_KEYS = ("word-bits", "word_bits", "word_width", "datawidth")
_BLOCK_KEYS = ("block-size", "block_size", "n_words")
_WIDTH_KEYS = ("width", "memory_width", "data_storage_width")
_DEPTH_KEYS = ("depth", "memory_depth", "data_storage_depth")
_CLASSES = (
    ("DRAM", ("*dram",)),
    ("container", ("*dummy",)),
    ("regfile", ("rf", "regfile", "registerfile", "register", "reg", "spad", "scratchpad")),
    ("compute", ("*mac", "compute", "multiplier", "mult", "alu")),
    ("SRAM", ("*sram", "buffer", "smartbuffer", "glb", "cache")),
)
"""Class keywords per component, tried in order: a word of the lower-cased class (split at
non-alphanumerics) equal to a keyword, or, for ``*word``, containing (``*mac``: ending with) it."""
_CLASS_HELP = ("a class naming DRAM, SRAM / buffer / smartbuffer_SRAM, regfile / RF / spad / "
               "register, dummy_storage, or a MAC (intmac, mac, ...)")
_DIRECTIVE_TYPES = ("temporal", "spatial", "bypass", "datatype")
_DIRECTIVE_KEYS = ("target", "type", "factors", "permutation", "split", "keep", "bypass")


# -- documents ------------------------------------------------------------------------------------
def _yaml_loader():
    """A safe YAML loader that reads any ``!Tag`` (timeloopfe's ``!Container`` ...) as the plain
    node, a mapping marked with its tag under :data:`_TAG`."""
    import yaml  # only these readers need PyYAML; sim itself stays numpy-only

    class Loader(yaml.SafeLoader):
        pass

    def tagged(loader, suffix, node):
        if isinstance(node, yaml.MappingNode):
            return {**loader.construct_mapping(node, deep=True), _TAG: suffix}
        if isinstance(node, yaml.SequenceNode):
            return loader.construct_sequence(node, deep=True)
        return loader.construct_scalar(node)

    Loader.add_multi_constructor("!", tagged)
    return Loader


def _read(source, key: str):
    """The part of ``source`` (a path or a parsed document) under ``key``, and the prefix errors
    carry (the file, or nothing)."""
    if isinstance(source, (str, Path)):
        import yaml

        document = yaml.load(Path(source).read_text(), Loader=_yaml_loader())
        prefix = f"{source}: "
    else:
        document, prefix = source, ""
    if isinstance(document, Mapping) and key in document:
        return document, document[key], prefix
    raise ValueError(f"{prefix}not a Timeloop {key} document; allowed: a YAML mapping with a "
                     f"top-level {key!r} key")


def _prefixed(prefix: str, error: ValueError) -> ValueError:
    return ValueError(f"{prefix}{error}") if prefix else error


def _mapping(value, where: str) -> Mapping:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ValueError(f"{where} must be a mapping, got {value!r}")  # noqa: TRY004
    return value


def _list(value, where: str) -> list:
    if value is None:
        return []
    if not isinstance(value, list):
        raise ValueError(f"{where} must be a list, got {value!r}")  # noqa: TRY004
    return value


def _channel(dim: str, where: str) -> str:
    if dim in ("K", "M"):
        return "M"
    checks.one_of(where.rsplit(".", 1)[0], where.rsplit(".", 1)[-1], dim,
                  (*TIMELOOP_DIMS, "M"))
    return dim


# -- problem --------------------------------------------------------------------------------------
def _cnn_projections() -> dict[str, frozenset]:
    def rank(*terms):
        return frozenset(terms)

    return {
        "Weights": frozenset({rank(("C", 1)), rank(("M", 1)), rank(("R", 1)), rank(("S", 1))}),
        "Inputs": frozenset({rank(("N", 1)), rank(("C", 1)),
                             rank(("R", "Wdilation"), ("P", "Wstride")),
                             rank(("S", "Hdilation"), ("Q", "Hstride"))}),
        "Outputs": frozenset({rank(("N", 1)), rank(("M", 1)), rank(("Q", 1)), rank(("P", 1))}),
    }


def _check_shape(shape, where: str) -> dict[str, int]:
    """Raises unless ``shape`` is the CNN layer; returns its coefficient defaults."""
    if isinstance(shape, str):
        shape = {"name": shape}
    shape = _mapping(shape, where)
    name = str(shape.get("name", "")).lower().replace("_", "-")
    spaces = shape.get("data_spaces", shape.get("data-spaces"))
    if spaces is None and name != "cnn-layer":
        raise ValueError(f"{where}.name={shape.get('name')!r} is not supported; allowed: "
                         "'CNN-Layer' (or 'cnn-layer'), or a shape spelled out with the CNN "
                         "layer's dimensions and projections")
    for i, dim in enumerate(_list(shape.get("dimensions"), f"{where}.dimensions")):
        _channel(dim, f"{where}.dimensions[{i}]")
    defaults = {}
    for i, coefficient in enumerate(_list(shape.get("coefficients"), f"{where}.coefficients")):
        entry = _mapping(coefficient, f"{where}.coefficients[{i}]")
        checks.one_of(f"{where}.coefficients[{i}]", "name", entry.get("name"), COEFFICIENTS)
        defaults[entry["name"]] = checks.positive_int(f"{where}.coefficients[{i}]", "default",
                                                      entry.get("default", 1))
    if spaces is not None:
        expected = _cnn_projections()
        key = "data_spaces" if "data_spaces" in shape else "data-spaces"
        got = {}
        for i, space in enumerate(_list(spaces, f"{where}.{key}")):
            at = f"{where}.{key}[{i}]"
            space = _mapping(space, at)
            checks.one_of(at, "name", space.get("name"), DATASPACES)
            ranks = set()
            for r, terms in enumerate(_list(space.get("projection"), f"{at}.projection")):
                rank = set()
                for t, term in enumerate(_list(terms, f"{at}.projection[{r}]")):
                    term = term if isinstance(term, list) else [term]
                    dim = _channel(term[0], f"{at}.projection[{r}][{t}]")
                    rank.add((dim, term[1] if len(term) > 1 else 1))
                ranks.add(frozenset(rank))
            got[space["name"]] = frozenset(ranks)
        if got != expected:
            raise ValueError(f"{where}.{key}: not the CNN layer's projections; allowed: Weights "
                             "[C] [K] [R] [S]; Inputs [N] [C] [R*Wdilation + P*Wstride] "
                             "[S*Hdilation + Q*Hstride]; Outputs [N] [K] [Q] [P] (K or M)")
    return defaults


def load_problem(source: str | Path | Mapping) -> Problem:
    """A :class:`Problem` from a Timeloop ``problem:`` document (a file or its parsed dict): the
    CNN layer's bounds and coefficients (module docstring); named after the file (else
    ``"timeloop"``)."""
    _, problem, prefix = _read(source, "problem")
    try:
        problem = _mapping(problem, "problem")
        defaults = _check_shape(problem.get("shape", "cnn-layer"), "problem.shape")
        instance = _mapping(problem.get("instance"), "problem.instance")
        if "instance" not in problem:
            raise ValueError("problem.instance is missing; allowed: a mapping of the layer's "
                             "bounds (R, S, P, Q, C, K or M, N) and coefficients")
        allowed = (*TIMELOOP_DIMS, "M", *COEFFICIENTS, *_INFORMATIONAL)
        values = dict(defaults)
        for key, value in instance.items():
            if key not in allowed:
                raise ValueError(f"problem.instance.{key} is not a CNN-layer key; allowed: "
                                 f"{list(allowed)}")
            if key in _INFORMATIONAL:
                continue
            field = "M" if key == "K" else key
            if field in values and field not in defaults:
                raise ValueError("problem.instance names the output channels twice (K and M); "
                                 "allowed: one of them")
            values[field] = checks.positive_int("problem.instance", key, value)
        for dim in ("C", "M"):
            if dim not in values:
                raise ValueError(f"problem.instance.{'K' if dim == 'M' else dim} is missing; "
                                 f"allowed: a positive integer (the layer's bound)")
        name = Path(source).name.split(".")[0] if isinstance(source, (str, Path)) else "timeloop"
        return Problem(name=name, **values)
    except ValueError as error:
        raise _prefixed(prefix, error) from None


def dump_problem(problem: Problem, channels: str = "M") -> dict:
    """``problem`` as a Timeloop v0.4 ``problem:`` document (the CNN layer spelled out, output
    channels named ``channels``); raises if it has groups (``G > 1``)."""
    checks.one_of("dump_problem", "channels", channels, CHANNELS)
    if problem.G != 1:
        raise ValueError(f"Problem({problem.name!r}).G={problem.G}: Timeloop's CNN layer has no "
                         "groups; allowed: G=1 (write one problem per group)")
    k = channels
    return {"problem": {
        "version": 0.4,
        "shape": {
            "name": "CNN-Layer",
            "dimensions": [k if d == "K" else d for d in TIMELOOP_DIMS],
            "coefficients": [{"name": c, "default": 1} for c in COEFFICIENTS],
            "data_spaces": [
                {"name": "Weights", "projection": [[["C"]], [[k]], [["R"]], [["S"]]]},
                {"name": "Inputs", "projection": [
                    [["N"]], [["C"]], [["R", "Wdilation"], ["P", "Wstride"]],
                    [["S", "Hdilation"], ["Q", "Hstride"]]]},
                {"name": "Outputs", "projection": [[["N"]], [[k]], [["Q"]], [["P"]]],
                 "read_write": True},
            ],
        },
        "instance": {**{(k if d == "K" else d): getattr(problem, "M" if d == "K" else d)
                        for d in TIMELOOP_DIMS},
                     **{c: getattr(problem, c) for c in COEFFICIENTS}},
    }}


# -- architecture ---------------------------------------------------------------------------------
def _range_name(name, where: str) -> tuple[str, int]:
    """``("PE", 168)`` from ``"PE[0..167]"``; the name's last dotted part."""
    if not isinstance(name, str) or not name:
        raise ValueError(f"{where} must be a non-empty string, got {name!r}")
    match = re.fullmatch(r"(.*?)\[(\d+)\.\.(\d+)\]", name.strip())
    base, count = (match[1], int(match[3]) - int(match[2]) + 1) if match else (name.strip(), 1)
    if count < 1:
        raise ValueError(f"{where}={name!r}: an empty instance range; allowed: name[lo..hi], "
                         "lo <= hi")
    return base.rsplit(".", 1)[-1], count


def _kind(component: Mapping, where: str) -> str:
    text = " ".join(str(component.get(key, "")) for key in ("class", "subclass")).lower()
    words = [w for w in re.split(r"[^a-z0-9]+", text) if w]
    for kind, keywords in _CLASSES:
        for keyword in keywords:
            if keyword.startswith("*"):
                hit = (any(w.endswith(keyword[1:]) for w in words) if keyword == "*mac"
                       else keyword[1:] in text)
            else:
                hit = keyword in words
            if hit:
                return kind
    raise ValueError(f"{where}.class={component.get('class')!r} is not a known class; allowed: "
                     f"{_CLASS_HELP}")


def _first(attributes: Mapping, keys: Sequence[str]):
    return next((attributes[key] for key in keys if key in attributes), None)


def _mesh(where: str, attributes: Mapping, instances: int, mesh_x: int) -> tuple[int, int]:
    """Timeloop's instances and meshX from the attributes, else ``instances`` and ``mesh_x``."""
    owner = f"{where}.attributes"
    if "instances" in attributes:
        instances = checks.positive_int(owner, "instances", attributes["instances"])
    mesh_y = checks.positive_int(owner, "meshY", attributes.get("meshY", 1))
    if "meshX" in attributes:
        mesh_x = checks.positive_int(owner, "meshX", attributes["meshX"])
    elif "meshY" in attributes:
        mesh_x = instances // mesh_y
    if "meshY" in attributes and mesh_x * mesh_y != instances:
        raise ValueError(f"{owner}: meshX {mesh_x} x meshY {mesh_y} is not the {instances} "
                         "instances; allowed: meshX * meshY = instances")
    if mesh_x < 1 or instances % mesh_x:
        raise ValueError(f"{owner}.meshX={mesh_x} does not divide the {instances} instances; "
                         "allowed: a divisor of the instances")
    return instances, mesh_x


class _Component:
    """One component of the flattened tree: where it is, its spec, attributes (inherited ones
    included), instances and mesh width, and the dataspaces its constraints bypass."""

    def __init__(self, where, spec, attributes, instances, mesh_x, bypass=()):
        self.where, self.spec, self.attributes = where, spec, attributes
        self.instances, self.mesh_x, self.bypass = instances, mesh_x, tuple(bypass)


def _inheritable(attributes: Mapping) -> dict:
    return {k: v for k, v in attributes.items() if k not in _MESH_KEYS}


def _flatten_tree(node: Mapping, where: str, instances: int, inherited: dict, out: list) -> None:
    """v0.3 (and flattened v0.4): a node's local components, then its one subtree."""
    node = _mapping(node, where)
    count = _range_name(node["name"], f"{where}.name")[1] if "name" in node else 1
    attributes = {**inherited, **_inheritable(_mapping(node.get("attributes"), where))}
    for i, spec in enumerate(_list(node.get("local"), f"{where}.local")):
        at = f"{where}.local[{i}]"
        spec = _mapping(spec, at)
        own = _range_name(spec.get("name"), f"{at}.name")[1]
        merged = {**attributes, **_mapping(spec.get("attributes"), f"{at}.attributes")}
        total, mesh_x = _mesh(at, merged, instances * count * own, instances * count * own)
        out.append(_Component(at, spec, merged, total, mesh_x))
    subtree = _list(node.get("subtree"), f"{where}.subtree")
    if len(subtree) > 1:
        raise ValueError(f"{where}.subtree has {len(subtree)} nodes; allowed: one (a single "
                         "chain of levels)")
    for i, child in enumerate(subtree):
        _flatten_tree(child, f"{where}.subtree[{i}]", instances * count, attributes, out)


def _spatial(node: Mapping, where: str) -> tuple[int, int]:
    spatial = _mapping(node.get("spatial"), f"{where}.spatial")
    return (checks.positive_int(f"{where}.spatial", "meshX", spatial.get("meshX", 1)),
            checks.positive_int(f"{where}.spatial", "meshY", spatial.get("meshY", 1)))


def _constraint_bypass(node: Mapping, where: str) -> tuple[str, ...]:
    constraints = _mapping(node.get("constraints"), f"{where}.constraints")
    dataspace = _mapping(constraints.get("dataspace"), f"{where}.constraints.dataspace")
    return _dataspaces(dataspace.get("bypass"), f"{where}.constraints.dataspace.bypass")


def _flatten_nodes(nodes, where: str, state: dict, out: list) -> None:
    """v0.4: containers, components and groups in order; ``state`` holds the mesh and the
    inherited attributes so far."""
    for i, node in enumerate(_list(nodes, where)):
        at = f"{where}[{i}]"
        node = _mapping(node, at)
        tag = node.get(_TAG) or ("Hierarchical" if "nodes" in node
                                 else "Component" if "class" in node else "Container")
        checks.one_of(at, "tag", tag, ("Container", "Component", "Parallel", "Hierarchical"))
        if tag in ("Parallel", "Hierarchical"):
            _flatten_nodes(node.get("nodes"), f"{at}.nodes", state, out)
            continue
        fan_x, fan_y = _spatial(node, at)
        attributes = _mapping(node.get("attributes"), f"{at}.attributes")
        name = _range_name(node.get("name"), f"{at}.name")[0]
        if tag == "Container":
            state["attributes"] = {**state["attributes"], **_inheritable(attributes)}
            if fan_x * fan_y > 1:
                spec = {"name": f"inter_{name}_spatial", "class": "dummy_storage"}
                out.append(_Component(at, spec, {}, state["x"] * state["y"], state["x"]))
            state["x"], state["y"] = state["x"] * fan_x, state["y"] * fan_y
            continue
        state["x"], state["y"] = state["x"] * fan_x, state["y"] * fan_y
        merged = {**state["attributes"], **attributes}
        total, mesh_x = _mesh(at, merged, state["x"] * state["y"], state["x"])
        out.append(_Component(at, {**node, "name": name}, merged, total, mesh_x,
                              _constraint_bypass(node, at)))


def _dataspaces(value, where: str) -> tuple[str, ...]:
    names = _list(value, where)
    for i, name in enumerate(names):
        checks.one_of(where, f"[{i}]", name, DATASPACES)
    return tuple(names)


def _constraint_targets(document, where: str) -> dict[str, tuple[str, ...]]:
    """Per target, the dataspaces the bypass / datatype constraints bypass."""
    document = _mapping(document, where)
    bypass = {}
    for i, target in enumerate(_list(document.get("targets"), f"{where}.targets")):
        at = f"{where}.targets[{i}]"
        target = _mapping(target, at)
        if target.get("type") in ("bypass", "datatype"):
            name = _range_name(target.get("target"), f"{at}.target")[0]
            bypass[name] = bypass.get(name, ()) + _dataspaces(target.get("bypass"), f"{at}.bypass")
    return bypass


def _storage(component: _Component, kind: str) -> StorageLevel:
    where, attributes = component.where, component.attributes
    owner = f"{where}.attributes"
    name = _range_name(component.spec.get("name"), f"{where}.name")[0]
    word_bits = checks.positive_int(owner, "word-bits", _first(attributes, _WORD_BITS_KEYS) or 16)
    block = _first(attributes, _BLOCK_KEYS)
    width = _first(attributes, _WIDTH_KEYS)
    if block is None and width is not None:
        width = checks.positive_int(owner, "width", width)
        cluster = checks.positive_int(owner, "cluster-size", attributes.get("cluster-size", 1))
        if width % (word_bits * cluster):
            raise ValueError(f"{owner}.width={width} is not a whole number of {word_bits}-bit "
                             f"words x cluster-size {cluster}; allowed: a multiple of "
                             f"{word_bits * cluster}")
        block = width // (word_bits * cluster)
    block = checks.positive_int(owner, "block-size", 1 if block is None else block)
    depth = _first(attributes, _DEPTH_KEYS)
    if "entries" in attributes:
        words = checks.non_negative_int(owner, "entries", attributes["entries"])
    elif depth is not None:
        words = checks.non_negative_int(owner, "depth", depth) * block
    elif "sizeKB" in attributes:
        size_kb = checks.positive_number(owner, "sizeKB", attributes["sizeKB"])
        words = int(size_kb * 8192 // word_bits)
    else:
        words = None
    buffering = _first(attributes, ("multiple-buffering", "multiple_buffering"))
    if words is not None and buffering is not None:
        words = math.floor(words / checks.positive_number(owner, "multiple-buffering",
                                                           buffering))
    if words == 0:
        kind = "container"
    if words is None and kind not in ("DRAM", "container"):
        raise ValueError(f"{owner}: a {kind!r} component needs a size; allowed: depth (rows of "
                         "block-size words), entries (words) or sizeKB")
    bandwidth = {}
    if "bandwidth" in attributes:
        half = checks.positive_number(owner, "bandwidth", attributes["bandwidth"]) / 2
        bandwidth = {"read": half, "write": half}
    for way in ("read", "write"):
        if f"{way}_bandwidth" in attributes:
            bandwidth[way] = checks.positive_number(owner, f"{way}_bandwidth",
                                                    attributes[f"{way}_bandwidth"])
    keeps = () if kind == "container" else tuple(
        d for d in DATASPACES if d not in component.bypass)
    return StorageLevel(name, kind, 0 if kind == "container" else words, word_bits=word_bits,
                        block_size=block, instances=component.instances,
                        mesh_x=component.mesh_x,
                        read_bandwidth_words_per_cycle=bandwidth.get("read"),
                        write_bandwidth_words_per_cycle=bandwidth.get("write"), keeps=keeps)


def load_architecture(source: str | Path | Mapping,
                      constraints: str | Path | Mapping | None = None) -> LoopNestAccelerator:
    """A :class:`LoopNestAccelerator` from a Timeloop ``architecture:`` document (a file or its
    parsed dict; module docstring), storage levels outermost first over the compute level.

    Args:
      source: the architecture file or document (v0.3 ``subtree``, v0.4 ``nodes`` or the
        flattened v0.4 ``local`` list); its ``architecture_constraints`` / ``constraints``, if any,
        set what each level may keep.
      constraints: a constraints file or document (``architecture_constraints:`` or
        ``constraints:`` with ``targets``), applied on top.
    """
    document, architecture, prefix = _read(source, "architecture")
    try:
        architecture = _mapping(architecture, "architecture")
        components: list[_Component] = []
        name = "timeloop"
        if "nodes" in architecture:
            nodes = _list(architecture["nodes"], "architecture.nodes")
            if nodes and isinstance(nodes[0], Mapping) and nodes[0].get(_TAG) == "Container":
                name = _range_name(nodes[0].get("name"), "architecture.nodes[0].name")[0]
            _flatten_nodes(nodes, "architecture.nodes", {"x": 1, "y": 1, "attributes": {}},
                           components)
        elif "subtree" in architecture:
            roots = _list(architecture["subtree"], "architecture.subtree")
            if len(roots) != 1:
                raise ValueError(f"architecture.subtree has {len(roots)} nodes; allowed: one")
            name = _range_name(_mapping(roots[0], "architecture.subtree[0]").get("name"),
                               "architecture.subtree[0].name")[0]
            _flatten_tree(roots[0], "architecture.subtree[0]", 1, {}, components)
        elif "local" in architecture:
            _flatten_tree({"local": architecture["local"]}, "architecture", 1, {}, components)
        else:
            raise ValueError("architecture has none of 'subtree' (v0.3), 'nodes' (v0.4) or "
                             "'local' (flattened); allowed: one of them")
        bypass = {}
        for key in ("architecture_constraints", "constraints"):
            if isinstance(document, Mapping) and key in document:
                bypass.update(_constraint_targets(document[key], key))
        if constraints is not None:
            extra, part, extra_prefix = _read_constraints(constraints)
            try:
                bypass.update(_constraint_targets(part, extra))
            except ValueError as error:
                raise _prefixed(extra_prefix, error) from None
        return _accelerator(name, components, bypass)
    except ValueError as error:
        raise _prefixed(prefix, error) from None


def _read_constraints(source):
    for key in ("architecture_constraints", "constraints"):
        try:
            return (key, *_read(source, key)[1:])
        except ValueError:
            continue
    raise ValueError(f"{source if isinstance(source, (str, Path)) else 'constraints'}: not a "
                     "Timeloop constraints document; allowed: a YAML mapping with a top-level "
                     "'architecture_constraints' or 'constraints' key")


def _accelerator(name: str, components: list[_Component], bypass: Mapping) -> LoopNestAccelerator:
    levels, compute = [], None
    known = {_range_name(c.spec.get("name"), f"{c.where}.name")[0] for c in components}
    unknown = sorted(set(bypass) - known)
    if unknown:
        raise ValueError(f"constraints target {unknown}, not components of the architecture; "
                         f"allowed: {sorted(known)}")
    for component in components:
        kind = _kind(component.spec, component.where)
        if compute is not None:
            raise ValueError(f"{component.where}: a component after the compute level "
                             f"{compute.name!r}; allowed: the MACs last")
        level_name = _range_name(component.spec.get("name"), f"{component.where}.name")[0]
        component.bypass += bypass.get(level_name, ())
        if kind == "compute":
            bits = _first(component.attributes, _WORD_BITS_KEYS)
            bits = bits or component.attributes.get("multiplier_width", 16)
            compute = ComputeLevel(level_name, component.instances, component.mesh_x,
                                   checks.positive_int(f"{component.where}.attributes",
                                                       "datawidth", bits))
        else:
            levels.append(_storage(component, kind))
    if compute is None:
        raise ValueError("architecture has no compute component; allowed: a MAC class (intmac, "
                         "mac, ...) innermost")
    if not levels:
        raise ValueError("architecture has no storage component; allowed: DRAM and buffers "
                         "above the MACs")
    return LoopNestAccelerator(name, tuple(levels), compute)


# -- mapping --------------------------------------------------------------------------------------
def _factors(value, where: str) -> dict[str, int]:
    """``{"M": 2, "R": 3}`` from ``"C=1 K=2 R=3"`` / ``"K2,R3"`` / ``["K=2", "R=3"]``."""
    if value is None:
        return {}
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        value = " ".join(value)
    if not isinstance(value, str):
        message = f"{where} must be a string like 'C=1 K=2 R=3', got {value!r}"
        raise ValueError(message)  # noqa: TRY004
    factors, previous = {}, None
    for token in re.split(r"[\s,]+", re.sub(r"\s*=\s*", "=", value.strip())):
        if not token:
            continue
        match = re.fullmatch(r"([A-Za-z]+)=?(\d+)", token)
        if match is None:
            reason = ("a residual (imperfect factorization) is not supported"
                      if token.isdigit() and previous else "not DIM=FACTOR or DIMFACTOR")
            raise ValueError(f"{where}={value!r}: {token!r} is {reason}; allowed: factors like "
                             "'C=1 K=2 R=3' or 'C1 K2 R3' over R S P Q C K (or M) N")
        dim = _channel(match[1], f"{where}.{match[1]}")
        if dim in factors:
            raise ValueError(f"{where}={value!r} names {match[1]} twice (K and M are both the "
                             "output channels); allowed: one factor per dimension")
        factor = int(match[2])
        if factor == 0:
            raise ValueError(f"{where}={value!r}: factor 0 (the whole dimension) is not "
                             "supported; allowed: a positive factor")
        factors[dim], previous = factor, token
    return factors


def _permutation(value, factors: Mapping[str, int], where: str) -> list[str]:
    """Dimensions innermost first: the permutation's, then the missing ones in Timeloop's order."""
    if value is None:
        value = ""
    if isinstance(value, list):
        value = "".join(str(v) for v in value)
    if not isinstance(value, str):
        message = f"{where} must be a string of dimensions like 'PKCR', got {value!r}"
        raise ValueError(message)  # noqa: TRY004
    dims = []
    for letter in value.replace(" ", ""):
        dim = _channel(letter, f"{where}.{letter}")
        if dim in dims:
            raise ValueError(f"{where}={value!r} names {letter} twice; allowed: each dimension "
                             "once")
        dims.append(dim)
    order = [_channel(d, where) for d in TIMELOOP_DIMS]
    return dims + [d for d in order if d not in dims and factors.get(d, 1) != 1]


def _target(value, names: list[str], where: str) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        if not 0 <= value < len(names):
            raise ValueError(f"{where}={value} is not a storage level id; allowed: 0 (innermost, "
                             f"{names[-1]!r}) to {len(names) - 1} ({names[0]!r})")
        return len(names) - 1 - value
    name = _range_name(value, where)[0] if isinstance(value, str) else value
    checks.one_of(where.rsplit(".", 1)[0], "target", name, names)
    return names.index(name)


def load_mapping(source: str | Path | Mapping | list,
                 accelerator: LoopNestAccelerator) -> LoopNestMapping:
    """A :class:`LoopNestMapping` of ``accelerator`` from a Timeloop ``mapping:`` document (a
    file, its parsed dict or the directive list; module docstring). Check it against a problem
    with :func:`sim.loopnest.mapping.validate`."""
    if isinstance(source, list):
        source = {"mapping": source}
    _, directives, prefix = _read(source, "mapping")
    try:
        return _mapping_from(_list(directives, "mapping"), accelerator)
    except ValueError as error:
        raise _prefixed(prefix, error) from None


def _mapping_from(directives: list, accelerator: LoopNestAccelerator) -> LoopNestMapping:
    names = [level.name for level in accelerator.levels]
    slots = {kind: [None] * len(names) for kind in ("temporal", "spatial", "keep")}
    for i, directive in enumerate(directives):
        where = f"mapping[{i}]"
        directive = _mapping(directive, where)
        for key in directive:
            if key not in _DIRECTIVE_KEYS:
                raise ValueError(f"{where}.{key} is not supported; allowed keys: "
                                 f"{list(_DIRECTIVE_KEYS)}")
        kind = checks.one_of(where, "type", directive.get("type"), _DIRECTIVE_TYPES)
        index = _target(directive.get("target"), names, f"{where}.target")
        slot = "keep" if kind in ("bypass", "datatype") else kind
        if slots[slot][index] is not None:
            raise ValueError(f"{where}: a second {kind} directive for {names[index]!r}; allowed: "
                             "one per type and level")
        if slot == "keep":
            keep = _dataspaces(directive.get("keep"), f"{where}.keep")
            bypass = _dataspaces(directive.get("bypass"), f"{where}.bypass")
            if set(keep) & set(bypass):
                raise ValueError(f"{where}: {sorted(set(keep) & set(bypass))} both kept and "
                                 "bypassed; allowed: each dataspace in at most one list")
            may = accelerator.levels[index].keeps
            slots["keep"][index] = tuple(d for d in DATASPACES
                                         if d in keep or (d in may and d not in bypass))
            continue
        factors = _factors(directive.get("factors"), f"{where}.factors")
        inner_first = _permutation(directive.get("permutation"), factors,
                                   f"{where}.permutation")
        if kind == "temporal":
            if "split" in directive:
                raise ValueError(f"{where}.split: only spatial directives split; allowed: no "
                                 "split on a temporal directive")
            slots["temporal"][index] = tuple((d, factors[d]) for d in reversed(inner_first)
                                             if factors.get(d, 1) > 1)
        else:
            split = directive.get("split", len(inner_first))
            split = checks.non_negative_int(where, "split", split)
            slots["spatial"][index] = tuple(
                (d, factors[d], "X" if position < split else "Y")
                for position, d in reversed(list(enumerate(inner_first)))
                if factors.get(d, 1) > 1)
    return LoopNestMapping(tuple(
        LevelMapping(temporal=slots["temporal"][i] or (), spatial=slots["spatial"][i] or (),
                     keep=slots["keep"][i]) for i in range(len(names))))


def _directive_loops(loops: Sequence[tuple], channels: str) -> tuple[str, str]:
    """Timeloop's factors (every dimension) and permutation (innermost first, then the
    factor-1 dimensions) of ``loops`` listed innermost first."""
    factors = {dim: factor for dim, factor, *_ in loops}
    order = ["M" if d == "K" else d for d in TIMELOOP_DIMS]
    rename = {"M": channels}
    permutation = [dim for dim, *_ in loops] + [d for d in order if d not in factors]
    text = " ".join(f"{rename.get(d, d)}={factors.get(d, 1)}" for d in order)
    return text, "".join(rename.get(d, d) for d in permutation)


def dump_mapping(mapping: LoopNestMapping, accelerator: LoopNestAccelerator,
                 channels: str = "M") -> dict:
    """``mapping`` as a Timeloop ``mapping:`` document: per level, outermost first, a temporal
    directive, a spatial one where the level fans out, a bypass one where ``keep`` is set; output
    channels named ``channels`` (``"M"`` or Timeloop's built-in ``"K"``)."""
    checks.one_of("dump_mapping", "channels", channels, CHANNELS)
    names = [level.name for level in accelerator.levels]
    if len(mapping.levels) != len(names):
        raise ValueError(f"LoopNestMapping.levels has {len(mapping.levels)} entries; allowed: one "
                         f"per storage level of {accelerator.name!r}: {names}")
    directives = []
    for i, (name, level) in enumerate(zip(names, mapping.levels, strict=True)):
        if level.factor("G") != 1:
            raise ValueError(f"LoopNestMapping.levels[{i}] ({name!r}) splits G: Timeloop's CNN "
                             "layer has no groups; allowed: no G loops")
        temporal = [loop for loop in level.temporal if loop[0] != "G"]
        factors, permutation = _directive_loops(temporal[::-1], channels)
        directives.append({"target": name, "type": "temporal", "factors": factors,
                           "permutation": permutation})
        if level.spatial or accelerator.fanout(i) != (1, 1):
            spatial = [loop for loop in level.spatial if loop[0] != "G"]
            x = [loop for loop in spatial if loop[2] == "X"][::-1]
            y = [loop for loop in spatial if loop[2] == "Y"][::-1]
            factors, permutation = _directive_loops(x + y, channels)
            directives.append({"target": name, "type": "spatial", "factors": factors,
                               "permutation": permutation, "split": len(x)})
        if level.keep is not None:
            directives.append({"target": name, "type": "bypass", "keep": list(level.keep),
                               "bypass": [d for d in DATASPACES if d not in level.keep]})
    return {"mapping": directives}


def save_mapping(mapping: LoopNestMapping, accelerator: LoopNestAccelerator, path: str | Path,
                 channels: str = "M") -> None:
    """Writes :func:`dump_mapping`'s document to ``path`` as YAML."""
    import yaml

    text = yaml.safe_dump(dump_mapping(mapping, accelerator, channels), sort_keys=False)
    Path(path).write_text(text)
