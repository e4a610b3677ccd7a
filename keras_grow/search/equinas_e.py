"""EquiNAS_E: evolutionary equivariance-aware architecture search (Maile's thesis, Alg. 1).

A population of group-equivariant CNNs trains in short stints; between
stints each parent gets children whose equivariance is relaxed in one layer
by the equivariance relaxation morphism (weights inherited, function kept),
and the next parents are the Pareto front of (validation accuracy, parameter
count) topped up with the most accurate networks. Built on keras-tuner: one
trial is one stint of one network, so keras-tuner keeps the bookkeeping
(trial folders, checkpoints, `results_summary`, `get_best_models`).
"""

import random

import keras
import keras_tuner
import numpy as np
import tensorflow as tf

from keras_grow import groups as group_lib
from keras_grow.structure import DynamicModel

_RUNNING = keras_tuner.engine.trial.TrialStatus.RUNNING
_IDLE = keras_tuner.engine.trial.TrialStatus.IDLE
_STOPPED = keras_tuner.engine.trial.TrialStatus.STOPPED
_COMPLETED = keras_tuner.engine.trial.TrialStatus.COMPLETED


# --------------------------------------------------------------------- selection
def pareto_front(accuracies, param_counts):
    """Indices of the Pareto-efficient points: maximise accuracy, minimise parameters.

    A point is dominated when another has accuracy >= and parameters <= with
    at least one strict; identical points are all kept.

    Example:

    >>> pareto_front([0.9, 0.8, 0.95, 0.7], [100, 50, 300, 60])
    [0, 1, 2]
    """
    acc = np.asarray(accuracies, dtype=float)
    params = np.asarray(param_counts, dtype=float)
    if acc.shape != params.shape or acc.ndim != 1:
        raise ValueError(
            "`accuracies` and `param_counts` must be 1-D with the same length; received "
            f"shapes {acc.shape} and {params.shape}."
        )
    front = []
    for i in range(len(acc)):
        no_worse = (acc >= acc[i]) & (params <= params[i])
        dominated = no_worse & ((acc > acc[i]) | (params < params[i]))
        if not dominated.any():
            front.append(i)
    return front


def select_population(accuracies, param_counts, size):
    """The whole Pareto front, then the most accurate others until `size` are chosen.

    Example:

    >>> select_population([0.9, 0.8, 0.95, 0.7, 0.85], [100, 50, 300, 60, 400], 4)
    [0, 1, 2, 4]
    """
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise ValueError(f"`size` must be a positive int; received {size!r}.")
    chosen = pareto_front(accuracies, param_counts)
    rest = sorted(
        (i for i in range(len(accuracies)) if i not in chosen), key=lambda i: -accuracies[i]
    )
    return sorted(chosen + rest[: max(0, size - len(chosen))])


def valid_mutations(architecture):
    """The (position, subgroup) relaxations allowed on `architecture`.

    `architecture` is a sequence of group names, shallow to deep, each a
    subgroup of the one before (non-increasing equivariance with depth). A
    mutation relaxes ONE layer to a proper subgroup H of its group that still
    contains the next layer's group, so the constraint keeps holding.

    Example:

    >>> valid_mutations(["D4", "C4"])[:3]
    [(0, 'C4'), (1, 'C1'), (1, 'C2')]
    """
    names = [group_lib.get(g).name for g in architecture]
    check_non_increasing(names)
    moves = []
    for position, name in enumerate(names):
        group = group_lib.get(name)
        following = group_lib.get(names[position + 1]) if position + 1 < len(names) else None
        for sub in group.subgroups():
            if sub.name == name:
                continue
            if following is None or following.is_subgroup_of(sub):
                moves.append((position, sub.name))
    return moves


def check_non_increasing(architecture, argument="architecture"):
    """Raise `ValueError` unless every group is a subgroup of the one before it."""
    for before, after in zip(architecture, architecture[1:]):
        if not group_lib.get(after).is_subgroup_of(before):
            raise ValueError(
                f"`{argument}`={tuple(architecture)!r} is not allowed: {after} is not a "
                f"subgroup of the preceding {before}; equivariance must not increase with depth."
            )


# ------------------------------------------------------------------------ oracle
class EquiNASEOracle(keras_tuner.Oracle):
    """Keras-tuner oracle of EquiNAS_E: generations of relaxation mutations and Pareto selection.

    Each trial is one training stint of one individual; its hyperparameter
    values are `generation`, `individual`, `parent_trial` (the trial whose
    final weights it starts from, `""` for a fresh network), `architecture`
    (comma-separated group names, one per group convolution) and `mutation`
    (`"<layer>:<group>"` or `""`). Generation 0 is the fully equivariant root
    and its children; every later generation is each selected parent
    (continued) plus `children_per_parent` random valid relaxations of it.
    After a generation, `select_population` on (objective, `params`) picks
    the next parents. `selection_history` keeps, per generation, the
    candidates with their scores, the Pareto front and the selection.

    Args:
        generations: number of generations (thesis: 50).
        population_size: parents kept per generation (thesis: 5).
        children_per_parent: relaxations proposed per parent and generation.
        objective: accuracy-like objective reported by the tuner.
        seed: seed of the mutation choices.
        **kwargs: other `keras_tuner.Oracle` arguments.

    Example:

    >>> from keras_grow.search import EquiNASEOracle
    >>> oracle = EquiNASEOracle(generations=3, population_size=2)
    >>> oracle.configure(["lift", "gconv"], ["D4", "D4"])
    >>> oracle.populate_space("0")["values"]["architecture"]
    'D4,D4'
    """

    def __init__(
        self,
        generations=50,
        population_size=5,
        children_per_parent=1,
        objective="val_accuracy",
        seed=None,
        **kwargs,
    ):
        for name, value in (
            ("generations", generations),
            ("population_size", population_size),
            ("children_per_parent", children_per_parent),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"`{name}` must be a positive int; received {value!r}.")
        super().__init__(
            objective=keras_tuner.Objective(objective, "max")
            if isinstance(objective, str)
            else objective,
            seed=seed,
            **kwargs,
        )
        self.generations = generations
        self.population_size = population_size
        self.children_per_parent = children_per_parent
        self.layer_names = None
        self.initial_architecture = None
        self.generation = -1
        self.population = []
        self.selection_history = []
        self._queue = []
        self._generation_trials = []
        self._individuals = 0
        self._rng = random.Random(self.seed)

    def configure(self, layer_names, architecture):
        """Set the searched layers (shallow to deep) and their initial groups."""
        names = [group_lib.get(g).name for g in architecture]
        if len(layer_names) != len(names) or not names:
            raise ValueError(
                "`layer_names` and `architecture` must be non-empty and of equal length; "
                f"received {list(layer_names)!r} and {names!r}."
            )
        check_non_increasing(names)
        self.layer_names, self.initial_architecture = list(layer_names), names

    # ------------------------------------------------------------ generations
    def _new_individual(self):
        self._individuals += 1
        return f"i{self._individuals - 1}"

    def _entry(self, parent_trial, architecture, individual, mutation=""):
        return {
            "generation": self.generation,
            "individual": individual,
            "parent_trial": parent_trial,
            "architecture": ",".join(architecture),
            "mutation": mutation,
        }

    def _children(self, parent_trial, architecture):
        moves = valid_mutations(architecture)
        picks = self._rng.sample(moves, min(self.children_per_parent, len(moves)))
        children = []
        for position, subgroup in picks:
            child = list(architecture)
            child[position] = subgroup
            mutation = f"{self.layer_names[position]}:{subgroup}"
            children.append(self._entry(parent_trial, child, self._new_individual(), mutation))
        return children

    def _next_generation(self):
        if self.generation == 0:
            root = self._entry("", self.initial_architecture, self._new_individual())
            return [root, *self._children("", self.initial_architecture)]
        queue = []
        for trial_id in self.population:
            values = self.trials[trial_id].hyperparameters.values
            architecture = values["architecture"].split(",")
            queue.append(self._entry(trial_id, architecture, values["individual"]))
            queue.extend(self._children(trial_id, architecture))
        return queue

    def _select(self):
        done = [
            self.trials[t] for t in self._generation_trials if self.trials[t].status == _COMPLETED
        ]
        if not done:
            raise RuntimeError(
                f"EquiNAS_E generation {self.generation}: no trial completed; see the trial "
                "messages (`oracle.trials[...].message`)."
            )
        name = self.objective.name
        acc = [float(t.metrics.get_last_value(name)) for t in done]
        params = [float(t.metrics.get_last_value("params")) for t in done]
        front = pareto_front(acc, params)
        chosen = select_population(acc, params, self.population_size)
        self.population = [done[i].trial_id for i in chosen]
        self.selection_history.append(
            {
                "generation": self.generation,
                "candidates": [
                    {
                        "trial_id": t.trial_id,
                        "architecture": t.hyperparameters.values["architecture"],
                        "individual": t.hyperparameters.values["individual"],
                        name: a,
                        "params": int(p),
                    }
                    for t, a, p in zip(done, acc, params)
                ],
                "front": [done[i].trial_id for i in front],
                "selected": list(self.population),
            }
        )

    def populate_space(self, trial_id):
        if self.layer_names is None:
            raise ValueError(
                "EquiNASEOracle is not configured; call `configure(layer_names, architecture)` "
                "or use the `EquiNASE` tuner, which does so from the model."
            )
        if not self._queue:
            if any(self.trials[t].status == _RUNNING for t in self._generation_trials):
                return {"status": _IDLE}
            if self._generation_trials:
                self._select()
            if self.generation + 1 >= self.generations:
                return {"status": _STOPPED}
            self.generation += 1
            self._generation_trials = []
            self._queue = self._next_generation()
        self._generation_trials.append(trial_id)
        return {"status": _RUNNING, "values": self._queue.pop(0)}

    def finish(self):
        """Select from the last generation (if not done yet) and return the population."""
        if self._generation_trials and (
            not self.selection_history
            or self.selection_history[-1]["generation"] != self.generation
        ):
            self._select()
        return list(self.population)

    def get_state(self):
        state = super().get_state()
        state.update(
            layer_names=self.layer_names,
            initial_architecture=self.initial_architecture,
            generation=self.generation,
            population=self.population,
            selection_history=self.selection_history,
            queue=self._queue,
            generation_trials=self._generation_trials,
            individuals=self._individuals,
        )
        return state

    def set_state(self, state):
        super().set_state(state)
        self.layer_names = state["layer_names"]
        self.initial_architecture = state["initial_architecture"]
        self.generation = state["generation"]
        self.population = state["population"]
        self.selection_history = state["selection_history"]
        self._queue = state["queue"]
        self._generation_trials = state["generation_trials"]
        self._individuals = state["individuals"]


# ------------------------------------------------------------------------- tuner
class EquiNASE(keras_tuner.Tuner):
    """EquiNAS_E as a keras-tuner `Tuner`: relaxation mutations with inherited weights.

    `hypermodel` builds the fully equivariant starting network (e.g.
    `lambda hp: keras_grow.applications.EquivariantCNN("D4", ...)`), uncompiled;
    its `LiftingConv2D` / `GroupConv2D` layers, in graph order, are the
    searched layers and must have non-increasing groups. Every trial builds
    that network (same initialisation, seeded), wraps it in
    `keras_grow.DynamicModel`, loads the parent trial's final weights (the
    checkpoint stores the relaxations), applies the trial's mutation with
    `DynamicModel.relax` (the function is kept exactly: `mutation_error`, the
    largest output change on a validation batch, is reported), compiles a
    fresh copy of `optimizer` (thesis: SGD 0.1, no momentum), trains with
    `model.fit(*args, **kwargs)` (one stint, e.g. half an epoch through
    `steps_per_epoch`), evaluates on `validation_data` and saves its weights.
    It reports `val_accuracy`, `val_loss`, `params` (trainable parameters:
    relaxed layers store more) and `mutation_error`. After half an epoch at
    SGD 0.1 the batch norms' moving statistics lag far behind the weights, so
    pass `callbacks=[keras_grow.callbacks.PreciseBatchNorm(x_train)]` to
    `search` to select on statistics of the trained weights.

    After `search(...)`, `population()` lists the final parents' trial ids,
    `load_model(trial)` rebuilds any trial's network and
    `oracle.selection_history` holds every generation's candidates and Pareto
    fronts (`keras_grow.analysis.plot_pareto_front`).

    Reference: Maile, Wilson & Forre, "Equivariance-aware Architectural
    Optimization of Neural Networks" (ICLR 2023), section 4.1.

    Args:
        hypermodel: `build(hp) -> keras.Model` or a `keras_tuner.HyperModel`.
        generations: number of generations.
        population_size: parents kept per generation.
        children_per_parent: relaxations proposed per parent and generation.
        optimizer: optimizer (copied for every trial); default `SGD(0.1)`.
        loss: loss; default sparse categorical cross-entropy.
        metrics: metrics; must yield `"accuracy"` (default `["accuracy"]`).
        seed: seed of the initialisation and the mutations.
        **kwargs: `keras_tuner.Tuner` arguments (`directory`, `project_name`,
            `overwrite`, ...).

    Example:

    ```python
    tuner = EquiNASE(lambda hp: EquivariantCNN("D4", width=128), generations=50,
                     directory="runs", project_name="equinas_e")
    tuner.search(train.repeat(), steps_per_epoch=half_epoch, epochs=1,
                 validation_data=(x_val, y_val))
    best = tuner.load_model(tuner.oracle.get_trial(tuner.population()[0]))
    ```
    """

    def __init__(
        self,
        hypermodel,
        generations=50,
        population_size=5,
        children_per_parent=1,
        optimizer=None,
        loss="sparse_categorical_crossentropy",
        metrics=("accuracy",),
        seed=0,
        **kwargs,
    ):
        oracle = EquiNASEOracle(
            generations=generations,
            population_size=population_size,
            children_per_parent=children_per_parent,
            seed=seed,
        )
        super().__init__(
            oracle=oracle,
            hypermodel=hypermodel,
            optimizer=optimizer if optimizer is not None else keras.optimizers.SGD(0.1),
            loss=loss,
            metrics=list(metrics),
            **kwargs,
        )
        self.seed = int(seed)

    # ------------------------------------------------------------- building
    def _build_base(self, hp):
        keras.backend.clear_session()
        keras.utils.set_random_seed(self.seed)  # every individual shares the root's init
        model = self.hypermodel.build(hp)
        if not isinstance(model, keras.Model):
            raise TypeError(
                f"`hypermodel` must build a keras.Model; it returned {type(model).__name__}."
            )
        return model if isinstance(model, DynamicModel) else DynamicModel(model, seed=self.seed)

    @staticmethod
    def searched_layers(model):
        """`[(name, group name)]` of the group convolutions of `model`, in graph order."""
        return [
            (layer.name, layer.group.name)
            for layer in model._flatten_layers()
            if callable(getattr(layer, "relax_in_place", None))
        ]

    def on_search_begin(self):
        super().on_search_begin()
        if self.oracle.layer_names is None:
            searched = self.searched_layers(self._build_base(self.oracle.get_space()))
            if not searched:
                raise ValueError(
                    "`hypermodel` built a model without LiftingConv2D/GroupConv2D layers; "
                    "EquiNAS_E needs group convolutions to relax."
                )
            self.oracle.configure([n for n, _ in searched], [g for _, g in searched])

    def build_individual(self, trial, mutate=True):
        """The network of `trial` before its stint: parent weights, then its mutation.

        With `mutate=False` and the trial's own checkpoint instead of the
        parent's, see `load_model`.
        """
        values = trial.hyperparameters.values
        model = self._build_base(trial.hyperparameters)
        if values.get("parent_trial"):
            model.load_weights(self._get_checkpoint_fname(values["parent_trial"]))
        if mutate and values.get("mutation"):
            layer, subgroup = values["mutation"].split(":")
            model.relax(layer, subgroup, reason="equinas_e")
        return model

    def load_model(self, trial):
        """The network of a finished `trial` (its relaxations and trained weights)."""
        model = self._build_base(trial.hyperparameters)
        model.load_weights(self._get_checkpoint_fname(trial.trial_id))
        return model

    def _compile(self, model):
        optimizer = keras.optimizers.deserialize(keras.optimizers.serialize(self.optimizer))
        model.compile(optimizer=optimizer, loss=self.loss, metrics=list(self.metrics))

    # ---------------------------------------------------------------- trials
    def search(self, *fit_args, **fit_kwargs):
        """Run the evolution; arguments go to every stint's `model.fit`.

        `validation_data` (a `(x, y)` tuple or a dataset of batches) is
        required: selection uses the validation accuracy.
        """
        _probe_batch(fit_kwargs.get("validation_data"))
        return super().search(*fit_args, **fit_kwargs)

    def run_trial(self, trial, *args, **kwargs):
        validation_data = kwargs.pop("validation_data")
        probe = _probe_batch(validation_data)
        values = trial.hyperparameters.values
        mutation_error = 0.0
        if values.get("mutation"):
            before = self.build_individual(trial, mutate=False)(probe, training=False)
            model = self.build_individual(trial)
            after = model(probe, training=False)
            mutation_error = float(np.max(np.abs(np.asarray(after) - np.asarray(before))))
        else:
            model = self.build_individual(trial)
        self._compile(model)
        keras.utils.set_random_seed(self.seed + 1 + int(trial.trial_id))  # fresh data order
        model.fit(*args, **kwargs)
        if isinstance(validation_data, tf.data.Dataset):
            scores = model.evaluate(validation_data, verbose=0, return_dict=True)
        else:
            scores = model.evaluate(*validation_data, verbose=0, return_dict=True)
        if "accuracy" not in scores:
            raise ValueError(
                "`metrics` must include 'accuracy' for EquiNAS_E; evaluation gave "
                f"{sorted(scores)}."
            )
        model.save_weights(self._get_checkpoint_fname(trial.trial_id))
        return {
            "val_accuracy": float(scores["accuracy"]),
            "val_loss": float(scores["loss"]),
            "params": float(sum(int(np.prod(v.shape)) for v in model.trainable_variables)),
            "mutation_error": mutation_error,
        }

    def on_search_end(self):
        self.oracle.finish()
        super().on_search_end()

    def population(self):
        """Trial ids of the final population (selected after the last generation)."""
        return self.oracle.finish()


def _probe_batch(validation_data, size=8):
    if isinstance(validation_data, tf.data.Dataset):
        x = next(iter(validation_data.take(1)))[0]
        return np.asarray(x)[:size]
    if isinstance(validation_data, (tuple, list)) and len(validation_data) >= 2:
        return np.asarray(validation_data[0][:size])
    error = ValueError if validation_data is None else TypeError
    raise error(
        "EquiNASE.search needs `validation_data`, a (x, y) tuple or a tf.data.Dataset of "
        f"(x, y) batches (selection uses the validation accuracy); received "
        f"{type(validation_data).__name__}."
    )
