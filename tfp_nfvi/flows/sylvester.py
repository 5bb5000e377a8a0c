"""The Sylvester flow steps `sylvester_o`, `sylvester_h`, `sylvester_t` (van den Berg et al., 2018).

`f(z) = z + Q R h(R̃ Qᵀ z + b)`, `h = tanh`, with `R`, `R̃` upper triangular `M × M` whose
diagonals are tanh-constrained (`sylvester_constrain_diagonals`, so `R̃ᵢᵢ Rᵢᵢ > −1` and the
map is invertible) and `Q ∈ R^{D×M}` with orthonormal columns, obtained in one of three ways:

* `sylvester_o` (O-SNF): `Q = orthogonalize_bjorck(A)` for an unconstrained `A ∈ R^{D×M}`,
  `M ≤ D`. `M` defaults to `⌈D/2⌉`; set it in the spec as `"sylvester_o(m=8)*4"`.
* `sylvester_h` (H-SNF): `Q = H_1 ⋯ H_K`, a product of `K` Householder reflections from
  unconstrained vectors, `M = D`. `K` defaults to 8; set it as `"sylvester_h(k=4)"`.
* `sylvester_t` (T-SNF): `Q` alternates between the identity and the reversal permutation
  from one `sylvester_t` step to the next (`kind_index` even / odd), `M = D`.

The three differ only in how `Q` is made, so they share one module. The raw parameters `θ`
are, in order, `Q`'s (`D M`, `K D` or none), the upper triangles of `R` and `R̃`
(`M (M + 1) / 2` each, `tfp.math.fill_triangular` order) and `b` (`M`). Given a context they
are per-example linear functions of it (the paper's amortized flows); globally they start at
`N(0, init_scale²)`, which for `R`, `R̃` near 0 is near the identity.
"""

import math

import tensorflow as tf
import tensorflow_probability as tfp

from tfp_nfvi import bijectors
from tfp_nfvi.flows import step

__all__ = ["SylvesterHouseholderStep", "SylvesterOrthogonalStep", "SylvesterTriangularStep"]


class _SylvesterStep(step.ParameterizedStep):
    """Shared parameter layout of the Sylvester steps; subclasses define `Q`."""

    bijector_class = bijectors.Sylvester

    def __init__(self, event_size, num_columns=None, **kwargs):
        super().__init__(event_size, **kwargs)
        self.num_columns = self.event_size if num_columns is None else int(num_columns)
        self.check_event_size(self.event_size, num_columns=self.num_columns)
        m = self.num_columns
        self.num_params = self.num_q_params + m * (m + 1) + m

    num_q_params = 0

    def q(self, raw_q, batch_shape):
        raise NotImplementedError

    def bijector_args(self, params):
        m, nq = self.num_columns, self.num_q_params
        tri = m * (m + 1) // 2
        raw_r = tfp.math.fill_triangular(params[..., nq : nq + tri], upper=True)
        raw_r_tilde = tfp.math.fill_triangular(params[..., nq + tri : nq + 2 * tri], upper=True)
        r, r_tilde = bijectors.sylvester_constrain_diagonals(raw_r, raw_r_tilde)
        q = self.q(params[..., :nq], tf.shape(params)[:-1])
        return q, r, r_tilde, params[..., nq + 2 * tri :]

    def get_config(self):
        return {**super().get_config(), "num_columns": self.num_columns}


class SylvesterOrthogonalStep(_SylvesterStep):
    """O-SNF: `Q` by Björck orthogonalization of a `D × M` matrix (`M` = `num_columns`)."""

    spec_options = {"m": "num_columns"}

    def __init__(self, event_size, num_columns=None, **kwargs):
        if num_columns is None:
            num_columns = math.ceil(int(event_size) / 2)
        self.num_q_params = int(event_size) * int(num_columns)
        super().__init__(event_size, num_columns=num_columns, **kwargs)

    @classmethod
    def check_event_size(cls, event_size, num_columns=None, **options):
        if num_columns is not None and not 1 <= num_columns <= event_size:
            raise ValueError(
                f"'sylvester_o' needs 1 <= m <= D (Q has m orthonormal columns in R^D), got "
                f"m={num_columns} for latent/event size {event_size}.")

    def q(self, raw_q, batch_shape):
        a = tf.reshape(raw_q, tf.concat([batch_shape, [self.event_size, self.num_columns]], 0))
        return bijectors.orthogonalize_bjorck(a)


class SylvesterHouseholderStep(_SylvesterStep):
    """H-SNF: `Q` as a product of `K` Householder reflections (`K` = `num_reflections`)."""

    spec_options = {"k": "num_reflections"}

    def __init__(self, event_size, num_reflections=8, **kwargs):
        self.num_reflections = int(num_reflections)
        self.num_q_params = self.num_reflections * int(event_size)
        super().__init__(event_size, **kwargs)

    def global_init_stddev(self):
        # Reflection vectors start at N(0, 1): a reflection's gradient vanishes at v = 0.
        stddev = super().global_init_stddev()
        stddev[: self.num_q_params] = 1.0
        return stddev

    def q(self, raw_q, batch_shape):
        vs = tf.reshape(raw_q, tf.concat([batch_shape, [self.num_reflections, self.event_size]],
                                         0))
        return bijectors.householder_product(vs)

    def get_config(self):
        return {**super().get_config(), "num_reflections": self.num_reflections}


class SylvesterTriangularStep(_SylvesterStep):
    """T-SNF: `Q` = identity for even `kind_index`, the reversal permutation for odd."""

    def q(self, raw_q, batch_shape):
        del raw_q, batch_shape  # Q is a constant, shared by the batch.
        return bijectors.triangular_q(
            self.event_size, reverse=self.kind_index % 2 == 1, dtype=self.compute_dtype)

    def get_config(self):
        config = super().get_config()
        config.pop("num_columns")
        return config


