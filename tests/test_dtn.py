"""DTN: losses against hand-computed values, the custom transposed conv,
frozen f, and a tiny end-to-end run."""

import math
import os

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from xdomain import checkpoints
from xdomain import losses
from xdomain import train
from xdomain.models import gan
from xdomain.models import layers
from conftest import apply_overrides, tiny_classifier_config
from test_configs import load, REPO


def test_ternary_losses_hand_computed():
  zeros = jnp.zeros((2, 3))  # softmax = 1/3 everywhere: each term is log 3
  np.testing.assert_allclose(losses.ternary_d_loss(zeros, zeros, zeros),
                             3 * math.log(3), rtol=1e-6)
  np.testing.assert_allclose(losses.ternary_g_loss(zeros, zeros),
                             2 * math.log(3), rtol=1e-6)
  # D sure of the right classes: L_D ~ 0 and L_GANG large.
  sure = 20.0 * jnp.eye(3)
  fs, ft, rt = sure[0:1], sure[1:2], sure[2:3]
  assert float(losses.ternary_d_loss(fs, ft, rt)) < 1e-6
  np.testing.assert_allclose(losses.ternary_g_loss(fs, ft), 40.0, rtol=1e-4)


def test_binary_losses_hand_computed():
  zero = jnp.zeros((4, 1))  # sigmoid(0) = 1/2: each term is log 2
  np.testing.assert_allclose(losses.binary_d_loss([zero, zero], zero),
                             3 * math.log(2), rtol=1e-6)
  np.testing.assert_allclose(losses.binary_g_loss([zero]), math.log(2),
                             rtol=1e-6)


def test_mse_and_total_variation_hand_computed():
  np.testing.assert_allclose(losses.mse(jnp.ones(4), jnp.zeros(4)), 1.0)
  image = jnp.array([[0.0, 1.0], [0.0, 0.0]]).reshape(1, 2, 2, 1)
  # One interior pixel (0,0): dx = 1, dy = 0.
  np.testing.assert_allclose(losses.total_variation(image, 2.0), 1.0)
  np.testing.assert_allclose(losses.total_variation(image, 1.0), 1.0,
                             rtol=1e-5)
  image = jnp.array([[0.0, 3.0], [4.0, 0.0]]).reshape(1, 2, 2, 1)
  np.testing.assert_allclose(losses.total_variation(image, 1.0), 5.0,
                             rtol=1e-5)
  np.testing.assert_allclose(losses.total_variation(image, 2.0), 25.0)


def test_custom_vjp_transposed_conv_matches_flax_and_autodiff():
  x = jax.random.normal(jax.random.key(0), (2, 4, 4, 6))
  kernel = jax.random.normal(jax.random.key(1), (4, 4, 5, 6))
  reference = nn.ConvTranspose(5, (4, 4), strides=(2, 2),
                               padding=((2, 2), (2, 2)),
                               transpose_kernel=True, use_bias=False)
  ref_fn = lambda x, k: reference.apply({'params': {'kernel': k}}, x)
  ours = layers.conv_transpose_stride2(x, kernel)
  assert ours.shape == (2, 8, 8, 5)
  np.testing.assert_allclose(ours, ref_fn(x, kernel), rtol=1e-5, atol=1e-5)
  cotangent = jax.random.normal(jax.random.key(2), ours.shape)
  grads = jax.grad(lambda x, k: jnp.sum(layers.conv_transpose_stride2(x, k) *
                                        cotangent), argnums=(0, 1))(x, kernel)
  expected = jax.grad(lambda x, k: jnp.sum(ref_fn(x, k) * cotangent),
                      argnums=(0, 1))(x, kernel)
  for a, b in zip(grads, expected):
    np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4)


def test_generator_and_discriminator_shapes():
  g = gan.Generator(channels=1)
  z = jnp.zeros((2, 128))
  v = g.init(jax.random.key(0), z)
  out = g.apply(v, z)
  assert out.shape == (2, 32, 32, 1)
  assert float(jnp.abs(out).max()) <= 1.0
  d = gan.Discriminator(num_outputs=3)
  x = jnp.zeros((2, 32, 32, 3))
  assert d.apply(d.init(jax.random.key(0), x), x).shape == (2, 3)


@pytest.fixture(scope='module')
def tiny_classifiers(data_dir, tmp_path_factory):
  """A tiny f (on synth_digits/tiny) and a tiny uci_digits evaluator."""
  root = tmp_path_factory.mktemp('classifiers')
  train.train_and_evaluate(tiny_classifier_config(data_dir), str(root / 'f'))
  evaluator = load(os.path.join(REPO, 'configs', 'classifier_uci.py'), 'tiny')
  evaluator.data.data_dir = data_dir
  train.train_and_evaluate(evaluator, str(root / 'evaluator'))
  return str(root / 'f' / 'classifier'), str(root / 'evaluator' / 'classifier')


def _tiny_dtn(data_dir, tiny_classifiers, **overrides):
  config = load(os.path.join(REPO, 'configs', 'dtn_synth_mnist.py'), 'tiny')
  config.data.data_dir = data_dir
  config.model.f_checkpoint, config.eval.evaluator_checkpoint = tiny_classifiers
  return apply_overrides(config, overrides)


@pytest.mark.parametrize('overrides', [
    {},
    {'model.d.ternary': False},
    {'model.generator_input': 'pixels', 'model.d.ternary': False,
     'loss.beta': 0.0, 'loss.target_through_g': False},
], ids=['dtn', 'binary_d', 'baseline'])
def test_tiny_dtn_runs_end_to_end_and_keeps_f_frozen(data_dir,
                                                     tiny_classifiers,
                                                     tmp_path, overrides):
  config = _tiny_dtn(data_dir, tiny_classifiers, **overrides)
  metrics = train.train_and_evaluate(config, str(tmp_path))
  assert 0.0 <= metrics['translated_accuracy'] <= 1.0
  assert 0.0 <= metrics['knn_accuracy'] <= 1.0
  assert os.path.exists(tmp_path / 'samples' / 'latest.png')
  _, f_variables, _ = checkpoints.load_classifier(tiny_classifiers[0])
  manager = checkpoints.TrainCheckpointer(str(tmp_path))
  state = manager.manager.restore(manager.manager.latest_step())
  manager.close()
  for a, b in zip(jax.tree.leaves(state['params']['f']),
                  jax.tree.leaves(f_variables['params']['encoder'])):
    np.testing.assert_array_equal(a, b)


def test_missing_f_checkpoint_is_named(data_dir, tiny_classifiers, tmp_path):
  config = _tiny_dtn(data_dir, tiny_classifiers,
                     **{'model.f_checkpoint': str(tmp_path / 'no_f')})
  with pytest.raises(checkpoints.CheckpointError, match='model.f_checkpoint'):
    train.train_and_evaluate(config, str(tmp_path / 'run'))
