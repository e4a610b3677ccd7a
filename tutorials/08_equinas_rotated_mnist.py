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
# of 128) and a few epochs on 2 CPU cores, one seed. The errors are therefore
# far higher than the paper's and differences of a point or two are within
# seed noise; read the table for the pipeline and the trends, not the ranking.
#
# Run: `python tutorials/08_equinas_rotated_mnist.py`
# (`KERAS_GROW_SMOKE=1` for a one-minute smoke run).

# %%
import json
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
keras.utils.set_random_seed(0)
WIDTH = scale(16, 8)  # expanded channels of layers 1-4 (thesis: 128)
DENSE = scale(32, 8)
EPOCHS = scale(3, 1)  # training budget of every method, in epochs
# Learning rate of the z optimizer. The thesis uses Adam 0.01 for ~17k z steps
# (100 epochs); Adam moves a logit by at most about the learning rate per step,
# so in our ~170 steps z could hardly leave uniform at 0.01 (see the bottom).
ARCH_LR = 0.05
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


def train_stream(x, y, seed=0):
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
    keras.utils.set_random_seed(0)
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
keras.utils.set_random_seed(0)
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
    seed=0,
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
# ## EquiNAS_D (Table 4 protocol: two Adam optimisers; weights 0.01, z `ARCH_LR`)
#
# z and the kernels are updated alternately on independently drawn batches of
# the same training split.


# %%
def run_equinas_d(x, y, x_test_, y_test_, tag):
    t0 = time.time()
    keras.utils.set_random_seed(0)
    net = EquiNASD(MixedEquivariantCNN(**BACKBONE), seed=0)
    net.compile(
        optimizer=keras.optimizers.Adam(0.01),
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
}
(OUT / "results.json").write_text(json.dumps(summary, indent=1, default=float))

# %% [markdown]
# ## Recorded run (2 shared CPU cores, 1764 s, one seed)
#
# `python tutorials/08_equinas_rotated_mnist.py`: rotated MNIST-5k, 3600 train /
# 400 validation / 1000 test, width 16, 3 epochs per method, EquiNAS_E with 6
# generations of population 2, batch norms with momentum 0.9 (the thesis'
# PyTorch default).
#
# | method | test error % (ours) | paper rotMNIST | trainable params | s |
# |---|---|---|---|---|
# | C1 baseline | 52.3 | 5.02 | 41114 | 54 |
# | C4 baseline | 64.3 | 1.64 | 10574 | 92 |
# | D4 baseline | 81.0 | 1.78 | 5484 | 149 |
# | RPP | 73.2 | 2.18 | 44796 | 68 |
# | EquiNAS_E (mean of final population) | 35.5 | 1.78 | 6060 | 1064 |
# | EquiNAS_D | 77.0 | 2.29 | 103812 | 218 |
#
# **This run does not reproduce the paper.** With 3 epochs (~170 steps) of a
# width-16 backbone every model is far from converged, and the narrowest,
# most constrained networks (D4: 5 484 parameters) suffer most; the ranking is
# the opposite of the paper's, where equivariance wins at convergence. An earlier
# run with Keras' default batch-norm momentum 0.99 was at chance (76-90 % error):
# the moving statistics had not forgotten their initial values after 170 steps,
# which is why the backbone now uses 0.9. EquiNAS_E — whose surviving lineages
# train twice as long as the baselines in this budget — kept the D4 network and
# a child with its last layer relaxed to C4 (D4,...,D4,C4: 21.6 % vs 49.4 % error),
# i.e. local equivariance with relaxation at depth, as in the thesis. EquiNAS_D's
# z hardly left uniform in 3 epochs (z(C4)+z(D4) per layer 0.28-0.42, uniform
# 0.33), so the Fig. 12 contrast between upright and rotated digits is not
# visible at this scale. More epochs (the paper trains 25-100) and the full
# width are needed; rerun with larger `EPOCHS` / `WIDTH` if you can.
