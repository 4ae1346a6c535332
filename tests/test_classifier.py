"""The DTN encoder f, its classifier head, and the classifier loss."""

import math

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from xdomain import config_lib
from xdomain.methods import classifier as classifier_method
from xdomain.models import classifiers


def _init(model_config):
  model = classifiers.classifier_from_config(model_config)
  x = jnp.zeros((2, 32, 32, 3))
  return model, model.init(jax.random.key(0), x, train=False), x


def test_paper_variant_shapes_and_parameter_count():
  model, variables, x = _init(config_lib.classifier_model())
  logits, state = model.apply(variables, x, mutable=['intermediates'])
  assert logits.shape == (2, 10)
  sown = state['intermediates']['encoder']
  assert sown['block1'][0].shape == (2, 16, 16, 64)
  assert sown['block2'][0].shape == (2, 8, 8, 128)
  assert sown['block3'][0].shape == (2, 4, 4, 256)
  features = model.apply(variables, x, method=classifiers.DigitClassifier.features)
  assert features.shape == (2, 128)
  # 3x3 convs 3->64->128->256, a 4x4 conv 256->128, a 128->10 head.
  expected = (27 * 64 + 64) + (576 * 128 + 128) + (1152 * 256 + 256) + (
      4096 * 128 + 128) + (128 * 10 + 10)
  count = sum(p.size for p in jax.tree.leaves(variables['params']))
  assert count == expected == 896_522
  assert 'batch_stats' not in variables


def test_strided_batch_norm_variant():
  model, variables, x = _init(config_lib.classifier_model('strided', True))
  assert 'batch_stats' in variables
  _, state = model.apply(variables, x, mutable=['intermediates'])
  assert state['intermediates']['encoder']['block2'][0].shape == (2, 8, 8, 128)


def test_wrong_image_shape_is_named():
  model = classifiers.classifier_from_config(config_lib.classifier_model())
  with pytest.raises(ValueError, match=r'32, 32, 3'):
    model.init(jax.random.key(0), jnp.zeros((2, 28, 28, 1)))


def test_max_pool_matches_flax():
  x = jax.random.normal(jax.random.key(1), (3, 8, 8, 5))
  np.testing.assert_array_equal(classifiers.max_pool_2x2(x),
                                nn.max_pool(x, (2, 2), strides=(2, 2)))


def test_cross_entropy_against_hand_computed_values():
  logits = jnp.array([[0.0, 0.0], [math.log(3.0), 0.0]])
  labels = jnp.array([0, 0])
  # -log(1/2) and -log(3/4), averaged.
  expected = (math.log(2.0) + math.log(4.0 / 3.0)) / 2
  np.testing.assert_allclose(
      classifier_method.cross_entropy_loss(logits, labels), expected,
      rtol=1e-6)

