"""Tests for tfp_nfvi.flows.sylvester: the O-, H- and T-Sylvester steps."""

import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import numpy as np  # pylint: disable=g-import-not-at-top
import pytest  # pylint: disable=g-import-not-at-top
import tensorflow as tf  # pylint: disable=g-import-not-at-top

from tfp_nfvi import flows  # pylint: disable=g-import-not-at-top

from tfp_nfvi import bijectors  # pylint: disable=g-import-not-at-top
from tfp_nfvi.flows import sylvester  # pylint: disable=g-import-not-at-top


def test_parameter_counts_and_spec_option():
    d = 6
    assert sylvester.SylvesterOrthogonalStep(d).num_columns == 3
    assert sylvester.SylvesterOrthogonalStep(d).num_params == d * 3 + 3 * 4 + 3
    assert sylvester.SylvesterHouseholderStep(d, num_reflections=2).num_params == 2 * d + d * (
        d + 1) + d
    assert sylvester.SylvesterTriangularStep(d).num_params == d * (d + 1) + d
    layer = flows.Flow(d, "sylvester_o(m=2)*2,sylvester_h(k=3)", seed=0)
    assert [s.num_columns for s in layer._make_steps()] == [2, 2, d]  # pylint: disable=protected-access
    with pytest.raises(ValueError, match="1 <= m <= D"):
        flows.Flow(d, "sylvester_o(m=7)")
    with pytest.raises(ValueError, match="options it takes: m="):
        flows.Flow(d, "sylvester_o(k=2)")


@pytest.mark.parametrize("kind", ["sylvester_o", "sylvester_h", "sylvester_t"])
def test_q_is_orthonormal_and_triangular_diagonals_constrained(kind):
    layer = flows.Flow(5, f"{kind}*2", seed=1)
    layer.build((None, 3))
    layer.flow_head.kernel.assign(tf.random.stateless_normal(layer.flow_head.kernel.shape, [1, 1]))
    params = layer._head_params(tf.random.stateless_normal([4, 3], [2, 2]))  # pylint: disable=protected-access
    for step, p in zip(layer.steps, params):
        q, r, r_tilde, b = step.bijector_args(p)
        assert float(tf.reduce_max(bijectors.orthonormality_error(q))) < 1e-5
        np.testing.assert_array_equal(np.tril(r.numpy(), -1), 0.0)
        diag = tf.linalg.diag_part(r) * tf.linalg.diag_part(r_tilde)
        assert np.all(diag.numpy() > -1.0) and b.shape == (4, step.num_columns)


def test_triangular_steps_alternate_identity_and_reversal():
    layer = flows.Flow(3, "sylvester_t*2", seed=0)
    layer.build(None)
    q0 = layer.steps[0].q(None, None).numpy()
    q1 = layer.steps[1].q(None, None).numpy()
    np.testing.assert_array_equal(q0, np.eye(3))
    np.testing.assert_array_equal(q1, np.eye(3)[::-1])
