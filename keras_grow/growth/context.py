"""Recording what growth strategies read, and packing it for an initialiser.

`watch_layers` makes a DynamicModel's train step record post-activations (and,
for candidate-based initialisers, the aligned input rows) of some layers;
`growth_context` gathers everything an initialiser may read about one layer
into the `context` dict of `DynamicModel.add_units`. The `Neurogenesis`
callback uses both; they are public so that growth can also be driven by
hand.

Example:

```python
model = keras_grow.DynamicModel(base)
keras_grow.growth.watch_layers(model, ["hidden"], buffer_size=512, inputs=True)
model.compile("adam", "sparse_categorical_crossentropy")
model.fit(x, y, epochs=1)
model.add_units("hidden", 4, initializer=keras_grow.growth.NorthSelect(),
                context=keras_grow.growth.growth_context(model, "hidden"))
```
"""

import numbers

from keras_grow.growth import _model_access, taps


def watch_layers(
    model,
    layer_names,
    buffer_size=1024,
    rows_per_step=512,
    inputs=True,
    input_every=1,
    input_rows=None,
):
    """Record post-activations of `layer_names` (and their inputs) during `fit`.

    Args:
        model: a `DynamicModel`.
        layer_names: producer layers to record.
        buffer_size: rows kept per layer (FIFO); should exceed the widths.
        rows_per_step: rows written per layer and training step (for
            convolutions: spatial positions, evenly spaced over the batch).
        inputs: also record each layer's input rows (needed by `NorthSelect`
            and `NorthPre`).
        input_every: record the input rows of every `input_every`-th buffer
            slot only (`buffer_size / input_every` rows per layer; must divide
            `buffer_size`): enough for an initialiser that scores on fewer
            rows, at a fraction of the recording cost.
        input_rows: `None` (default: inputs recorded at every step) or an
            int `R` <= `buffer_size`: record inputs on demand only, into a
            ring of `R` rows per layer, while that layer's gate is open
            (`GrowthTaps.set_input_recording`; see `keras_grow.growth.taps`).
            Needs `input_every=1`.

    Returns:
        The installed `GrowthTaps`.
    """
    for value, name in ((buffer_size, "buffer_size"), (rows_per_step, "rows_per_step")):
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
            raise ValueError(f"{name}={value!r} is not allowed; expected an int >= 1.")
    names = list(layer_names)
    return taps.install(
        model,
        names,
        buffer_size,
        rows_per_step,
        names if inputs else (),
        input_every=input_every,
        input_rows=input_rows,
    )


def growth_context(model, layer_name, probe=None, activations=None):
    """The `context` dict for adding units to `layer_name`'s group.

    Holds the measured layer, its buffered activations and input rows (when
    recorded by `watch_layers`), its post-activation function, the masks of
    active fan-in entries of every producer of the group, and `probe` (a
    `ProbeResult`) if given. See `keras_grow.growth.north_initializers`.
    `activations`, if given, are the layer's buffered activations already
    read (`model.activations(layer_name)`), so they are not read again.
    """
    context = {
        "layer": layer_name,
        "post_activation": _model_access.PostActivation(model, layer_name),
        "fan_in_masks": {},
    }
    for producer in model.dependency_group(layer_name):
        kernel, _ = _model_access.producer_uses(model, producer)
        context["fan_in_masks"][kernel.variable.path] = _model_access.fan_in_mask(model, kernel)
    recorded = model.activation_taps
    if recorded is not None and layer_name in recorded.layer_names:
        context["activations"] = (
            model.activations(layer_name) if activations is None else activations
        )
        if isinstance(recorded, taps.GrowthTaps):
            context["inputs"] = recorded.inputs(layer_name)
            if context["inputs"] is not None:  # the activation rows those inputs produced
                context["activations"] = recorded.aligned_activations(
                    context["activations"], layer_name
                )
    if probe is not None:
        context["probe"] = probe
    return context
