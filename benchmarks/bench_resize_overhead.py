"""What structural change costs: growing runs vs static runs, and per-event cost.

Measured in one process (issue "DynamicModel", performance section):

1. An MLP 784-64-64-10 on MNIST-5k grows both hidden layers by 8 units every
   `interval` steps up to 256-256 (24 events, so a run lasts 24 * interval
   steps), against the static 784-256-256-10 model trained for the same steps.
   Both sides start from a fresh model, so both pay their first trace; the
   ratio is growing wall-clock / static wall-clock. Three growing variants:
   static storage with geometric capacity (`reassignable_storage=False`,
   growth_factor=2: 64 -> 128 -> 256, two reallocations, each retracing),
   capacity reserved up front (`ScheduledGrowth(reserve=True)`), and
   geometric with `reassignable_storage=True` (reallocations in place, no
   retrace; what the default `"auto"` gives this all-Dense MLP).
2. The cost of one resize event, in ms: within capacity (the `add_units` call)
   and with reallocation (the call plus the retrace paid by the next step),
   for the MLP and for VGG-11 at 1/4 width on 32x32x3.
3. Resident memory across 1 000 resize events (plus 20 reallocate/compact cycles).
   `--only-storage` instead times steps of the 256-256 MLP and of VGG-11 at 1/4
   width under `reassignable_storage=False`, `"auto"` (the default) and `True`.
4. Steady-state step time of the 256-256 MLP: plain Keras, DynamicModel, and
   DynamicModel with reassignable storage (the price of unknown shapes).

Run: `python benchmarks/bench_resize_overhead.py [--quick]`.
"""

import argparse
import gc
import json
import statistics
import time

import keras
import psutil
import tensorflow as tf

import keras_grow

BATCH = 128


def mlp(width):
    inputs = keras.Input((784,))
    x = keras.layers.Dense(width, activation="relu", name="h1")(inputs)
    x = keras.layers.Dense(width, activation="relu", name="h2")(x)
    return keras.Model(inputs, keras.layers.Dense(10, name="out")(x))


def compiled(model):
    model.compile(
        keras.optimizers.Adam(3e-4),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    return model


def dataset(x, y):
    return tf.data.Dataset.from_tensor_slices((x, y)).shuffle(4000, seed=0).repeat().batch(BATCH)


def timed_fit(model, data, steps, callbacks=()):
    start = time.perf_counter()
    model.fit(data, steps_per_epoch=steps, epochs=1, callbacks=list(callbacks), verbose=0)
    return time.perf_counter() - start


def run_ratio(interval, data, repeats):
    steps = 24 * interval
    rows = {"static": [], "growing": [], "growing_reserved": [], "growing_reassignable": []}
    for _ in range(repeats):
        keras.utils.set_random_seed(0)
        rows["static"].append(timed_fit(compiled(mlp(256)), data, steps))
        for variant, reserve, reassignable in (
            ("growing", False, False),
            ("growing_reserved", True, False),
            ("growing_reassignable", False, True),
        ):
            keras.utils.set_random_seed(0)
            model = compiled(keras_grow.DynamicModel(mlp(64), reassignable_storage=reassignable))
            schedule = keras_grow.callbacks.ScheduledGrowth(
                every=interval, units=8, max_units=256, reserve=reserve
            )
            rows[variant].append(timed_fit(model, data, steps, [schedule]))
            assert model.widths() == {"h1": 256, "h2": 256, "out": 10}, model.widths()
    medians = {k: statistics.median(v) for k, v in rows.items()}
    return {
        "interval": interval,
        "steps": steps,
        "static_s": medians["static"],
        "growing_s": medians["growing"],
        "growing_reserved_s": medians["growing_reserved"],
        "ratio": medians["growing"] / medians["static"],
        "growing_reassignable_s": medians["growing_reassignable"],
        "ratio_reserved": medians["growing_reserved"] / medians["static"],
        "ratio_reassignable": medians["growing_reassignable"] / medians["static"],
    }


def event_cost(model, data, layer, units, events):
    """Median ms of `add_units` within capacity, and of a reallocation + retrace."""
    compiled(model)
    model.fit(data, steps_per_epoch=5, epochs=1, verbose=0)
    iterator = iter(data)
    batch = next(iterator)

    def step():
        start = time.perf_counter()
        model.train_on_batch(*batch)
        return time.perf_counter() - start

    normal = statistics.median(step() for _ in range(10))
    model.reserve(layer, model.widths()[layer] + units * events)
    step()  # retrace once for the reserved capacity
    within = []
    for _ in range(events):
        start = time.perf_counter()
        model.add_units(layer, units)
        within.append(time.perf_counter() - start)
        step()
    realloc = []
    for _ in range(3):
        start = time.perf_counter()
        model.add_units(layer, model.capacities()[layer] - model.widths()[layer] + units)
        realloc.append(time.perf_counter() - start + step() - normal)
    return {
        "step_ms": 1e3 * normal,
        "within_capacity_ms": 1e3 * statistics.median(within),
        "reallocation_with_retrace_ms": 1e3 * statistics.median(realloc),
    }


def memory_over_events(data, events, cycles):
    keras.utils.set_random_seed(0)
    model = compiled(keras_grow.DynamicModel(mlp(64), reassignable_storage=False))
    model.reserve("h1", 128)
    model.reserve("h2", 128)
    batch = next(iter(data))
    process = psutil.Process()

    def one_event(i):
        layer = "h1" if i % 2 else "h2"
        if (i // 2) % 2:
            model.remove_units(layer, list(range(8)))
        else:
            model.add_units(layer, 8)
        model.train_on_batch(*batch)

    for i in range(100):  # warm up allocator and caches
        one_event(i)
    gc.collect()
    rss_start = process.memory_info().rss
    for i in range(100, events):
        one_event(i)
    gc.collect()
    rss_events = process.memory_info().rss
    for _ in range(cycles):  # reallocation: grow beyond capacity, then compact
        model.add_units("h1", model.capacities()["h1"] - model.widths()["h1"] + 8)
        model.train_on_batch(*batch)
        model.compact()
        model.train_on_batch(*batch)
    gc.collect()
    rss_end = process.memory_info().rss
    return {
        "events": events,
        "rss_after_100_events_mb": rss_start / 2**20,
        "rss_after_all_events_mb": rss_events / 2**20,
        "realloc_cycles": cycles,
        "rss_after_realloc_cycles_mb": rss_end / 2**20,
        "history_length": len(model.structure_history),
    }


def step_times(data, steps=100, repeats=7):
    """Median ms per step at 256-256: plain, DynamicModel, reassignable storage."""
    models = {
        "plain": compiled(mlp(256)),
        "dynamic_model": compiled(keras_grow.DynamicModel(mlp(256), reassignable_storage=False)),
        "reassignable": compiled(keras_grow.DynamicModel(mlp(256), reassignable_storage=True)),
    }
    times = {name: [] for name in models}
    for model in models.values():
        model.fit(data, steps_per_epoch=20, epochs=1, verbose=0)
    for _ in range(repeats):  # interleaved, so load changes hit all alike
        for name, model in models.items():
            times[name].append(timed_fit(model, data, steps) / steps)
    return {name: 1e3 * statistics.median(t) for name, t in times.items()}


def storage_step_times(data, repeats=5):
    """Median ms per step of the 256-256 MLP and of VGG-11 at 1/4 width (batch
    128) under each `reassignable_storage` mode, interleaved."""
    cifar = tf.data.Dataset.from_tensors(
        (tf.random.normal((BATCH, 32, 32, 3)), tf.zeros((BATCH,), tf.int64))
    ).repeat()
    cases = {}
    for mode in (False, "auto", True):
        keras.utils.set_random_seed(0)
        cases[f"mlp_{mode}"] = (
            compiled(keras_grow.DynamicModel(mlp(256), reassignable_storage=mode)),
            data,
        )
        keras.utils.set_random_seed(0)
        vgg = keras_grow.applications.VGG11(width_multiplier=0.25, classifier_activation=None)
        cases[f"vgg11_quarter_{mode}"] = (
            compiled(keras_grow.DynamicModel(vgg, reassignable_storage=mode)),
            cifar,
        )
    times = {name: [] for name in cases}
    for model, inputs in cases.values():
        model.fit(inputs, steps_per_epoch=5, epochs=1, verbose=0)
    for _ in range(repeats):
        for name, (model, inputs) in cases.items():
            times[name].append(timed_fit(model, inputs, 20) / 20)
    return {name: 1e3 * statistics.median(t) for name, t in times.items()}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats and intervals")
    parser.add_argument(
        "--only-storage",
        action="store_true",
        help="only the step times of each reassignable_storage mode (MLP and VGG-11/4)",
    )
    args = parser.parse_args()
    (x, y), _ = keras_grow.datasets.mnist_5k(flatten=True)
    data = dataset(x, y)
    if args.only_storage:
        print(json.dumps(storage_step_times(data, 2 if args.quick else 5), indent=1))
        return
    intervals = (1, 20) if args.quick else (1, 5, 20, 100)
    results = {"ratios": [], "event_cost": {}, "memory": None}
    for interval in intervals:
        row = run_ratio(interval, data, repeats=1 if args.quick else 3)
        results["ratios"].append(row)
        print(
            f"interval {interval:>3}: {row['steps']:>5} steps  static {row['static_s']:.2f}s  "
            f"growing {row['growing_s']:.2f}s (ratio {row['ratio']:.2f})  "
            f"reserved {row['growing_reserved_s']:.2f}s (ratio {row['ratio_reserved']:.2f})  "
            f"reassignable {row['growing_reassignable_s']:.2f}s "
            f"(ratio {row['ratio_reassignable']:.2f})",
            flush=True,
        )
    keras.utils.set_random_seed(0)
    static_mlp = keras_grow.DynamicModel(mlp(64), reassignable_storage=False)
    results["event_cost"]["mlp"] = event_cost(static_mlp, data, "h1", 8, 20)
    cifar = tf.data.Dataset.from_tensors(
        (tf.random.normal((BATCH, 32, 32, 3)), tf.zeros((BATCH,), tf.int64))
    ).repeat()
    keras.utils.set_random_seed(0)
    vgg = keras_grow.DynamicModel(
        keras_grow.applications.VGG11(width_multiplier=0.25, classifier_activation=None)
    )
    results["event_cost"]["vgg11_quarter"] = event_cost(vgg, cifar, "conv5", 8, 10)
    for name, cost in results["event_cost"].items():
        print(
            f"event cost {name}: step {cost['step_ms']:.1f} ms, within capacity "
            f"{cost['within_capacity_ms']:.1f} ms, reallocation+retrace "
            f"{cost['reallocation_with_retrace_ms']:.0f} ms",
            flush=True,
        )
    results["step_ms"] = step_times(data)
    print(
        "step time 256-256: "
        + ", ".join(f"{name} {ms:.2f} ms" for name, ms in results["step_ms"].items()),
        flush=True,
    )
    results["memory"] = memory_over_events(data, 1000 if not args.quick else 300, 20)
    memory = results["memory"]
    print(
        f"memory: RSS {memory['rss_after_100_events_mb']:.0f} MB after 100 events, "
        f"{memory['rss_after_all_events_mb']:.0f} MB after {memory['events']}, "
        f"{memory['rss_after_realloc_cycles_mb']:.0f} MB after "
        f"{memory['realloc_cycles']} reallocation cycles"
    )
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
