"""XGAN: the gradient reversal, shared blocks, what each update group
changes, the thresholded D, the losses against hand-computed values, the
embedding classifier and a tiny end-to-end run with export."""

import dataclasses
import os

import flax
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from xdomain import errors
from xdomain import methods
from xdomain import steps
from xdomain import train
from xdomain.methods import xgan
from xdomain.models import xgan as nets
from conftest import apply_overrides, changed_networks, random_batch
from test_configs import load, REPO


def test_gradient_reversal_flips_and_scales_only_the_backward_pass():
  x = jnp.array([1.0, -2.0, 3.0])
  w = jnp.array([0.5, 1.0, -1.0])
  np.testing.assert_array_equal(nets.gradient_reversal(x, 0.3), x)
  grad = jax.grad(lambda v: jnp.sum(w * nets.gradient_reversal(v, 0.3)))(x)
  np.testing.assert_allclose(grad, -0.3 * w, rtol=1e-6)


def test_shared_blocks_are_one_name_for_both_domains():
  names = nets.block_names(shared_encoder_blocks=2, shared_decoder_blocks=2)
  assert names['e1'] == ['e1_b0', 'e1_b1', 'e_b2', 'e_b3']
  assert names['e2'] == ['e2_b0', 'e2_b1', 'e_b2', 'e_b3']
  assert names['d1'] == ['d_b0', 'd_b1', 'd1_b2', 'd1_b3']
  assert names['d2'] == ['d_b0', 'd_b1', 'd2_b2', 'd2_b3']
  none = nets.block_names(0, 0)
  assert not set(none['e1']) & set(none['e2'])
  assert not set(none['d1']) & set(none['d2'])
  full = nets.block_names(nets.NUM_BLOCKS, 2)
  assert full['e1'] == full['e2']


def _tiny(data_dir, tiny_classifiers, **overrides):
  config = load(os.path.join(REPO, 'configs', 'xgan_synth_mnist.py'), 'tiny')
  config.data.data_dir = data_dir
  f, evaluator = tiny_classifiers  # f is a synth_digits/tiny classifier
  config.eval.evaluator_checkpoint = evaluator
  config.eval.reverse_evaluator_checkpoint = f
  config.model.teacher_checkpoint = f
  return apply_overrides(config, overrides)


def _one_step(method, config, schedule):
  batch = random_batch(config)
  state = steps.init_state(method, jax.random.key(0),
                           jax.tree.map(lambda x: x[0], batch))
  step = steps.make_train_step(
      dataclasses.replace(method, schedule=schedule), seed=0, donate=False)
  after, metrics = step(flax.jax_utils.replicate(state), batch)
  return state, flax.jax_utils.unreplicate(after), metrics


def test_each_group_changes_only_its_own_networks(data_dir, tiny_classifiers):
  config = _tiny(data_dir, tiny_classifiers, **{'loss.gan': 1.0})
  method = methods.build(config, '/tmp/unused')
  assert method.schedule == ('dann', 'disc', 'ae')
  blocks = {'e1_b0', 'e1_b1', 'e2_b0', 'e2_b1', 'e_b2', 'e_b3',
            'd_b0', 'd_b1', 'd1_b2', 'd1_b3', 'd2_b2', 'd2_b3'}
  for schedule, networks in ((('dann',), {'c_dann'}), (('disc',), {'d'}),
                             (('ae',), blocks)):
    before, after, _ = _one_step(method, config, schedule)
    assert set(before['params']) == blocks | {'c_dann', 'd'}
    assert changed_networks(before, after) == networks, schedule


def test_without_the_gan_there_is_no_discriminator(data_dir,
                                                   tiny_classifiers):
  method = methods.build(_tiny(data_dir, tiny_classifiers), '/tmp/unused')
  assert method.schedule == ('dann', 'ae') and 'disc' not in method.groups


@pytest.mark.parametrize('threshold,skipped', ((-1.0, True), (1.0, False)))
def test_thresholded_d_skips_exactly_when_its_accuracy_is_above(
    data_dir, tiny_classifiers, threshold, skipped):
  config = _tiny(data_dir, tiny_classifiers, **{
      'loss.gan': 1.0, 'model.d.skip_above_accuracy': threshold})
  method = methods.build(config, '/tmp/unused')
  before, after, metrics = _one_step(method, config, ('disc',))
  assert float(metrics['disc/skipped'][0]) == float(skipped)
  assert changed_networks(before, after) == (set() if skipped else {'d'})


def test_ae_losses_match_hand_computed_values(data_dir, tiny_classifiers):
  # (D's batch norm needs the loop's device axis: its loss is checked by
  # the group test; here the teacher's term is on instead.)
  config = _tiny(data_dir, tiny_classifiers, **{
      'loss.teacher': 2.0, 'model.embedding': 128})
  method = methods.build(config, '/tmp/unused')
  batch = jax.tree.map(lambda x: x[0], random_batch(config))
  state = steps.init_state(method, jax.random.key(0), batch)
  params, stats = state['params'], state['batch_stats']
  shared, _ = method.shared.fn(params, stats, batch, None)
  _, aux = method.groups['ae'].loss_fn(params, stats, batch, None, shared)
  m = {k: float(v) for k, v in aux['metrics'].items()}
  s, t = np.asarray(batch['source']['image']), np.asarray(
      batch['target']['image'])
  sh = {k: np.asarray(v) for k, v in shared.items()}
  rec = np.mean((sh['rec_s'] - s) ** 2) + np.mean((sh['rec_t'] - t) ** 2)
  sem = (np.mean((sh['z_fake_t'] - sh['z_s']) ** 2) +
         np.mean((sh['z_fake_s'] - sh['z_t']) ** 2))
  np.testing.assert_allclose(m['L_rec'], rec, rtol=1e-5)
  np.testing.assert_allclose(m['L_sem'], sem, rtol=1e-5)
  # Binary DANN: c_DANN's cross-entropy of [e1(x): 0; e2(y): 1].
  logits = np.asarray(nets.DomainClassifier(
      num_classes=2, hidden=config.model.dann_hidden).apply(
          {'params': params['c_dann']},
          np.concatenate([sh['z_s'], sh['z_t']])))
  labels = np.repeat([0, 1], len(s))
  log_p = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
  np.testing.assert_allclose(m['L_dann'], -log_p[np.arange(len(labels)),
                                                 labels].mean(), rtol=1e-5)
  total = (config.loss.rec * rec + config.loss.sem * sem +
           config.loss.dann * m['L_dann'] + 2.0 * m['L_teacher'])
  assert m['L_teacher'] > 0
  loss, _ = method.groups['ae'].loss_fn(params, stats, batch, None, shared)
  np.testing.assert_allclose(float(loss), total, rtol=1e-5)


def test_the_encoders_are_trained_against_c_dann(data_dir, tiny_classifiers):
  """With only L_dann active, the encoders' gradient is -reversal times
  that of the plain cross-entropy; c_DANN's own update is ordinary."""
  config = _tiny(data_dir, tiny_classifiers, **{
      'loss.rec': 0.0, 'loss.sem': 0.0, 'loss.reversal': 0.5})
  method = methods.build(config, '/tmp/unused')
  batch = jax.tree.map(lambda x: x[0], random_batch(config))
  state = steps.init_state(method, jax.random.key(0), batch)
  params, stats = state['params'], state['batch_stats']

  def ae(p):
    shared, _ = method.shared.fn(p, stats, batch, None)
    return method.groups['ae'].loss_fn(p, stats, batch, None, shared)[0]

  reversed_grad = jax.grad(ae)(params)['e_b3']
  # Reversal factor -1 gives the plain cross-entropy gradient (-(-1) = 1).
  config_plain = _tiny(data_dir, tiny_classifiers, **{
      'loss.rec': 0.0, 'loss.sem': 0.0, 'loss.reversal': -1.0})
  plain_method = methods.build(config_plain, '/tmp/unused')

  def ce(p):
    shared, _ = plain_method.shared.fn(p, stats, batch, None)
    return plain_method.groups['ae'].loss_fn(p, stats, batch, None,
                                             shared)[0]

  plain_grad = jax.grad(ce)(params)['e_b3']
  for a, b in zip(jax.tree.leaves(reversed_grad), jax.tree.leaves(plain_grad)):
    np.testing.assert_allclose(a, -0.5 * b, rtol=1e-4, atol=1e-7)
  # c_DANN's own update is ordinary: its loss decreases along -grad.
  dann = method.groups['dann']
  shared, _ = method.shared.fn(params, stats, batch, None)
  loss0 = dann.loss_fn(params, stats, batch, None, shared)[0]
  g = jax.grad(lambda p: dann.loss_fn(p, stats, batch, None, shared)[0])(
      params)['c_dann']
  moved = {**params, 'c_dann': jax.tree.map(lambda w, d: w - 0.1 * d,
                                            params['c_dann'], g)}
  assert float(dann.loss_fn(moved, stats, batch, None, shared)[0]) < float(
      loss0)


def test_ridge_classifier_on_separable_points():
  train_x = np.array([[0.0, 0.0], [0.1, 0.0], [5.0, 5.0], [5.1, 5.0]])
  train_y = np.array([0, 0, 1, 1])
  test_x = np.array([[0.2, 0.1], [4.9, 5.2]])
  assert xgan.ridge_classifier_accuracy(train_x, train_y, test_x,
                                        np.array([0, 1])) == 1.0
  assert xgan.ridge_classifier_accuracy(train_x, train_y, test_x,
                                        np.array([1, 0])) == 0.0


def test_tiny_xgan_runs_end_to_end_with_both_directions(data_dir,
                                                        tiny_classifiers,
                                                        tmp_path):
  config = _tiny(data_dir, tiny_classifiers, **{'model.dann_classes': 4})
  metrics = train.train_and_evaluate(config, str(tmp_path))
  for key in ('translated_accuracy', 'reverse_accuracy', 'knn_accuracy',
              'embedding_accuracy'):
    assert 0.0 <= metrics[key] <= 1.0
  assert metrics['semantic_distance'] >= 0.0
  for grid in ('samples', 'samples_reverse'):
    assert os.path.exists(tmp_path / grid / 'latest.png')
  assert os.path.exists(tmp_path / 'results.json')


@pytest.mark.parametrize('key,value', (
    ('model.shared_decoder_blocks', 4), ('model.dann_classes', 3),
    ('loss.sem_distance', 'cosine'), ('model.source_channels', 2)))
def test_bad_values_are_named(data_dir, tiny_classifiers, key, value):
  config = _tiny(data_dir, tiny_classifiers, **{key: value})
  with pytest.raises(errors.ConfigError, match=key):
    methods.build(config, '/tmp/unused')
