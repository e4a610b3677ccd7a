# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # 07 — Neural networks with differentiable structure (Miconi, 2016)
#
# Reproduces **Figs. 1–3** of Miconi, "Neural networks with differentiable
# structure" (arXiv:1606.06216) on the parenthesis next-character tasks with
# 40-character windows:
#
# - **Fig. 1** — a recurrent network that starts from *one* neuron sizes
#   itself by Miconi's rule; final size on the easy vs the hard task
#   (paper, medians over 20 runs after 300 000 cycles: **6 vs 27 neurons**).
# - **Fig. 2** — loss of the self-sizing network against fixed-size networks
#   of 10, 27 and 100 neurons on the hard task (paper: the self-sizing
#   network is best; among fixed sizes 27 is best and 100 worst).
# - **Fig. 3** — easy → hard → easy: the network grows when the task gets
#   harder and does not shrink back when it gets easier again.
#
# Every neuron's output is scaled by a trainable multiplier under an L1
# penalty (`MultiplierSimpleRNNCell`); `MultiplierResize` deletes neurons
# whose multiplier stays at or below the deletion threshold beyond a reserve
# of `k = 1`, and adds one (random weights, multiplier exactly at the
# threshold) when the reserve is empty — with the paper's `T_D = 0.05`,
# `M_min = 0.025`, `P_add = 0.05`, `P_del = 0.25`, applied after every
# parameter update.
#
# **Scale here.** 5 seeds per setting; each run makes 6 000 parameter
# updates on batches of 16 windows (96 000 windows, a third of the paper's
# 300 000 windows but 2 % of its 300 000 updates; the rule runs after every
# update, so it gets 2 % of the paper's add/delete decisions); the
# easy→hard→easy run makes 9 000 (3 000 per phase). 30 runs took 21 min on 2
# CPU cores shared with other jobs (load average ~8), with XLA. Smoke mode
# (`KERAS_GROW_SMOKE=1`): 60 updates, one seed, no XLA.
#
# **Deviations from the paper**, chosen because the paper's settings did not
# move at this budget: RMSprop (learning rate 1e-2) instead of Adagrad
# (0.1) on single windows; Keras' initializers (Glorot inputs, orthogonal
# recurrence) instead of N(0, 0.01²) — in trial runs with the paper's
# initialisation (and with Adam or Adagrad) networks stayed at 3–5 neurons on
# *both* tasks and never learned the hard task's memory within 3 000 updates;
# the L1 strength is the paper's `A_L1reg = 3e-5` converted to a
# per-character mean loss (`3e-4`, see `DiffRNN`); every window starts from a
# zero state (the paper carries the state from window to window).
#
# **Results** (medians, [quartiles] over 5 seeds; `results.json` has every run):
#
# | fig. | quantity | paper (300 000 updates) | here (6 000 updates) |
# |---|---|---|---|
# | 1 | neurons, easy | 6 | 4 [4–5] |
# | 1 | neurons, hard | 27 | 11 [5–11] |
# | 1 | loss (nats/char), easy | lower than hard | 0.241 [0.241–0.241] |
# | 1 | loss, hard, self-sizing | "somewhat higher" | 0.477 [0.460–0.526] |
# | 2 | loss, hard, fixed 10 | above self-sizing | 0.438 [0.434–0.438] |
# | 2 | loss, hard, fixed 27 | best fixed size | 0.308 [0.306–0.316] |
# | 2 | loss, hard, fixed 100 | worst | 0.297 [0.296–0.297] |
# | 3 | neurons at end of easy / hard / easy | grows, then stays | 4 / 10 / 8 |
#
# What reproduces: the network sizes itself by the task — the hard task
# elicits between two and three times as many neurons as the easy one (the
# paper: four and a half times). Within the hard runs, the three seeds that
# learn the task's memory (loss 0.44–0.48) are the ones that grow (11–12
# neurons), while the two that stay on the memoryless solution (0.53) stop at
# 5. The easy task is solved to its entropy (0.241 nats/char) by 3–5 neurons.
# Switching from easy to hard more than doubles the network (4 → 10) within
# the hard phase, and back on the easy task it stays large: it sheds 2 of its
# 10 neurons in 3 000 updates and ends at twice its first easy size.
#
# What does not: at this budget the self-sizing network loses to every fixed
# size (Fig. 2), and the largest fixed network (100) is the best, not the
# worst. The fixed networks start with all their neurons and learn the
# memory sooner; the self-sizing one is still growing when the run ends, and
# the paper's comparison comes after 50 times more updates.
#
# Run-to-run spread: an earlier full run with the same settings, except that
# the recurrent layer started with one unit slot instead of `DiffRNN`'s
# default 8 (which changes the floating-point trajectories, not the rule),
# gave 3 [3–4] vs 9 [6–11] neurons and 4 / 12 / 6 in the switching
# experiment, the same fixed-size losses, and a hard loss of 0.478. With 5
# seeds, medians move by a couple of neurons between runs; the ordering
# (hard > easy, growth at the switch) held in both.
#
# The easy task's optimum is its entropy, `2.5 × H(0.6) / 7 = 0.24`
# nats/char (2.5 uncertain `a`-or-`)` choices per 7-character group); a
# network that only tracks the hard task's group structure, with no memory of
# the letters, reaches about 0.50–0.53.

# %%
import json
import time

import keras
import matplotlib
import numpy as np
import tensorflow as tf
from _common import SMOKE, output_dir, scale

from keras_grow.applications import DiffRNN
from keras_grow.applications.diff_rnn import PAPER_RULE
from keras_grow.callbacks import MultiplierResize
from keras_grow.datasets import parenthesis_one_hot, parenthesis_sequences

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

OUT = output_dir("07_miconi_parenthesis")
STEPS = scale(8000, 60)  # parameter updates per run (easy-hard-easy: 1.5x)
BATCH = 16  # 40-character windows per update
CHUNK = scale(200, 20)  # updates per point on each curve
SEEDS = scale([0, 1, 2, 3, 4], [0])
FIXED_SIZES = scale((10, 27, 100), (10,))
LEARNING_RATE = 1e-2
XLA = scale(True, False)  # XLA makes a step ~3x faster here; its first compile is slower
FIXED_STEPS_PER_EXECUTION = scale(50, 10)  # fixed networks have no per-update callback
LOSS = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
print(f"SMOKE={SMOKE}: {STEPS} updates of {BATCH} windows, seeds {SEEDS}")

# %% [markdown]
# ## One run
#
# `train` builds the paper's network with `DiffRNN` (one tanh neuron with
# multiplier 1, weights from N(0, 0.01²), 4 output characters), feeds the
# windows in order, and reports the cross-entropy per character (without the
# L1 penalty) and the width every `CHUNK` updates. With
# `units=None` the network sizes itself; with a number it is a fixed-size
# network of the same kind (multipliers, L1 penalty and floor kept, add/delete
# off — the paper's program with structural change disabled).


# %%
def network(units, seed):
    """The self-sizing network (`units=None`) or a plain fixed-size one."""
    keras.utils.set_random_seed(seed)
    if units is None:
        model = DiffRNN(weight_stddev=None, classifier_activation=None, seed=seed)
        return model, [MultiplierResize(**PAPER_RULE, seed=seed)], 1
    model = keras.Sequential(
        [
            keras.Input((40, 4)),
            keras.layers.SimpleRNN(units, return_sequences=True, name="recurrent"),
            keras.layers.Dense(4, name="predictions"),
        ]
    )
    return model, [], FIXED_STEPS_PER_EXECUTION  # no callback: run many steps per call


def train(task, seed, units=None, steps=STEPS):
    inputs, targets = parenthesis_sequences(task, n_sequences=steps * BATCH, seed=seed)
    data = tf.data.Dataset.from_tensor_slices((parenthesis_one_hot(inputs), targets))
    data = data.batch(BATCH).prefetch(4)
    model, callbacks, steps_per_execution = network(units, seed)
    model.compile(
        keras.optimizers.RMSprop(LEARNING_RATE),
        LOSS,
        metrics=[keras.metrics.SparseCategoricalCrossentropy(from_logits=True, name="ce")],
        jit_compile=XLA,
        steps_per_execution=steps_per_execution,
    )
    start = time.perf_counter()
    history = model.fit(
        data,
        epochs=steps // CHUNK,
        steps_per_epoch=CHUNK,
        shuffle=False,
        verbose=0,
        callbacks=callbacks,
    )
    epochs = len(history.history["ce"])
    return {
        "ce": history.history["ce"],
        "width": history.history.get("width_recurrent", [units] * epochs),
        "events": len(getattr(model, "structure_history", ())),
        "seconds": time.perf_counter() - start,
    }


def quartiles(runs, key):
    values = np.array([run[key] for run in runs], dtype=float)
    return np.percentile(values, [25, 50, 75], axis=0)


steps_axis = (np.arange(STEPS // CHUNK) + 1) * CHUNK
results = {}
wall = time.perf_counter()

# %% [markdown]
# ## Fig. 1 — easy vs hard

# %%
for task in ("easy", "hard"):
    results[task] = [train(task, seed) for seed in SEEDS]

fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=False)
for ax, task in zip(axes, ("easy", "hard"), strict=True):
    for key, color, label in (
        ("ce", "tab:blue", "loss (nats/char)"),
        ("width", "tab:red", "neurons"),
    ):
        target = ax if key == "ce" else ax.twinx()
        low, mid, high = quartiles(results[task], key)
        target.plot(steps_axis, mid, color=color, label=label)
        target.fill_between(steps_axis, low, high, color=color, alpha=0.25)
        target.set_ylabel(label, color=color)
    ax.set_title(f"{task} task (median, IQR over {len(SEEDS)} seeds)")
    ax.set_xlabel("parameter updates")
fig.tight_layout()
fig.savefig(OUT / "fig1_easy_hard.png", dpi=120)

for task in ("easy", "hard"):
    low, mid, high = quartiles(results[task], "width")
    print(f"{task}: final neurons median {mid[-1]:.0f} (IQR {low[-1]:.0f}-{high[-1]:.0f})")

# %% [markdown]
# ## Fig. 2 — self-sizing vs fixed-size networks on the hard task

# %%
for units in FIXED_SIZES:
    results[f"fixed_{units}"] = [train("hard", seed, units=units) for seed in SEEDS]

fig, ax = plt.subplots(figsize=(6, 4))
ax.plot(steps_axis, quartiles(results["hard"], "ce")[1], color="black", lw=2.5, label="self-sizing")
for units in FIXED_SIZES:
    ax.plot(steps_axis, quartiles(results[f"fixed_{units}"], "ce")[1], lw=1, label=f"fixed {units}")
ax.set_xlabel("parameter updates")
ax.set_ylabel("loss (nats/char, median)")
ax.set_title("hard task")
ax.legend()
fig.tight_layout()
fig.savefig(OUT / "fig2_fixed_vs_variable.png", dpi=120)

for name in ["hard"] + [f"fixed_{units}" for units in FIXED_SIZES]:
    low, mid, high = quartiles(results[name], "ce")
    print(
        f"{name:10s} final loss median {mid[-1]:.3f} (IQR {low[-1]:.3f}-{high[-1]:.3f}) "
        f"nats/char = {40 * mid[-1]:.1f} nats per 40-character window (Fig. 2's scale)"
    )

# %% [markdown]
# ## Fig. 3 — easy → hard → easy
#
# `parenthesis_sequences("easy-hard-easy")` lays the rows out as a third
# easy, a third hard, a third easy; fed in order, the task switches after
# 1/3 and 2/3 of the updates, as in the paper (100 000 and 200 000 of 300 000).
# Each phase gets half of the updates of a single-task run above.

# %%
SWITCH_STEPS = 3 * (STEPS // 2)
results["easy-hard-easy"] = [train("easy-hard-easy", seed, steps=SWITCH_STEPS) for seed in SEEDS]

switch_axis = (np.arange(SWITCH_STEPS // CHUNK) + 1) * CHUNK
fig, axes = plt.subplots(1, 2, figsize=(11, 4))
for ax, key, color, label in (
    (axes[0], "width", "tab:red", "neurons"),
    (axes[1], "ce", "tab:blue", "loss (nats/char)"),
):
    low, mid, high = quartiles(results["easy-hard-easy"], key)
    ax.plot(switch_axis, mid, color=color)
    ax.fill_between(switch_axis, low, high, color=color, alpha=0.25)
    for switch in (SWITCH_STEPS // 3, 2 * SWITCH_STEPS // 3):
        ax.axvline(switch, color="grey", ls="--")
    ax.set_xlabel("parameter updates")
    ax.set_ylabel(f"{label} (median, IQR)")
    ax.set_title("easy → hard → easy")
fig.tight_layout()
fig.savefig(OUT / "fig3_easy_hard_easy.png", dpi=120)


def width_at(fraction):
    index = int(round(fraction * SWITCH_STEPS / CHUNK)) - 1
    return np.median([run["width"][index] for run in results["easy-hard-easy"]])


easy_end, hard_end, final = width_at(1 / 3), width_at(2 / 3), width_at(1.0)
print(f"easy-hard-easy median neurons: end of easy {easy_end:.0f}, end of hard {hard_end:.0f}")
print(f"  and at the end of the second easy phase {final:.0f}")

# %% [markdown]
# ## Record

# %%
summary = {
    "steps": STEPS,
    "batch": BATCH,
    "seeds": SEEDS,
    "wall_seconds": time.perf_counter() - wall,
    "final_width": {
        name: np.percentile([r["width"][-1] for r in runs], [25, 50, 75]).tolist()
        for name, runs in results.items()
    },
    "final_loss": {
        name: np.percentile([r["ce"][-1] for r in runs], [25, 50, 75]).tolist()
        for name, runs in results.items()
    },
    "seconds_per_run": {
        name: float(np.median([r["seconds"] for r in runs])) for name, runs in results.items()
    },
    "runs": results,
}
(OUT / "results.json").write_text(json.dumps(summary, indent=1, default=float))
print(f"wall time {summary['wall_seconds']:.0f} s; figures and results.json in {OUT}")
