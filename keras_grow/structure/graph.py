"""Dependency groups: which variables change together when units change.

The analysis walks a functional Keras graph in topological order and gives
every tensor a *channel layout*: its last axis is described as a sequence of
segments, each either the units of one dependency group or a fixed block
(model inputs, reshapes), repeated `positions` times when a `Flatten` has laid
spatial positions out in front of the channels (flat index
`position * channels + channel`).

- A producer layer (`Dense`, `Conv2D`, any layer with a `UnitSpec` that
  produces units) starts a new group; its kernel rows are *consumer* axes with
  the layout of its input.
- Channel-wise layers (activations, pooling, dropout) pass the layout through;
  `BatchNormalization` also registers its variables as *carrier* axes.
- `Flatten` multiplies `positions` by the number of spatial positions, global
  pooling resets it to 1, `Concatenate` joins segments.
- Element-wise merges (`Add`, `Multiply`, ...) merge the groups of their inputs:
  a residual stage is one group whose members all change width together.
- Anything else (reshapes, layer normalisation, softmax over units, nested
  models) is opaque: the groups reaching it are *frozen*, with the reason kept
  so that an error can say why a layer cannot grow. Groups reaching a model
  output are frozen too (the output width is part of the task).
"""

import dataclasses

import numpy as np

from keras_grow.structure import unit_specs

_SOFTMAX_ACTIVATIONS = ("softmax", "log_softmax")


@dataclasses.dataclass(eq=False)
class UnitGroup:
    """Units that must change together, and the variable axes they index.

    Attributes:
        producers: layers whose output units are this group's units.
        capacity: physical number of unit slots in every member variable.
        active: boolean mask over the slots; `active.sum()` is the width.
        frozen_reasons: why the group cannot change width (empty if it can).
        axis_uses: every `AxisUse` whose layout contains this group.
    """

    producers: list
    capacity: int
    active: np.ndarray = None
    frozen_reasons: list = dataclasses.field(default_factory=list)
    axis_uses: list = dataclasses.field(default_factory=list)

    def __post_init__(self):
        if self.active is None:
            self.active = np.ones(self.capacity, dtype=bool)

    @property
    def name(self):
        return self.producers[0].name

    @property
    def width(self):
        return int(self.active.sum())

    @property
    def growable(self):
        return not self.frozen_reasons

    @property
    def active_slots(self):
        return np.flatnonzero(self.active)


@dataclasses.dataclass(frozen=True, eq=False)
class Segment:
    """One block of a channel axis: a group's units, or `size` fixed channels."""

    group: UnitGroup | None = None
    size: int = 0

    def length(self, capacities=None):
        if self.group is None:
            return self.size
        if capacities is not None and self.group in capacities:
            return capacities[self.group]
        return self.group.capacity


@dataclasses.dataclass(frozen=True, eq=False)
class Layout:
    """The structure of a tensor's last axis (see the module docstring)."""

    segments: tuple
    positions: int = 1

    def channels(self, capacities=None):
        return sum(segment.length(capacities) for segment in self.segments)

    def size(self, capacities=None):
        return self.positions * self.channels(capacities)

    def groups(self):
        return [segment.group for segment in self.segments if segment.group is not None]

    def segment_offset(self, index, capacities=None):
        return sum(segment.length(capacities) for segment in self.segments[:index])


@dataclasses.dataclass(eq=False)
class AxisUse:
    """One variable axis laid out by a `Layout`.

    Attributes:
        variable: the Keras variable.
        axis: the axis (non-negative) indexed by the layout.
        layout: the channel layout of that axis.
        role: "producer", "carrier" or "consumer".
        layer: the layer owning the variable.
        reset: value for new or removed slots of a carrier (a float, or the
            name of the layer's initializer attribute to sample from).
    """

    variable: object
    axis: int
    layout: Layout
    role: str
    layer: object
    reset: object = 0.0


class _UnionFind:
    def __init__(self):
        self.parent = {}

    def find(self, group):
        root = group
        while self.parent.get(root, root) is not root:
            root = self.parent[root]
        return root

    def union(self, a, b):
        root_a, root_b = self.find(a), self.find(b)
        if root_a is not root_b:
            self.parent[root_b] = root_a


@dataclasses.dataclass
class DependencyGraph:
    """The result of `analyze`: groups, axis uses and a layer-name index."""

    groups: list
    axis_uses: list
    group_of_layer: dict
    tensor_layouts: list  # (KerasTensor, Layout) for every tensor of the graph

    def uses_of_variable(self, variable):
        return [use for use in self.axis_uses if use.variable is variable]


def _freeze(layout, reason):
    for group in layout.groups():
        group.frozen_reasons.append(reason)


def _fixed(size):
    return Layout((Segment(None, int(size)),))


def _nodes_in_topological_order(model):
    nodes = []
    for depth in sorted(model._nodes_by_depth, reverse=True):
        nodes.extend(model._nodes_by_depth[depth])
    return nodes


def _layer_label(layer):
    return f"layer '{layer.name}' ({type(layer).__name__})"


def analyze(model):
    """Find the dependency groups of a functional Keras model.

    Args:
        model: a built functional (or Sequential) Keras model.

    Returns:
        A `DependencyGraph`.

    Raises:
        ValueError: if the model is not a functional graph.
    """
    import keras

    if not hasattr(model, "_nodes_by_depth"):
        raise ValueError(
            f"model={model.name!r} ({type(model).__name__}) is not a functional graph; "
            "DynamicModel needs a functional or Sequential model built on keras.Input."
        )
    layouts = {}
    uses = []
    groups = []
    tensors = []
    union = _UnionFind()

    def layout_of(tensor):
        return layouts.get(id(tensor)) or _fixed(tensor.shape[-1])

    for node in _nodes_in_topological_order(model):
        layer = node.operation
        inputs = list(node.arguments.keras_tensors)
        outputs = node.outputs
        if isinstance(layer, keras.layers.InputLayer) or not inputs:
            for tensor in outputs:
                layouts[id(tensor)] = _fixed(tensor.shape[-1])
            continue
        in_layouts = [layout_of(t) for t in inputs]
        out_layout = _propagate(layer, inputs, in_layouts, outputs, uses, groups, union)
        for tensor in outputs:
            layouts[id(tensor)] = out_layout
            tensors.append(tensor)

    for tensor in model.outputs:
        _freeze(layout_of(tensor), "its units feed a model output, whose width the task fixes")

    return _finalize(groups, uses, union, [(t, layouts[id(t)]) for t in tensors])


def _propagate(layer, inputs, in_layouts, outputs, uses, groups, union):
    import keras

    label = _layer_label(layer)
    spec = None if isinstance(layer, keras.Model) else unit_specs.unit_spec(layer)

    if spec is not None and not spec.is_carrier:
        return _propagate_producer(layer, spec, in_layouts, outputs, uses, groups, label)
    if spec is not None:  # carrier: channel-wise variables, layout passes through
        layout = in_layouts[0]
        for variable, axis, reset in unit_specs.spec_variables(layer, spec.carries):
            if variable.shape[axis] != layout.size():
                _freeze(layout, f"{label} has a variable whose size does not match its input")
                return _fixed(outputs[0].shape[-1])
            uses.append(AxisUse(variable, axis, layout, "carrier", layer, reset))
        return layout
    if isinstance(layer, keras.layers.Activation) and _is_softmax(layer.activation):
        _freeze(in_layouts[0], f"{label} normalises across units")
        return _fixed(outputs[0].shape[-1])
    if isinstance(layer, unit_specs.CHANNELWISE_LAYERS):
        return in_layouts[0]
    if isinstance(layer, keras.layers.Flatten):
        layout = in_layouts[0]
        spatial = inputs[0].shape[1:-1]
        if any(d is None for d in spatial):
            _freeze(layout, f"{label} flattens a tensor of unknown spatial size")
            return _fixed(outputs[0].shape[-1])
        return Layout(layout.segments, layout.positions * int(np.prod(spatial, dtype=int)))
    if isinstance(layer, unit_specs.GLOBAL_POOLING_LAYERS):
        return Layout(in_layouts[0].segments, 1)
    if isinstance(layer, unit_specs.ELEMENTWISE_MERGE_LAYERS):
        return _merge_elementwise(in_layouts, union, label, outputs)
    if isinstance(layer, keras.layers.Concatenate) and layer.axis in (-1, len(inputs[0].shape) - 1):
        if len({layout.positions for layout in in_layouts}) == 1:
            segments = tuple(s for layout in in_layouts for s in layout.segments)
            return Layout(segments, in_layouts[0].positions)
    reason = (
        f"{label} is a nested model; its internal layers are not analysed"
        if isinstance(layer, keras.Model)
        else f"{label} mixes or reshapes units in a way keras_grow cannot follow"
    )
    for layout in in_layouts:
        _freeze(layout, reason)
    return _fixed(outputs[0].shape[-1])


def _propagate_producer(layer, spec, in_layouts, outputs, uses, groups, label):
    layout = in_layouts[0]
    for variable, axis in unit_specs.spec_variables(layer, spec.consumes):
        if variable.shape[axis] != layout.size():
            _freeze(layout, f"{label} reads its input in a layout keras_grow cannot follow")
            break
    else:
        for variable, axis in unit_specs.spec_variables(layer, spec.consumes):
            uses.append(AxisUse(variable, axis, layout, "consumer", layer))
    if not spec.produces:
        return _fixed(outputs[0].shape[-1])
    produced = unit_specs.spec_variables(layer, spec.produces)
    group = UnitGroup(producers=[layer], capacity=int(produced[0][0].shape[produced[0][1]]))
    groups.append(group)
    own = Layout((Segment(group),))
    for variable, axis in produced:
        uses.append(AxisUse(variable, axis, own, "producer", layer))
    for variable, axis in unit_specs.spec_variables(layer, spec.recurrent):
        uses.append(AxisUse(variable, axis, own, "consumer", layer))
    if _is_softmax(getattr(layer, "activation", None)):
        group.frozen_reasons.append(f"{label} applies a softmax across its units")
    return own


def _merge_elementwise(in_layouts, union, label, outputs):
    first = in_layouts[0]
    for other in in_layouts[1:]:
        same_shape = other.positions == first.positions and len(other.segments) == len(
            first.segments
        )
        if not same_shape:
            for layout in in_layouts:
                _freeze(layout, f"{label} merges tensors with different unit layouts")
            return _fixed(outputs[0].shape[-1])
        for a, b in zip(first.segments, other.segments):
            if a.group is not None and b.group is not None:
                union.union(a.group, b.group)
            elif a.group is not None or b.group is not None:
                group = a.group or b.group
                group.frozen_reasons.append(f"{label} adds its units to a fixed-width tensor")
    return first


def _is_softmax(activation):
    name = getattr(activation, "__name__", str(activation))
    return name in _SOFTMAX_ACTIVATIONS


def _finalize(groups, uses, union, tensor_layouts):
    """Replace merged groups by their union-find roots everywhere."""
    roots = {}
    for group in groups:
        root = union.find(group)
        if root is not group:
            root.producers.extend(group.producers)
            root.frozen_reasons.extend(group.frozen_reasons)
        roots[group] = root

    def resolve(layout):
        segments = tuple(
            Segment(roots[s.group]) if s.group is not None else s for s in layout.segments
        )
        return Layout(segments, layout.positions)

    final_uses = []
    for use in uses:
        final_uses.append(dataclasses.replace(use, layout=resolve(use.layout)))
    final_groups = [g for g in groups if roots[g] is g]
    for group in final_groups:
        group.frozen_reasons = list(dict.fromkeys(group.frozen_reasons))
        group.axis_uses = [u for u in final_uses if group in u.layout.groups()]
    group_of_layer = {}
    for group in final_groups:
        for layer in group.producers:
            group_of_layer[layer.name] = group
    resolved_tensors = [(tensor, resolve(layout)) for tensor, layout in tensor_layouts]
    return DependencyGraph(final_groups, final_uses, group_of_layer, resolved_tensors)
