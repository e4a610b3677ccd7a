# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # 10 — A self-organising hierarchy of autoencoders (Borgohain et al., Tables 1–2, Fig. 5)
#
# Three autoencoder (AE) units share a 20 x 40 *feature map*: the 20 x 20 image on the left,
# each unit's 100-unit hidden code as a 10 x 10 block on the right. Each unit reads two 10 x 10
# receptive fields of the map through a binary mask, so where the fields sit *is* the
# architecture: a unit reading the codes of two others sits above them in a hierarchy.
# Base learning trains each unit locally (`SelfOrganizingHierarchy.fit`, Algorithm 1);
# meta-learning moves fields one cell at a time and keeps a move when the moved unit's code
# entropy rises (`search`, Algorithm 2). A logistic regression on the 300 concatenated codes
# measures how useful the representation is.
#
# **Paper** (MNIST, 60 000 training images; mean of 10 runs per architecture):
#
# | | flat A1 | columnar A2 | pyramidal A3 | random (3 layouts) |
# |---|---|---|---|---|
# | Table 1, accuracy % | 96.4 | 94.21 | **96.6** | 93.03 / 93.76 / 90.28 |
#
# Pearson correlation of max entropy vs accuracy: **0.75** (Fig. 5). Table 2, 10 meta-learned
# runs from random layouts: median accuracy **91.24 → 92.40**, max 96.22, one-sided Wilcoxon
# signed-rank **p = 0.009**.
#
# **Here** (MNIST-5k: 4 000 training / 1 000 test images, 20 x 20 centre crop; 4 base epochs;
# 8 seeds per architecture; numbers from the full run of this script, also in `results.md`):
#
# | | flat A1 | columnar A2 | pyramidal A3 | random (3 layouts) |
# |---|---|---|---|---|
# | Table 1, accuracy % | **92.04** | 87.85 | 91.98 | 86.21 / 91.34 / 87.38 |
#
# Pearson correlation of max entropy vs accuracy over the 48 runs: **0.79** (p = 2e-11).
# Table 2, 10 runs from random layouts, 10 meta-steps of strict hill climbing (1 epoch per
# trial, 11-18 trials per run): median **82.85 → 82.95**, max 91.80, one-sided Wilcoxon
# **p = 0.032**. Against a control that trains the same number of epochs with the fields
# frozen (median 83.15), meta-learning is better with p = 0.031.
#
# What reproduces: flat and pyramidal are the best architectures and nearly tied (the
# paper: 96.6 vs 96.4; here flat is 0.06 points ahead, within one standard deviation),
# columnar and two of three random layouts are clearly worse, and entropy tracks accuracy
# about as strongly as in the paper. Meta-learning improves accuracy significantly, and not
# only through the extra training it implies; as in the paper's Fig. 6 the gains come from
# the poorly initialised networks (53.0 → 55.6, 73.8 → 81.4, 69.5 → 77.3) while good ones
# stay about level, so the median barely moves. What does not: absolute accuracies are 4-9
# points lower (12x less training data, 4 epochs), and our random layouts start lower than
# the paper's (median 82.85 vs 91.24), so the 10 meta-steps of one-cell moves leave them far
# from the handcrafted ones. With 10 runs the p-values are sensitive to single runs.
#
# Scale and time of the full run: 8 seeds x 6 architectures, 10 runs x 10 meta-steps,
# logistic readout 20 epochs; **10.6 min** on 2 shared CPU cores (load average 7-9).
# Full run: `python tutorials/10_self_organizing_hierarchy.py`; smoke run (about a minute):
# `KERAS_GROW_SMOKE=1 python tutorials/10_self_organizing_hierarchy.py`.

# %%
import json
import time

import keras
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from _common import SMOKE, output_dir, scale
from scipy import stats

import keras_grow.datasets
from keras_grow.search import SelfOrganizingHierarchy, draw_layout, make_layout

OUT = output_dir("10_self_organizing_hierarchy")
# The paper's MNIST map: 20x40, three units of 100 hidden units (10x10 codes), 10x10 fields.
GEOMETRY = {"feature_map": (20, 40), "units": 3, "hidden": 100, "field": 10}
N_TRAIN = scale(4000, 600)
EPOCHS = scale(4, 1)  # base-learning epochs (the authors' code: 2 epochs of 48 000 images)
RUNS_T1 = scale(8, 1)  # seeds per architecture in Table 1 (paper: 10)
RUNS_T2 = scale(10, 2)  # meta-learned runs in Table 2 (paper: 10)
META_STEPS = scale(10, 2)  # meta-steps per run; each trains 1 epoch per trial (1-3 trials)
EVAL_EVERY = scale(5, 1)  # accuracy checkpoints during the search (Fig. 6)
READOUT_EPOCHS = scale(20, 3)
start_time = time.time()
print(
    f"smoke={SMOKE} n_train={N_TRAIN} epochs={EPOCHS} runs T1={RUNS_T1} T2={RUNS_T2} "
    f"meta_steps={META_STEPS}"
)

# %% [markdown]
# ## Data: MNIST-5k, centre-cropped to 20 x 20
# The paper crops 28 x 28 to 20 x 20 (the border is mostly empty) so the image tiles into
# 10 x 10 fields.

# %%
(x_train, y_train), (x_test, y_test) = keras_grow.datasets.mnist_5k(seed=0)
x_train, y_train = x_train[:N_TRAIN, 4:24, 4:24, 0], y_train[:N_TRAIN]
x_test = x_test[:, 4:24, 4:24, 0]
print(x_train.shape, x_test.shape)

# %% [markdown]
# ## The architectures (Fig. 2)
# Flat: every unit reads part of the image. Columnar: a chain image → u1 → u2 → u3.
# Pyramidal: u1 and u2 read the two image halves, u3 reads both codes. The three random
# layouts place each unit's two (adjacent) fields anywhere on the map, like the random
# topologies of the authors' code; `L` is a unit's level in the resulting hierarchy.

# %%
ARCHITECTURES = {
    "flat": "flat",
    "columnar": "columnar",
    "pyramidal": "pyramidal",
    **{f"random {j}": make_layout("random", seed=100 + j, **GEOMETRY) for j in (1, 2, 3)},
}
fig, axes = plt.subplots(2, 3, figsize=(15, 5.5))
for ax, (name, layout) in zip(axes.flat, ARCHITECTURES.items(), strict=True):
    draw_layout(make_layout(layout, **GEOMETRY), ax=ax, image=x_train[0])
    ax.set_title(f"{name}\n{ax.get_title()}", fontsize=8)
fig.tight_layout()
fig.savefig(OUT / "architectures.png", dpi=110)

# %% [markdown]
# ## Table 1: handcrafted and random architectures
# One hierarchy object is reused for every run: `reset(seed, layout)` gives fresh weights,
# optimizer state and random streams without retracing the training step. Each run trains
# `EPOCHS` epochs, then a logistic regression on the codes (`soh.classifier()`); the
# *max entropy* of a run is the largest per-epoch mean of the units' entropies (bits).

# %%
soh = SelfOrganizingHierarchy(layout="flat", seed=0, **GEOMETRY)


def accuracy(soh):
    clf = soh.classifier(epochs=READOUT_EPOCHS)
    clf.fit(soh.encode(x_train), y_train)
    return clf.score(soh.encode(x_test), y_test)


table1 = []
for name, layout in ARCHITECTURES.items():
    for seed in range(RUNS_T1):
        soh.reset(seed=seed, layout=layout)
        history = soh.fit(x_train, epochs=EPOCHS)
        entropy = np.asarray(history["entropy"])
        table1.append(
            {
                "architecture": name,
                "seed": seed,
                "accuracy": accuracy(soh),
                "max_entropy": float(entropy.mean(axis=1).max()),
                "final_entropies": entropy[-1].tolist(),
            }
        )
    runs = [r for r in table1 if r["architecture"] == name]
    scores = [100 * r["accuracy"] for r in runs]
    print(
        f"{name:10s} accuracy {np.mean(scores):.2f} % (sd {np.std(scores):.2f}) max entropy "
        f"{np.mean([r['max_entropy'] for r in runs]):.3f} bits  [{time.time() - start_time:.0f} s]"
    )

# %% [markdown]
# ## Correlation of max entropy and accuracy (Fig. 5)

# %%
entropies = np.array([r["max_entropy"] for r in table1])
accuracies = np.array([100 * r["accuracy"] for r in table1])
if len(table1) > 2:
    pearson = stats.pearsonr(entropies, accuracies)
    pearson_r, pearson_p = float(pearson.statistic), float(pearson.pvalue)
else:
    pearson_r = pearson_p = float("nan")
print(f"Pearson r = {pearson_r:.3f} (p = {pearson_p:.2g}) over {len(table1)} runs; paper: 0.75")
fig, ax = plt.subplots(figsize=(5, 4))
for name in ARCHITECTURES:
    mask = np.array([r["architecture"] == name for r in table1])
    ax.scatter(entropies[mask], accuracies[mask], label=name, s=18)
if len(table1) > 1:
    slope, intercept = np.polyfit(entropies, accuracies, 1)
    grid = np.linspace(entropies.min(), entropies.max(), 10)
    ax.plot(grid, slope * grid + intercept, "k--", lw=1)
ax.set_xlabel("max entropy (bits, mean over units)")
ax.set_ylabel("test accuracy (%)")
ax.set_title(f"MNIST-5k: Pearson r = {pearson_r:.2f} (paper 0.75)")
ax.legend(fontsize=7)
fig.tight_layout()
fig.savefig(OUT / "entropy_vs_accuracy.png", dpi=110)

# %% [markdown]
# ## Table 2: meta-learning from random layouts
# Each run starts from a fresh random layout (seed `200 + run`), trains `EPOCHS` epochs
# (accuracy x0), then runs `META_STEPS` steps of strict hill climbing (each trial moves one
# field of one unit by one cell and trains one epoch with the weights carried over) and is
# evaluated again (x1). As a control for the extra training the search itself provides, the
# state after base learning is restored and trained for as many epochs as the search used,
# with the fields frozen (x_ctrl).


# %%
def snapshot(soh):
    return (
        soh.layout,
        [keras.ops.convert_to_numpy(v) for v in soh.network.weights],
        [keras.ops.convert_to_numpy(v) for v in soh.optimizer.variables],
    )


def restore(soh, state):
    layout, weights, optimizer_values = state
    soh.set_layout(layout)
    for variable, value in zip(soh.network.weights, weights, strict=True):
        variable.assign(value)
    for variable, value in zip(soh.optimizer.variables, optimizer_values, strict=True):
        variable.assign(value)


table2 = []
for run in range(RUNS_T2):
    soh.reset(seed=200 + run, layout="random")
    soh.fit(x_train, epochs=EPOCHS)
    x0 = accuracy(soh)
    after_base = snapshot(soh)
    curve = [(0, x0)]

    def checkpoint(soh, step, trials, curve=curve):
        if (step + 1) % EVAL_EVERY == 0 and step + 1 < META_STEPS:
            curve.append((step + 1, accuracy(soh)))

    trials = soh.search(x_train, meta_steps=META_STEPS, rule="hill_climb", callback=checkpoint)
    x1 = accuracy(soh)
    curve.append((META_STEPS, x1))
    final_layout = soh.layout
    restore(soh, after_base)
    soh.fit(x_train, epochs=len(trials))
    control = accuracy(soh)
    table2.append(
        {
            "run": run,
            "x0": x0,
            "x1": x1,
            "control": control,
            "trials": len(trials),
            "accepted": sum(t["accepted"] for t in trials),
            "curve": curve,
            "initial_fields": [list(f) for f in soh.initial_layout.fields],
            "final_fields": [list(f) for f in final_layout.fields],
            "initial_levels": soh.initial_layout.levels(),
            "final_levels": final_layout.levels(),
        }
    )
    print(
        f"run {run}: x0 {100 * x0:.2f} -> x1 {100 * x1:.2f} (control {100 * control:.2f}); "
        f"{table2[-1]['accepted']}/{len(trials)} moves kept  [{time.time() - start_time:.0f} s]"
    )

# %%
x0s = np.array([r["x0"] for r in table2]) * 100
x1s = np.array([r["x1"] for r in table2]) * 100
controls = np.array([r["control"] for r in table2]) * 100


def one_sided_wilcoxon(after, before):
    if len(after) < 2 or np.all(after == before):
        return float("nan")
    return float(stats.wilcoxon(after, before, alternative="greater").pvalue)


p_meta = one_sided_wilcoxon(x1s, x0s)
p_control = one_sided_wilcoxon(x1s, controls)
print(
    f"median x0 {np.median(x0s):.2f}  median x1 {np.median(x1s):.2f}  max x1 {x1s.max():.2f}  "
    f"one-sided Wilcoxon p = {p_meta:.3g}   (paper: 91.24 -> 92.40, max 96.22, p = 0.009)"
)
print(
    f"control (same epochs, fields frozen): median {np.median(controls):.2f}; "
    f"x1 > control one-sided p = {p_control:.3g}"
)

fig, ax = plt.subplots(figsize=(5, 4))
for r in table2:
    steps, values = np.array(r["curve"]).T
    ax.plot(steps, 100 * np.array(values), marker="o", lw=1)
ax.set_xlabel("meta-step")
ax.set_ylabel("test accuracy (%)")
ax.set_title("Meta-learning from random layouts (Fig. 6)")
fig.tight_layout()
fig.savefig(OUT / "meta_learning_accuracy.png", dpi=110)

# The run that gained most: its layout before and after the search.
best = max(table2, key=lambda r: r["x1"] - r["x0"])
fig, axes = plt.subplots(1, 2, figsize=(11, 3))
for ax, key, label in ((axes[0], "initial_fields", "x0"), (axes[1], "final_fields", "x1")):
    layout = make_layout(best[key], **GEOMETRY)
    draw_layout(layout, ax=ax, image=x_train[0])
    ax.set_title(
        f"run {best['run']} {key.split('_')[0]} ({label} = {100 * best[label]:.2f} %)\n"
        f"{ax.get_title()}",
        fontsize=8,
    )
fig.tight_layout()
fig.savefig(OUT / "meta_learned_layout.png", dpi=110)

# %% [markdown]
# ## Summary
# The results are written to `results.md` and `results.json` next to the figures.

# %%
elapsed = time.time() - start_time
summary = {
    "scale": {
        "n_train": N_TRAIN,
        "n_test": len(x_test),
        "epochs": EPOCHS,
        "runs_table1": RUNS_T1,
        "runs_table2": RUNS_T2,
        "meta_steps": META_STEPS,
        "readout_epochs": READOUT_EPOCHS,
        "smoke": SMOKE,
    },
    "table1_mean_accuracy": {
        name: float(np.mean([r["accuracy"] for r in table1 if r["architecture"] == name]) * 100)
        for name in ARCHITECTURES
    },
    "pearson_r": pearson_r,
    "pearson_p": pearson_p,
    "table2": {
        "median_x0": float(np.median(x0s)),
        "median_x1": float(np.median(x1s)),
        "max_x1": float(x1s.max()),
        "p_value": p_meta,
        "median_control": float(np.median(controls)),
        "p_value_vs_control": p_control,
    },
    "seconds": elapsed,
    "runs": {"table1": table1, "table2": table2},
}
(OUT / "results.json").write_text(json.dumps(summary, indent=1))
lines = ["| architecture | paper (MNIST) | here (MNIST-5k) |", "|---|---|---|"]
paper = {
    "flat": "96.4",
    "columnar": "94.21",
    "pyramidal": "96.6",
    "random 1": "93.03",
    "random 2": "93.76",
    "random 3": "90.28",
}
for name in ARCHITECTURES:
    lines.append(f"| {name} | {paper[name]} | {summary['table1_mean_accuracy'][name]:.2f} |")
t2 = summary["table2"]
lines += [
    "",
    f"Pearson r (max entropy, accuracy): paper 0.75, here {pearson_r:.2f} (p = {pearson_p:.2g}).",
    "",
    "| Table 2 | median x0 | median x1 | max x1 | p (x1 > x0) | control median "
    "| p (x1 > control) |",
    "|---|---|---|---|---|---|---|",
    "| paper | 91.24 | 92.40 | 96.22 | 0.009 | — | — |",
    f"| here | {t2['median_x0']:.2f} | {t2['median_x1']:.2f} | {t2['max_x1']:.2f} | "
    f"{t2['p_value']:.3g} | {t2['median_control']:.2f} | {t2['p_value_vs_control']:.3g} |",
    "",
    f"Wall-clock: {elapsed / 60:.1f} min.",
]
(OUT / "results.md").write_text("\n".join(lines) + "\n")
print("\n".join(lines))
