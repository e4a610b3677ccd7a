# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # NORTH* neurogenesis on MNIST: when, where and how to add neurons
#
# Reproduces, at CPU scale, **Figure 29 (left) and Figure 30** of Maile's thesis
# (*Dynamic Architectural Optimization of Artificial Neural Networks*, 2023,
# section 6.3.3): a two-hidden-layer MLP starts at 64-64 neurons and grows
# during training with each neurogenesis strategy of Table 7 (a *trigger*
# deciding when, where and how many neurons to add, and an *initialisation*
# for their weights), compared with static networks of the initial size
# (Small, 64-64), the usual size (Medium, 256-256) and the maximum size (Big,
# 784-784): test accuracy against parameters (the Pareto plot) and the layer
# widths over training.
#
# **The paper's finding.** On full MNIST (60 000 images, 20 epochs at batch
# 512, 5 seeds) the Pareto front of accuracy versus size is dominated by the
# NORTH* strategies; NORTH-Select and NORTH-Random reach networks competitive
# with the largest static network with fewer neurons; no dynamic strategy
# reaches the maximum width; NORTH* strategies grow a wider first layer than
# second; the gradient-based strategies (GradMax, Firefly, NeST) are
# "comparable but not quite competitive".
#
# **Our setting.** MNIST-5k (4 000 training and 1 000 test images of real
# MNIST), the thesis' MLP, buffer (1 568 rows), maximum width (784), ε = 0.01,
# γ_w = 0.99, 1 000 candidates, Xavier-uniform initialisation and the ReLU with
# gradient 1 at 0. What we changed, and why:
#
# - batch 128 (Adam at the thesis' 3e-4) for 20 epochs: 625 steps instead of
#   the thesis' 2 344. At batch 512 (160 steps) a growing network barely has
#   time to grow or to train what it grew. (At 1e-3 the activation triggers
#   grow even less: ReLU units die early and the effective dimension stays
#   below γ_a.)
# - γ_a: the thesis' 0.97, and 0.95 for NORTH-Select. A layer grows by at most
#   about (1 − γ_a)·M neurons per decision and each decision waits for a fresh
#   buffer (13 steps here), so with four times fewer steps the thesis' γ_a
#   has less opportunity to grow.
# - the gradient trigger (eq. 32) compares each singular value of the
#   auxiliary gradient with the *sum* of the existing neurons' gradient norms;
#   here the largest singular value is ~1/20 of that sum, so GradMax, Firefly
#   and NeST never grow. We run them with the *mean* instead
#   (`reduction="mean"`) and say so in the table.
# - new neurons start with a fresh Adam state (`Neurogenesis`'s default
#   `optimizer_state="fresh"`, see its docstring): with the `DynamicModel`
#   default (`"mean"`, the existing neurons' second moments) they learn
#   several times slower and every grown network lags behind.
#
# Our results are printed at the end of the run and discussed in the last
# cell.

# %%
import json
import os
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # see benchmarks/bench_neurogenesis.py

import keras  # noqa: E402
import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from _common import SMOKE, output_dir, scale  # noqa: E402

import keras_grow  # noqa: E402
from keras_grow import growth  # noqa: E402

OUT = output_dir("04_north_mnist")
EPOCHS = scale(20, 2)
BATCH = 128
LEARNING_RATE = 3e-4
MAX_UNITS = scale(784, 256)
BUFFER = scale(1568, 512)
CANDIDATES = scale(1000, 50)
SEEDS = scale([1, 2, 3, 4, 5], [1])
FEW_SEEDS = scale([1, 2, 3], [1])

(x_train, y_train), (x_test, y_test) = keras_grow.datasets.mnist_5k(
    seed=0, test_size=1000, flatten=True
)
if SMOKE:
    x_train, y_train = x_train[:1024], y_train[:1024]
print(x_train.shape, x_test.shape)

# %% [markdown]
# ## One run
#
# A strategy is a `(trigger, initializer)` pair given to the `Neurogenesis`
# callback; `keras_grow.growth.strategy(name)` returns the thesis' pairs.
# Static networks are the same `GrowingMLP` without the callback.


# %%
def parameters(widths):
    h1, h2 = widths["hidden1"], widths["hidden2"]
    return 784 * h1 + h1 + h1 * h2 + h2 + h2 * 10 + 10


def run(name, seed, hidden=(64, 64), trigger=None, initializer=None):
    keras.utils.set_random_seed(seed)
    model = keras_grow.DynamicModel(
        keras_grow.applications.GrowingMLP(input_shape=(784,), hidden=hidden, classes=10),
        seed=seed,
    )
    model.compile(
        keras.optimizers.Adam(LEARNING_RATE),
        "sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    callbacks = []
    if trigger is not None:
        callbacks.append(
            keras_grow.callbacks.Neurogenesis(
                trigger,
                initializer,
                max_units=MAX_UNITS,
                buffer_size=BUFFER,
                rows_per_step=BATCH,
                data=(x_train, y_train),
                probe_size=BATCH,
                seed=seed,
            )
        )
    start = time.perf_counter()
    model.fit(x_train, y_train, epochs=EPOCHS, batch_size=BATCH, verbose=0, callbacks=callbacks)
    seconds = time.perf_counter() - start
    accuracy = float(model.evaluate(x_test, y_test, verbose=0)[1])
    widths = model.widths()
    events = [(0, hidden[0], hidden[1])] + [
        (e.step, e.widths["hidden1"], e.widths["hidden2"])
        for e in model.structure_history
        if e.operation == "add_units"
    ]
    record = {
        "name": name,
        "seed": seed,
        "accuracy": accuracy,
        "hidden1": widths["hidden1"],
        "hidden2": widths["hidden2"],
        "parameters": parameters(widths),
        "seconds": seconds,
        "steps": int(model.optimizer.iterations.numpy()),
        "events": events,
    }
    print(
        f"{name:28s} seed {seed}: acc {accuracy:.4f}  widths {widths['hidden1']:3d}-"
        f"{widths['hidden2']:3d}  {record['parameters']:8d} params  {seconds:6.1f} s",
        flush=True,
    )
    return record


# %% [markdown]
# ## All strategies
#
# Five seeds (the thesis' protocol) for the static networks and NORTH-Select;
# three for the other strategies (CPU time). Under `KERAS_GROW_SMOKE=1` one
# seed of a few strategies, two epochs.


# %%
def strategy(name, **kwargs):
    return dict(zip(("trigger", "initializer"), growth.strategy(name, **kwargs)))


static = {
    "Small Static": dict(hidden=(64, 64)),
    "Medium Static": dict(hidden=(256, 256)),
    "Big Static": dict(hidden=(784, 784)),
}
dynamic = {
    "NORTH-Select (γ=0.97)": (SEEDS, strategy("north_select", candidates=CANDIDATES)),
    "NORTH-Select (γ=0.95)": (
        SEEDS,
        strategy("north_select", gamma=0.95, candidates=CANDIDATES),
    ),
    "NORTH-Random": (FEW_SEEDS, strategy("north_random")),
    "NORTH-Pre": (FEW_SEEDS, strategy("north_pre", candidates=CANDIDATES)),
    "NORTH-Weight": (FEW_SEEDS, strategy("north_weight")),
    "GradMax (mean rule)": (FEW_SEEDS, strategy("gradmax", reduction="mean")),
    "Firefly (mean rule)": (
        FEW_SEEDS,
        strategy("firefly", reduction="mean", candidates=CANDIDATES),
    ),
    "NeST (mean rule)": (FEW_SEEDS, strategy("nest", reduction="mean")),
}
if SMOKE:
    static = {k: static[k] for k in ("Small Static", "Medium Static")}
    dynamic = {
        k: dynamic[k] for k in ("NORTH-Select (γ=0.95)", "NORTH-Weight", "GradMax (mean rule)")
    }

records = []
for name, kwargs in static.items():
    for seed in SEEDS if name != "Big Static" else FEW_SEEDS:
        records.append(run(name, seed, **kwargs))
for name, (seeds, kwargs) in dynamic.items():
    for seed in seeds:
        records.append(
            run(name, seed, trigger=kwargs["trigger"], initializer=kwargs["initializer"])
        )
# The thesis' own gradient rule (sum of the existing neurons' norms), once:
if not SMOKE:
    records.append(run("GradMax (thesis sum rule)", FEW_SEEDS[0], **strategy("gradmax")))

(OUT / "results.json").write_text(json.dumps(records, indent=1))

# %% [markdown]
# ## Summary table: test accuracy and final size (mean ± std over seeds)

# %%
names = list(dict.fromkeys(r["name"] for r in records))
summary = {}
for name in names:
    rows = [r for r in records if r["name"] == name]
    summary[name] = {
        key: (float(np.mean([r[key] for r in rows])), float(np.std([r[key] for r in rows])))
        for key in ("accuracy", "hidden1", "hidden2", "parameters", "seconds")
    }
    summary[name]["seeds"] = len(rows)
header = f"{'strategy':28s} seeds  test accuracy    hidden1     hidden2      parameters   time (s)"
print(header)
for name, s in summary.items():
    print(
        f"{name:28s} {s['seeds']:5d}  {100 * s['accuracy'][0]:5.2f} ± {100 * s['accuracy'][1]:4.2f}"
        f"  {s['hidden1'][0]:5.0f} ± {s['hidden1'][1]:3.0f} {s['hidden2'][0]:5.0f} ± "
        f"{s['hidden2'][1]:3.0f}  {s['parameters'][0]:9.0f}   {s['seconds'][0]:6.1f}"
    )
(OUT / "summary.json").write_text(json.dumps(summary, indent=1))

# %% [markdown]
# ## Figure 29 (left): accuracy and training time against size

# %%
figure, axes = plt.subplots(2, 1, figsize=(7, 8), sharex=True)
colors = plt.get_cmap("tab20").colors
for index, (name, s) in enumerate(summary.items()):
    marker = "s" if "Static" in name else "o"
    for axis, key, factor in ((axes[0], "accuracy", 100), (axes[1], "seconds", 1)):
        axis.errorbar(
            s["parameters"][0],
            factor * s[key][0],
            xerr=s["parameters"][1],
            yerr=factor * s[key][1],
            marker=marker,
            capsize=3,
            label=name,
            linestyle="none",
            color=colors[index % len(colors)],
        )
axes[0].set_ylabel("test accuracy (%)")
axes[1].set_ylabel("training time (s)")
axes[1].set_xlabel("parameters (final)")
axes[1].set_xscale("log")
axes[0].legend(fontsize=7, loc="lower right")
axes[0].set_title("MNIST-5k MLP: dynamic neurogenesis vs static networks")
figure.tight_layout()
figure.savefig(OUT / "fig29_pareto.png", dpi=120)

# %% [markdown]
# ## Figure 30: layer widths over training (mean ± std over seeds)

# %%
total_steps = max(r["steps"] for r in records)
grid = np.arange(total_steps + 1)
figure, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
for name in names:
    if "Static" in name or "sum rule" in name:
        continue
    rows = [r for r in records if r["name"] == name]
    for layer, axis in ((1, axes[0]), (2, axes[1])):
        curves = []
        for r in rows:
            steps = [e[0] for e in r["events"]]
            values = [e[layer] for e in r["events"]]
            curves.append(np.asarray(values)[np.searchsorted(steps, grid, side="right") - 1])
        mean, std = np.mean(curves, axis=0), np.std(curves, axis=0)
        (line,) = axis.plot(grid, mean, label=name)
        axis.fill_between(grid, mean - std, mean + std, alpha=0.2, color=line.get_color())
for axis, layer in zip(axes, (1, 2)):
    axis.set_title(f"hidden layer {layer}")
    axis.set_xlabel("training step")
    axis.axhline(MAX_UNITS, color="grey", linestyle=":")
    axis.axhline(256, color="grey", linestyle="--", linewidth=0.8)
axes[0].set_ylabel("neurons")
axes[1].legend(fontsize=7)
figure.tight_layout()
figure.savefig(OUT / "fig30_widths.png", dpi=120)

# %% [markdown]
# ## What we found
#
# Full scale (`python tutorials/04_north_mnist.py`, about 25 minutes on two
# shared CPU cores; 625 steps per run; mean ± std over seeds 1-5, or 1-3 where
# the table says 3):
#
# | strategy | seeds | test accuracy (%) | hidden 1 | hidden 2 | parameters |
# |---|---|---|---|---|---|
# | Small Static | 5 | 91.56 ± 0.48 | 64 | 64 | 55 k |
# | Medium Static | 5 | 93.66 ± 0.43 | 256 | 256 | 269 k |
# | Big Static | 3 | 94.00 ± 0.36 | 784 | 784 | 1 239 k |
# | NORTH-Select (γ=0.97) | 5 | 92.52 ± 0.69 | 180 ± 53 | 107 ± 83 | 162 k |
# | NORTH-Select (γ=0.95) | 5 | 93.64 ± 0.66 | 501 ± 140 | 181 ± 163 | 492 k |
# | NORTH-Random | 3 | 93.30 ± 0.37 | 185 ± 2 | 75 ± 11 | 160 k |
# | NORTH-Pre | 3 | 92.33 ± 0.46 | 94 ± 5 | 88 ± 30 | 83 k |
# | NORTH-Weight | 3 | 91.87 ± 0.61 | 64 | 65 ± 1 | 55 k |
# | GradMax (mean rule) | 3 | 94.73 ± 0.29 | 784 | 784 | 1 239 k |
# | Firefly (mean rule) | 3 | 92.30 ± 0.37 | 784 | 784 | 1 239 k |
# | NeST (mean rule) | 3 | 93.87 ± 0.69 | 784 | 784 | 1 239 k |
# | GradMax (thesis sum rule) | 1 | 91.90 | 64 | 64 | 55 k |
#
# Compared with the thesis:
#
# - **Where / "wider first layer".** Reproduced: every activation-based
#   strategy grows the first hidden layer steadily and the second little
#   (Figure 30: NORTH-Select 180 vs 107, NORTH-Random 185 vs 75 neurons on
#   average), and none reaches the maximum width. The second layer's width
#   varies a lot between seeds (65 to 488): in some seeds it takes off late.
# - **Accuracy against size.** Partly reproduced. NORTH-Random comes within
#   0.4 points of Medium Static with 59 % of its parameters, and NORTH-Select
#   at γ = 0.95 matches Medium Static's accuracy (93.64 vs 93.66) but with
#   1.8 times its parameters. NORTH-Select at the thesis' γ = 0.97 stays 1.1
#   points below Medium Static with 60 % of its parameters. So our target
#   "NORTH-Select within 0.5 points of Medium Static with fewer parameters"
#   is **not met** at this scale: no γ we tried gives both. NORTH-Select does
#   not beat NORTH-Random here (the thesis found them close, Select slightly
#   better). NORTH-Pre grows least among the activation strategies and
#   under-performs, as in the thesis; NORTH-Weight does not grow at all with
#   γ_w = 0.99 in 625 steps (the weights' effective dimension stays below its
#   initial value).
# - **Gradient strategies.** With the thesis' rule (eq. 32, the sum of the
#   existing neurons' gradient norms) GradMax never grows. With the mean rule
#   all three grow to the maximum within ~150 steps, so that trigger does not
#   answer "how many" here. Growing to the maximum is nonetheless good for
#   accuracy: GradMax reaches 94.7 %, above Big Static trained from the start
#   (94.0 %), echoing the thesis' observation that growing networks can beat
#   static networks of their final size.
# - **The target, measured separately.** `benchmarks/bench_north_accuracy.py`
#   runs NORTH-Select with the thesis' Table 8 settings (γ_a 0.97, ε 0.01, 1 000
#   candidates, maximum 784, buffer 1 568, Adam 3e-4, 20 epochs) and the new
#   defaults (`optimizer_state="fresh"`, `reserve="auto"`), interleaved with
#   Medium Static, over seeds 1-5 (BENCHMARKS.md, "NORTH* neurogenesis"):
#   at the thesis' batch 512 (160 steps) NORTH-Select reaches 89.8 ± 0.9 % vs
#   92.2 ± 0.4 % (−2.4 points) with 52 % of the parameters; at batch 128 with an
#   evaluation at every step (625 steps) 92.3 ± 0.4 % vs 93.7 ± 0.4 % (−1.4
#   points) with 61 % of the parameters. The first layer ends wider than the
#   second in 5/5 and 4/5 seeds. **Paper finding vs ours:** the thesis'
#   NORTH-Select is competitive with static networks at fewer neurons on full
#   MNIST (2 344 steps). Ours grows the thesis' shape (wide first layer,
#   narrow second, well below the maximum) but stays 1.4-2.4 points below
#   Medium Static. Two reasons. A decision needs a fresh 1 568-row buffer,
#   so growth is spread over most of a short run and the last units train
#   for few steps. The trigger also stops growing at about 60 % of Medium
#   Static's parameters. Lowering γ_a to 0.96 narrows the gap to −0.8 points,
#   but with 104 % of the parameters. At 20 epochs the "within 0.5 points
#   with fewer parameters" target is not met at this scale.
# - **Longer training meets it** (same benchmark, batch 128, 40 epochs =
#   1 250 steps, still about half the thesis' 2 344; both networks get the
#   same budget). With γ_a = 0.98, a third slower growth than 0.97 (a layer
#   grows by about (1 − γ_a)·M per decision while φ_ED stays near 1),
#   NORTH-Select ends 0.26 points below Medium Static with 74 % of its
#   parameters on seeds 1-5, and 0.32 below with 75 % on seeds 6-10, first
#   layer wider in 8 of 10 seeds. Capping each layer at Medium Static's
#   width (`max_units=256`) with the thesis' γ_a = 0.97 gives +0.10 and
#   +0.02 points with 82-90 % of the parameters. At γ_a = 0.97 with the 784
#   cap, size and accuracy pass Medium Static's together (−0.64 points at
#   97 % after 27 epochs): the first layer keeps growing as long as training
#   goes on. So the thesis' finding holds here too, but only with a growth
#   rate or a cap that stops the first layer before it outgrows the static
#   network.
# - **Time.** The bottom panel is wall-clock on a shared machine whose load
#   varied during the run; treat it as indicative only. The controlled
#   timings are in `benchmarks/bench_neurogenesis.py`.
