"""What neurogenesis costs: trigger overhead on VGG-11 and a growing MLP run.

Measured in one process, ratios printed (Maile's thesis, Table 9, reports the
trigger time on a V100: NORTH-Select 5.97 s vs 5.49 s static per mini-batch,
about +9 %; GradMax 14.0 s, about +155 %).

1. Trigger overhead, VGG-11 at 1/4 width on 32x32x3 random inputs, batch 128,
   in interleaved rounds (medians; on a shared machine only interleaved
   timings are comparable).
   - step: wall-clock of one training step, static, and with the activation
     taps of `Neurogenesis` recording every layer's post-activations and
     input patches (2 048-row buffers, 256 rows per step; input patches of
     every 4th row, the 512 rows `NorthSelect` scores on, as `Neurogenesis`
     records them for `max_units=256`): the taps' cost
     (median wall clock, and median CPU time of the process per step), and
     the taps' own work timed alone (the compiled gathers and scatters of
     one step's rows, on the tensors the step computes anyway, less the
     cost of calling a compiled function with those tensors): a per-step
     difference of a few percent is below the noise of two step timings.
   - on-demand inputs (`Neurogenesis(record_inputs="on_growth")`): a third
     tapped VGG records the same post-activations but input patches only
     into 512-row rings behind closed per-layer gates (`input_rows=512`),
     i.e. every step where no growth is pending: its step, its recording
     alone (as above), and its recording with every gate open (what a step
     costs while a growth waits for its 512 rows, W = 2 steps at 256 rows
     per step); `north_select_amortised_plus_recording_on_growth` is the
     amortised trigger plus that closed-gate recording.
   - NORTH-Select trigger: one evaluation of `ActivationTrigger` (φ_ED) on
     all 10 layers, reading each layer's full buffer, divided by one step.
     Amortised: `Neurogenesis` evaluates a layer only when its buffer holds
     `min_new_rows` (default: `buffer_size`) rows it has not seen, so with
     `buffer_size` rows and `rows_per_step` rows per step it evaluates every
     `buffer_size / rows_per_step` steps at `every=1`; the amortised ratio
     divides by that. The `..._per_layer_refresh` keys divide each layer's
     own evaluation time by its own refill interval instead: the fc layers
     get one row per image (128 per step), so their buffers refill every 16
     steps, not 8.
   - GradMax trigger: one gradient probe (an extra forward and backward pass
     on `probe_size` rows, 128 or 32) plus the auxiliary gradients and their
     singular values for all layers, divided by one step, with the probe as
     `Neurogenesis` runs it for a trigger (`full=False`: no input rows or
     consumer gradients kept; `full=True`, what a growth event with GradMax
     adds, is reported too); amortised over
     `every` (the only amortisation of gradient triggers: 8 for 128 rows, 4
     for 32 rows).
2. Growing run: the MLP 784-64-64-10 with NORTH-Select (candidates=1000,
   max_units=784, buffer_size=1568, every=1) for 20 epochs at batch 512 on
   MNIST-5k, against Medium Static (784-256-256-10) for the same epochs;
   capacity policies `reserve="auto"` (the default: geometric reallocation
   capped at `max_units`; with the default `reassignable_storage="auto"` the
   Dense groups reallocate in place, so no headroom is reserved and the
   capacity grows by 1.25x: the network trains close to its own width), the
   same with the earlier 2x capacity steps (`reserve_auto_in_place_x2`), the
   same with NorthSelect drawing its candidates before preparing the scored
   rows, on one thread (`reserve_auto_draw_first`, the order before
   `growth.draw_ahead`), the
   same with the old static storage
   (`reserve_auto_static_storage`: 4x the starting width up front, a retrace
   per reallocation, masked steps at 256), `reserve=True` (784 up front:
   compute at 784), `reserve=False` (the DynamicModel's geometric
   reallocation) and `reserve=256`; and `reserve_auto_inputs_on_growth`, the
   default with `record_inputs="on_growth"` (input rows recorded only on
   the step after the trigger fires, growth one step later). Runs are
   interleaved and the medians of `--repeats` runs are compared (wall clock,
   and CPU time of the process, which counts the work done whatever share of
   the shared cores the process got); widths, capacities (hidden1, hidden2),
   retraces of the train step and seconds spent in `Neurogenesis.grow` of
   every repeat are printed. `--lr 3e-4` (the thesis' rate) makes the layers
   grow (to about 150-300 / 75-100 units); at the default 1e-3 they barely grow.
   A `no_growth` variant (γ_a = 10: the trigger never fires) isolates what the
   taps and trigger evaluations cost, and each run's CPU time spent in steps
   that traced a train function (the first step, and one after each
   reallocation) is reported, with the CPU ratio without it.

3. Input modes on a CNN (`--only conv_inputs`): a small MNIST CNN grown by
   NORTH-Select with `record_inputs="always"` and `"on_growth"`, interleaved
   per seed: does waiting for input rows change the widths, the number of
   growth events or the test accuracy (`conv_input_modes`)?

NumPy's BLAS is limited to one thread (`OPENBLAS_NUM_THREADS=1`, set before
NumPy loads): on a shared machine a multi-threaded BLAS call stalls whenever
one of its threads is descheduled (we measured 0.7 ms vs 94 ms medians for
the same Gram matrix). TensorFlow keeps its own thread pools. A
`DynamicModel.fit` with a structural callback sets the same limit itself
(`StructuralCallback.blas_threads`); `--blas-default` leaves the variable
unset, to measure that.

Run: `python benchmarks/bench_neurogenesis.py [--quick] [--repeats 3]`.
"""

import os
import sys

if "--blas-default" not in sys.argv:
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import argparse  # noqa: E402
import contextlib  # noqa: E402
import gc  # noqa: E402
import json  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
import unittest.mock  # noqa: E402

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import keras_grow  # noqa: E402
from keras_grow import growth  # noqa: E402
from keras_grow.growth import _model_access  # noqa: E402
from keras_grow.growth import north_initializers as north  # noqa: E402

BATCH = 128


def vgg(seed=0):
    keras.utils.set_random_seed(seed)
    base = keras_grow.applications.VGG11(width_multiplier=0.25, classifier_activation=None)
    model = keras_grow.DynamicModel(base, seed=seed)
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model


def median_of(function, times):
    start = time.perf_counter()
    function()
    times.append(time.perf_counter() - start)


def trigger_overhead(quick):
    """Interleaved rounds: a static step, a step with taps, one NORTH-Select
    trigger evaluation, a step of the gradient model and its gradient trigger
    with 128- and 32-row probes. Medians over the rounds (the machine is
    shared, so only interleaved timings are comparable)."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(BATCH, 32, 32, 3)).astype("float32")
    y = rng.integers(0, 10, BATCH)
    rounds = 4 if quick else 15
    layers = [f"conv{i}" for i in range(1, 9)] + ["fc1", "fc2"]
    buffer_size, rows_per_step = 2048, 256

    static, tapped, gradient_model, on_demand = vgg(), vgg(), vgg(), vgg()
    # At their initial widths: reserving the thesis' 2x-standard capacity would make
    # every step cost as much as the largest network (see the growing run).
    # The input rows Neurogenesis records for NorthSelect (512 scoring rows) with
    # max_units=256, twice the widest layer (the thesis' cap): every 4th row's.
    input_every = buffer_size // growth.NorthSelect().input_rows_needed(buffer_size, 256)
    growth.watch_layers(
        tapped, layers, buffer_size, rows_per_step, inputs=True, input_every=input_every
    )
    # Neurogenesis(record_inputs="on_growth"): 512-row input rings, gates closed.
    on_demand_rows = 512
    growth.watch_layers(
        on_demand, layers, buffer_size, rows_per_step, inputs=True, input_rows=on_demand_rows
    )
    for _ in range(buffer_size // rows_per_step + 1):
        tapped.train_on_batch(x, y)
        on_demand.train_on_batch(x, y)
    static.train_on_batch(x, y)
    gradient_model.train_on_batch(x, y)
    trigger = growth.ActivationTrigger(gamma=0.9)
    probe = growth.GradientProbe(gradient_model, layers)
    gradient_trigger = growth.GradientTrigger()

    # Rows a step can give each layer: the fc layers see one row per image (128),
    # so their buffers refill every 16 steps, the conv layers' every 8.
    per_batch = {
        layer: BATCH * int(np.prod(tapped.get_layer(layer).output.shape[1:-1])) for layer in layers
    }
    refresh_of = {
        layer: -(-buffer_size // min(rows_per_step, per_batch[layer])) for layer in layers
    }
    layer_times = {layer: [] for layer in layers}

    def evaluate_activation_trigger():
        for layer in layers:
            start = time.perf_counter()
            trigger(
                growth.Observation(
                    layer=layer,
                    width=tapped.widths()[layer],
                    activations=tapped.activations(layer),
                    convolutional=_model_access.is_convolution(tapped, layer),
                )
            )
            layer_times[layer].append(time.perf_counter() - start)

    def evaluate_gradient_trigger(rows, full=False):
        for layer, result in probe(x[:rows], y[:rows], full=full).items():
            gradient_trigger(
                growth.Observation(
                    layer=layer,
                    width=gradient_model.widths()[layer],
                    auxiliary_gradient=result.auxiliary_gradient(),
                    unit_gradient_norms=result.unit_gradient_norms,
                )
            )

    # The taps' own work, timed alone: the compiled gathers and scatters of one
    # step's rows (the tapped tensors are outputs the step computes anyway).
    taps = tapped._state.taps
    _, tensors = taps.forward(x, training=True)
    record = tf.function(lambda *tensors: taps.record(list(tensors)))
    record(*tensors)
    counter = tf.Variable(0, dtype=tf.int64)
    dispatch = tf.function(lambda *tensors: counter.assign_add(1))  # the call alone
    dispatch(*tensors)
    demand_taps = on_demand._state.taps
    _, demand_tensors = demand_taps.forward(x, training=True)
    record_on_demand = tf.function(lambda *tensors: demand_taps.record(list(tensors)))
    record_on_demand(*demand_tensors)

    def set_gates(on):
        for layer in layers:
            demand_taps.set_input_recording(layer, on)

    set_gates(True)
    record_on_demand(*demand_tensors)  # both branches run once before timing
    set_gates(False)

    evaluate_gradient_trigger(BATCH)  # traces
    evaluate_gradient_trigger(32)
    evaluate_gradient_trigger(BATCH, full=True)
    traces = probe.traces
    keys = ("static", "tapped", "record", "dispatch", "north")
    keys += ("on_demand", "record_on_demand", "record_gates_open")
    keys += ("step", "probe128", "probe32", "full128")
    times = {key: [] for key in keys}
    cpu = {"static": [], "tapped": [], "on_demand": []}
    for _ in range(rounds):
        for key, model in (("static", static), ("tapped", tapped), ("on_demand", on_demand)):
            start = time.process_time()
            median_of(lambda model=model: model.train_on_batch(x, y), times[key])
            cpu[key].append(time.process_time() - start)
        median_of(lambda: record(*tensors), times["record"])
        median_of(lambda: dispatch(*tensors), times["dispatch"])
        median_of(lambda: record_on_demand(*demand_tensors), times["record_on_demand"])
        set_gates(True)
        median_of(lambda: record_on_demand(*demand_tensors), times["record_gates_open"])
        set_gates(False)
        median_of(evaluate_activation_trigger, times["north"])
        median_of(lambda: gradient_model.train_on_batch(x, y), times["step"])
        median_of(lambda: evaluate_gradient_trigger(BATCH), times["probe128"])
        median_of(lambda: evaluate_gradient_trigger(32), times["probe32"])
        median_of(lambda: evaluate_gradient_trigger(BATCH, full=True), times["full128"])
    m = {key: statistics.median(values) for key, values in times.items()}
    cpu_median = {key: statistics.median(values) for key, values in cpu.items()}
    refresh = buffer_size // rows_per_step
    # Each layer evaluated when its own buffer has refilled (as Neurogenesis does).
    per_layer = sum(statistics.median(layer_times[k]) / refresh_of[k] for k in layers)
    return {
        "rounds": rounds,
        "step_static_s": m["static"],
        "step_with_taps_s": m["tapped"],
        "taps_overhead": m["tapped"] / m["static"] - 1,
        "taps_overhead_cpu": cpu_median["tapped"] / cpu_median["static"] - 1,
        "taps_input_every": input_every,
        "taps_record_s": m["record"],
        "taps_record_call_s": m["dispatch"],
        "taps_record_per_static_step": (m["record"] - m["dispatch"]) / m["static"],
        "north_select_amortised_plus_recording": (
            m["north"] / refresh + m["record"] - m["dispatch"]
        )
        / m["static"],
        "step_with_taps_on_growth_s": m["on_demand"],
        "taps_on_growth_overhead": m["on_demand"] / m["static"] - 1,
        "taps_on_growth_overhead_cpu": cpu_median["on_demand"] / cpu_median["static"] - 1,
        "taps_on_growth_input_rows": on_demand_rows,
        "taps_record_on_growth_s": m["record_on_demand"],
        "taps_record_on_growth_per_static_step": (m["record_on_demand"] - m["dispatch"])
        / m["static"],
        "taps_record_on_growth_gates_open_s": m["record_gates_open"],
        "taps_record_on_growth_gates_open_per_static_step": (m["record_gates_open"] - m["dispatch"])
        / m["static"],
        "north_select_amortised_plus_recording_on_growth": (
            m["north"] / refresh + m["record_on_demand"] - m["dispatch"]
        )
        / m["static"],
        "north_select_refresh_steps_per_layer": refresh_of,
        "north_select_amortised_per_layer_refresh": per_layer / m["static"],
        "north_select_amortised_per_layer_refresh_plus_recording": (
            per_layer + m["record"] - m["dispatch"]
        )
        / m["static"],
        "north_select_amortised_per_layer_refresh_plus_recording_on_growth": (
            per_layer + m["record_on_demand"] - m["dispatch"]
        )
        / m["static"],
        "north_select_trigger_s": m["north"],
        "north_select_per_evaluation": m["north"] / m["tapped"],
        "north_select_evaluated_every_steps": refresh,
        "north_select_amortised": m["north"] / m["tapped"] / refresh,
        "north_select_amortised_incl_taps": (m["tapped"] + m["north"] / refresh) / m["static"] - 1,
        "gradmax_step_s": m["step"],
        "gradmax_trigger_probe128_s": m["probe128"],
        "gradmax_per_evaluation_probe128": m["probe128"] / m["step"],
        "gradmax_per_evaluation_probe32": m["probe32"] / m["step"],
        "gradmax_amortised_probe128_every8": m["probe128"] / m["step"] / 8,
        "gradmax_amortised_probe32_every4": m["probe32"] / m["step"] / 4,
        "gradmax_per_evaluation_full_probe128": m["full128"] / m["step"],
        "probe_traces_during_rounds": probe.traces - traces,
    }


def mlp(hidden, seed, lr=1e-3, storage="auto"):
    keras.utils.set_random_seed(seed)
    base = keras_grow.applications.GrowingMLP(input_shape=(784,), hidden=hidden, classes=10)
    model = keras_grow.DynamicModel(base, seed=seed, reassignable_storage=storage)
    model.compile(
        keras.optimizers.Adam(lr), "sparse_categorical_crossentropy", metrics=["accuracy"]
    )
    return model


class TimedGrowth:
    """Wraps a callback's `grow` and adds up the wall-clock it takes."""

    def __init__(self, callback):
        self.seconds = 0.0
        grow = callback.grow

        def timed():
            start = time.perf_counter()
            try:
                return grow()
            finally:
                self.seconds += time.perf_counter() - start

        callback.grow = timed


class StepClock(keras.callbacks.Callback):
    """Times every step (CPU and wall) and notes its train function (a new one: a trace).

    Put it first in the callback list: its `on_train_batch_end` then runs
    before the other callbacks' (growth is not counted in the step).
    """

    def __init__(self):
        super().__init__()
        self.functions, self.cpu, self.wall = [], [], []

    def on_train_batch_begin(self, batch, logs=None):
        self._cpu, self._wall = time.process_time(), time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        self.cpu.append(time.process_time() - self._cpu)
        self.wall.append(time.perf_counter() - self._wall)
        # The function itself, not its id: a freed function's id can be reused.
        self.functions.append(self.model.train_function)

    def retraces(self):
        """New train functions after the first step (reallocations)."""
        return len({id(function) for function in self.functions}) - 1

    def tracing_cpu_seconds(self):
        """CPU time of the steps that ran a new train function (traced it)."""
        seen, total = set(), 0.0
        for function, seconds in zip(self.functions, self.cpu):
            if function not in seen:
                seen.add(function)
                total += seconds
        return total


def _gain(chosen, existing, basis, rank, post):
    """New direction of the chosen units on all rows: (sum of singular values
    outside the existing significant span, gain in ε-numerical rank)."""
    new = post[:, chosen] / np.sqrt(len(post))
    outside = new - basis @ (basis.T @ new)
    full = np.concatenate([existing / np.sqrt(len(post)), new], axis=1)
    return (
        float(np.linalg.svd(outside, compute_uv=False).sum()),
        int(np.linalg.matrix_rank(full, tol=0.01) - rank),
    )


def scoring_rows_quality(quick, seeds=3):
    """Does scoring NorthSelect's candidates on fewer rows select as well?

    MLP 784-W-64-10 (W = 64, 160, 320, the range NORTH-Select grows the first
    layer through on MNIST) trained for 2 epochs (Adam 3e-4, batch 512) with a
    1 568-row buffer of `hidden1`'s inputs and post-activations. Per seed and
    W, 1 000 + k candidate fan-ins are drawn (Glorot uniform, rescaled to the
    existing units' mean norm) and k = 1, 4 or 16 are selected by
    `select_candidates` scoring on all 1 568 rows, on `"auto"` rows
    (`scoring_row_count`), on 512 or 256 rows, and, as a floor, k at random.
    Each selection's gain is measured on the **full** buffer: the sum of
    singular values (scaled by 1/sqrt(n)) of the selected units'
    post-activations outside the existing units' significant span (the
    effective-dimension gain `select_orthogonal` maximises) and the gain in
    ε-numerical rank. Also the median time of one selection.
    """

    (x, y), _ = keras_grow.datasets.mnist_5k(seed=0, test_size=1000, flatten=True)
    options = {"all": None, "auto": "auto", "512": 512, "256": 256}
    widths = (64, 160) if quick else (64, 160, 320)
    counts = (1, 4, 16)
    gains = {name: [] for name in [*options, "random"]}
    ranks = {name: [] for name in [*options, "random"]}
    times = {name: [] for name in options}
    for seed in range(1 if quick else seeds):
        for width in widths:
            model = mlp((width, 64), seed, 3e-4)
            growth.watch_layers(model, ["hidden1"], 1568, 512, inputs=True)
            model.fit(x, y, epochs=2, batch_size=512, verbose=0)
            inputs = np.asarray(model.activation_taps.inputs("hidden1"), np.float32)
            existing = np.asarray(model.activations("hidden1"), np.float32)
            kernel = np.asarray(model.get_layer("hidden1").kernel)[:, :width]
            norm = float(np.linalg.norm(kernel, axis=0).mean())
            basis = north._significant_basis(existing, 0.01)
            rank = np.linalg.matrix_rank(existing / np.sqrt(len(existing)), tol=0.01)
            rng = np.random.default_rng(seed)
            for count in counts:
                limit = np.sqrt(6.0 / (784 + width))
                fan_ins = rng.uniform(-limit, limit, (1000 + count, 784)).astype(np.float32)
                fan_ins = north.rescale_rows(fan_ins, norm)
                post = np.maximum(inputs @ fan_ins.T, 0.0)
                measured = (existing, basis, rank, post)

                reference = None
                for name, option in options.items():
                    rows = north.scoring_row_count(len(inputs), width, count, option)
                    start = time.perf_counter()
                    chosen = north.select_candidates(
                        inputs,
                        existing,
                        fan_ins,
                        count,
                        post=lambda z: np.maximum(z, 0.0),
                        rows=rows,
                        rng=np.random.default_rng(seed),
                    )
                    times[name].append(time.perf_counter() - start)
                    value, rank_gain = _gain(chosen, *measured)
                    reference = value if reference is None else reference
                    gains[name].append(value / reference)
                    ranks[name].append(rank_gain / count)
                value, rank_gain = _gain(np.arange(count), *measured)
                gains["random"].append(value / reference)
                ranks["random"].append(rank_gain / count)
    return {
        "gain_vs_all_rows_mean": {k: float(np.mean(v)) for k, v in gains.items()},
        "gain_vs_all_rows_min": {k: float(np.min(v)) for k, v in gains.items()},
        "rank_gain_per_unit_mean": {k: float(np.mean(v)) for k, v in ranks.items()},
        "selection_ms_median": {k: 1000 * statistics.median(v) for k, v in times.items()},
        "cases": len(gains["all"]),
    }


# name: (Neurogenesis reserve, DynamicModel reassignable_storage, record_inputs,
#        Neurogenesis.in_place_growth_factor or None for the default,
#        whether NorthSelect draws its candidates ahead on a worker thread)
VARIANTS = {
    "reserve_auto": ("auto", "auto", "always", None, True),
    "reserve_auto_in_place_x2": ("auto", "auto", "always", 2.0, True),
    "reserve_auto_draw_first": ("auto", "auto", "always", None, False),
    "reserve_auto_inputs_on_growth": ("auto", "auto", "on_growth", None, True),
    "reserve_auto_static_storage": ("auto", False, "always", None, True),
    "reserve_784": (True, "auto", "always", None, True),
    "reserve_none": (False, "auto", "always", None, True),
    "reserve_256": (256, "auto", "always", None, True),
}


def drawing_first():
    """NorthSelect without drawing ahead (as before): the candidates are drawn,
    then the scored rows prepared, on the calling thread."""
    return unittest.mock.patch.object(north, "uniform_draw_count", lambda *args: None)


def growing_run(
    repeats, quick, lr=1e-3, variants=tuple(VARIANTS), scoring_rows=("auto",), blas_threads=1
):
    (x, y), _ = keras_grow.datasets.mnist_5k(seed=0, test_size=1000, flatten=True)
    epochs = 4 if quick else 20
    variants = {
        name if rows == "auto" else f"{name}_rows_{rows}": (VARIANTS[name], rows, 0.97)
        for name in variants
        for rows in scoring_rows
    }
    # The taps and trigger evaluations alone: gamma 10 never triggers growth.
    variants["no_growth"] = (("auto", "auto", "always", None, True), "auto", 10.0)
    times = {"medium_static": [], **{name: [] for name in variants}}
    cpu = {name: [] for name in times}
    tracing = {name: [] for name in times}
    widths, capacities, reallocations, growing = {}, {}, {}, {}
    for repeat in range(repeats):
        model = mlp((256, 256), repeat, lr)
        clock = StepClock()
        gc.collect()  # no earlier run's garbage collected inside this one
        start, start_cpu = time.perf_counter(), time.process_time()
        model.fit(x, y, epochs=epochs, batch_size=512, verbose=0, callbacks=[clock])
        times["medium_static"].append(time.perf_counter() - start)
        cpu["medium_static"].append(time.process_time() - start_cpu)
        tracing["medium_static"].append(clock.tracing_cpu_seconds())
        for name, (setting, rows, gamma) in variants.items():
            reserve, storage, record_inputs, factor, ahead = setting
            model = mlp((64, 64), repeat, lr, storage)
            trigger = growth.ActivationTrigger(gamma=gamma, epsilon=0.01)
            rows = {"auto": "auto", "all": None}.get(rows, rows)
            initializer = growth.NorthSelect(1000, 0.01, scoring_rows=rows)
            callback = keras_grow.callbacks.Neurogenesis(
                trigger,
                initializer,
                max_units=784,
                buffer_size=1568,
                reserve=reserve,
                record_inputs=record_inputs,
            )
            callback.blas_threads = blas_threads
            if factor is not None:
                callback.in_place_growth_factor = factor
            timer = TimedGrowth(callback)
            clock = StepClock()
            gc.collect()
            with contextlib.nullcontext() if ahead else drawing_first():
                start, start_cpu = time.perf_counter(), time.process_time()
                callbacks = [clock, callback]
                model.fit(x, y, epochs=epochs, batch_size=512, verbose=0, callbacks=callbacks)
                times[name].append(time.perf_counter() - start)
            cpu[name].append(time.process_time() - start_cpu)
            tracing[name].append(clock.tracing_cpu_seconds())
            growing.setdefault(name, []).append(round(timer.seconds, 2))
            hidden = ("hidden1", "hidden2")
            widths.setdefault(name, []).append([model.widths()[k] for k in hidden])
            capacities.setdefault(name, []).append([model.capacities()[k] for k in hidden])
            reallocations.setdefault(name, []).append(clock.retraces())
    medians = {name: statistics.median(values) for name, values in times.items()}
    cpu_medians = {name: statistics.median(values) for name, values in cpu.items()}
    untraced = {
        name: statistics.median(c - t for c, t in zip(cpu[name], tracing[name])) for name in cpu
    }
    result = {f"{name}_s": value for name, value in medians.items()}
    for name in variants:
        result[f"ratio_{name}"] = medians[name] / medians["medium_static"]
        result[f"cpu_ratio_{name}"] = cpu_medians[name] / cpu_medians["medium_static"]
        result[f"cpu_ratio_without_tracing_{name}"] = untraced[name] / untraced["medium_static"]
        result[f"ratio_of_sums_{name}"] = sum(times[name]) / sum(times["medium_static"])
        # Each seed against the Medium Static run of the same repeat (same seed).
        result[f"cpu_ratio_per_seed_{name}"] = [
            round(c / s, 3) for c, s in zip(cpu[name], cpu["medium_static"])
        ]
        result[f"widths_{name}"] = widths[name]
        result[f"capacities_{name}"] = capacities[name]
        result[f"retraces_during_fit_{name}"] = reallocations[name]
        result[f"seconds_in_growth_{name}"] = growing[name]
    result["runs_s"] = times
    result["runs_cpu_s"] = cpu
    result["tracing_cpu_s"] = {
        name: [round(t, 2) for t in values] for name, values in tracing.items()
    }
    result["epochs"] = epochs
    result["lr"] = lr
    result["scoring_rows"] = list(scoring_rows)
    return result


def small_cnn(seed):
    """MNIST CNN conv1(16)-pool-conv2(32)-pool-fc1(64)-10, ReLU, for the input-modes run."""
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((28, 28, 1))
    x = keras.layers.Conv2D(16, 3, padding="same", activation="relu", name="conv1")(inputs)
    x = keras.layers.MaxPooling2D()(x)
    x = keras.layers.Conv2D(32, 3, padding="same", activation="relu", name="conv2")(x)
    x = keras.layers.MaxPooling2D()(x)
    x = keras.layers.Flatten()(x)
    x = keras.layers.Dense(64, activation="relu", name="fc1")(x)
    outputs = keras.layers.Dense(10, name="predictions")(x)
    model = keras_grow.DynamicModel(keras.Model(inputs, outputs), seed=seed)
    model.compile(
        keras.optimizers.Adam(1e-3),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    return model


def conv_input_modes(repeats, quick):
    """Does recording input rows only for pending growths change what grows?

    `small_cnn` on MNIST-5k (4 000 training images, batch 128, Adam 1e-3) grown
    by NORTH-Select (100 candidates, the thesis' number for convolutions;
    ActivationTrigger γ 0.9, ε 0.01; `max_units=128`; 2 048-row buffers, 256 rows
    per step: evaluations every 8 steps for the conv layers, 16 for fc1; input
    rows read: 512) with `record_inputs="always"` and `"on_growth"` (growth 2
    steps after the trigger), interleaved per seed: final widths, growth
    events, test accuracy and wall clock.
    """
    (x, y), (x_test, y_test) = keras_grow.datasets.mnist_5k(seed=0, test_size=1000)
    x, x_test = x.reshape(-1, 28, 28, 1), x_test.reshape(-1, 28, 28, 1)
    epochs = 1 if quick else 5
    modes = ("always", "on_growth")
    runs = {mode: [] for mode in modes}
    for seed in range(1 if quick else repeats):
        for mode in modes:
            model = small_cnn(seed)
            callback = keras_grow.callbacks.Neurogenesis(
                growth.ActivationTrigger(gamma=0.9, epsilon=0.01),
                growth.NorthSelect(candidates=100),
                max_units=128,
                buffer_size=2048,
                rows_per_step=256,
                record_inputs=mode,
            )
            start = time.perf_counter()
            model.fit(x, y, epochs=epochs, batch_size=128, verbose=0, callbacks=[callback])
            seconds = time.perf_counter() - start
            _, accuracy = model.evaluate(x_test, y_test, verbose=0)
            events = [e for e in model.structure_history if e.operation == "add_units"]
            widths = model.widths()
            runs[mode].append(
                {
                    "widths": [widths[k] for k in ("conv1", "conv2", "fc1")],
                    "events": len(events),
                    "test_accuracy": round(float(accuracy), 4),
                    "seconds": round(seconds, 2),
                }
            )
    summary = {}
    for mode in modes:
        summary[mode] = {
            "mean_test_accuracy": float(np.mean([r["test_accuracy"] for r in runs[mode]])),
            "mean_widths": np.mean([r["widths"] for r in runs[mode]], axis=0).round(1).tolist(),
            "median_seconds": statistics.median(r["seconds"] for r in runs[mode]),
            "runs": runs[mode],
        }
    return {"epochs": epochs, **summary}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="few steps and epochs")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--only", choices=["triggers", "growing", "select", "conv_inputs"], default=None
    )
    parser.add_argument("--lr", type=float, default=1e-3, help="Adam rate of the growing run")
    parser.add_argument(
        "--blas-default",
        action="store_true",
        help="leave OPENBLAS_NUM_THREADS unset (the limit then comes from DynamicModel.fit)",
    )
    parser.add_argument(
        "--no-blas-limit",
        action="store_true",
        help="growing run: Neurogenesis(...).blas_threads = None (with --blas-default: "
        "what a run got before DynamicModel.fit limited BLAS threads)",
    )
    parser.add_argument(
        "--variants",
        nargs="+",
        choices=list(VARIANTS),
        default=list(VARIANTS),
        help="capacity policies of the growing run",
    )
    parser.add_argument(
        "--scoring-rows",
        nargs="+",
        default=["auto"],
        help="NorthSelect(scoring_rows=...) of the growing run: auto, all, or ints "
        "(several: interleaved variants)",
    )
    args = parser.parse_args()
    scoring_rows = [row if row in ("auto", "all") else int(row) for row in args.scoring_rows]
    results = {}
    if args.only in (None, "triggers"):
        results["trigger_overhead_vgg11_quarter"] = trigger_overhead(args.quick)
        print(json.dumps(results["trigger_overhead_vgg11_quarter"], indent=2), flush=True)
    if args.only in (None, "select"):
        results["north_select_scoring_rows"] = scoring_rows_quality(args.quick)
        print(json.dumps(results["north_select_scoring_rows"], indent=2), flush=True)
    if args.only in (None, "conv_inputs"):
        results["conv_input_modes"] = conv_input_modes(args.repeats, args.quick)
        print(json.dumps(results["conv_input_modes"], indent=2), flush=True)
    if args.only in (None, "growing"):
        results["growing_mlp_vs_medium_static"] = growing_run(
            args.repeats,
            args.quick,
            args.lr,
            args.variants,
            scoring_rows,
            None if args.no_blas_limit else 1,
        )
        print(json.dumps(results["growing_mlp_vs_medium_static"], indent=2), flush=True)
    return results


if __name__ == "__main__":
    main()
