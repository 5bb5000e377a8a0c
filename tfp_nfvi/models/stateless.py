"""Counter-based normal draws that are bit-identical with and without XLA.

TensorFlow's stateless samplers (`tf.random.stateless_normal`, and TFP's samplers built on
them) produce *different* numbers for the same seed when compiled with XLA on CPU than when
run by TensorFlow's kernels. A model whose loss must not depend on `jit_compile` therefore
draws its noise here: Philox-2x32-10 (Salmon et al., 2011) written with integer ops that both
executors evaluate exactly, then a uniform from the top 24 bits,
`u = (bits >> 8 + 1/2) · 2⁻²⁴ ∈ (0, 1)`, and `ε = Φ⁻¹(u)` (`tf.math.ndtri`).

Element `i` of the output uses the Philox counter `(i, 0)` and key `seed[0]`, with `seed[1]`
mixed into the counter's high word, so draws are a pure function of `(seed, shape)`.
"""

import tensorflow as tf

__all__ = ["stateless_normal"]

_PHILOX_M = 0xD256D193
_PHILOX_W = 0x9E3779B9
_MASK32 = 0xFFFFFFFF


def _philox_2x32(counter_lo, counter_hi, key, rounds=10):
    """Philox-2x32-`rounds` on uint64 tensors holding 32-bit values; returns both output words.

    One round (Salmon et al., 2011, Sec. 3.3): with `M = 0xD256D193`,
    `(L, R) <- (hi32(M·L) ⊕ k ⊕ R, lo32(M·L))`, then the key is bumped by the Weyl constant
    `0x9E3779B9` (mod 2³²). The 64-bit product of two 32-bit words fits in uint64 exactly.
    """
    lo, hi = counter_lo, counter_hi
    multiplier = tf.constant(_PHILOX_M, tf.uint64)
    mask = tf.constant(_MASK32, tf.uint64)
    for _ in range(rounds):
        product = lo * multiplier
        new_lo = tf.bitwise.bitwise_xor(
            tf.bitwise.bitwise_xor(tf.bitwise.right_shift(product, tf.constant(32, tf.uint64)),
                                   key), hi)
        hi = tf.bitwise.bitwise_and(product, mask)
        lo = new_lo
        key = tf.bitwise.bitwise_and(key + tf.constant(_PHILOX_W, tf.uint64), mask)
    return lo, hi


def stateless_normal(shape, seed, dtype=tf.float32):
    """Standard normal draws of `shape`, a deterministic function of `seed` (int `[2]`).

    Identical under `jit_compile=True` and in TensorFlow graphs or eager execution: the Philox
    bits and the uniforms bit for bit; the float64 `Φ⁻¹` of XLA and of TensorFlow's kernel
    may differ in the last few ulps (~1e-15), which rounds away in float32 draws.
    """
    # Seeds may be negative int32/int64 values: keep their low 32 bits, as unsigned numbers.
    seed = tf.bitwise.bitwise_and(tf.cast(tf.convert_to_tensor(seed), tf.int64), _MASK32)
    seed = tf.cast(seed, tf.uint64)
    shape = tf.convert_to_tensor(shape, tf.int32)
    counter = tf.range(tf.cast(tf.reduce_prod(shape), tf.int64), dtype=tf.int64)
    counter = tf.cast(counter, tf.uint64)
    zeros = tf.zeros_like(counter)
    bits, _ = _philox_2x32(
        tf.bitwise.bitwise_and(counter, tf.constant(_MASK32, tf.uint64)),
        tf.bitwise.bitwise_xor(tf.bitwise.right_shift(counter, tf.constant(32, tf.uint64)),
                               seed[1] + zeros),
        seed[0] + zeros,
    )
    top24 = tf.bitwise.right_shift(bits, tf.constant(8, tf.uint64))
    uniform = (tf.cast(top24, tf.float64) + 0.5) * 2.0**-24
    return tf.reshape(tf.cast(tf.math.ndtri(uniform), dtype), shape)
