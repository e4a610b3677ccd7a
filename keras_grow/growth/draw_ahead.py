"""Drawing random candidates on a worker thread while the caller goes on.

A NORTH-Select event draws about a million float32 uniforms for its
candidate fan-ins (2 ms on one core) and, independently, prepares the rows
it scores them on (reading weights, picking rows, an orthonormal basis:
2–3 ms). Between training steps the second core is idle, so the draw can
run there. The results must not change: the same generator first draws the
candidates and then picks the scored rows. `skip_float32_uniforms` makes
that possible for NumPy's default bit generator (PCG64): it hands the draw
a copy of the generator in its current state and advances the generator
itself past exactly the numbers the draw will take, so both sides see the
stream they would have seen one after the other.

A float32 uniform takes one 32-bit half of a 64-bit PCG64 output; the other
half is kept for the next one (`has_uint32` / `uinteger` in the state).
`tests/growth/test_draw_ahead.py` checks the skip against real draws.
"""

import concurrent.futures
import os
import threading

import numpy as np

_executor = None
_executor_lock = threading.Lock()


def _forget_parent_worker():
    """In a child after `fork`: the parent's worker thread does not exist here."""
    global _executor, _executor_lock
    _executor, _executor_lock = None, threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_parent_worker)


def skip_float32_uniforms(rng, count):
    """Advance `rng` past `count` float32 uniforms without drawing them.

    Leaves `rng` in the state `rng.random(count, dtype=np.float32)` would
    leave it in, and returns a new `Generator` in `rng`'s previous state,
    which draws those numbers. Returns None and leaves `rng` unchanged when
    its bit generator is not PCG64 (whose skip is exact and cheap).

    Example:

    ```python
    rng = np.random.default_rng(0)
    ahead = keras_grow.growth.draw_ahead.skip_float32_uniforms(rng, 5)
    numbers, after = ahead.random(5, dtype=np.float32), rng.random()
    ```
    """
    bit_generator = rng.bit_generator
    if type(bit_generator) is not np.random.PCG64:
        return None
    state = bit_generator.state
    before = np.random.Generator(np.random.PCG64())
    before.bit_generator.state = state
    remaining = count
    if state["has_uint32"] and remaining:
        remaining -= 1  # the first number is the buffered half
        bit_generator.state = {**state, "has_uint32": 0}
    pairs, odd = divmod(remaining, 2)
    if pairs:
        bit_generator.advance(pairs)  # also empties the buffer
    if odd:  # the last number is the low half of one more output; its high half is kept
        last = int(bit_generator.random_raw())
        bit_generator.state = {**bit_generator.state, "has_uint32": 1, "uinteger": last >> 32}
    return before


def draw_ahead(draw, rng, uniforms):
    """Run `draw(generator)` on a worker thread, leaving `rng` as if it had run.

    `uniforms` is how many float32 uniforms `draw` takes from its generator
    (`keras_grow.structure.initializers.uniform_draw_count`). The worker gets
    `rng` in its current state and `rng` skips those numbers at once, so the
    caller can go on drawing from `rng` while the worker draws. When
    `uniforms` is None or the skip is not possible, `draw(rng)` runs now.

    Returns:
        A `concurrent.futures.Future` of `draw`'s result.

    Example:

    ```python
    rng = np.random.default_rng(0)
    future = keras_grow.growth.draw_ahead.draw_ahead(
        lambda generator: generator.random(1000, dtype=np.float32), rng, 1000)
    rows = rng.choice(100, 10, replace=False)  # as if after the draw
    values = future.result()
    ```
    """
    before = None if uniforms is None else skip_float32_uniforms(rng, uniforms)
    if before is not None:
        return _worker().submit(draw, before)
    done = concurrent.futures.Future()
    try:
        done.set_result(draw(rng))
    except Exception as error:  # raised by `result()`, as from the worker
        done.set_exception(error)
    return done


def _worker():
    global _executor
    with _executor_lock:
        if _executor is None:
            _executor = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="keras_grow")
        return _executor
