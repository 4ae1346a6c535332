"""SIGAN: attention maps, WGAN losses and constraints by hand, the every-t
classification update, the shared encoder, and a tiny end-to-end run."""

import dataclasses
import os

import flax
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from xdomain import checkpoints
from xdomain import config_lib
from xdomain import errors
from xdomain import losses
from xdomain import optim
from xdomain import steps
from xdomain import train

from conftest import apply_overrides, changed_networks, random_batch
from test_configs import load, REPO


# --- Losses against hand-computed values ---------------------------------------

def test_attention_maps_hand_computed_8x8_and_4x4():
  # 8x8 map: channel values +1 and -2 at every position -> |1| + |-2| = 3,
  # except position (0, 0) where the channels are 0.5 and 0 -> 0.5.
  t8 = np.stack([np.ones((8, 8)), -2 * np.ones((8, 8))], -1)
  t8[0, 0] = [0.5, 0.0]
  p8 = losses.attention_map(jnp.asarray(t8[None]))
  assert p8.shape == (1, 8, 8)
  expected8 = np.full((8, 8), 3.0)
  expected8[0, 0] = 0.5
  np.testing.assert_allclose(p8[0], expected8)
  # 4x4 map over 3 channels: sum of |arange|.
  t4 = np.arange(48, dtype=np.float32).reshape(1, 4, 4, 3) - 24.0
  p4 = losses.attention_map(jnp.asarray(t4))
  np.testing.assert_allclose(p4, np.abs(t4).sum(-1))
  # L2-normalised: unit norm per example.
  unit = losses.attention_map(jnp.asarray(t4), normalize=True)
  np.testing.assert_allclose(np.sqrt((unit ** 2).sum()), 1.0, rtol=1e-6)
  # L_Attention sums the MSE of both scales (eq. 10): maps 3 vs 1 at 8x8
  # (MSE 4, but 0.5 vs 1 at one of 64 positions) and equal maps at 4x4.
  g8 = np.ones((1, 8, 8, 1))
  loss = losses.attention_loss([jnp.asarray(t8[None]), jnp.asarray(t4)],
                               [jnp.asarray(g8), jnp.asarray(t4)])
  np.testing.assert_allclose(loss, (63 * 4.0 + 0.25) / 64, rtol=1e-6)
  with pytest.raises(ValueError, match='scales'):
    losses.attention_loss([jnp.asarray(t4)], [jnp.asarray(g8)])


def test_wgan_losses_hand_computed():
  real, fake = jnp.array([1.0, 3.0]), jnp.array([-1.0, 0.0, 1.0])
  # Critic maximises E[D(real)] - E[D(fake)] = 2 - 0: its loss is -2.
  np.testing.assert_allclose(losses.wgan_critic_loss(real, fake), -2.0)
  np.testing.assert_allclose(losses.wgan_generator_loss(fake), 0.0)
  np.testing.assert_allclose(losses.wgan_generator_loss(real), -2.0)


def test_gradient_penalty_of_a_linear_critic():
  # D(x) = <w, x> has gradient w everywhere: penalty (|w| - 1)^2.
  w = jnp.full((1, 2, 2, 1), 1.0)  # |w| = 2
  critic = lambda x: jnp.sum(x * w, axis=(1, 2, 3))
  real, fake = jnp.ones((5, 2, 2, 1)), jnp.zeros((5, 2, 2, 1))
  np.testing.assert_allclose(
      losses.gradient_penalty(critic, real, fake, jax.random.key(0)), 1.0,
      rtol=1e-5)


def test_weight_clipping_keeps_params_in_range():
  tx = optax.chain(optax.sgd(1.0), optim.clip_params(0.01))
  params = {'w': jnp.array([0.0, 0.005, -0.005])}
  state = tx.init(params)
  grads = {'w': jnp.array([1.0, -0.003, 0.002])}
  updates, _ = tx.update(grads, state, params)
  new = optax.apply_updates(params, updates)
  np.testing.assert_allclose(new['w'], [-0.01, 0.008, -0.007], atol=1e-7)


def test_lr_scale_multiplies_one_networks_updates():
  cfg = config_lib.optimizer('sgd', 1.0, b1=0.0)
  cfg.lr_scale = {'encoder': 0.1}
  tx = optim.make_optimizer(cfg, 10)
  params = {'encoder': jnp.ones(2), 'g': jnp.ones(2)}
  grads = {'encoder': jnp.array([1.0, 2.0]), 'g': jnp.array([1.0, 2.0])}
  updates, _ = tx.update(grads, tx.init(params), params)
  np.testing.assert_allclose(updates['encoder'], [-0.1, -0.2], rtol=1e-6)
  np.testing.assert_allclose(updates['g'], [-1.0, -2.0], rtol=1e-6)
  cfg.lr_scale = {'head': 0.5}
  tx = optim.make_optimizer(cfg, 10)
  with pytest.raises(errors.ConfigError, match="'head'"):
    tx.update(grads, tx.init(params), params)


@pytest.mark.parametrize('name', ['sigan_synth_mnist.py', 'sigan_digits.py'])
def test_short_variant_keeps_the_papers_losses(name):
  paper = load(os.path.join(REPO, 'configs', name))
  short = load(os.path.join(REPO, 'configs', name), 'short')
  config_lib.validate(short)
  for key in ('gan_weight', 'alpha', 'beta', 'gamma', 'tv_exponent',
              'label_weight', 'gp_weight'):
    assert short.loss[key] == paper.loss[key], key
  assert (paper.loss.cls_every, short.loss.cls_every) == (20, 1)
  assert short.optim.adv.lr_scale.encoder == 0.05
  assert {short.optim[g].name for g in ('critic', 'adv', 'cls')} == {'rmsprop'}
  assert short.optim.critic.weight_clip == paper.optim.critic.weight_clip


# --- The method on the shared loop ----------------------------------------------

def _tiny_sigan(data_dir, tiny_classifiers, **overrides):
  config = load(os.path.join(REPO, 'configs', 'sigan_synth_mnist.py'), 'tiny')
  config.data.data_dir = data_dir
  config.model.f_checkpoint, config.eval.evaluator_checkpoint = tiny_classifiers
  return apply_overrides(config, overrides)


def _built(config):
  from xdomain import methods  # pylint: disable=g-import-not-at-top
  return methods.build(config, '/tmp/unused')


def _run(config, method, schedule, state, steps_to_run):
  """Runs the compiled step on random batches; returns the host states
  after each step and the metrics."""
  step = steps.make_train_step(dataclasses.replace(method, schedule=schedule),
                               seed=0, donate=False)
  replicated = steps.replicate(state)
  states, metrics = [], []
  for i in range(steps_to_run):
    replicated, m = step(replicated, random_batch(config, i))
    states.append(steps.to_host(replicated))
    metrics.append(steps.to_host(m))
  return states, metrics


@pytest.fixture
def tiny(data_dir, tiny_classifiers):
  config = _tiny_sigan(data_dir, tiny_classifiers)
  method = _built(config)
  state = steps.init_state(method, jax.random.key(0),
                           jax.tree.map(lambda x: x[0], random_batch(config)))
  return config, method, state


def test_encoder_is_shared_and_groups_update_their_networks(tiny):
  config, method, state = tiny
  # One encoder, one head, restored from the pretrained classifier.
  assert set(state['params']) == {'encoder', 'head', 'g', 'd'}
  _, pretrained, _ = checkpoints.load_classifier(config.model.f_checkpoint)
  for a, b in zip(jax.tree.leaves(state['params']['encoder']),
                  jax.tree.leaves(pretrained['params']['encoder'])):
    np.testing.assert_array_equal(a, b)
  (after,), _ = _run(config, method, ('critic',), state, 1)
  assert changed_networks(state, after) == {'d'}
  (after,), _ = _run(config, method, ('adv',), state, 1)
  assert changed_networks(state, after) == {'encoder', 'g'}
  # cls (every t = 2): its first update is at iteration 2; F stays fixed.
  _, after = _run(config, method, ('cls',), state, 2)[0]
  assert changed_networks(state, after) == {'encoder'}
  # Both paths read the same encoder: changing it changes G's input and
  # the classifier's features alike (one set of parameters, no copy).
  assert 'encoder' in method.shared.networks
  assert 'encoder' in method.groups['cls'].networks


def test_classification_update_runs_exactly_every_t_iterations(tiny):
  config, method, state = tiny
  assert config.loss.cls_every == 2
  states, metrics = _run(config, method, ('cls',), state, 4)
  updated = [float(m['cls/updated']) for m in metrics]
  assert updated == [0.0, 1.0, 0.0, 1.0]
  assert not changed_networks(state, states[0])  # iteration 1: skipped
  assert changed_networks(state, states[1]) == {'encoder'}  # iteration 2
  assert not changed_networks(states[1], states[2])  # iteration 3: skipped
  assert changed_networks(states[2], states[3]) == {'encoder'}  # iteration 4
  assert float(metrics[0]['cls/loss']) == 0.0  # zeros when skipped


def test_train_f_head_switch_updates_f_too(data_dir, tiny_classifiers):
  config = _tiny_sigan(data_dir, tiny_classifiers,
                       **{'model.train_f_head': True, 'loss.cls_every': 1})
  method = _built(config)
  state = steps.init_state(method, jax.random.key(0),
                           jax.tree.map(lambda x: x[0], random_batch(config)))
  (after,), _ = _run(config, method, ('cls',), state, 1)
  assert changed_networks(state, after) == {'encoder', 'head'}


def test_source_label_weight_adds_fs_cross_entropy_on_source(
    data_dir, tiny_classifiers):
  config = _tiny_sigan(data_dir, tiny_classifiers,
                       **{'loss.cls_every': 1, 'loss.source_label_weight': 0.5})
  method = _built(config)
  state = steps.init_state(method, jax.random.key(0),
                           jax.tree.map(lambda x: x[0], random_batch(config)))
  _, (m,) = _run(config, method, ('cls',), state, 1)
  # By hand: the pretrained classifier F o E (the state's E and F before the
  # update) in training mode on the same source batch.
  model, variables, _ = checkpoints.load_classifier(config.model.f_checkpoint)
  source = random_batch(config, 0)['source']
  logits, _ = model.apply(variables, source['image'][0], train=True,
                          mutable=['batch_stats'])
  expected = optax.softmax_cross_entropy_with_integer_labels(
      logits, source['label'][0]).mean()
  np.testing.assert_allclose(m['cls/L_source'], expected, rtol=1e-4)
  np.testing.assert_allclose(
      m['cls/loss'], config.loss.label_weight * m['cls/L_LabelConst'] +
      0.5 * m['cls/L_source'], rtol=1e-5)


@pytest.mark.parametrize('detach', [False, True])
def test_label_detach_translation_cuts_the_generation_path(
    data_dir, tiny_classifiers, detach):
  config = _tiny_sigan(data_dir, tiny_classifiers,
                       **{'loss.label_detach_translation': detach})
  method = _built(config)
  state = steps.init_state(method, jax.random.key(0),
                           jax.tree.map(lambda x: x[0], random_batch(config)))
  loss_fn = method.groups['cls'].loss_fn

  def grads(params, batch_stats, batch):
    return jax.grad(lambda p: loss_fn(p, batch_stats, batch,
                                      jax.random.key(0), None)[0])(params)

  g = jax.pmap(grads, axis_name=steps.AXIS)(
      steps.replicate(state['params']), steps.replicate(state['batch_stats']),
      random_batch(config))
  norm = lambda tree: float(sum(jnp.abs(x).sum()
                                for x in jax.tree.leaves(tree)))
  # E always learns to read G(E(x_s)); the gradient reaches G (and E's
  # first application) only through generating it, which the switch cuts.
  assert norm(g['encoder']) > 0
  assert (norm(g['g']) == 0) == detach


def test_tiny_sigan_runs_end_to_end(data_dir, tiny_classifiers, tmp_path):
  config = _tiny_sigan(data_dir, tiny_classifiers)
  metrics = train.train_and_evaluate(config, str(tmp_path))
  assert 0.0 <= metrics['translated_accuracy'] <= 1.0
  assert 0.0 <= metrics['adaptation_accuracy'] <= 1.0
  assert os.path.exists(tmp_path / 'samples' / 'latest.png')
  # The adapted F o E is exported as a classifier.
  model, variables, meta = checkpoints.load_classifier(
      str(tmp_path / 'classifier'))
  assert meta['adaptation_accuracy'] == metrics['adaptation_accuracy']
  logits = model.apply(variables, np.zeros((2, 32, 32, 3), np.float32))
  assert logits.shape == (2, 10)


def test_gradient_penalty_variant_runs(data_dir, tiny_classifiers, tmp_path):
  config = _tiny_sigan(data_dir, tiny_classifiers,
                       **{'loss.gp_weight': 10.0,
                          'optim.critic.weight_clip': 0.0})
  metrics = train.train_and_evaluate(config, str(tmp_path))
  assert 0.0 <= metrics['adaptation_accuracy'] <= 1.0


def test_missing_pretrained_encoder_is_named(data_dir, tiny_classifiers,
                                             tmp_path):
  config = _tiny_sigan(data_dir, tiny_classifiers,
                       **{'model.f_checkpoint': str(tmp_path / 'none')})
  with pytest.raises(checkpoints.CheckpointError, match='model.f_checkpoint'):
    train.train_and_evaluate(config, str(tmp_path / 'run'))


