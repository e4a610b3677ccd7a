"""The gradient probe of the gradient-based strategies (GradMax, Firefly, NeST).

One extra forward and backward pass over a probe batch gives, for every
measured layer `l` (a group with a single producer):

- its input rows `X` (dense inputs, or receptive-field patches of every output
  position of a convolution), shape `(B, P, F_in)`;
- the gradient of the loss with respect to the *pre-activations* of the
  layers that read it, `δ = ∂L/∂Z_{l+1}` (for a consumer with a fused
  activation the activation is applied after recording `Z`);
- the gradients of the layer's fan-in and fan-out weights, hence each
  existing unit's gradient norms.

From these, `ProbeResult.fan_out_gradients(a)` is the gradient of the loss
with respect to the fan-out weights of new units whose post-activations are
`a`, and `ProbeResult.auxiliary_gradient()` is the thesis' auxiliary gradient
`∂L/∂Z_{l+1} H_{l-1}ᵀ`, generalised to convolutions: the matrix `A` such that
a new unit with zero fan-in and fan-out `v` gets the fan-in gradient `A v`
(GradMax's setting).

Between the layer and its consumers, batch norms and activations count as
the identity (a new zero-fan-in unit sits at 0, where GradMax assumes
σ'(0) = 1), dropout as the identity, max and average pooling as average
pooling, and `Flatten` / global pooling are followed exactly. Consumers must
be `Dense` layers or stride-1, undilated convolutions. Residual groups (several
producers) are not supported by the gradient strategies.

The probe runs the layers in training mode (batch statistics) and restores
the non-trainable variables (batch-norm moving statistics) afterwards, so it
leaves the model unchanged.
"""

import dataclasses

import keras
import numpy as np
import tensorflow as tf

from keras_grow.growth import _model_access

_IDENTITY_LAYERS = (
    keras.layers.BatchNormalization,
    keras.layers.Activation,
    keras.layers.ReLU,
    keras.layers.LeakyReLU,
    keras.layers.ELU,
    keras.layers.PReLU,
    keras.layers.Dropout,
    keras.layers.SpatialDropout1D,
    keras.layers.SpatialDropout2D,
    keras.layers.GaussianNoise,
    keras.layers.GaussianDropout,
)
_POOLING_LAYERS = (
    keras.layers.MaxPooling1D,
    keras.layers.MaxPooling2D,
    keras.layers.AveragePooling1D,
    keras.layers.AveragePooling2D,
)
_GLOBAL_POOLING_LAYERS = (
    keras.layers.GlobalAveragePooling1D,
    keras.layers.GlobalAveragePooling2D,
    keras.layers.GlobalMaxPooling1D,
    keras.layers.GlobalMaxPooling2D,
)


@dataclasses.dataclass
class _Consumer:
    use: object  # the consumer's fan-out AxisUse
    layer: object
    pools: list  # pooling layers between the producer and the consumer
    kind: str  # "position" (conv or dense at P=1), "flatten", "global"
    delta: np.ndarray = None  # ∂L/∂Z of the consumer


class ProbeResult:
    """What the probe measured for one layer. See the module docstring.

    Attributes:
        layer: the measured producer.
        inputs: `(B, P, F_in)` input rows per sample and output position.
        spatial_shape: the producer's output spatial shape (`()` for dense).
        consumers: per fan-out use, the path to it and its gradient features
            `delta`: `(B, P_c, F)` (per position) or `(B, d_out)` (after a
            `Flatten`).
        fan_in_gradient_norms: `(M,)` norm of each unit's fan-in gradient
            (kernel and bias).
        fan_out_gradient_norms: `(M,)` norm of each unit's fan-out gradient.
        fan_in_gradients: `(M, F_in)` each unit's kernel gradient.
    """

    def __init__(
        self,
        layer,
        inputs,
        spatial_shape,
        consumers,
        fan_in_gradient_norms,
        fan_out_gradient_norms,
        fan_in_gradients,
        auxiliary=None,
    ):
        self.layer = layer
        self._inputs = inputs
        self.spatial_shape = tuple(spatial_shape)
        self._consumers = consumers
        self.fan_in_gradient_norms = fan_in_gradient_norms
        self.fan_out_gradient_norms = fan_out_gradient_norms
        self.fan_in_gradients = fan_in_gradients
        self._auxiliary = auxiliary

    @property
    def full(self):
        """Whether the input rows and consumer gradients were kept (`full=True` probe)."""
        return self._inputs is not None

    def _require_full(self, what):
        if not self.full:
            raise ValueError(
                f"ProbeResult of layer '{self.layer}' has no {what}: the probe ran with "
                "full=False (what triggers read). Run GradientProbe(...)(x, y, full=True) "
                "for initialisers."
            )

    @property
    def inputs(self):
        self._require_full("input rows")
        if not isinstance(self._inputs, np.ndarray):
            self._inputs = _numpy(self._inputs)
        return self._inputs

    @property
    def consumers(self):
        self._require_full("consumer gradients")
        for index, consumer in enumerate(self._consumers):
            if not isinstance(consumer.delta, np.ndarray):
                self._consumers[index] = dataclasses.replace(consumer, delta=_numpy(consumer.delta))
        return self._consumers

    @property
    def unit_gradient_norms(self):
        """Per existing unit, `‖∂L/∂w_in‖ + ‖∂L/∂w_out‖` (eq. 32's threshold terms)."""
        return self.fan_in_gradient_norms + self.fan_out_gradient_norms

    @property
    def fan_out_uses(self):
        return [consumer.use for consumer in self._consumers]

    def _reduce(self, values, consumer):
        """`(B, P, k)` values at the producer's positions → the consumer's rows."""
        if not consumer.pools and consumer.kind != "global":
            return values
        batch, _, k = values.shape
        spatial = values.reshape((batch, *self.spatial_shape, k))
        for layer in consumer.pools:
            spatial = keras.ops.convert_to_numpy(
                keras.ops.average_pool(
                    spatial, layer.pool_size, layer.strides, padding=layer.padding
                )
            )
        if consumer.kind == "global":
            return spatial.reshape(batch, -1, k).mean(axis=1, keepdims=True)
        return spatial.reshape(batch, -1, k)

    def fan_out_gradients(self, activations):
        """Gradient of the loss w.r.t. the fan-out weights of new units.

        Args:
            activations: `(B, P, k)` post-activations of `k` new units on the
                probe batch (`P` output positions per sample).

        Returns:
            `(k, F_out)`: for each unit, its fan-out gradient over all
            consumers, concatenated in `fan_out_uses` order; each consumer's
            part is laid out like `_model_access.unit_rows` of that use.
        """
        activations = np.asarray(activations, np.float32)
        parts = []
        for consumer in self.consumers:
            reduced = self._reduce(activations, consumer)
            if consumer.kind == "flatten":
                part = np.einsum("bpk,bu->kpu", reduced, consumer.delta, optimize=True)
                parts.append(part.reshape(part.shape[0], -1))
            else:
                parts.append(np.einsum("bpk,bpf->kf", reduced, consumer.delta, optimize=True))
        return np.concatenate(parts, axis=1)

    def auxiliary_gradient(self):
        """`(F_in, F_out)` matrix `A`: a unit with zero fan-in and fan-out `v`
        (and σ'(0) = 1) gets the fan-in gradient `A v`."""
        if self._auxiliary is None:
            self._auxiliary = self.fan_out_gradients(self.inputs)
        elif not isinstance(self._auxiliary, np.ndarray):
            self._auxiliary = _numpy(self._auxiliary)
        return self._auxiliary

    def split(self, vector):
        """Cut an `(F_out,)` fan-out vector into `{id(use): (F_use,) part}`."""
        parts, start = {}, 0
        for consumer in self._consumers:
            size = self.fan_out_size(consumer.use)
            parts[id(consumer.use)] = vector[start : start + size]
            start += size
        return parts

    @staticmethod
    def fan_out_size(use):
        per_position = int(np.prod(np.delete(use.variable.shape, use.axis)))
        return use.layout.positions * per_position


class GradientProbe:
    """Computes `ProbeResult`s for some layers of a `DynamicModel`.

    Args:
        model: the `DynamicModel`.
        layer_names: measured producer layers (each alone in its group).

    Call it with a batch `(x, y)` to get `{layer: ProbeResult}`.

    Attributes:
        traces: how many times the compiled probe was traced (a new capacity,
            batch shape or `full` setting traces once; repeated calls reuse it).

    Example:

    ```python
    probe = keras_grow.growth.GradientProbe(model, ["hidden1"])
    result = probe(x[:128], y[:128], full=False)["hidden1"]   # for a trigger
    result.auxiliary_gradient(), result.unit_gradient_norms
    ```
    """

    def __init__(self, model, layer_names):
        self.model = model
        self.layer_names = list(layer_names)
        self.plans = {name: self._plan(name) for name in self.layer_names}
        self.traces = 0
        self._functions = {}
        self._capacities = None

    def _plan(self, name):
        model = self.model
        producers = model.dependency_group(name)
        if len(producers) != 1:
            raise NotImplementedError(
                f"Gradient-based strategies need a group with one producer; layer '{name}' "
                f"grows together with {producers} (a residual group)."
            )
        layer = model.get_layer(name)
        if not isinstance(layer, (keras.layers.Dense, keras.layers.Conv2D)):
            raise NotImplementedError(
                f"Gradient-based strategies support Dense and Conv2D producers; layer "
                f"'{name}' is a {type(layer).__name__}."
            )
        consumers = []
        for use in _model_access.consumer_uses(model, name):
            pools, kind = self._path(layer, use.layer)
            if isinstance(use.layer, keras.layers.Conv2D):
                if tuple(use.layer.strides) != (1, 1) or tuple(use.layer.dilation_rate) != (1, 1):
                    raise NotImplementedError(
                        f"Gradient-based strategies need stride-1 undilated consumers; "
                        f"'{use.layer.name}' reads '{name}' with strides "
                        f"{use.layer.strides} and dilation {use.layer.dilation_rate}."
                    )
            elif not isinstance(use.layer, keras.layers.Dense):
                raise NotImplementedError(
                    f"Gradient-based strategies support Dense and Conv2D consumers; "
                    f"'{use.layer.name}' is a {type(use.layer).__name__}."
                )
            consumers.append(_Consumer(use, use.layer, pools, kind))
        if not consumers:
            raise NotImplementedError(f"layer '{name}' has no consumer to compute gradients for.")
        return layer, consumers

    def _path(self, producer, consumer):
        """Pooling layers and kind of connection from `producer` to `consumer`."""
        consumers = _model_access._consumers_by_tensor(self.model)
        pools, kind = [], "position"
        tensor = producer.output
        while True:
            nodes = consumers.get(id(tensor), [])
            if len(nodes) != 1:
                raise NotImplementedError(
                    f"Gradient-based strategies need a single path from '{producer.name}' to "
                    f"'{consumer.name}'; the tensor after '{producer.name}' has {len(nodes)} "
                    "readers."
                )
            operation = nodes[0].operation
            if operation is consumer:
                return pools, kind
            if isinstance(operation, _IDENTITY_LAYERS):
                pass
            elif isinstance(operation, _POOLING_LAYERS):
                pools.append(operation)
            elif isinstance(operation, keras.layers.Flatten):
                kind = "flatten"
            elif isinstance(operation, _GLOBAL_POOLING_LAYERS):
                kind = "global"
            else:
                raise NotImplementedError(
                    f"Gradient-based strategies cannot follow layer '{operation.name}' "
                    f"({type(operation).__name__}) between '{producer.name}' and "
                    f"'{consumer.name}'."
                )
            tensor = nodes[0].outputs[0]

    def __call__(self, x, y, sample_weight=None, full=True):
        """Run the probe on a batch; returns `{layer: ProbeResult}`.

        The forward/backward pass, the patch extraction and the auxiliary
        gradients run in one compiled TensorFlow function (traced once per
        capacity, batch shape and `full`; reused by later calls).

        Args:
            x, y, sample_weight: the probe batch.
            full: `True` keeps each layer's input rows and its consumers'
                gradients (what GradMax, Firefly and NeST read); `False`
                returns only the auxiliary gradients and the units' gradient
                norms (what `GradientTrigger` reads), which skips copying
                the patch tensors out of the compiled function (on VGG-11 at
                1/4 width, batch 128: about a quarter of the probe's time).
        """
        model = self.model
        capacities = model.capacities()
        if capacities != self._capacities:
            self._functions = {}
            self._capacities = capacities
        full = bool(full)
        if full not in self._functions:
            self._functions[full] = tf.function(
                lambda x, y, sample_weight=None: self._compute(x, y, sample_weight, full=full)
            )
        function = self._functions[full]
        saved = [(v, keras.ops.convert_to_numpy(v)) for v in model.non_trainable_variables]
        try:
            x = tf.convert_to_tensor(x)
            y = tf.convert_to_tensor(y)
            outputs = (
                function(x, y)
                if sample_weight is None
                else function(x, y, tf.convert_to_tensor(sample_weight))
            )
        finally:
            for variable, value in saved:
                variable.assign(value)
        return {name: self._result(name, outputs[name]) for name in self.layer_names}

    def _compute(self, x, y, sample_weight=None, full=True):
        self.traces += 1  # Python side effect: runs only while tracing
        model = self.model
        producers = {plan[0].name: plan[0] for plan in self.plans.values()}
        consumer_layers = {
            c.layer.name: c.layer for _, consumers in self.plans.values() for c in consumers
        }
        recorded_inputs, recorded_pre = {}, {}
        variables = _probe_variables(self.plans)
        with tf.GradientTape() as tape:
            y_pred = model._run_through_graph(
                x,
                operation_fn=lambda op: _wrap(
                    op, producers, consumer_layers, recorded_inputs, recorded_pre
                ),
            )
            loss = model.compute_loss(
                x=x, y=y, y_pred=y_pred, sample_weight=sample_weight, training=True
            )
        targets = list(recorded_pre.values()) + list(variables)
        gradients = tape.gradient(loss, targets)
        deltas = dict(zip(recorded_pre, gradients[: len(recorded_pre)]))
        variable_gradients = [tf.convert_to_tensor(g) for g in gradients[len(recorded_pre) :]]
        by_variable = {id(v): g for v, g in zip(variables, variable_gradients)}
        outputs = {}
        for name in self.layer_names:
            layer, consumers = self.plans[name]
            inputs, spatial = _input_rows(layer, tf.cast(recorded_inputs[layer.name], tf.float32))
            features, auxiliary = [], []
            for consumer in consumers:
                delta = tf.cast(deltas[consumer.layer.name], tf.float32)
                reduced = _reduce_tf(inputs, spatial, consumer)
                if isinstance(consumer.layer, keras.layers.Conv2D):
                    delta = _gradient_patches_tf(
                        delta, consumer.layer, _pooled_shape(spatial, consumer.pools)
                    )
                    auxiliary.append(_contract(reduced, delta))
                elif consumer.kind == "flatten":
                    part = tf.einsum("bpk,bu->kpu", reduced, delta)
                    auxiliary.append(tf.reshape(part, (tf.shape(part)[0], -1)))
                else:
                    delta = tf.reshape(delta, (tf.shape(delta)[0], 1, -1))
                    auxiliary.append(_contract(reduced, delta))
                features.append(delta)
            kernel_use, bias_use = _model_access.producer_uses(model, name)
            outputs[name] = {
                "inputs": inputs if full else None,
                "deltas": features if full else [None] * len(features),
                "auxiliary": tf.concat(auxiliary, axis=1),
                "kernel": by_variable[id(kernel_use.variable)],
                "bias": by_variable.get(id(bias_use.variable)) if bias_use is not None else None,
                "consumers": [by_variable[id(c.use.variable)] for c in consumers],
            }
        return outputs

    def _result(self, name, output):
        model = self.model
        layer, consumers = self.plans[name]
        kernel_use, bias_use = _model_access.producer_uses(model, name)
        fan_in = _model_access.unit_rows(model, kernel_use, _numpy(output["kernel"]))
        fan_in_norms = np.sum(fan_in**2, axis=1)
        if output["bias"] is not None:
            bias = _model_access.unit_rows(model, bias_use, _numpy(output["bias"]))
            fan_in_norms = fan_in_norms + np.sum(bias**2, axis=1)
        fan_out_norms = np.zeros(len(fan_in))
        for consumer, gradient in zip(consumers, output["consumers"]):
            rows = _model_access.unit_rows(model, consumer.use, _numpy(gradient))
            fan_out_norms = fan_out_norms + np.sum(rows**2, axis=1)
        spatial = tuple(
            int(d)
            for d in (layer.output.shape[1:-1] if isinstance(layer, keras.layers.Conv2D) else ())
        )
        return ProbeResult(
            layer=name,
            inputs=output["inputs"],
            spatial_shape=spatial,
            consumers=[
                dataclasses.replace(consumer, delta=delta)
                for consumer, delta in zip(consumers, output["deltas"])
            ],
            fan_in_gradient_norms=np.sqrt(fan_in_norms),
            fan_out_gradient_norms=np.sqrt(fan_out_norms),
            fan_in_gradients=fan_in,
            auxiliary=output["auxiliary"],
        )


def _probe_variables(plans):
    variables, seen = [], set()
    for layer, consumers in plans.values():
        candidates = [layer.kernel, getattr(layer, "bias", None)]
        candidates += [c.use.variable for c in consumers]
        for variable in candidates:
            if variable is not None and id(variable) not in seen:
                seen.add(id(variable))
                variables.append(variable)
    return variables


def _wrap(operation, producers, consumers, recorded_inputs, recorded_pre):
    from keras.src.models.functional import operation_fn

    call = operation_fn(operation, training=True)
    name = getattr(operation, "name", None)
    is_producer = producers.get(name) is operation
    is_consumer = consumers.get(name) is operation
    if not (is_producer or is_consumer):
        return call

    def wrapped(*args, **kwargs):
        if is_producer:
            recorded_inputs[name] = args[0]
        if not is_consumer:
            return call(*args, **kwargs)
        activation = getattr(operation, "activation", None)
        if activation is None:
            output = call(*args, **kwargs)
            recorded_pre[name] = output
            return output
        operation.activation = keras.activations.linear
        try:
            pre = call(*args, **kwargs)
        finally:
            operation.activation = activation
        recorded_pre[name] = pre
        return activation(pre)

    return wrapped


def _numpy(value):
    if isinstance(value, tf.IndexedSlices):
        value = tf.convert_to_tensor(value)
    return np.asarray(keras.ops.convert_to_numpy(value), np.float32)


def _pooled_shape(shape, pools):
    shape = tuple(shape)
    for layer in pools:
        shape = tuple(
            _pool_size(size, pool, stride, layer.padding)
            for size, pool, stride in zip(shape, layer.pool_size, layer.strides)
        )
    return shape


def _pool_size(size, pool, stride, padding):
    if padding == "same":
        return -(-size // stride)
    return (size - pool) // stride + 1


def _input_rows(layer, inputs):
    """`(B, P, F_in)` input rows per output position, and the output spatial shape."""
    if isinstance(layer, keras.layers.Conv2D):
        patches = tf.image.extract_patches(
            inputs,
            sizes=[1, *layer.kernel_size, 1],
            strides=[1, *layer.strides, 1],
            rates=[1, *layer.dilation_rate, 1],
            padding=layer.padding.upper(),
        )
        spatial = tuple(int(d) for d in layer.output.shape[1:-1])
        return tf.reshape(patches, (tf.shape(patches)[0], -1, patches.shape[-1])), spatial
    return tf.reshape(inputs, (tf.shape(inputs)[0], 1, -1)), ()


def _contract(rows, features):
    """`Σ_{b,p} rows[b, p] ⊗ features[b, p]` as one matrix product."""
    rows = tf.reshape(rows, (-1, tf.shape(rows)[-1]))
    features = tf.reshape(features, (-1, tf.shape(features)[-1]))
    return tf.matmul(rows, features, transpose_a=True)


def _reduce_tf(values, spatial, consumer):
    """TensorFlow twin of `ProbeResult._reduce` (average pooling of row features)."""
    if not consumer.pools and consumer.kind != "global":
        return values
    k = values.shape[-1]
    batch = tf.shape(values)[0]
    maps = tf.reshape(values, (batch, *spatial, k))
    for layer in consumer.pools:
        maps = tf.nn.avg_pool2d(maps, layer.pool_size, layer.strides, padding=layer.padding.upper())
    if consumer.kind == "global":
        return tf.reduce_mean(tf.reshape(maps, (batch, -1, k)), axis=1, keepdims=True)
    return tf.reshape(maps, (batch, -1, k))


def _gradient_patches_tf(delta, consumer, input_shape):
    """`(B, P, k·k·C_out)`: for each input position `p` of `consumer` and kernel
    offset `q`, `δ` at the output position that reads `p` through `q`.

    A unit at `p` with fan-out kernel `v` receives `Σ_q,c v[q, c] δ(p − q + pad, c)`.
    """
    kh, kw = consumer.kernel_size
    out_h, out_w = int(delta.shape[1]), int(delta.shape[2])
    in_h, in_w = input_shape
    if consumer.padding == "same":
        pad_top, pad_left = (kh - 1) // 2, (kw - 1) // 2
    else:
        pad_top = pad_left = 0
    top, left = kh - 1 - pad_top, kw - 1 - pad_left
    bottom, right = in_h + kh - 1 - out_h - top, in_w + kw - 1 - out_w - left
    padded = tf.pad(delta, [[0, 0], [top, bottom], [left, right], [0, 0]])
    patches = tf.image.extract_patches(
        padded, sizes=[1, kh, kw, 1], strides=[1, 1, 1, 1], rates=[1, 1, 1, 1], padding="VALID"
    )
    channels = int(delta.shape[-1])
    batch = tf.shape(delta)[0]
    patches = tf.reshape(patches, (batch, in_h, in_w, kh, kw, channels))
    patches = tf.reverse(patches, axis=[3, 4])
    return tf.reshape(patches, (batch, in_h * in_w, kh * kw * channels))
