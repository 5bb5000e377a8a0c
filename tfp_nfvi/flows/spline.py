"""Rational-quadratic splines from raw network outputs, shared by the `nsf_*` steps.

A monotone rational-quadratic spline on `[−B, B]` with `K` bins (Durkan et al., 2019) is
`tfb.RationalQuadraticSpline(widths, heights, slopes, range_min=−B)`, the identity outside
the interval. From `3K − 1` unconstrained numbers per coordinate:

    widths  = m + (2B − K m) softmax(raw_w),    heights likewise,   m = 1e-3 · 2B / K,
    slopes  = s + softplus(raw_s + softplus⁻¹(1 − s)),   s = 1e-3,

so every bin is wider than `m`, every interior knot slope positive, and raw outputs of 0 give
equal bins with unit slopes: the identity. Flow steps start there (small output layers).
"""

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

tfb = tfp.bijectors

__all__ = ["SplineFn", "SplineOptions", "num_spline_params", "rational_quadratic_spline"]

_MIN_SLOPE = 1e-3


def num_spline_params(num_bins):
    """Raw numbers per coordinate: `K` widths, `K` heights, `K − 1` interior slopes."""
    return 3 * num_bins - 1


def rational_quadratic_spline(raw, num_bins, bound):
    """`tfb.RationalQuadraticSpline` acting elementwise, from raw `[..., n, 3K − 1]`."""
    raw = tf.convert_to_tensor(raw)
    min_bin = 1e-3 * 2 * bound / num_bins
    span = 2 * bound - num_bins * min_bin

    def bins(logits):
        return min_bin + span * tf.math.softmax(logits, axis=-1)

    slope_shift = float(np.log(np.expm1(1.0 - _MIN_SLOPE)))
    slopes = _MIN_SLOPE + tf.math.softplus(raw[..., 2 * num_bins :] + slope_shift)
    return tfb.RationalQuadraticSpline(
        bin_widths=bins(raw[..., :num_bins]),
        bin_heights=bins(raw[..., num_bins : 2 * num_bins]),
        knot_slopes=slopes,
        range_min=-bound,
    )


class SplineFn(tf.Module):
    """`x -> rational_quadratic_spline(fn(x))`, a TFP `bijector_fn` as a `tf.Module`.

    As a module (holding `fn`, itself a module over a network's variables) it lets
    `distribution.trainable_variables` find the network's weights in a global flow.
    Extra arguments that TFP passes (RealNVP's output size) are ignored.
    """

    def __init__(self, fn, num_bins, bound):
        super().__init__(name="spline_fn")
        self._fn = fn
        self._num_bins = num_bins
        self._bound = bound

    def __call__(self, x, *unused_args, **unused_kwargs):
        return rational_quadratic_spline(self._fn(x), self._num_bins, self._bound)


class SplineOptions:
    """The spline steps' options, mixed in before their `NetworkStep` base.

    Args:
      num_bins: K, the number of bins (spec option `bins`).
      bound: B; the spline acts on `[−B, B]` and is the identity outside it.
    """

    spec_options = {"bins": "num_bins"}

    def __init__(self, event_size, num_bins=8, bound=5.0, **kwargs):
        super().__init__(event_size, **kwargs)
        self.num_bins = int(num_bins)
        self.bound = float(bound)

    def spline_fn(self, fn):
        """The `bijector_fn` for TFP: raw network outputs at `x` -> the spline."""
        return SplineFn(fn, self.num_bins, self.bound)

    def get_config(self):
        return {**super().get_config(), "num_bins": self.num_bins, "bound": self.bound}
