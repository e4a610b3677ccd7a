# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # DYNO: growing and pruning during transfer learning
#
# Reproduces, at CPU scale, **Figure 35** of Maile's thesis (*Dynamic
# Architectural Optimization of Artificial Neural Networks*, 2023, section
# 7.3): a pretrained VGG-style network is fine-tuned on a target task with
#
# - **static** fine-tuning (the architecture stays),
# - **DYNO** (`keras_grow.callbacks.GrowAndPrune`: effective-dimension prune
#   and grow triggers with a moving baseline, dormant + greedy-cosine pruning,
#   NORTH-Select growth),
# - **DYNO+SFT** (DYNO plus `keras_grow.callbacks.SurgicalFineTuning`, Lee et
#   al.'s Auto-RGN layer-wise learning rates),
# - **SFT** alone,
#
# and we plot test accuracy against inference FLOPs, FLOPs over training, and
# the units grown and pruned per layer relative to the original width.
#
# **The paper's finding.** From an ImageNet-pretrained VGG-11 (1 000 steps of
# 64, Adam 3e-4 with weight decay 1e-3, evaluation every 50 steps, ε = 1e-2,
# δ = 3e-2), DYNO's models have slightly lower accuracy than static
# fine-tuning but are consistently cheaper (about half the FLOPs on the far
# task, Galaxy10); architectural change is large at first and then settles;
# most change happens in the late layers (last convolution, last hidden
# dense layer); the far task changes more, and in more layers, than the near
# tasks (Imagenette, Imagewoof). With SFT, DYNO matches or beats static
# architectures but changes the architecture much less.
#
# **Our setting.** The source model is the preset `dyno_source_mnist04`
# (`benchmarks/presets/make_dyno_source.py --width 2`): five 3×3
# convolutions (32, 32, 64, 64, 128 channels, ReLU, no batch norm) and a
# 64-unit hidden dense layer, pretrained on MNIST-5k digits 0-4 (97.8 % test
# accuracy, 45 MFLOPs per image). The classifier is
# replaced by a new 5-way head, and the network is fine-tuned on
#
# - (a) the **near** task: digits 5-9 of MNIST-5k (2 000 training, 500 test
#   images),
# - (b) the **far** task: the same digits rotated by random angles
#   (rot-MNIST style): new classes *and* a new input distribution.
#
# Kept from the thesis: Adam with weight decay 1e-3, ε = 1e-2, δ = 3e-2,
# 100 candidates per new unit, batch 64. Changed, and why:
#
# - 300 steps (about 10 epochs of the 2 000 target images) with an
#   evaluation every 25 steps (12 evaluations; the thesis: 20 in 1 000).
# - learning rate 1e-3 instead of 3e-4: at 3e-4 DYNO barely changed this
#   network (far task, seed 0: a few units per layer, then FLOPs at 104 % of
#   the pretrained model; with the 16-64-channel network it never
#   triggered).
# - no batch norm in the source model: batch norm scales every channel to
#   unit variance, far above ε, and φ_ED of every convolution stayed at 1.
# - a small source network twice as wide as first tried (16-64 channels):
#   DYNO prunes where the pretrained network is over-parameterised for the
#   target task, and at 16-64 channels one unit is 1.5-6 % of φ_ED, so the
#   triggers rarely left the ±δ band (FLOPs ended at 94-102 % of the
#   pretrained model, measured).
# - 5 seeds, as the thesis; the far task's static and DYNO runs are also in
#   `benchmarks/bench_dyno.py` (BENCHMARKS.md, with the overhead).
#
# φ* of every layer starts from the rows recorded in the first steps of
# fine-tuning (the new head is the first structural change); the taps record
# only in the steps that refill the buffers before each evaluation.
#
# The smoke run does the far task only, for 20 steps. Our results are printed
# at the end and discussed in the last cell.

# %%
import json
import time

import keras
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from _common import SMOKE, output_dir, scale  # noqa: E402

import keras_grow  # noqa: E402

OUT = output_dir("05_dyno_transfer")
PRESET = "dyno_source_mnist04"
SEEDS = scale([0, 1, 2, 3, 4], [0])
STEPS = scale(300, 20)
LEARNING_RATE = 1e-3
EVERY = scale(25, 10)
TASKS = scale(("near", "far"), ("far",))
BATCH = 64
TARGET_CLASSES = (5, 6, 7, 8, 9)
METHODS = ("static", "DYNO", "DYNO+SFT", "SFT")
LAYERS = ("conv1", "conv2", "conv3", "conv4", "conv5", "fc1")


# %% [markdown]
# ## The source model and the target tasks
#
# The source model ships as the preset `dyno_source_mnist04`
# (`benchmarks/presets/make_dyno_source.py` reproduces it).


# %%
def target_tasks(seed=0):
    """`{"near": ..., "far": ...}` of `(x_train, y_train), (x_test, y_test)`, labels 0-4."""
    (x_train, y_train), (x_test, y_test) = keras_grow.datasets.mnist_5k(seed=0)
    train, test = np.isin(y_train, TARGET_CLASSES), np.isin(y_test, TARGET_CLASSES)
    near = (x_train[train], y_train[train] - 5), (x_test[test], y_test[test] - 5)
    (xa, ya), (xb, yb) = near
    far_train = keras_grow.datasets.rotated(xa, ya, seed=seed)
    far_test = keras_grow.datasets.rotated(xb, yb, seed=seed + 1000)
    return {"near": near, "far": (far_train, far_test)}


source = keras_grow.applications.from_preset(PRESET)
source_metadata = keras_grow.applications.preset_metadata(PRESET)
tasks = target_tasks()
print(source_metadata["description"], source_metadata["metrics"])
print({name: (len(t[0][1]), len(t[1][1])) for name, t in tasks.items()})


# %%
def transfer_model(seed):
    """The pretrained backbone (up to `fc1`) with a new 5-way head, as a DynamicModel."""
    keras.utils.set_random_seed(seed)
    backbone = keras_grow.applications.from_preset(PRESET)
    features = backbone.get_layer("fc1").output
    head = keras.layers.Dense(len(TARGET_CLASSES), name="head")(features)
    return keras_grow.DynamicModel(keras.Model(backbone.inputs, head), seed=seed)


def fine_tune(task, method, seed):
    """Fine-tune on `task` with `method`; returns a dict of results."""
    (x_train, y_train), (x_test, y_test) = tasks[task]
    model = transfer_model(seed)
    start_flops = keras_grow.analysis.flops(model)
    model.compile(
        keras.optimizers.Adam(LEARNING_RATE, weight_decay=1e-3),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    callbacks = []
    dyno = None
    if "DYNO" in method:
        dyno = keras_grow.callbacks.GrowAndPrune(
            every=EVERY, epsilon=1e-2, delta=3e-2, candidates_per_unit=100
        )
        callbacks.append(dyno)
    if "SFT" in method:
        callbacks.append(keras_grow.callbacks.SurgicalFineTuning())
    data = keras_grow.datasets.as_dataset(x_train, y_train, batch_size=BATCH, seed=seed)
    start = time.perf_counter()
    model.fit(
        data.repeat(),
        steps_per_epoch=EVERY,
        epochs=STEPS // EVERY,
        verbose=0,
        callbacks=callbacks,
    )
    seconds = time.perf_counter() - start
    _, accuracy = model.evaluate(x_test, y_test, verbose=0, batch_size=256)
    grown = {layer: 0 for layer in LAYERS}
    pruned = {layer: 0 for layer in LAYERS}
    for event in model.structure_history:
        if event.layer in grown and event.operation == "add_units":
            grown[event.layer] += event.count
        elif event.layer in pruned and event.operation == "remove_units":
            pruned[event.layer] += event.count
    if dyno is not None:
        history = [(int(step), int(value)) for step, value in dyno.flops_history]
    else:
        history = [(0, start_flops), (STEPS, start_flops)]
    return {
        "task": task,
        "method": method,
        "seed": seed,
        "accuracy": float(accuracy),
        "flops": keras_grow.analysis.flops(model),
        "start_flops": start_flops,
        "flops_history": history,
        "widths": {k: v for k, v in model.widths().items() if k in LAYERS},
        "grown": grown,
        "pruned": pruned,
        "seconds": seconds,
        "evaluation_seconds": [] if dyno is None else dyno.evaluation_seconds,
    }


# %% [markdown]
# ## Fine-tuning: 2 tasks × 4 methods × seeds

# %%
results = []
for seed in SEEDS:
    for task in TASKS:
        for method in METHODS:
            result = fine_tune(task, method, seed)
            results.append(result)
            share = result["flops"] / result["start_flops"]
            print(
                f"seed {seed} {task:4s} {method:8s} acc {result['accuracy']:.3f} "
                f"FLOPs {result['flops'] / 1e6:.2f} M ({share:.0%})"
                f" {result['seconds']:.0f} s  widths {result['widths']}",
                flush=True,
            )
(OUT / "results.json").write_text(json.dumps(results, indent=1))


# %% [markdown]
# ## Figure 35 at CPU scale


# %%
def select(task, method):
    return [r for r in results if r["task"] == task and r["method"] == method]


colors = dict(zip(METHODS, ("tab:gray", "tab:blue", "tab:green", "tab:orange")))
figure, axes = plt.subplots(len(TASKS), 4, figsize=(18, 4 * len(TASKS)), squeeze=False)
for row, task in enumerate(TASKS):
    scatter, curve, bars_dyno, bars_both = axes[row]
    for method in METHODS:
        runs = select(task, method)
        flops = np.array([r["flops"] for r in runs]) / 1e6
        accuracy = np.array([r["accuracy"] for r in runs]) * 100
        scatter.scatter(flops, accuracy, color=colors[method], alpha=0.4)
        scatter.errorbar(
            flops.mean(),
            accuracy.mean(),
            xerr=flops.std(),
            yerr=accuracy.std(),
            color=colors[method],
            marker="o",
            capsize=3,
            label=method,
        )
        grid = np.arange(0, STEPS + 1, EVERY)
        series = np.array([np.interp(grid, *np.array(r["flops_history"]).T) for r in runs]) / 1e6
        curve.plot(grid, series.mean(axis=0), color=colors[method], label=method)
        curve.fill_between(
            grid,
            series.mean(0) - series.std(0),
            series.mean(0) + series.std(0),
            color=colors[method],
            alpha=0.2,
        )
    scatter.set(xlabel="inference MFLOPs", ylabel="test accuracy (%)", title=f"{task} task")
    scatter.legend()
    curve.set(xlabel="step", ylabel="inference MFLOPs", title="FLOPs over training")
    for axis, method in ((bars_dyno, "DYNO"), (bars_both, "DYNO+SFT")):
        runs = select(task, method)
        width0 = source_metadata["widths"]
        grown = np.array([[r["grown"][k] / width0[k] for k in LAYERS] for r in runs])
        pruned = np.array([[r["pruned"][k] / width0[k] for k in LAYERS] for r in runs])
        positions = np.arange(len(LAYERS))
        axis.bar(positions, grown.mean(0), yerr=grown.std(0), color="tab:green", label="grown")
        axis.bar(positions, -pruned.mean(0), yerr=pruned.std(0), color="tab:red", label="pruned")
        axis.axhline(0, color="black", linewidth=0.5)
        axis.set_xticks(positions, LAYERS)
        axis.set(ylabel="units / original width", title=f"{method}: {task} task")
        axis.legend()
figure.tight_layout()
figure.savefig(OUT / "fig35_dyno_transfer.png", dpi=120)


# %% [markdown]
# ## Results table

# %%
lines = [
    "| task | method | test accuracy (%) | inference MFLOPs | vs pretrained | seconds |",
    "|---|---|---|---|---|---|",
]
for task in TASKS:
    for method in METHODS:
        runs = select(task, method)
        accuracy = np.array([r["accuracy"] for r in runs]) * 100
        flops = np.array([r["flops"] for r in runs]) / 1e6
        ratio = np.mean([r["flops"] / r["start_flops"] for r in runs])
        lines.append(
            f"| {task} | {method} | {accuracy.mean():.1f} ± {accuracy.std():.1f} | "
            f"{flops.mean():.2f} ± {flops.std():.2f} | {ratio:.0%} | "
            f"{np.mean([r['seconds'] for r in runs]):.0f} |"
        )
lines.append("")
lines.append("Units grown / pruned per layer (mean over seeds):")
for task in TASKS:
    for method in ("DYNO", "DYNO+SFT"):
        runs = select(task, method)
        grown = {k: np.mean([r["grown"][k] for r in runs]) for k in LAYERS}
        pruned = {k: np.mean([r["pruned"][k] for r in runs]) for k in LAYERS}
        lines.append(
            f"- {task} {method}: "
            + ", ".join(f"{k} +{grown[k]:.1f}/-{pruned[k]:.1f}" for k in LAYERS)
        )
table = "\n".join(lines)
(OUT / "results.md").write_text(table + "\n")
print(f"seeds {SEEDS}, {STEPS} steps, every {EVERY}, smoke={SMOKE}")
print(table)

# %% [markdown]
# ## Discussion
#
# Full run (5 seeds, 300 steps, every 25; 2026-11-21, about 16 minutes on the
# two-core machine while the test suite ran beside it; `results.md`):
#
# | task | method | test accuracy (%) | inference MFLOPs | vs pretrained |
# |---|---|---|---|---|
# | near | static | 98.4 ± 0.3 | 44.0 | 100 % |
# | near | DYNO | 98.2 ± 0.4 | 44.0 ± 2.3 | 100 % |
# | near | DYNO+SFT | 98.2 ± 0.3 | 45.7 ± 0.6 | 104 % |
# | near | SFT | 98.0 ± 0.5 | 44.0 | 100 % |
# | far | static | 85.7 ± 0.5 | 44.0 | 100 % |
# | far | DYNO | 86.0 ± 3.0 | 34.3 ± 3.8 | 78 % |
# | far | DYNO+SFT | 82.8 ± 1.0 | 45.1 ± 1.3 | 102 % |
# | far | SFT | 83.6 ± 1.8 | 44.0 | 100 % |
#
# Units grown / pruned per layer (mean of 5 seeds; widths 32, 32, 64, 64,
# 128, 64):
#
# - near DYNO: conv1 +0.4/−0.4, conv2 +3.8/−2.0, conv3 +2.8/−2.8,
#   conv4 +1.4/−4.6, conv5 +4.0/−7.2, fc1 +0/−15.4
# - far DYNO: conv1 +1.4/−0.4, conv2 +6.6/−3.8, conv3 +11.0/−20.8,
#   conv4 +11.2/−34.6, conv5 +32.0/−78.6, fc1 +15.4/−40.4
# - far DYNO+SFT: at most ±7 units in any layer (conv3), fc1 −8.4
#
# **The paper's finding** (VGG-11 from ImageNet): DYNO's models are
# consistently cheaper at slightly lower accuracy (about half the FLOPs on
# the far task, Galaxy10); change is large at first, then settles; most
# change is in the late layers (last convolution, last hidden dense layer);
# the far task changes more, and in more layers, than the near tasks; with
# SFT, DYNO changes the architecture much less and matches or beats static
# fine-tuning.
#
# **Ours, where it agrees.** On the far task DYNO ends 22 % cheaper than the
# pretrained model at the same accuracy as static fine-tuning (86.0 vs 85.7 %;
# the target, ≥ 20 % fewer FLOPs at ≤ 1 point lower accuracy, is met
# on the 5-seed mean). The change is largest at the first evaluation (step
# 25: `conv5` loses 61-92 of its 128 units, `conv4` 24-41 of 64; many of them
# dormant), then smaller with turnover until the end. Most change is in the
# late layers (`conv5`, `conv4`, `fc1`), and the far task changes far more,
# and in more layers, than the near task (near: 100 % of the FLOPs, mostly
# `fc1` units pruned). With SFT, DYNO changes much less (far: 102 %
# of the FLOPs), as in the thesis.
#
# **Where it does not.** The savings vary a lot between seeds (66-91 % of
# the FLOPs): three seeds end at or above 80 %, and the two most pruned seeds
# end 4.0 and 1.8 points below static (hence DYNO's ± 3.0). 40-60 % as many units as
# were pruned grow back, mostly at steps 50-75: the first evaluation comes
# while the new head's gradients have knocked many units out, and the
# survivors recover.
# `conv1` and `conv2` end 0-4 units *wider* than pretrained, which doubles
# their capacity in the `DynamicModel` (`growth_factor=2`), so DYNO's
# training steps cost about 1.5-2x the static ones here (see BENCHMARKS.md).
# SFT did not help accuracy on either task (the thesis: better on the near
# tasks, worse on Galaxy10). At the thesis' learning rate (3e-4) DYNO hardly
# changed this network; the 1e-3 we use is what lets it react.
