"""The four 2D energies of Rezende & Mohamed (2015), Table 1, as target log-densities.

With z = (z1, z2) and

    w1(z) = sin(2π z1 / 4)
    w2(z) = 3 exp(−½ ((z1 − 1) / 0.6)²)
    w3(z) = 3 σ((z1 − 1) / 0.3)

the energies are

    U1(z) = ½ ((‖z‖ − 2) / 0.4)² − log(exp(−½ ((z1 − 2) / 0.6)²) + exp(−½ ((z1 + 2) / 0.6)²))
    U2(z) = ½ ((z2 − w1) / 0.4)²
    U3(z) = −log(exp(−½ ((z2 − w1) / 0.35)²) + exp(−½ ((z2 − w1 + w2) / 0.35)²))
    U4(z) = −log(exp(−½ ((z2 − w1) / 0.4)²) + exp(−½ ((z2 − w1 + w3) / 0.35)²))

and the paper's targets are p(z) ∝ exp(−U(z)). Every log-sum-exp is computed with
`tf.reduce_logsumexp` (no added epsilon), and the norm in U1 has a finite gradient at z = 0.

**The window convention.** exp(−U1) is integrable over R², but exp(−U2), exp(−U3) and exp(−U4)
are not: nothing confines z1 (and U4's lower branch reaches z2 ≈ −4 at z1 ≈ 3). So that log Z,
the ELBO's gap log Z − ELBO = KL(q ‖ p) and every divergence are finite and exact, the targets
for U2–U4 are multiplied by a smooth box window that is 1 on [−3.5, 3.5]² and falls off as a
Gaussian of scale 0.15 beyond it, coordinate by coordinate:

    log window(z) = −½ Σᵢ (max(|zᵢ| − 3.5, 0) / 0.15)²

so that their log-densities are −U(z) + log window(z). U1 is used as the paper writes it. With
this convention all four targets hold all but about 6e-5 of their mass inside the paper's plotting
box [−4, 4]², which is therefore the one box used for quadrature, divergences and figures
(`BOX`). `target_log_prob_fn(name)` returns these target log-densities; it is the only function
the fitting and the measures use.

All functions take z of shape [..., 2] in any float dtype and return shape [...]; they are
pure TensorFlow and compile with XLA.
"""

import math

import tensorflow as tf

from tfp_nfvi.internal import numerics

__all__ = [
    "BOX",
    "ENERGY_NAMES",
    "energy",
    "log_window",
    "target_log_prob_fn",
]

# The paper's plotting box, [−4, 4]²: (low, high) for each coordinate.
BOX = (-4.0, 4.0)
ENERGY_NAMES = ("U1", "U2", "U3", "U4")
_WINDOW_EDGE = 3.5
_WINDOW_SCALE = 0.15


def _split(z):
    z = tf.convert_to_tensor(z)
    if not z.dtype.is_floating:
        raise TypeError(f"z must be a float tensor, got dtype {z.dtype.name}.")
    if z.shape.rank is not None and (z.shape.rank < 1 or z.shape[-1] not in (None, 2)):
        raise ValueError(f"z must have shape [..., 2], got shape {z.shape}.")
    return z, z[..., 0], z[..., 1]


def _half_square(x, scale):
    return 0.5 * tf.square(x / scale)


def _w1(z1):
    return tf.sin(2.0 * math.pi * z1 / 4.0)


def _w2(z1):
    return 3.0 * tf.exp(-_half_square(z1 - 1.0, 0.6))


def _w3(z1):
    return 3.0 * tf.sigmoid((z1 - 1.0) / 0.3)


def _neg_logaddexp_of_half_squares(a, scale_a, b, scale_b):
    """−log(exp(−½(a/scale_a)²) + exp(−½(b/scale_b)²)), computed stably."""
    return -tf.reduce_logsumexp(
        tf.stack([-_half_square(a, scale_a), -_half_square(b, scale_b)], axis=-1), axis=-1
    )


def u1(z):
    """U1: a ring of radius 2 with two modes at z1 = ±2."""
    z, z1, _ = _split(z)
    ring = _half_square(numerics.safe_norm(z) - 2.0, 0.4)
    return ring + _neg_logaddexp_of_half_squares(z1 - 2.0, 0.6, z1 + 2.0, 0.6)


def u2(z):
    """U2: a sine-shaped band z2 ≈ w1(z1)."""
    _, z1, z2 = _split(z)
    return _half_square(z2 - _w1(z1), 0.4)


def u3(z):
    """U3: the band of U2 and a branch shifted down by w2 around z1 = 1."""
    _, z1, z2 = _split(z)
    a = z2 - _w1(z1)
    return _neg_logaddexp_of_half_squares(a, 0.35, a + _w2(z1), 0.35)


def u4(z):
    """U4: the band of U2 and a branch shifted down by w3 for z1 > 1."""
    _, z1, z2 = _split(z)
    a = z2 - _w1(z1)
    return _neg_logaddexp_of_half_squares(a, 0.4, a + _w3(z1), 0.35)


_ENERGIES = {"U1": u1, "U2": u2, "U3": u3, "U4": u4}
_WINDOWED = frozenset({"U2", "U3", "U4"})


def _check_name(name):
    if name not in _ENERGIES:
        raise ValueError(f"energy name must be one of {ENERGY_NAMES}, got {name!r}.")


def energy(name):
    """The paper's energy U(z) for `name` in `ENERGY_NAMES`, without the window.

    Args:
      name: "U1", "U2", "U3" or "U4".

    Returns:
      A function mapping z of shape [..., 2] to U(z) of shape [...].
    """
    _check_name(name)
    return _ENERGIES[name]


def log_window(z):
    """log window(z) = −½ Σᵢ (max(|zᵢ| − 3.5, 0) / 0.15)²: 0 on [−3.5, 3.5]², Gaussian tails."""
    z, _, _ = _split(z)
    excess = tf.nn.relu(tf.abs(z) - _WINDOW_EDGE)
    return -tf.reduce_sum(_half_square(excess, _WINDOW_SCALE), axis=-1)


def target_log_prob_fn(name):
    """The unnormalized target log-density used everywhere for energy `name`.

    log p̃(z) = −U1(z) for U1, and −U(z) + log window(z) for U2–U4 (see the module docstring).

    Args:
      name: "U1", "U2", "U3" or "U4".

    Returns:
      A function mapping z of shape [..., 2] to log p̃(z) of shape [...].
    """
    _check_name(name)
    u = _ENERGIES[name]
    if name in _WINDOWED:

        def log_prob(z):
            return -u(z) + log_window(z)

    else:

        def log_prob(z):
            return -u(z)

    log_prob.__name__ = f"{name.lower()}_target_log_prob"
    return log_prob
