"""Miconi's character-prediction tasks over the alphabet `a b ( )`."""

import numpy as np

from keras_grow.datasets._dtypes import FEATURE_DTYPE, LABEL_DTYPE
from keras_grow.datasets._validation import check_choice, check_int, check_real, check_seed

PARENTHESIS_ALPHABET = ("a", "b", "(", ")")
"""Characters of the parenthesis tasks; token `i` stands for `PARENTHESIS_ALPHABET[i]`."""

PARENTHESIS_TASKS = ("easy", "hard", "easy-hard-easy")

_A, _B, _OPEN, _CLOSE = range(4)
_EASY_PHASE, _HARD_PHASE = 0, 1


def parenthesis_sequences(
    task="easy",
    n_sequences=3000,
    length=40,
    continue_prob=0.6,
    hard_group_size=5,
    seed=0,
    return_phases=False,
):
    """Generates Miconi's next-character prediction tasks.

    Both tasks use the alphabet `a b ( )`, encoded as integer tokens
    `a=0, b=1, (=2, )=3` (see `PARENTHESIS_ALPHABET`).

    - `"easy"`: groups of one or more `ab` digraphs in parentheses, e.g.
      `(abab)(ab)(ababab)`. After each `ab` another `ab` follows with
      probability `continue_prob`, otherwise the group closes, so the number
      of digraphs per group is geometric. The only uncertain character is
      the one after each `b`.
    - `"hard"`: groups of `hard_group_size` letters in parentheses, each group
      the reverse of the previous one with one randomly chosen letter flipped
      (`a <-> b`), e.g. `(abbab)(babaa)(aabba)`. The first group is random.
    - `"easy-hard-easy"`: the switching experiment. Rows `[0, n // 3)` are
      easy, rows `[n // 3, 2 * n // 3)` hard and the remaining rows easy
      again (`n = n_sequences`), matching the paper's switch after 1/3 and 2/3
      of training. Each block is a fresh stream that starts at a group
      boundary, as when the original experiment switched input text. Feed
      the rows in order (no shuffling); `return_phases=True` also returns
      which grammar made each row.

    As in the paper (and Karpathy's `min-char-rnn`, which it builds on), one
    long character stream is cut into consecutive windows of `length`
    characters (40 in the paper), each paired with the window shifted by one
    character: `targets[i, t]` is the character after `inputs[i, t]`, so
    `targets[:, :-1] == inputs[:, 1:]`, and within a block
    `targets[i, -1] == inputs[i + 1, 0]`. Because rows continue one another,
    a stateful recurrent network can carry its state from row to row.

    Defaults: `length=40` and `hard_group_size=5` are from the paper; the
    paper gives no continuation probability, and `continue_prob=0.6` is the
    value in the author's public generator (whose hard groups have six
    letters, against the paper's five). The paper trains for 300,000 windows;
    the default `n_sequences=3000` is a quick 1% of that.

    Reference:
    - [Miconi, 2016](https://arxiv.org/abs/1606.06216), "Neural networks
      with differentiable structure", section 3.1 and 4.2.

    Args:
        task: one of `"easy"`, `"hard"`, `"easy-hard-easy"`.
        n_sequences: number of windows (rows), an integer >= 1 (>= 3 for
            `"easy-hard-easy"`).
        length: characters per window, an integer >= 1.
        continue_prob: probability in [0, 1) that an easy group continues
            with another `ab` rather than closing.
        hard_group_size: letters per hard group, an integer >= 1.
        seed: integer >= 0 that fixes the stream.
        return_phases: if `True`, also return the grammar of each row.

    Returns:
        `(inputs, targets)`, or `(inputs, targets, phases)` with
        `return_phases=True`.

        **`inputs`, `targets`**: `int64` token arrays of shape
        `(n_sequences, length)` with values in 0-3.

        **`phases`**: `int64` array of shape `(n_sequences,)`: 0 for rows
        from the easy grammar, 1 for rows from the hard grammar.

    Example:

    ```python
    inputs, targets = keras_grow.datasets.parenthesis_sequences("easy", n_sequences=2)
    keras_grow.datasets.parenthesis_text(inputs[0])  # '(abab)(ab)(ab)(ab)(abababab)(ababababab)'
    x = keras_grow.datasets.parenthesis_one_hot(inputs)  # (2, 40, 4) float32
    ```
    """
    task = check_choice("task", task, PARENTHESIS_TASKS)
    minimum_rows = 3 if task == "easy-hard-easy" else 1
    n_sequences = check_int("n_sequences", n_sequences, minimum=minimum_rows)
    length = check_int("length", length, minimum=1)
    continue_prob = check_real("continue_prob", continue_prob, low=0.0, high=1.0, high_open=True)
    hard_group_size = check_int("hard_group_size", hard_group_size, minimum=1)
    seed = check_seed(seed)

    rng = np.random.default_rng(seed)
    if task == "easy":
        blocks = [(_EASY_PHASE, n_sequences)]
    elif task == "hard":
        blocks = [(_HARD_PHASE, n_sequences)]
    else:
        first, second = n_sequences // 3, 2 * n_sequences // 3
        blocks = [
            (_EASY_PHASE, first),
            (_HARD_PHASE, second - first),
            (_EASY_PHASE, n_sequences - second),
        ]

    inputs, targets, phases = [], [], []
    for phase, rows in blocks:
        n_characters = rows * length + 1
        if phase == _EASY_PHASE:
            stream = _easy_stream(n_characters, continue_prob, rng)
        else:
            stream = _hard_stream(n_characters, hard_group_size, rng)
        inputs.append(stream[:-1].reshape(rows, length))
        targets.append(stream[1:].reshape(rows, length))
        phases.append(np.full(rows, phase, dtype=LABEL_DTYPE))
    inputs, targets = np.concatenate(inputs), np.concatenate(targets)
    if return_phases:
        return inputs, targets, np.concatenate(phases)
    return inputs, targets


def parenthesis_text(tokens):
    """Decodes parenthesis-task tokens back into characters.

    Args:
        tokens: integer array of tokens in 0-3, 1-D or 2-D.

    Returns:
        A `str` for 1-D input; a list with one `str` per row for 2-D input.

    Example:

    ```python
    keras_grow.datasets.parenthesis_text([2, 0, 1, 3])  # '(ab)'
    ```
    """
    tokens = np.asarray(tokens)
    if tokens.ndim not in (1, 2):
        raise ValueError(f"tokens has shape {tokens.shape}; expected a 1-D or 2-D array of tokens.")
    _check_tokens(tokens)
    characters = np.asarray(PARENTHESIS_ALPHABET)[tokens]
    if tokens.ndim == 1:
        return "".join(characters)
    return ["".join(row) for row in characters]


def parenthesis_one_hot(tokens):
    """One-hot encodes parenthesis-task tokens for a recurrent network's input.

    Args:
        tokens: integer array of tokens in 0-3, any shape.

    Returns:
        `float32` array of shape `tokens.shape + (4,)`.

    Example:

    ```python
    inputs, targets = keras_grow.datasets.parenthesis_sequences("hard")
    x = keras_grow.datasets.parenthesis_one_hot(inputs)  # (3000, 40, 4)
    ```
    """
    tokens = np.asarray(tokens)
    _check_tokens(tokens)
    return np.eye(len(PARENTHESIS_ALPHABET), dtype=FEATURE_DTYPE)[tokens]


def _check_tokens(tokens):
    if not np.issubdtype(tokens.dtype, np.integer):
        raise TypeError(f"tokens has dtype {tokens.dtype}; expected integer tokens in 0-3.")
    if tokens.size and (tokens.min() < 0 or tokens.max() >= len(PARENTHESIS_ALPHABET)):
        raise ValueError(
            f"tokens contains values from {tokens.min()} to {tokens.max()}; "
            f"expected tokens in 0-3 (a=0, b=1, (=2, )=3)."
        )


def _easy_stream(n_characters, continue_prob, rng):
    """At least `n_characters` tokens of `(ab...ab)` groups, cut to length."""
    pieces, produced = [], 0
    mean_group = 2 + 2 / (1 - continue_prob)
    while produced < n_characters:
        n_groups = int((n_characters - produced) / mean_group) + 16
        digraphs = rng.geometric(1.0 - continue_prob, size=n_groups)
        text = "".join("(" + "ab" * int(k) + ")" for k in digraphs)
        pieces.append(text)
        produced += len(text)
    return _encode("".join(pieces)[:n_characters])


def _hard_stream(n_characters, group_size, rng):
    """At least `n_characters` tokens of reversed-and-mutated letter groups."""
    n_groups = -(-n_characters // (group_size + 2))
    letters = np.empty((n_groups, group_size), dtype=LABEL_DTYPE)
    letters[0] = rng.integers(0, 2, size=group_size)
    flips = rng.integers(0, group_size, size=n_groups)
    for index in range(1, n_groups):
        letters[index] = letters[index - 1, ::-1]
        letters[index, flips[index]] ^= 1
    groups = np.empty((n_groups, group_size + 2), dtype=LABEL_DTYPE)
    groups[:, 0], groups[:, 1:-1], groups[:, -1] = _OPEN, letters, _CLOSE
    return groups.ravel()[:n_characters]


def _encode(text):
    lookup = np.zeros(256, dtype=LABEL_DTYPE)
    for token, character in enumerate(PARENTHESIS_ALPHABET):
        lookup[ord(character)] = token
    return lookup[np.frombuffer(text.encode("ascii"), dtype=np.uint8)]
