# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # 08 - Equivariance-aware architecture search on rotated MNIST (EquiNAS_E, EquiNAS_D, RPP)
#
# Reproduces, at CPU scale, **Tables 3 and 4** of Maile's thesis (ch. 4.5) on
# rotated MNIST: test error of the static G-CNN baselines (C1, C4, D4), the
# residual pathway prior (RPP: a D4 path plus an L2-regularised C1 path),
# EquiNAS_E (evolution with the equivariance relaxation morphism) and EquiNAS_D
# (differentiable [G]-mixed layers), plus the **symmetry-discovery experiment of
# Fig. 12** (EquiNAS_D on un-rotated vs rotated digits: which groups each layer
# keeps) and the z-per-layer curves of **Fig. 15**.
#
# Paper (rotMNIST, 12k/50k full rotMNIST, 128/256-channel backbone, 25-100 epochs,
# test error %): C1 5.02, C4 1.64, D4 1.78, EquiNAS_E 1.78, RPP 2.18 (Table 3,
# SGD 0.1); EquiNAS_D 2.29 (Table 4, two Adam 0.01).
#
# **Ours** (the run recorded at the bottom of this file; far from converged, see there): rotated
# MNIST-5k (4000 train of which 10% validation, 1000 test, each image rotated
# by a uniform random angle), a narrow backbone (`WIDTH` expanded channels instead
# of 128) and a few epochs on 2 CPU cores, two seeds. The errors are therefore
# far higher than the paper's and differences of several points are within
# seed noise (the SGD baselines moved by up to 8 points between the two seeds);
# read the table for the pipeline and the trends, not the ranking.
#
# Run: `python tutorials/08_equinas_rotated_mnist.py`
# (`KERAS_GROW_SMOKE=1` for a two-minute smoke run).

# %%
import json
import os
import time

import keras
import numpy as np
import tensorflow as tf
from _common import SMOKE, output_dir, scale

import keras_grow
from keras_grow.analysis import (
    plot_architecture_weights,
    plot_pareto_front,
    plot_symmetry_discovery,
    rotation_weight,
)
from keras_grow.applications import EquivariantCNN
from keras_grow.callbacks import PreciseBatchNorm
from keras_grow.search import RPPCNN, ArchitectureHistory, EquiNASD, EquiNASE, MixedEquivariantCNN

OUT = output_dir("08_equinas_rotated_mnist")
# Seed of initialisations and data order (the data split is fixed); e.g.
# `EQUINAS_SEED=1 python tutorials/08_equinas_rotated_mnist.py` for a second seed.
SEED = int(os.environ.get("EQUINAS_SEED", "0"))
keras.utils.set_random_seed(SEED)
WIDTH = scale(32, 8)  # expanded channels of layers 1-4 (thesis: 128)
DENSE = scale(32, 8)
EPOCHS = scale(5, 1)  # training budget of every method, in epochs
# Learning rate of the z optimizer. The thesis uses Adam 0.01 for ~17k z steps
# (100 epochs); Adam moves a logit by at most about the learning rate per step,
# so in our ~170 steps z could hardly leave uniform at 0.01 (see the bottom).
ARCH_LR = 0.05
# Learning rate of the weight optimizer of EquiNAS_D (thesis: Adam 0.01). Adam moves
# every parameter by about its learning rate per step, whatever the layer's fan-in,
# so at width 32 a step of 0.01 changes the kernels by 15-25 % and the super-network
# overshoots in a 3-epoch budget (45 % test error vs 12.6 % at 0.003, see the bottom).
WEIGHT_LR = 0.003
TRAIN = scale(4000, 400)
BATCH = 64
BACKBONE = dict(input_shape=(28, 28, 1), width=WIDTH, dense_units=DENSE)
started = time.time()

# %% [markdown]
# ## Data: rotated MNIST-5k

# %%
(x_all, y_all), (x_test, y_test) = keras_grow.datasets.mnist_5k(seed=0, test_size=1000)
x_all, y_all = x_all[:TRAIN], y_all[:TRAIN]
x_rot, y_rot = keras_grow.datasets.rotated(x_all, y_all, seed=0)
x_test_rot, y_test_rot = keras_grow.datasets.rotated(x_test, y_test, seed=1)
n_val = len(x_rot) // 10
x_val, y_val = x_rot[:n_val], y_rot[:n_val]
x_train, y_train = x_rot[n_val:], y_rot[n_val:]
print(f"train {x_train.shape}, val {x_val.shape}, test {x_test_rot.shape}")


def train_stream(x, y, seed=SEED):
    data = tf.data.Dataset.from_tensor_slices((x, y))
    return data.shuffle(len(x), seed=seed, reshuffle_each_iteration=True).batch(BATCH)


def precise_bn(x):
    """Recompute the batch-norm statistics of the final weights on 10 training batches."""
    return PreciseBatchNorm(x, steps=10, batch_size=BATCH)


def test_error(model, x=x_test_rot, y=y_test_rot):
    return 100.0 * (1.0 - model.evaluate(x, y, verbose=0, return_dict=True)["accuracy"])


def trainable(model):
    return int(sum(np.prod(v.shape) for v in model.trainable_variables))


results = {}

# %% [markdown]
# ## Static baselines and RPP (Table 3 protocol: SGD, learning rate 0.1)

# %%
for group in ("C4",) if SMOKE else ("C1", "C4", "D4"):
    t0 = time.time()
    keras.utils.set_random_seed(SEED)
    model = EquivariantCNN(group, **BACKBONE)
    model.compile(
        keras.optimizers.SGD(0.1), loss="sparse_categorical_crossentropy", metrics=["accuracy"]
    )
    model.fit(
        train_stream(x_train, y_train), epochs=EPOCHS, verbose=0, callbacks=[precise_bn(x_train)]
    )
    results[f"{group} baseline"] = (test_error(model), trainable(model), time.time() - t0)
    print(group, results[f"{group} baseline"])

t0 = time.time()
keras.utils.set_random_seed(SEED)
rpp = RPPCNN("D4", l2=1e-6, **BACKBONE)
rpp.compile(keras.optimizers.SGD(0.1), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
rpp.fit(train_stream(x_train, y_train), epochs=EPOCHS, verbose=0, callbacks=[precise_bn(x_train)])
results["RPP"] = (test_error(rpp), trainable(rpp), time.time() - t0)
print("RPP", results["RPP"])

# %% [markdown]
# ## EquiNAS_E
#
# Starts from the D4 network; every generation trains each parent and one
# relaxed child per parent for half an epoch (thesis: 0.5 epochs, population 5,
# 50 generations); `2 * EPOCHS` generations give every surviving lineage the
# same `EPOCHS` of training as the baselines.

# %%
t0 = time.time()
half_epoch = max(1, len(x_train) // BATCH // 2)
tuner = EquiNASE(
    lambda hp: EquivariantCNN("D4", **BACKBONE),
    generations=2 * EPOCHS,
    population_size=scale(2, 1),
    directory=str(OUT),
    project_name="equinas_e",
    overwrite=True,
    seed=SEED,
)
tuner.search(
    train_stream(x_train, y_train).repeat(),
    steps_per_epoch=half_epoch,
    epochs=1,
    verbose=0,
    validation_data=(x_val, y_val),
    callbacks=[precise_bn(x_train)],
)
population = [tuner.oracle.get_trial(t) for t in tuner.population()]
errors = []
for trial in population:
    model = tuner.load_model(trial)
    model.compile(metrics=["accuracy"], loss="sparse_categorical_crossentropy")
    errors.append(test_error(model))
    print(trial.hyperparameters.values["architecture"], f"test error {errors[-1]:.2f}%")
best = population[int(np.argmax([t.score for t in population]))]
final_params = [int(t.metrics.get_last_value("params")) for t in population]
results["EquiNAS_E"] = (float(np.mean(errors)), int(np.mean(final_params)), time.time() - t0)
architectures = [t.hyperparameters.values["architecture"] for t in population]
ax = plot_pareto_front(tuner.oracle.selection_history)
ax.figure.savefig(OUT / "equinas_e_pareto.png", dpi=120, bbox_inches="tight")

# %% [markdown]
# ## EquiNAS_D (Table 4 protocol: two Adam optimisers; weights `WEIGHT_LR`, z `ARCH_LR`)
#
# z and the kernels are updated alternately on independently drawn batches of
# the same training split. The super-network's batch norms keep per-channel
# statistics and its head reads every channel (`normalization="channel"`, the
# default): while z mixes groups, the 8 channels of a D4 block are unrelated
# features, and D4-orbit statistics would mis-normalise them (see the bottom).


# %%
def run_equinas_d(x, y, x_test_, y_test_, tag):
    t0 = time.time()
    keras.utils.set_random_seed(SEED)
    net = EquiNASD(MixedEquivariantCNN(**BACKBONE), seed=SEED)
    net.compile(
        optimizer=keras.optimizers.Adam(WEIGHT_LR),
        arch_optimizer=keras.optimizers.Adam(ARCH_LR),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    recorder = ArchitectureHistory("batch")
    net.fit(
        x,
        y,
        arch_data=(x, y),
        batch_size=BATCH,
        epochs=EPOCHS,
        verbose=0,
        callbacks=[recorder, precise_bn(x)],
    )
    fig = plot_architecture_weights(recorder.weights, recorder.groups, recorder.steps, title=tag)
    fig.savefig(OUT / f"equinas_d_z_{tag}.png", dpi=120, bbox_inches="tight")
    return net, test_error(net, x_test_, y_test_), time.time() - t0


net_rot, err, seconds = run_equinas_d(x_train, y_train, x_test_rot, y_test_rot, "rotated")
results["EquiNAS_D"] = (err, trainable(net_rot), seconds)

# %% [markdown]
# ## Symmetry discovery (Fig. 12): un-rotated digits

# %%
x_up, y_up = x_all[n_val:], y_all[n_val:]
net_up, err_up, _ = run_equinas_d(x_up, y_up, x_test, y_test, "upright")
discovery, rotation = {}, {}
for tag, net in (("upright", net_up), ("rotated", net_rot)):
    z = net.architecture_weights()
    discovery[tag] = {layer: max(w, key=w.get) for layer, w in z.items()}
    rotation[tag] = rotation_weight(z, ("C4", "D4"))
    print(tag, "argmax group per layer:", discovery[tag])
    print(tag, "z(C4) + z(D4) per layer:", np.round(list(rotation[tag].values()), 3))
ax = plot_symmetry_discovery(
    {"upright": net_up.architecture_weights(), "rotated": net_rot.architecture_weights()}
)
ax.axhline(2 / 6, color="grey", lw=0.8, ls=":")  # uniform z over the 6 candidate groups
ax.set_title("Fig. 12: rotation-equivariant weight per layer")
ax.figure.savefig(OUT / "equinas_d_symmetry_discovery.png", dpi=120, bbox_inches="tight")

# %% [markdown]
# ## Results

# %%
print(f"\nrotated MNIST-5k, width {WIDTH}, {EPOCHS} epochs, {len(x_train)} train images")
print(f"seed {SEED}")
print(f"{'method':<14} {'test error %':>12} {'trainable params':>17} {'seconds':>8}")
for name, (error, params, seconds) in results.items():
    print(f"{name:<14} {error:>12.2f} {params:>17d} {seconds:>8.0f}")
print("EquiNAS_E final population:", architectures)
print(f"EquiNAS_D on upright digits: test error {err_up:.2f}%")
print(f"total {time.time() - started:.0f} s")
summary = {
    "results": results,
    "equinas_e_population": architectures,
    "discovery": discovery,
    "rotation_weight": rotation,
    "z_rotated": net_rot.architecture_weights(),
    "z_upright": net_up.architecture_weights(),
    "smoke": SMOKE,
    "seed": SEED,
}
(OUT / "results.json").write_text(json.dumps(summary, indent=1, default=float))

# %% [markdown]
# ## Recorded run (2 shared CPU cores: 741 s wall, 8 min 39 s CPU for seed 0)
#
# `python tutorials/08_equinas_rotated_mnist.py` (seed 0) and
# `EQUINAS_SEED=1 python tutorials/08_equinas_rotated_mnist.py` (seed 1): rotated
# MNIST-5k, 3600 train / 400 validation / 1000 test, width 32 (D4: 4 fields in
# layers 1-4, 8 after), 5 epochs per method (~280 steps), SGD 0.1 for Table 3,
# EquiNAS_E with 10 generations of population 2, EquiNAS_D with Adam 0.003 for
# the weights and Adam 0.05 for z. Batch-norm statistics are recomputed from
# the final weights (`PreciseBatchNorm`) before every evaluation. "before" is the
# previous recorded run (width 16, 3 epochs, EquiNAS_D with the old batch norms).
#
# | method | test error %, seed 0 | seed 1 | before | paper rotMNIST | trainable params |
# |---|---|---|---|---|---|
# | C1 baseline | 19.8 | 17.2 | 23.1 | 5.02 | 160170 |
# | C4 baseline | 15.7 | 7.9 | 11.1 | 1.64 | 40338 |
# | D4 baseline | 20.4 | 13.7 | 38.3 | 1.78 | 20366 |
# | RPP | 16.0 | 16.3 | 51.3 | 2.18 | 179790 |
# | EquiNAS_E (mean of final population) | 7.5 | 7.9 | 19.9 | 1.78 | 22670 / 30734 |
# | EquiNAS_D | 11.9 | 10.0 | 68.5 | 2.29 | 415278 |
# | EquiNAS_D, upright digits | 2.1 | 2.2 | 17.5 | - | 415278 |
#
# **EquiNAS_D's bug: batch norm over D4 orbits.** The super-network's feature
# maps follow the D4 layout (channel `c * 8 + g`) so that its mixed layers can
# be exactly equivariant, and it used `EquivariantCNN`'s batch norms and head:
# one mean, variance, `gamma` and `beta` per block of 8 channels (a D4 orbit)
# and an average over the 8 channels before the dense layers. That is right
# for a D4 network, but while z gives weight to C1, C2 or D1 components - from
# the start, at uniform z - the 8 channels of a block are unrelated features:
# sharing one mean shifts some channels below zero, where the ReLU kills them,
# and the head averages 8 unrelated features into one. Rotated digits need the
# network to learn its invariance and suffered most; upright digits still
# trained (17.5 %). Isolated with small runs (2000 rotated digits, width 16,
# 2 epochs of Adam 0.01, z frozen at uniform, train accuracy): all six groups
# with D4-orbit batch norm and pooling 0.27, per-channel batch norm 0.34 (with
# D4 pooling 0.29); C1 and D4 mixed 0.28 vs 0.48; a pure C1 component written
# in the C4 layout 0.26 with C4-orbit batch norm and pooling vs 0.50 with
# per-channel ones (0.44 with per-channel batch norm but C4 pooling, 0.27 the
# other way round: the batch norm is the main cause). The same holds for RPP,
# whose C1 path is as large as its D4 path at initialisation (SGD 0.1, seeds
# 0/1: 0.30/0.37 with orbit statistics, 0.51/0.55 per channel). Ruled out: the
# mixed layers themselves - a one-group `MixedEquivariantConv` (weight
# normalisation off) trains *identically* to the static layer of that group
# from the same initial weights (D4: train accuracy 0.271, 0.492 both); all
# layouts are consistent (the network is exactly invariant to the
# intersection of its groups with non-zero z); and the z steps, as found
# before. Fix: `MixedEquivariantCNN` and `RPPCNN`
# now default to `normalization="channel"` (per-channel batch norm, the head
# reads every channel, as the authors' super-network does); `"orbit"` keeps the
# exactly invariant layout.
#
# A second, smaller effect: the six components were each drawn with Glorot
# variance and summed with weights 1/6, so the mixed kernel started with 1/6 of
# the Glorot variance, and every Adam step was ~2.4x larger relative to the
# kernel than in a plain layer. `MixedEquivariantConv` now scales the initial
# components by `1/sqrt(sum z^2)`. Tutorial protocol at width 16 / 3 epochs /
# Adam 0.01 (seed 0): orbit batch norm 68.5 % (train accuracy 0.29; 65.2 % with
# the scaling), per-channel 29.7 % (0.66), per-channel and scaled 23.7 % (0.72).
# At width 32 Adam 0.01 overshoots in this short budget (45.3 %, train
# accuracy 0.54) where 0.003 reaches 12.6 % (0.86): Adam moves every parameter
# by about its learning rate, which is a larger fraction of a wider layer's
# smaller weights; hence `WEIGHT_LR`.
#
# **What still differs.** Errors are 4-12x the paper's: 5 epochs of 3 600
# images instead of 25-100 epochs of 10 800 (or 50 000), a 32- instead of a
# 128-channel backbone, and the single-seed SGD 0.1 baselines move by several
# points between seeds (C4: 15.7 vs 7.9, D4: 20.4 vs 13.7). C4 beats C1 in both
# seeds, as in the paper; D4 is still behind C4 (the paper has them level), and
# RPP (16 %) sits between C1 and C4 in both seeds, behind its own D4 path in
# seed 1; the paper's RPP is close to D4. EquiNAS_E again kept D4 in the
# early layers and relaxed the last ones (seed 0: `D4,...,D4`: 8.8 %,
# `D4,...,D4,C4`: 6.1 %; seed 1: the D4 network 10.1 %, `...,D4,C4,C4` 8.8 %,
# `...,D4,C4,C2` 6.4 %, `...,D4,C4,C4,C4` 6.3 %), equivariance non-increasing
# with depth as in the thesis, and the relaxed children beat their D4 parent
# (its D4 lineage also beats the D4 baseline trained for the same 5 epochs; it
# is selected on validation accuracy among several candidates per
# generation). EquiNAS_E is the best method in both seeds, level with C4 in
# seed 1. EquiNAS_D now trains (11.9 % and 10.0 % vs 68.5 %), ahead of C1, D4
# and RPP in both seeds but behind EquiNAS_E (the paper: 0.5 points behind)
# and behind C4 in seed 1; it has 20x the trainable parameters of the D4
# network and saw 5 epochs.
#
# **Fig. 12** (`equinas_d_symmetry_discovery.png`): z(C4) + z(D4) per layer
# (uniform: 0.33).
#
# | seed | data | layers 1-8 | mean |
# |---|---|---|---|
# | 0 | rotated | 0.29 0.48 0.13 0.34 0.44 0.22 0.39 0.27 | 0.32 |
# | 0 | upright | 0.26 0.23 0.26 0.29 0.26 0.34 0.29 0.26 | 0.27 |
# | 1 | rotated | 0.39 0.35 0.34 0.33 0.25 0.26 0.31 0.32 | 0.32 |
# | 1 | upright | 0.24 0.37 0.39 0.32 0.42 0.29 0.47 0.22 | 0.34 |
#
# Not reproduced at this budget. In seed 0 rotated data keeps more rotation
# equivariance than upright data in 6 of 8 layers and upright data gives
# rotations less than the uniform weight in 7 of 8 layers, as in the paper's
# figure; in seed 1 it is the other way round in 5 of 8 layers. z(C4) + z(D4)
# stays within 0.2 of uniform after ~280 z steps (the thesis takes ~17 000), so
# the z of this run are dominated by noise; the paper's per-layer choice
# would need a far longer search (the Adam 0.05 z rate is already 5x the
# thesis'). A 3x longer search outside this script (width 16, 15 epochs,
# ~850 z steps, seed 0, otherwise this protocol; train accuracy 0.97 rotated,
# 1.00 upright) separates them no better: mean z(C4) + z(D4) 0.285 rotated vs
# 0.284 upright. The earlier recorded run (width 16, broken batch norms, one
# seed) had suggested the trend; it does not hold up.
