"""Tests for tfp_nfvi.flows.registry: spec names map to step classes."""

import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import numpy as np  # pylint: disable=g-import-not-at-top
import pytest  # pylint: disable=g-import-not-at-top
import tensorflow as tf  # pylint: disable=g-import-not-at-top

from tfp_nfvi import flows  # pylint: disable=g-import-not-at-top



@pytest.mark.parametrize("name", sorted(flows.STEPS))
def test_every_registered_kind_is_a_step_usable_from_a_spec(name):
    cls = flows.STEPS[name]
    assert issubclass(cls, flows.FlowStep)
    assert name in flows.FLOW_NAMES
    assert flows.parse_flow_spec(f"{name}*2") == [(name, 2)]
    layer = cls(2, seed=0)
    layer.build(None)
    assert isinstance(layer(None).forward(tf.zeros([1, 2])), tf.Tensor)
