# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # 06 — An MLP emerges from an unstructured recursive network (Golkar, Figs. 3 and 4)
#
# A URN is one S x S weight matrix applied I times to a state vector of S neurons
# (`keras_grow.layers.URNLayer`, eqs. 2-4). Trained with L1 penalties on the weights and on
# the neuron activities (eq. 5), most neurons switch off and the rest organise into a
# feed-forward MLP whose depth and widths nobody chose.
#
# **Paper** (S = 5000, I = 4, 4000 training points on two concentric 10-d spheres, Adam
# 7e-4, 200 epochs, c_W = 5e-7, c_N = 2e-5, 5 seeds): 100 % test accuracy;
# 123 ± 15 of 5000 neurons stay active; they form **3 hidden layers** of 115 ± 15, 4 ± 1.4
# and 3 ± 0.7 neurons (Fig. 3); with residual output nodes (eq. 6) the emergent network has
# **1 hidden layer** (Fig. 4).
#
# **Here** (CPU, 2 cores): the same task at S = 500, 200 epochs, 5 seeds
# (batch 32, not stated in the paper; 100-250 s per run, ~25 min for the 10 runs). S = 1000
# took 3.6 s per epoch in a probe (2x S = 500: 37 min for this script), and S = 5000 has
# 25x the matmul work of S = 1000 (estimated, not run). Two changes from a
# literal copy of the paper's numbers, both explained below: the activity penalty is
# summed over the batch (eq. 5 puts the 1/N on the cross-entropy only;
# `URNLayer(activity_reduction="sum")`), and c_W is rescaled from S = 5000 to S
# (c_W * 5000 / S = 5e-6), because the cross-entropy gradient per weight scales as 1/S.
# Active = non-zero on at least one of the 4000 training points at some update (the
# paper's "zero activation"; any positive float counts). The results table is printed at
# the end and written to `results.md` next to the figures.
#
# **Ours** (5 seeds, 200 epochs): 100.0 ± 0.1 % test accuracy (one seed 99.8 %) without
# residual outputs, 100.0 ± 0.0 % with. Without residual outputs 160 ± 13 of 500 neurons
# stay active (before the two changes below: 343 ± 123) in **3 hidden layers in every seed**
# ([160, 4, 3], [151, 1, 2], [136, 2, 6], [138, 3, 6], [169, 6, 4]; paper [115 ± 15,
# 4 ± 1.4, 3 ± 0.7]): the deep layers match the paper, the first layer is 1.3x the paper's
# 115, i.e. 32 % of our neurons vs 2.5 % of the paper's. The count was still falling at
# the end (e.g. 323 -> 225 -> 179 -> 169 after each quarter of training). At 100 epochs
# the same setup kept 210 ± 23 active in 2-3 layers. With residual outputs 121 ± 16 of
# 500 stay active and the network is one wide layer plus 1-3 late neurons ([104, 1, 2],
# [115, 1], [146, 1, 1], [115, 2, 3], [103, 1]) — shallower than without, close to but not
# exactly the paper's single hidden layer; the output nodes still change at every update.
# The explicit MLPs from `to_keras()` reproduce every URN's outputs to 4.8e-6.
#
# **Why so many neurons stay active.** (1) The batch reduction: with the per-sample mean
# the activity penalty is 32x weaker relative to the cross-entropy than eq. 5 as written.
# (2) The size: at the paper's S = 5000 the same c_W and c_N are relatively stronger,
# because the back-propagated signals shrink with S (measured below: per neuron S^-1/2,
# per weight S^-1, constant products from S = 500 to 5000). Fully transferring the
# paper's setting to S = 500 would also multiply c_N by sqrt(10) (and, to keep Adam's
# steps the same size relative to the He-initialised weights, the learning rate by
# sqrt(10)); both variants killed every neuron within 15 epochs (50 % accuracy), so we
# keep c_N at the paper's value. (3) Size does not help by itself: one probe at S = 1000
# (seed 0, c_W = 2.5e-6, batch sum, 60 epochs, 220 s; not run by this script) keeps 553
# of 990 hidden and output neurons active, about the fraction of S = 500 at 60 epochs
# (302 of 490; 56 % vs 62 %): the count grows with S instead of staying near ~120.
# (4) A dead output: in a probe at S = 500 with the paper's coefficients (per-sample
# mean, seed 0) one of the two ReLU output neurons was (almost) 0 on every point from
# epoch 5 on (mean 1e-5; exactly 0 from epoch 10);
# the other alone separates the classes (100 % accuracy), but the class whose logits
# are both 0 keeps a cross-entropy of log 2 for ever (training loss stuck at 0.35),
# and that never-vanishing gradient keeps hidden neurons busy. The S = 1000 probe shows
# the same signature (loss 0.354 at 100 % accuracy). The paper's 123 of 5000 is not
# reproduced at S = 500 or 1000.
#
# Full run: `python tutorials/06_urn_spheres.py`; smoke run (~1 min):
# `KERAS_GROW_SMOKE=1 python tutorials/06_urn_spheres.py`.

# %%
import time

import keras
import matplotlib
import tensorflow as tf

matplotlib.use("Agg")
import numpy as np
from _common import SMOKE, output_dir, scale

import keras_grow.analysis as kga
from keras_grow.datasets import concentric_spheres
from keras_grow.layers import URNLayer

OUT = output_dir("06_urn_spheres")
SIZE = scale(500, 150)  # the paper uses 5000 (100x the matmul work)
EPOCHS = scale(200, 4)  # as the paper
SEEDS = scale([0, 1, 2, 3, 4], [0])  # as the paper
N_TRAIN = scale(4000, 1000)
BATCH = 32  # not given in the paper; Keras' default
LR = 7e-4
PAPER_SIZE = 5000
# Eq. 5 as written: 1/N on the cross-entropy only, so c_N multiplies the batch *sum* of
# the activities (URNLayer(activity_reduction="sum")).
C_N = 2e-5
# The cross-entropy gradient per weight scales as 1/S under He initialisation (measured
# below), the L1 gradient c_W does not: keeping their ratio at the paper's S = 5000 needs
# c_W * 5000 / S.
C_W = 5e-7 * PAPER_SIZE / SIZE
print(f"S={SIZE}, epochs={EPOCHS}, seeds={SEEDS}, n_train={N_TRAIN}, smoke={SMOKE}")
print(f"c_W={C_W:.3g} (paper 5e-7 at S=5000), c_N={C_N} on the batch sum")

# %% [markdown]
# ## Data: two concentric spheres in 10-d
# `keras_grow.datasets.concentric_spheres`: class k lies on the sphere of radius r_k (1.0
# and 1.3, the loader's defaults; the paper gives no radii), directions uniform.


# %%
(x_train, y_train), (x_test, y_test) = concentric_spheres(
    dim=10, n_train=N_TRAIN, n_test=1000, seed=0
)
print(x_train.shape, np.bincount(y_train), np.linalg.norm(x_train, axis=1)[:4])

# %% [markdown]
# ## How the penalties must scale with S
# Adam only sees, for every parameter, the ratio of the penalty gradient to the
# cross-entropy gradient. The penalty gradients do not depend on S (c_N per active
# neuron and sample, c_W per weight). The cross-entropy gradients do: under He
# initialisation (std sqrt(2/S)) the per-neuron back-propagated signal scales as
# S^(-1/2) and the per-weight gradient as S^(-1). We check this on one batch at
# initialisation: the products below stay constant across S.


# %%
def xe_gradients(size, seeds=(0, 1, 2)):
    per_neuron, per_weight = [], []
    for seed in seeds:
        keras.utils.set_random_seed(seed)
        urn = URNLayer(size=size, iterations=4, output_dim=2)
        model = keras.Sequential([keras.Input((10,)), urn])
        with tf.GradientTape() as tape:
            loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)(
                y_train[:BATCH], model(x_train[:BATCH])
            )
        g_kernel, g_bias = tape.gradient(loss, [urn.kernel, urn.bias])
        hidden = slice(10, size - 2)
        per_neuron.append(np.abs(g_bias.numpy()[hidden]).mean())
        per_weight.append(np.abs(g_kernel.numpy()[:, hidden]).mean())
    return np.mean(per_neuron), np.mean(per_weight)


for size in scale([500, 1000, 2000, 5000], [150, 500]):
    neuron, weight = xe_gradients(size)
    print(
        f"S={size:5d}: |dXE/db| x sqrt(S) = {neuron * size**0.5:.3f}, "
        f"|dXE/dW| x S = {weight * size:.3f}"
    )

# %% [markdown]
# So the paper's c_W at S = 5000 corresponds to c_W * 5000 / S here, and its c_N to
# c_N * sqrt(5000 / S). We rescale c_W only. Probes on seed 0 at S = 500 (not run by
# this script) that go further all died: with c_W = 5e-6, c_N x 3.2 on the batch sum, or
# c_N x 3.2 on the per-sample mean with the learning rate x sqrt(10) (2.2e-3: Adam's
# step at the paper's size relative to the weights); with c_W = 5e-7, the paper's
# per-weight initial scale (std sqrt(2 / 5000)) and the batch sum. In each case 0 active
# neurons and 50 % accuracy from epoch 15 on. So c_N stays at the paper's value.

# %% [markdown]
# ## Training one URN per (residual mode, seed)
# `URNLayer(size=S, iterations=4, output_dim=2, weight_l1=5e-7, activity_l1=2e-5)`; the
# structure is read on the training set with `extract_structure`: active neurons, the
# update at which each first activates, and the emergent hidden layers (only neurons that
# reach the output count).


# %%
def run(residual, seed):
    keras.utils.set_random_seed(seed)
    urn = URNLayer(
        size=SIZE,
        iterations=4,
        output_dim=2,
        residual=residual,
        weight_l1=C_W,
        activity_l1=C_N,
        activity_reduction="sum",
    )
    model = keras.Sequential([keras.Input((10,)), urn])
    model.compile(
        keras.optimizers.Adam(LR),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    start, seconds, trace = time.time(), 0.0, []
    chunk = max(1, EPOCHS // 4)  # count the active neurons every quarter of training
    for done in range(chunk, EPOCHS + chunk, chunk):
        epochs = min(chunk, EPOCHS - done + chunk)
        model.fit(x_train, y_train, epochs=epochs, batch_size=BATCH, verbose=0)
        seconds = time.time() - start
        trace.append(kga.extract_structure(urn, x_train).n_active)
        start = time.time() - seconds
    accuracy = model.evaluate(x_test, y_test, verbose=0)[1]
    structure = kga.extract_structure(urn, x_train)
    mlp = structure.to_keras()
    gap = np.abs(mlp.predict(x_train, verbose=0) - model.predict(x_train, verbose=0)).max()
    mlp_accuracy = np.mean(mlp.predict(x_test, verbose=0).argmax(1) == y_test)
    row = {
        "residual": str(residual),
        "seed": seed,
        "accuracy": accuracy,
        "mlp_accuracy": mlp_accuracy,
        "n_active": structure.n_active,
        "hidden_widths": structure.hidden_widths,
        "mlp_widths": [layer.units for layer in mlp.layers if hasattr(layer, "units")],
        "max_gap": gap,
        "active_by_quarter": trace,
        "seconds": seconds,
    }
    print(row)
    return row, urn, structure


results, examples = [], {}
for residual in (None, "output"):
    for seed in SEEDS:
        row, urn, structure = run(residual, seed)
        results.append(row)
        if seed == SEEDS[0]:
            examples[residual] = (urn, structure)

# %% [markdown]
# ## Figs. 3 and 4: activities and weights of the active neurons
# Neurons sorted by the update at which they first activate; blue lines separate the
# emergent layers. Without residual outputs the weight matrix is block sub-diagonal
# (compare eq. 1); with residual outputs the outputs are written once and then kept.

# %%
for residual, figure in ((None, "fig3_no_residual.png"), ("output", "fig4_residual_output.png")):
    urn, structure = examples[residual]
    title = f"residual={residual}: {structure.summary()}"
    fig = kga.plot_urn(urn, structure=structure, title=title)
    fig.savefig(OUT / figure, dpi=120)
    print("wrote", OUT / figure)

# %% [markdown]
# ## Results over seeds
# "Hidden layers" counts the groups of hidden neurons by the update at which they first
# activate (the paper's reading of Figs. 3-4). The exact network returned by `to_keras()`
# can be deeper: a neuron that is active at several updates is re-used, i.e. the URN
# shares weights across depth, and each such use is a unit of the unrolled MLP.


# %%
def summarise(rows):
    acc = np.array([r["accuracy"] for r in rows]) * 100
    active = np.array([r["n_active"] for r in rows])
    depth = np.array([len(r["hidden_widths"]) for r in rows])
    widths = [r["hidden_widths"] for r in rows]
    mlp_widths = [r["mlp_widths"] for r in rows]
    return (
        f"{acc.mean():.1f} ± {acc.std():.1f} %",
        f"{active.mean():.0f} ± {active.std():.0f} of {SIZE}",
        f"{depth.mean():.1f} (per seed {depth.tolist()})",
        "; ".join(str(w) for w in widths),
        "; ".join(str(w) for w in mlp_widths),
        f"{np.mean([r['seconds'] for r in rows]):.0f} s",
    )


lines = [
    f"S = {SIZE}, I = 4, {N_TRAIN} training points, {EPOCHS} epochs, batch {BATCH}, "
    f"Adam {LR}, c_W = {C_W:.3g}, c_N = {C_N} (batch sum), seeds {SEEDS}",
    "",
    "| residual | test accuracy | active neurons | hidden layers | widths by first "
    "activation | to_keras() Dense widths | train time / run |",
    "|---|---|---|---|---|---|---|",
    "| paper, none | 100 % | 123 ± 15 of 5000 | 3 | 115, 4, 3 | — | — |",
    "| paper, output | 100 % | — | 1 | — | — | — |",
]
for residual in ("None", "output"):
    rows = [r for r in results if r["residual"] == residual]
    lines.append(f"| ours, {residual} | " + " | ".join(summarise(rows)) + " |")
lines += ["", "Active neurons after each quarter of training (per run):"]
for r in results:
    lines.append(f"- residual={r['residual']}, seed {r['seed']}: {r['active_by_quarter']}")
gaps = max(r["max_gap"] for r in results)
lines += ["", f"Largest |URN - extracted MLP| output gap over all runs: {gaps:.2e}"]
table = "\n".join(lines)
print(table)
(OUT / "results.md").write_text(table + "\n")
