"""Inference FLOPs of a (dynamic) model, counting only its active units.

Counting convention (one forward pass of one sample):

- `Dense`: `2 · fan_in · units` (one multiply and one add per weight) plus
  `units` for the bias, times the leading positions if the input has more
  than one non-batch axis.
- `Conv1D/2D/3D`: `2 · prod(kernel) · (C_in / groups) · C_out` per output
  position plus `C_out` per output position for the bias.
- `BatchNormalization`: 2 per element (inference: one scale, one shift).
- Everything else (activations, pooling, flatten, dropout, adds) counts 0.

For a `keras_grow.DynamicModel`, widths are the *active* units: capacity
held by masked slots costs nothing after `compact()`, so it is not counted.
This is the quantity on the x-axis of Maile's thesis, Fig. 35.

Example:

```python
model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
keras_grow.analysis.flops(model)    # 2*4*3 + 3 = 27
```
"""

import keras
import numpy as np

_CONVOLUTIONS = (keras.layers.Conv1D, keras.layers.Conv2D, keras.layers.Conv3D)


def flops(model, per_layer=False):
    """Inference FLOPs of one sample through `model`.

    Args:
        model: a built functional or Sequential `keras.Model`, or a
            `keras_grow.DynamicModel` (active units only).
        per_layer: if `True`, return `{layer_name: flops}` (layers with
            nonzero FLOPs) instead of the total.

    Returns:
        int total FLOPs, or a dict with `per_layer=True`.
    """
    if not isinstance(model, keras.Model):
        raise TypeError(
            f"model={model!r} (type {type(model).__name__}) must be a keras.Model; "
            "expected a built functional, Sequential or DynamicModel."
        )
    if not model.built or not any(layer._inbound_nodes for layer in model.layers):
        raise ValueError(
            f"model={model.name!r} is not a built functional graph; start a Sequential "
            "with keras.Input(shape) or build a functional model."
        )
    channels = _channel_counter(model)
    counts = {}
    for node in _graph_nodes(model):
        layer = node.operation
        inputs = node.arguments.keras_tensors
        if not isinstance(layer, keras.layers.Layer) or not inputs or not node.outputs:
            continue
        total = _node_flops(layer, inputs[0], node.outputs[0], channels)
        if total:
            counts[layer.name] = counts.get(layer.name, 0) + int(total)
    return counts if per_layer else int(sum(counts.values()))


def _graph_nodes(model):
    """The nodes of `model`'s own graph (a layer shared with other models counts once)."""
    graph = getattr(model, "_functional", None) or model
    by_depth = getattr(graph, "_nodes_by_depth", None)
    if by_depth:
        return [node for depth in sorted(by_depth, reverse=True) for node in by_depth[depth]]
    return [node for layer in model.layers for node in layer._inbound_nodes]


def _channel_counter(model):
    """A function giving the active size of a symbolic tensor's last axis."""
    state = getattr(model, "_state", None)
    layouts = {}
    if state is not None and hasattr(state, "graph"):
        for tensor, layout in state.graph.tensor_layouts:
            layouts[id(tensor)] = layout

    def count(tensor):
        layout = layouts.get(id(tensor))
        if layout is None:
            return int(tensor.shape[-1])
        widths = {group: group.width for group in layout.groups()}
        return int(layout.positions * layout.channels(widths))

    return count


def _positions(tensor):
    """Product of the non-batch, non-channel dimensions."""
    return int(np.prod([int(d) for d in tensor.shape[1:-1]], dtype=np.int64))


def _node_flops(layer, inputs, outputs, channels):
    if isinstance(layer, keras.layers.Dense):
        fan_in, units = channels(inputs), channels(outputs)
        bias = units if layer.use_bias else 0
        return _positions(outputs) * (2 * fan_in * units + bias)
    if isinstance(layer, _CONVOLUTIONS):
        fan_in = int(np.prod(layer.kernel_size)) * channels(inputs) // getattr(layer, "groups", 1)
        units = channels(outputs)
        bias = units if layer.use_bias else 0
        return _positions(outputs) * (2 * fan_in * units + bias)
    if isinstance(layer, keras.layers.BatchNormalization):
        return 2 * _positions(outputs) * channels(outputs)
    return 0
