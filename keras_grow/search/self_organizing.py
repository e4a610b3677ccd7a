"""Self-organising hierarchy: autoencoder units whose receptive fields search the feature map.

`SelfOrganizingHierarchy` ties the pieces together: a `Layout` (where the
image, the codes and the fields sit), a `HierarchyNetwork` of
`AutoencoderUnit`s, the histogram entropy estimate and a meta-learning rule.

- `fit` is base learning (Algorithm 1): per mini-batch, `K` settling rounds
  of all units without gradients, then one forward/backward pass per unit;
  after each epoch, every unit's entropy (eq. 2) over that epoch's codes.
- `search` is meta-learning (Algorithm 2): each meta-step tries units
  `1..K` in turn; for unit `i` the rule moves one of its fields, the network
  trains `epochs_per_step` epochs with the candidate layout (weights carry
  over), and the move is kept if the rule accepts unit `i`'s new entropy
  against its entropy under the current layout; the first accepted move ends
  the meta-step.
- `encode` gives the concatenated codes and `classifier` a logistic
  regression readout for them.

Moving a field assigns a mask variable: the compiled training step is
reused, so a meta-step trial costs the same as training.
"""

import numbers

import keras
import numpy as np
import tensorflow as tf

from keras_grow.search.soh_entropy import check_bins, histogram_entropy
from keras_grow.search.soh_layouts import Layout, make_layout
from keras_grow.search.soh_meta import get_rule
from keras_grow.search.soh_network import HierarchyNetwork
from keras_grow.search.soh_readout import LogisticReadout
from keras_grow.structure import optimizer_state


def _positive_int(value, name):
    if not isinstance(value, numbers.Integral) or isinstance(value, bool):
        raise TypeError(f"{name}={value!r} must be an integer >= 1.")
    if value < 1:
        raise ValueError(f"{name}={value!r} must be an integer >= 1.")
    return int(value)


class SelfOrganizingHierarchy:
    """Autoencoder units on a 2-D feature map that learn where to look.

    A feature map of `h x w` cells holds the input image and, at fixed
    blocks, the hidden code of each of the `K` autoencoder units. Each unit
    reads two `N x N` receptive fields of the map through a binary mask, so a
    unit can read the image, other units' codes, or both: the layout of the
    fields is the architecture. Base learning trains every unit locally to
    reconstruct its fields; meta-learning moves fields one cell at a time and
    keeps a move when the moved unit's code entropy rises.

    Reference:
    - [Borgohain et al., 2020](https://arxiv.org/abs/2007.06893),
      "Self-organising Neural Network Hierarchy".

    Args:
        feature_map: `(h, w)` of the feature map (paper, MNIST: `(20, 40)`).
        units: number of autoencoder units K, int >= 1.
        hidden: hidden units per autoencoder (code length); the code is a
            square block unless `code_shape` is given.
        field: side N of each square receptive field.
        layout: `"flat"`, `"columnar"`, `"pyramidal"`, `"random"`, a
            `Layout`, or explicit fields (one sequence of `(row, col)`
            corners per unit). See `keras_grow.search.soh_layouts`.
        input_shape: `(rows, cols)` of the images; default `(h, h)`.
        input_location: top-left corner of the image on the map.
        code_shape: shape of each code block; default square.
        code_locations: corners of the code blocks; default: tiled column
            by column to the right of the image.
        bins: histogram bins of the entropy estimate, int >= 2.
        dropout: dropout rate of each unit's decoder input.
        l2: L2 factor on in-field weights.
        learning_rate: Adam learning rate of the units.
        batch_size: mini-batch size of base learning.
        activation: encoder activation.
        decoder_activation: decoder activation.
        seed: int seed for weights, dropout, shuffling, the random layout and
            the meta-learning rule; the same seed and calls give the same
            run.

    Example:

    >>> x = np.random.default_rng(0).random((64, 4, 4)).astype("float32")
    >>> soh = SelfOrganizingHierarchy(feature_map=(4, 8), units=2, hidden=4, field=2,
    ...                               layout="flat", seed=0)
    >>> history = soh.fit(x, epochs=1)
    >>> np.asarray(history["entropy"]).shape
    (1, 2)
    >>> soh.encode(x).shape
    (64, 8)
    """

    def __init__(
        self,
        feature_map=(20, 40),
        units=3,
        hidden=100,
        field=10,
        layout="random",
        *,
        input_shape=None,
        input_location=(0, 0),
        code_shape=None,
        code_locations=None,
        bins=100,
        dropout=0.2,
        l2=1e-4,
        learning_rate=1e-2,
        batch_size=128,
        activation="relu",
        decoder_activation="relu",
        seed=0,
    ):
        self.bins = check_bins(bins)
        self.batch_size = _positive_int(batch_size, "batch_size")
        if seed is not None and (not isinstance(seed, numbers.Integral) or seed < 0):
            raise ValueError(f"seed={seed!r} must be an integer >= 0 or None.")
        self.seed = seed
        self._layout_argument = layout
        self.layout = make_layout(
            layout,
            units=units,
            feature_map=feature_map,
            hidden=hidden,
            field=field,
            input_shape=input_shape,
            input_location=input_location,
            code_shape=code_shape,
            code_locations=code_locations,
            seed=seed,
        )
        self.initial_layout = self.layout
        self.network = HierarchyNetwork(
            self.layout,
            dropout=dropout,
            l2=l2,
            activation=activation,
            decoder_activation=decoder_activation,
            seed=seed,
        )
        self.network.build()
        self.optimizer = keras.optimizers.Adam(learning_rate)
        self.optimizer.build(self.network.trainable_variables)
        self._rng = np.random.default_rng(None if seed is None else [seed, 0])
        self._meta_rng = np.random.default_rng(None if seed is None else [seed, 1])
        self.history = {"loss": [], "entropy": []}
        self.search_history = []
        pixels = self.layout.input_shape[0] * self.layout.input_shape[1]
        spec = [tf.TensorSpec([None, pixels], tf.float32)]
        self._train_step = tf.function(self._train_step_fn, input_signature=spec)
        self._encode_step = tf.function(self._encode_fn, input_signature=spec)

    # -- properties ----------------------------------------------------------------
    @property
    def units(self):
        """The `AutoencoderUnit` layers."""
        return list(self.network.autoencoders)

    @property
    def fields(self):
        """Current receptive fields: one tuple of `(row, col)` corners per unit."""
        return self.layout.fields

    @property
    def entropies(self):
        """Per-unit entropies of the last trained epoch (empty before `fit`)."""
        return list(self.history["entropy"][-1]) if self.history["entropy"] else []

    def reset(self, seed=None, layout=None):
        """Start a new run on the same compiled steps (no retracing).

        Weights, optimizer state, histories and random streams become those
        of a freshly constructed hierarchy with this `seed` and `layout`, so
        repeated runs skip the ~2 s trace of a new hierarchy.

        Args:
            seed: new seed (default: the current one).
            layout: new layout with the same map, image and code geometry
                (a name, a `Layout` or fields; default: the constructor's
                `layout` argument, re-drawn with `seed` if `"random"`).

        Returns:
            `self`.
        """
        if seed is not None and (not isinstance(seed, numbers.Integral) or seed < 0):
            raise ValueError(f"seed={seed!r} must be an integer >= 0 or None.")
        seed = self.seed if seed is None else int(seed)
        old = self.layout
        layout = make_layout(
            self._layout_argument if layout is None else layout,
            units=old.units,
            feature_map=old.feature_map,
            hidden=old.hidden,
            field=old.field,
            input_shape=old.input_shape,
            input_location=old.input_location,
            code_shape=old.code_shape,
            code_locations=old.code_locations,
            seed=seed,
        )
        self.network.set_layout(layout)
        self.network.reinitialize(seed)
        self.optimizer.iterations.assign(0)
        for slots in optimizer_state.slots_by_variable(self.optimizer).values():
            for slot, _ in slots:
                slot.assign(np.zeros(slot.shape, dtype=slot.dtype))
        self.seed = seed
        self.layout = self.initial_layout = layout
        self._rng = np.random.default_rng(None if seed is None else [seed, 0])
        self._meta_rng = np.random.default_rng(None if seed is None else [seed, 1])
        self.history = {"loss": [], "entropy": []}
        self.search_history = []
        return self

    # -- compiled steps ------------------------------------------------------------
    def _train_step_fn(self, images):
        network = self.network
        settled = network.settle(images, network.units)
        variables = network.trainable_variables
        with tf.GradientTape() as tape:
            losses, codes = network.local_losses(images, settled)
            total = tf.add_n(losses)
        gradients = tape.gradient(total, variables)
        self.optimizer.apply_gradients(zip(gradients, variables, strict=True))
        return tf.stack(losses), tf.concat(codes, axis=1)

    def _encode_fn(self, images):
        return self.network(images)

    # -- data ----------------------------------------------------------------------
    def _images(self, x, name="x"):
        rows, cols = self.layout.input_shape
        if isinstance(x, (str, bytes)) or x is None:
            raise TypeError(f"{name} must be an array of images, got {type(x).__name__}.")
        array = np.asarray(x, dtype="float32")
        allowed = ((rows, cols), (rows, cols, 1), (rows * cols,))
        if array.ndim < 2 or tuple(array.shape[1:]) not in allowed:
            raise ValueError(
                f"{name} has shape {array.shape}: expected (n, {rows}, {cols}), "
                f"(n, {rows}, {cols}, 1) or (n, {rows * cols}) for input_shape=({rows}, {cols})."
            )
        if len(array) == 0:
            raise ValueError(f"{name} holds no images.")
        return array.reshape(len(array), rows * cols)

    # -- base learning (Algorithm 1) -----------------------------------------------
    def fit(self, x, epochs=1, batch_size=None, shuffle=True, verbose=0):
        """Base learning of all units (Algorithm 1).

        Args:
            x: images, `(n, rows, cols)`, `(n, rows, cols, 1)` or
                `(n, rows * cols)`; labels are not used.
            epochs: number of epochs, int >= 1.
            batch_size: mini-batch size (default: the constructor's).
            shuffle: shuffle the images every epoch (seeded).
            verbose: 1 prints one line per epoch.

        Returns:
            A dict of this call's per-epoch values: `"loss"` and `"entropy"`,
            each a list of `epochs` lists of K floats. They are also appended
            to `self.history`.
        """
        images = self._images(x)
        epochs = _positive_int(epochs, "epochs")
        batch_size = (
            self.batch_size if batch_size is None else _positive_int(batch_size, "batch_size")
        )
        result = {"loss": [], "entropy": []}
        hidden, units = self.layout.hidden, self.layout.units
        for epoch in range(epochs):
            order = self._rng.permutation(len(images)) if shuffle else np.arange(len(images))
            losses, codes = [], []
            for start in range(0, len(images), batch_size):
                batch = images[order[start : start + batch_size]]
                loss, code = self._train_step(tf.constant(batch))
                losses.append(loss.numpy() * len(batch))
                codes.append(code.numpy())
            codes = np.concatenate(codes, axis=0)
            epoch_loss = (np.sum(losses, axis=0) / len(images)).tolist()
            epoch_entropy = [
                histogram_entropy(codes[:, k * hidden : (k + 1) * hidden], bins=self.bins)
                for k in range(units)
            ]
            result["loss"].append(epoch_loss)
            result["entropy"].append(epoch_entropy)
            self.history["loss"].append(epoch_loss)
            self.history["entropy"].append(epoch_entropy)
            if verbose:
                print(
                    f"epoch {epoch + 1}/{epochs} loss "
                    + " ".join(f"{v:.4f}" for v in epoch_loss)
                    + " entropy "
                    + " ".join(f"{v:.3f}" for v in epoch_entropy)
                )
        return result

    def encode(self, x, batch_size=1000):
        """Concatenated codes of all units, `(n, K * hidden)` (settled, no dropout)."""
        images = self._images(x)
        batch_size = _positive_int(batch_size, "batch_size")
        out = [
            self._encode_step(tf.constant(images[s : s + batch_size])).numpy()
            for s in range(0, len(images), batch_size)
        ]
        return np.concatenate(out, axis=0)

    def unit_entropies(self, x, batch_size=1000):
        """Per-unit entropies of the settled codes of `x` (inference mode)."""
        codes = self.encode(x, batch_size=batch_size)
        hidden = self.layout.hidden
        return [
            histogram_entropy(codes[:, k * hidden : (k + 1) * hidden], bins=self.bins)
            for k in range(self.layout.units)
        ]

    # -- meta-learning (Algorithm 2) -----------------------------------------------
    def set_layout(self, layout):
        """Move the fields to those of `layout` (a `Layout` or fields), keeping every weight.

        Optimizer state follows the masks: first moments outside the new
        fields are zeroed (so out-of-field weights stay exactly unchanged),
        and second moments of cells entering a field start at the mean of
        the cells that stay (so their first steps are not ~3x too large).
        """
        old = self.layout
        if not isinstance(layout, Layout):
            layout = old.with_fields(layout)
        self.network.check_layout(layout)
        slots = optimizer_state.slots_by_variable(self.optimizer)
        for k, unit in enumerate(self.network.autoencoders):
            if layout.fields[k] == old.fields[k]:
                continue
            before = old.field_mask(k).reshape(-1) > 0
            after = layout.field_mask(k).reshape(-1) > 0
            for variable, axis in (
                (unit.encoder_kernel, 0),
                (unit.decoder_kernel, 1),
                (unit.decoder_bias, 0),
            ):
                for slot, kind in slots.get(id(variable), []):
                    value = keras.ops.convert_to_numpy(slot).copy()
                    view = np.moveaxis(value, axis, 0)
                    if kind in optimizer_state.ZERO_SLOTS:
                        view[~after] = 0.0
                    elif kind in optimizer_state.SECOND_MOMENT_SLOTS:
                        stay = before & after
                        view[after & ~before] = view[stay].mean(axis=0) if stay.any() else 0.0
                    slot.assign(value)
        self.network.set_layout(layout)
        self.layout = layout

    def search(
        self,
        x,
        meta_steps=20,
        rule="hill_climb",
        epochs_per_step=1,
        batch_size=None,
        callback=None,
        verbose=0,
    ):
        """Meta-learning of the receptive fields (Algorithm 2).

        The reference entropy of each unit is its entropy under the current
        accepted layout: from the last `fit` epoch at the start (0 if the
        network was never trained, the paper's `alpha_0 = 0`), then from the
        evaluation of each accepted move.

        Args:
            x: training images (as for `fit`).
            meta_steps: number of meta-steps M, int >= 1. Each tries units
                1..K in order and ends at the first accepted move, so it
                trains the network 1 to K times.
            rule: `"hill_climb"` (strict: kept only if entropy rises),
                `"annealing"`, `"random"`, or a `MetaRule` instance.
            epochs_per_step: training epochs per trial.
            batch_size: as for `fit`.
            callback: optional `callback(soh, step, trials)` called after
                every meta-step with that step's trial records.
            verbose: 1 prints one line per trial.

        Returns:
            The list of trial records (also appended to
            `self.search_history`), each a dict with keys `step`, `unit`,
            `field`, `old`, `new`, `entropy` (the unit's candidate entropy),
            `reference`, `accepted` and `entropies` (all units).
        """
        rule = get_rule(rule)
        meta_steps = _positive_int(meta_steps, "meta_steps")
        epochs_per_step = _positive_int(epochs_per_step, "epochs_per_step")
        images = self._images(x)
        reference = self.entropies or [0.0] * self.layout.units
        trials = []
        for step in range(meta_steps):
            step_trials = []
            for unit in range(self.layout.units):
                move = rule.propose(self.layout, unit, self._meta_rng)
                if move is None:
                    continue
                index, corner = move
                current = self.layout
                candidate = current.replace_field(unit, index, corner)
                self.set_layout(candidate)
                entropies = self.fit(images, epochs=epochs_per_step, batch_size=batch_size)[
                    "entropy"
                ][-1]
                accepted = bool(
                    rule.accept(entropies[unit], reference[unit], step, meta_steps, self._meta_rng)
                )
                record = {
                    "step": step,
                    "unit": unit,
                    "field": index,
                    "old": current.fields[unit][index],
                    "new": tuple(corner),
                    "entropy": entropies[unit],
                    "reference": reference[unit],
                    "accepted": accepted,
                    "entropies": list(entropies),
                }
                step_trials.append(record)
                if verbose:
                    print(
                        f"meta-step {step + 1}/{meta_steps} unit {unit + 1} field {index} "
                        f"{record['old']}->{record['new']} H={entropies[unit]:.4f} "
                        f"ref={reference[unit]:.4f} {'accept' if accepted else 'reject'}"
                    )
                if accepted:
                    reference = list(entropies)
                    break
                self.set_layout(current)
            trials.extend(step_trials)
            self.search_history.extend(step_trials)
            if callback is not None:
                callback(self, step, step_trials)
        return trials

    # -- readout and pictures ------------------------------------------------------
    def classifier(self, num_classes=10, epochs=40, batch_size=128, learning_rate=3e-3, l2=1e-4):
        """A fresh `LogisticReadout` for `encode(...)` features (seeded like the hierarchy)."""
        return LogisticReadout(
            num_classes=num_classes,
            epochs=epochs,
            batch_size=batch_size,
            learning_rate=learning_rate,
            l2=l2,
            seed=self.seed,
        )

    def draw(self, path=None, image=None, ax=None, title=None):
        """Picture of the current layout (see `keras_grow.search.draw_layout`)."""
        from keras_grow.search.soh_drawing import draw_layout

        return draw_layout(self.layout, path=path, image=image, ax=ax, title=title)
