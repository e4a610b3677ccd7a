"""The base class of every callback that changes a DynamicModel's structure."""

import keras


class StructuralCallback(keras.callbacks.Callback):
    """A Keras callback that edits the structure of a `DynamicModel`.

    Subclasses decide *what* to change and call the model's `add_units` /
    `remove_units`. The base class checks that the model is a `DynamicModel`
    when training starts, and offers `plot()` of the widths over training. The
    widths themselves reach the logs through the DynamicModel's train step
    (`width_<layer>`), so the progress bar, `History`, `CSVLogger` and
    `TensorBoard` show them.

    While a `DynamicModel` fits with it, NumPy's BLAS is limited to
    `blas_threads` threads (class attribute, default 1; `None` leaves it
    alone): the callbacks' NumPy linear algebra runs between TensorFlow's
    steps, and idle BLAS threads spinning on the same cores made whole runs
    up to 2x slower on a 2-core machine. The old limits come back when `fit`
    returns or raises.

    Example:

    ```python
    callback = keras_grow.callbacks.Neurogenesis(trigger, initializer)
    callback.blas_threads = None  # keep NumPy's BLAS threads during fit
    ```
    """

    blas_threads = 1

    def on_train_begin(self, logs=None):
        from keras_grow.structure import DynamicModel

        if not isinstance(self.model, DynamicModel):
            raise TypeError(
                f"{type(self).__name__} changes the structure of the model it trains, so the "
                f"model must be a keras_grow.DynamicModel; got {type(self.model).__name__} "
                f"'{self.model.name}'. Wrap it: keras_grow.DynamicModel(model)."
            )

    def plot(self, path=None, **kwargs):
        """Draw the model's widths over training steps (see `analysis.plot_widths`)."""
        from keras_grow.analysis import plot_widths

        return plot_widths(self.model, path=path, **kwargs)


def check_layer_names(layers):
    """`layers` as a list of layer names, or None for "every growable layer".

    Example: `check_layer_names("dense")` returns `["dense"]`; a non-str entry
    raises `TypeError` naming it.
    """
    if layers is None:
        return None
    if isinstance(layers, str):
        return [layers]
    layers = list(layers)
    for name in layers:
        if not isinstance(name, str):
            raise TypeError(f"layers contains {name!r}; expected layer names (str).")
    return layers


def measured_groups(model, layers, action="grow"):
    """The measured layer of every dependency group that `layers` names, in order.

    `layers=None` means every growable layer of the `DynamicModel`. A name that
    cannot change width raises a `ValueError` saying why (`action` is what the
    caller would do to it, e.g. "grow or be pruned").

    Example: `measured_groups(model, ["dense", "dense_1"])` returns
    `["dense", "dense_1"]` for an MLP, and one name per residual group.
    """
    from keras_grow.growth import _model_access

    names = layers if layers is not None else model.growable_layers()
    growable = set(model.growable_layers())
    known = {layer.name for layer in model.layers}
    groups = []
    for name in names:
        if name not in growable:
            if name in model.widths():
                detail = model.explain(name)
            elif name in known:
                detail = "it has no units."
            else:
                detail = "it is not a layer of the model."
            raise ValueError(
                f"layers contains {name!r}, which cannot {action}: {detail} "
                f"Growable layers: {sorted(growable)}."
            )
        measured = _model_access.measured_layer(model, name)
        if measured not in groups:
            groups.append(measured)
    return groups
