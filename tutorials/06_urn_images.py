# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # 06 — Locally connected structure on 2-D images (Golkar, section 3, MNIST-5k)
#
# The 2-D version of `06_urn_spatial.py`: the URN's neurons fill a volume made of the
# image grid times a depth axis, with metric ds^2 = dx^2 + dy^2 + beta dz^2 (eq. 8), and
# the synaptic-length penalty c_syn * sum |W_ij| d_ij^gamma (eq. 9) should turn the
# unstructured recursive network into a feed-forward, locally connected one (Fig. 6).
#
# **Paper** (Fig. 6): grayscale CIFAR-10, 32 x 32 interpolated to a 60 x 60 x 6 volume
# (S = 21 600), I = 4, residual outputs, the 10 output nodes at the centre of the last
# plane: 52 % test accuracy with synaptic-length regularisation, 10 points more than the
# same URN with weight and activity penalties only; forward (red), local synapses with
# very few backward (green) or same-depth (black) ones.
#
# **Here** (CPU, no network, no CIFAR-10): real MNIST digits, the 5000-image subset in
# `keras_grow.datasets.mnist_5k` (4000 train / 1000 test, 28 x 28), linearly
# interpolated *down* onto a `GRID` x `GRID` grid x `DEPTH` planes (the paper's 60 x 60
# x 6 volume, S = 21 600, needs ~0.3 TFLOP per batch-32 step: estimated, not run, far
# beyond this CPU's budget). The same URN is trained with and without c_syn;
# we compare test accuracy, the |W|-weighted share of forward/backward/same-depth
# synapses, their mean lateral length, and plot the connectome and the receptive fields
# of the first hidden plane. The results table is printed at the end and written to
# `results.md` next to the figures.
#
# **Ours** (14 x 14 x 5 volume, S = 980, I = 4, residual outputs, 30 epochs, 2 seeds,
# ~100-130 s per run, 12 min for the 6 runs on 2 shared cores; c_W = 5e-7, c_N = 2e-5
# on the per-sample mean, gamma = 2, beta = 1):
#
# | c_syn | test acc. | active | fwd / bwd / same-depth, strong abs(W) | lateral length |
# |---|---|---|---|---|
# | 0 | 96.4 ± 0.1 % | 784 of 784 | 42 / 38 / 20 % | 7.2 grid steps |
# | 4.6e-6 | 90.4 ± 4.3 % (86.1, 94.7) | 544 ± 14 | 50 / 18 / 33 % | 2.3 |
# | 1.8e-5 | 89.9 ± 4.5 % (85.4, 94.3) | 432 ± 36 | 46 / 14 / 40 % | 1.8 |
#
# The structure changes as in the paper's Fig. 6: with c_syn the receptive fields of
# the first hidden plane shrink from the whole image to compact blobs (`locality.png`),
# the |W|-weighted lateral synapse length drops 4x, backward synapses fall from 38 % to
# 14-18 % and the strong synapses funnel from the image onto the central output nodes
# (`fig6_csyn_*.png`). Same-depth synapses stay common (33-40 %, the paper: "very few").
# The accuracy does **not** improve: the unconstrained URN already reaches 96 % on these
# digits (an MLP regime, unlike grayscale CIFAR-10, where the paper's unconstrained URN
# sits at ~42 %), and locality costs 2-10 points here; seed 0 loses ~10 points at both
# strengths, seed 1 about 2. Seed 0's loss is a dead output: re-training it with
# c_syn = 1.8e-5 (a separate check, not in this script) gives 85.4 % with 0 % on digit
# 1, whose ReLU output node is 0 on every test image, and 92-99 % on the nine other
# digits; without that failure locality costs ~2 points. So we reproduce the emergent
# locally connected, feed-forward structure but not the paper's +10 points, which we
# cannot test without CIFAR-10 (no network here) and the paper's 60 x 60 x 6 volume.
#
# Full run: `python tutorials/06_urn_images.py`; smoke (< 3 min):
# `KERAS_GROW_SMOKE=1 python tutorials/06_urn_images.py`.

# %%
import time

import keras
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from _common import SMOKE, output_dir, scale

import keras_grow.analysis as kga
from keras_grow.datasets import mnist_5k
from keras_grow.layers import URNGeometry, URNLayer

OUT = output_dir("06_urn_images")
GRID = scale(14, 10)  # 28 x 28 pixels -> GRID x GRID neurons per plane
DEPTH = scale(5, 4)  # the paper uses 6 planes
EPOCHS = scale(30, 2)
SEEDS = scale([0, 1], [0])
N_TRAIN = scale(4000, 1000)
BATCH = 32
LR = 7e-4
C_W, C_N = 5e-7, 2e-5  # section 2 values (the paper gives none for section 3)
GAMMA, BETA = 2.0, 1.0  # as in 06_urn_spatial.py (MNIST-1D, 60-point grid)
# 06_urn_spatial.py found c_syn = 1e-6 on a 60-point grid; with gamma = 2 a synapse that
# spans the same fraction of the image costs the same here with c_syn * (60 / GRID)^2.
C_SYN = 1e-6 * (60 / GRID) ** 2
C_SYNS = (0.0, C_SYN / 4, C_SYN)  # without, weaker, as transferred from MNIST-1D
STRONG = 1e-2  # synapses above this count in the connectivity shares
SIZE = GRID * GRID * DEPTH
print(f"grid {GRID} x {GRID} x depth {DEPTH} (S={SIZE}), epochs {EPOCHS}, smoke={SMOKE}")

# %% [markdown]
# ## Data
# `mnist_5k()` returns `(n, 28, 28, 1)` images in [0, 1]; the URN layer interpolates
# them onto its grid itself (bilinear, corners aligned) and writes them into plane 0.

# %%
(x_train, y_train), (x_test, y_test) = mnist_5k()
x_train, y_train = x_train[:N_TRAIN], y_train[:N_TRAIN]
print(x_train.shape, x_test.shape, np.bincount(y_train))

# %% [markdown]
# ## With and without the synaptic-length penalty
# S = GRID^2 * DEPTH neurons. Below 2^24 kernel entries the d^gamma matrix is cached
# densely (4096 x 4096 at most, 64 MiB); above, e.g. for the paper's 60 x 60 x 6 volume
# (a 21 600^2 matrix would take 1.9 GB), `URNLayer` computes the penalty tile by tile
# from the neuron coordinates (`synaptic_tile_rows`), so no S x S matrix is held.


# %%
def run(c_syn, seed):
    keras.utils.set_random_seed(seed)
    urn = URNLayer(
        iterations=4,
        output_dim=10,
        residual="output",
        weight_l1=C_W,
        activity_l1=C_N,
        geometry=URNGeometry((GRID, GRID), depth=DEPTH, beta=BETA),
        synaptic_l1=c_syn,
        synaptic_power=GAMMA,
    )
    model = keras.Sequential([keras.Input(x_train.shape[1:]), urn])
    model.compile(
        keras.optimizers.Adam(LR),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    start = time.time()
    model.fit(x_train, y_train, epochs=EPOCHS, batch_size=BATCH, verbose=0)
    seconds = time.time() - start
    accuracy = model.evaluate(x_test, y_test, verbose=0)[1]
    sample = x_train[:2000]
    structure = kga.extract_structure(urn, sample)
    strong = kga.extract_structure(urn, sample, weight_threshold=STRONG)
    links = kga.connectivity_summary(strong, by="plane")
    row = {"c_syn": c_syn, "seed": seed, "accuracy": accuracy, "seconds": seconds}
    row.update(structure.summary())
    row.pop("hidden_widths")
    row.update(links)
    print({k: (float(f"{v:.3g}") if isinstance(v, float) else v) for k, v in row.items()})
    return row, urn, structure


results, examples = [], {}
for c_syn in C_SYNS:
    for seed in SEEDS:
        row, urn, structure = run(c_syn, seed)
        results.append(row)
        if seed == SEEDS[0]:
            examples[c_syn] = (urn, structure)

# %% [markdown]
# ## Fig. 6: connectomics in the 3-D volume
# The strongest synapses among active neurons at their (x, y, z) positions: forward (to a
# deeper plane) red, backward green, same depth black.

# %%
for c_syn in C_SYNS:
    name = f"fig6_csyn_{c_syn:.2g}.png"
    urn, structure = examples[c_syn]
    fig = kga.plot_connectomics(urn, structure=structure, max_synapses=600, figsize=(8, 7))
    fig.axes[0].set_title(f"c_syn = {c_syn:.2g}: " + fig.axes[0].get_title(), fontsize=8)
    fig.savefig(OUT / name, dpi=110)
    plt.close(fig)
    print("wrote", OUT / name)

# %% [markdown]
# ## Locality: receptive fields and synapse lengths
# Top: for the plane-1 neurons with the largest input weights, |W| from each input-plane
# neuron drawn on the GRID x GRID image plane (a locally connected layer shows a compact
# blob). Bottom: distribution of the lateral (in-plane) length of every synapse between
# active neurons, weighted by |W|.


# %%
def receptive_fields(urn, count=6):
    kernel = np.abs(urn.kernel.numpy())  # kernel[j, i]: synapse j -> i
    planes = urn.neuron_planes()
    inputs = np.flatnonzero(planes == 0)  # the first GRID^2 neurons, in grid order
    first = np.flatnonzero(planes == 1)
    strength = kernel[np.ix_(inputs, first)].sum(axis=0)
    pick = first[np.argsort(strength)[::-1][:count]]
    return [kernel[inputs, i].reshape(GRID, GRID) for i in pick], pick


def lateral_lengths(structure):
    keep = structure.order
    weights = np.abs(structure.kernel[np.ix_(keep, keep)])
    coords = structure.coordinates[keep, :-1]
    lateral = np.sqrt(((coords[:, None, :] - coords[None, :, :]) ** 2).sum(-1))
    return lateral.ravel(), weights.ravel()


fig, axes = plt.subplots(len(C_SYNS) + 1, 6, figsize=(12, 8.5))
for row, c_syn in enumerate(C_SYNS):
    urn, structure = examples[c_syn]
    fields, pick = receptive_fields(urn)
    for ax, field, neuron in zip(axes[row], fields, pick, strict=False):
        ax.imshow(field, cmap="magma")
        ax.set_title(f"neuron {neuron}", fontsize=7)
        ax.set_xticks([])
        ax.set_yticks([])
    axes[row, 0].set_ylabel(f"c_syn = {c_syn:.2g}", fontsize=9)
gs = axes[-1, 0].get_gridspec()
for ax in axes[-1]:
    ax.remove()
ax = fig.add_subplot(gs[-1, :])
for c_syn, colour in zip(C_SYNS, ("tab:gray", "tab:orange", "tab:red"), strict=True):
    lengths, weights = lateral_lengths(examples[c_syn][1])
    ax.hist(lengths, bins=40, weights=weights / weights.sum(), histtype="step", color=colour)
    ax.plot([], [], color=colour, label=f"c_syn = {c_syn:.2g}")
ax.set_xlabel("lateral synapse length (grid steps)")
ax.set_ylabel("share of |W|")
ax.legend()
fig.tight_layout()
fig.savefig(OUT / "locality.png", dpi=110)
plt.close(fig)
print("wrote", OUT / "locality.png")

# %% [markdown]
# ## Results


# %%
def mean_std(rows, key, factor=1.0):
    values = np.array([r[key] for r in rows]) * factor
    return f"{values.mean():.2f} ± {values.std():.2f}"


size = GRID * GRID * DEPTH
lines = [
    f"MNIST-5k ({N_TRAIN} train / {len(y_test)} test), grid {GRID} x {GRID} x depth {DEPTH} "
    f"(S = {size}), I = 4, residual output, {EPOCHS} epochs, batch {BATCH}, Adam {LR}, "
    f"c_W = {C_W}, c_N = {C_N}, beta = {BETA}, gamma = {GAMMA}, seeds {SEEDS}",
    "",
    f"| c_syn | test accuracy % | active neurons | forward share of abs(W) > {STRONG} | "
    "backward | same depth | mean lateral length | time / run |",
    "|---|---|---|---|---|---|---|---|",
]
for c_syn in C_SYNS:
    rows = [r for r in results if r["c_syn"] == c_syn]
    lines.append(
        f"| {c_syn:.2g} | {mean_std(rows, 'accuracy', 100)} | {mean_std(rows, 'n_active')} | "
        f"{mean_std(rows, 'forward')} | {mean_std(rows, 'backward')} | "
        f"{mean_std(rows, 'same')} | {mean_std(rows, 'mean_lateral')} | "
        f"{np.mean([r['seconds'] for r in rows]):.0f} s |"
    )
lines += [
    "",
    "Paper (grayscale CIFAR-10, S = 21 600): 52 % with c_syn vs about 42 % without.",
]
table = "\n".join(lines)
print(table)
(OUT / "results.md").write_text(table + "\n")
