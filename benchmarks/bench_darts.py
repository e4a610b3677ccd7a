"""Cost of the DARTS machinery: MixedOp, CRB progressive pruning, FIMT tracking.

Three measurements in one process (TF, CPU unless a GPU is visible):

1. `MixedOp` forward + backward (gradients for the input, every operation's
   weights and the mixing weights) against the sum of the same seven
   operations' forward + backward run one by one, each as its own compiled
   step. Target ratio <= 1.15.
2. A CRB search (`activation="crb"`): time of a bilevel search step (the
   compiled train function, after warm-up calls that absorb the retrace) as
   operations are pruned, 0 % to 90 % of the supernet's operations (the
   pruned ones chosen at random, α set negative, `prune_inactive_ops()`);
   an epoch's time is proportional. Reported as a curve; it should fall.
3. Fisher trace tracking: a weight step under `FisherSchedule` (which sums
   the squared weight gradients and updates the moving average and
   threshold; set up never to fire) against the same step under a schedule
   that never fires and computes nothing. Target ratio <= 1.05.

Runs are interleaved and medians reported, so load from other processes hits
every variant alike.

Usage:
    python benchmarks/bench_darts.py [--batch 32] [--size 16] [--channels 16]
        [--search-channels 8] [--layers 3] [--nodes 4] [--repeats 7] [--iterations 5]
        [--jit] [--skip-crb] [--cpu-time]

Each supernet variant is traced once (after every pruning step too); tracing a
3-cell, 4-node supernet costs about a CPU minute, so `--nodes 2` keeps the
whole run to a few CPU minutes.
"""

import argparse
import os
import statistics
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import keras_grow  # noqa: E402
from keras_grow.layers import DARTS_PRIMITIVES, MixedOp  # noqa: E402
from keras_grow.search import (  # noqa: E402
    ConstantSchedule,
    DartsSearchModel,
    FisherSchedule,
    darts_data,  # noqa: E402
)

# wall clock by default; `--cpu-time` switches to the CPU time of the process (all
# threads), which on a machine shared with other jobs measures the work done rather
# than the share of the cores this process was given
CLOCK = time.perf_counter
MIXED_TARGET = 1.15
FISHER_TARGET = 1.05


def compiled_step(fn, variables, jit):
    @tf.function(jit_compile=jit, reduce_retracing=True)
    def step(x, *extra):
        with tf.GradientTape() as tape:
            tape.watch(x)
            for e in extra:
                tape.watch(e)
            loss = tf.reduce_mean(tf.square(fn(x, *extra)))
        gradients = tape.gradient(loss, [x, *extra, *variables])
        return tf.add_n([tf.reduce_sum(g) for g in gradients if g is not None])

    return step


def timed(step, args, iterations):
    start = CLOCK()
    for _ in range(iterations):
        step(*args).numpy()
    return (CLOCK() - start) / iterations


def bench_mixed_op(args):
    x = tf.constant(
        np.random.default_rng(0).normal(size=(args.batch, args.size, args.size, args.channels)),
        dtype="float32",
    )
    mixed = MixedOp(args.channels)
    mixed.build(x.shape)
    weights = tf.constant(np.full(len(DARTS_PRIMITIVES), 1 / 8, "float32"))
    mixed_step = compiled_step(
        lambda x, w: mixed(x, w, training=True), mixed.trainable_variables, args.jit
    )
    singles = {}
    for name in mixed.active_primitives:
        op = mixed.operation(name)
        singles[name] = compiled_step(
            lambda x, op=op: op(x, training=True), op.trainable_variables, args.jit
        )
    for _ in range(2):
        mixed_step(x, weights).numpy()
        for step in singles.values():
            step(x).numpy()
    mixed_times, sum_times = [], []
    single_times = {name: [] for name in singles}
    for _ in range(args.repeats):
        mixed_times.append(timed(mixed_step, (x, weights), args.iterations))
        total = 0.0
        for name, step in singles.items():
            t = timed(step, (x,), args.iterations)
            single_times[name].append(t)
            total += t
        sum_times.append(total)
    mixed_t = statistics.median(mixed_times)
    sum_t = sum(statistics.median(samples) for samples in single_times.values())
    # each repeat times MixedOp and the seven ops back to back: the median of the
    # per-repeat ratios is robust to load that drifts between repeats
    ratio = statistics.median(m / t for m, t in zip(mixed_times, sum_times))
    print(
        f"\n[1] MixedOp forward+backward, batch {args.batch}, {args.size}x{args.size}, "
        f"{args.channels} channels, jit={args.jit}, median of {args.repeats} x "
        f"{args.iterations} steps"
    )
    for name, samples in single_times.items():
        print(f"    {name:14s} {1000 * statistics.median(samples):8.2f} ms")
    print(f"    sum of the 7 ops {1000 * sum_t:8.2f} ms (sum of medians)")
    print(f"    MixedOp          {1000 * mixed_t:8.2f} ms")
    verdict = "ok" if ratio <= MIXED_TARGET else "ABOVE TARGET"
    print(
        f"    ratio MixedOp / sum = {ratio:.3f} (median of per-repeat ratios; "
        f"{mixed_t / sum_t:.3f} from the medians)   (target <= {MIXED_TARGET}: {verdict})"
    )
    return ratio


def search_data(args, n):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(n, args.size, args.size, 3)).astype("float32")
    return x, rng.integers(0, 10, n)


def search_model(args, activation="softmax", schedule="alternating"):
    model = DartsSearchModel(
        10,
        channels=args.search_channels,
        layers=args.layers,
        nodes=args.nodes,
        activation=activation,
    )
    model.compile(
        weights_optimizer=keras.optimizers.SGD(0.025, momentum=0.9),
        arch_optimizer=keras.optimizers.Adam(3e-4, beta_1=0.5),
        loss="sparse_categorical_crossentropy",
        arch_schedule=schedule,
        jit_compile=args.jit,
    )
    return model


def step_iterator(args, steps):
    x, y = search_data(args, steps * args.batch)
    xa, ya = search_data(args, args.batch)
    train = tf.data.Dataset.from_tensor_slices((x, y)).batch(args.batch).repeat()
    arch = tf.data.Dataset.from_tensor_slices((xa, ya)).batch(args.batch)
    return iter(darts_data.zip_with_arch_data(train, arch))


def prepare(model, args):
    """One tiny fit sets the model up; afterwards train steps are timed directly."""
    x, y = search_data(args, args.batch)
    model.fit(x, y, arch_data=(x, y), batch_size=args.batch, verbose=0)


def time_train_steps(model, iterator, steps):
    """Seconds per call of the compiled train function (one bilevel step each)."""
    if model.train_function is None:
        model.make_train_function()
    start = CLOCK()
    for _ in range(steps):
        logs = model.train_function(iterator)
    float(logs["loss"])
    return (CLOCK() - start) / steps


def bench_crb_pruning(args):
    steps = args.crb_steps
    iterator = step_iterator(args, steps)
    model = search_model(args, activation="crb")
    model.build((None, args.size, args.size, 3))
    prepare(model, args)
    total = sum(model.active_op_count().values())
    rng = np.random.default_rng(0)
    order = {kind: rng.permutation(model.num_edges * len(model.primitives)) for kind in ("n", "r")}
    fractions = (0.0, 0.25, 0.5, 0.75, 0.9)
    print(
        f"\n[2] CRB search step (bilevel: weight step + α step, batch {args.batch}, "
        f"{args.size}x{args.size}x3, C={args.search_channels}, {args.layers} cells, "
        f"{args.nodes} nodes) "
        f"as operations are pruned; median of {args.crb_repeats} x {steps} steps"
    )
    print("    pruned  active ops  step (ms)  epoch of 100 steps (s)  vs unpruned")
    results = []
    base = None
    for fraction in fractions:
        for variable, kind in zip(model.arch_variables, ("n", "r")):
            values = variable.numpy().reshape(-1)
            values[order[kind][: int(round(fraction * values.size))]] = -1.0
            variable.assign(values.reshape(variable.shape))
        model.prune_inactive_ops()  # rebuilds the train function
        active = sum(model.active_op_count().values())
        time_train_steps(model, iterator, 2)  # warm-up: the retrace after pruning
        step = statistics.median(
            time_train_steps(model, iterator, steps) for _ in range(args.crb_repeats)
        )
        base = base or step
        results.append((fraction, active, step))
        print(
            f"    {fraction:5.0%}   {active:4d}/{total:<4d}  {1000 * step:8.1f}   "
            f"{100 * step:10.1f}              {step / base:6.2f}"
        )
    return results


def bench_fisher(args):
    steps = args.fisher_steps
    models = {
        "no tracking": search_model(args, schedule=ConstantSchedule(every=10**9)),
        "FIMT tracking": search_model(
            args, schedule=FisherSchedule(initial_threshold=1e-30, increase=1.0)
        ),
    }
    iterator = step_iterator(args, steps)
    for model in models.values():
        prepare(model, args)
        time_train_steps(model, iterator, 2)
    times = {name: [] for name in models}
    for _ in range(args.repeats):
        for name, model in models.items():
            times[name].append(time_train_steps(model, iterator, steps))
    assert int(models["FIMT tracking"].arch_optimizer.iterations) == 0
    plain = statistics.median(times["no tracking"])
    fisher = statistics.median(times["FIMT tracking"])
    ratio = statistics.median(f / p for f, p in zip(times["FIMT tracking"], times["no tracking"]))
    print(
        f"\n[3] weight step (no α step fires), C={args.search_channels}, {args.layers} cells, "
        f"{args.nodes} nodes, "
        f"batch {args.batch}, median of {args.repeats} x {steps} steps (interleaved)"
    )
    print(f"    without Fisher tracking {1000 * plain:8.2f} ms/step")
    print(f"    with Fisher tracking    {1000 * fisher:8.2f} ms/step")
    verdict = "ok" if ratio <= FISHER_TARGET else "ABOVE TARGET"
    print(
        f"    ratio = {ratio:.3f} (median of per-repeat ratios; {fisher / plain:.3f} from the "
        f"medians)   (target <= {FISHER_TARGET}: {verdict})"
    )
    return ratio


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--size", type=int, default=16)
    parser.add_argument("--channels", type=int, default=16, help="MixedOp channels")
    parser.add_argument("--search-channels", type=int, default=8)
    parser.add_argument("--layers", type=int, default=3, help="cells of the search network")
    parser.add_argument(
        "--nodes", type=int, default=4, help="nodes per cell of the search network (4: DARTS)"
    )
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--iterations", type=int, default=5)
    parser.add_argument("--crb-steps", type=int, default=5)
    parser.add_argument("--crb-repeats", type=int, default=3)
    parser.add_argument("--fisher-steps", type=int, default=5)
    parser.add_argument("--jit", action="store_true", help="compile with XLA")
    parser.add_argument("--skip-crb", action="store_true")
    parser.add_argument(
        "--cpu-time",
        action="store_true",
        help="time with the process CPU time (all threads) instead of the wall clock",
    )
    args = parser.parse_args()
    if args.cpu_time:
        global CLOCK
        CLOCK = time.process_time
    keras.utils.set_random_seed(0)
    tf.get_logger().setLevel("ERROR")  # one tf.function per operation is intended
    devices = [d.device_type for d in tf.config.list_logical_devices()]
    clock = "process CPU time" if args.cpu_time else "wall clock"
    print(f"keras_grow {keras_grow.__version__}, devices={devices}, timing by {clock}")
    mixed = bench_mixed_op(args)
    fisher = bench_fisher(args)
    crb = None if args.skip_crb else bench_crb_pruning(args)
    print("\nsummary")
    print(f"    MixedOp / sum of ops      {mixed:.3f}  (target <= {MIXED_TARGET})")
    print(f"    Fisher tracking overhead  {fisher:.3f}  (target <= {FISHER_TARGET})")
    if crb:
        curve = ", ".join(f"{f:.0%}: {t / crb[0][2]:.2f}" for f, _, t in crb)
        print(f"    CRB step time vs pruned   {curve}")


if __name__ == "__main__":
    main()
