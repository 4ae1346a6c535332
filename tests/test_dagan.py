"""DA-GAN: eq. 4's masks against hand-computed values, gradients into the
localiser, what each update group and each discriminator changes, the
losses against hand-computed values, a tiny end-to-end run."""

import dataclasses
import os

import flax
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from xdomain import methods
from xdomain import steps
from xdomain import train
from xdomain.methods import dagan
from xdomain.models import dagan as dagan_models
from conftest import apply_overrides, changed_networks, random_batch
from test_configs import load, REPO


def _sigmoid(x):
  return 1.0 / (1.0 + np.exp(-x))


def test_mask_of_eq_4_matches_hand_computed_values():
  # One box on an 8-pixel image: centre (4, 2), half sizes (2, 1), k = 3.
  mask = dagan_models.attention_masks(
      jnp.array([[[4.0, 2.0]]]), jnp.array([[[2.0, 1.0]]]), 8, 3.0)[0, 0]
  u = np.arange(8) + 0.5
  mx = _sigmoid(3 * (u - 2.0)) - _sigmoid(3 * (u - 6.0))
  my = _sigmoid(3 * (u - 1.0)) - _sigmoid(3 * (u - 3.0))
  np.testing.assert_allclose(mask, np.outer(my, mx), rtol=1e-5, atol=1e-7)
  # Half-way at the edges, ~1 inside, ~0 far outside; a steeper k is sharper.
  edge = dagan_models.attention_masks(jnp.array([[[16.0, 16.0]]]),
                                      jnp.array([[[8.0, 8.0]]]), 32, 50.0)
  row = np.asarray(edge[0, 0, 16])
  assert row[3] < 1e-6 and row[12] > 1 - 1e-6 and row[28] < 1e-6
  soft = dagan_models.attention_masks(jnp.array([[[16.0, 16.0]]]),
                                      jnp.array([[[8.0, 8.0]]]), 32, 0.5)
  assert 0.05 < float(soft[0, 0, 16, 7]) < float(edge[0, 0, 16, 8])
  # On a pixel centre that is exactly an edge: sigma(0) = 1/2 (less the
  # far edge's tail).
  half = dagan_models.attention_masks(jnp.array([[[8.5, 8.5]]]),
                                      jnp.array([[[4.0, 4.0]]]), 16, 40.0)
  np.testing.assert_allclose(half[0, 0, 8, 4], 0.5, atol=1e-6)


@pytest.mark.parametrize('inside', [True, False])
def test_boxes_stay_inside_the_image_when_asked(inside):
  """model.box_inside: whatever f_loc outputs, the box lies in the image
  (centres in [w, size - w]); without it a centre reaches the border."""
  encoder = dagan_models.DeepAttentionEncoder(
      widths=(4, 8, 8), box_half_size=10.0, inside=inside)
  x = jnp.zeros((2, 32, 32, 3))
  variables = encoder.init(jax.random.key(0), x)
  _, centres, halves = encoder.apply(variables, x)
  np.testing.assert_allclose(centres, 16.0)  # zero-initialised f_loc
  # An extreme f_loc: every centre pushed as far as it goes, both ways.
  for sign in (1.0, -1.0):
    params = flax.core.unfreeze(variables['params'])
    params['f_loc']['bias'] = sign * 1e3 * jnp.ones_like(
        params['f_loc']['bias'])
    _, centres, halves = encoder.apply({**variables, 'params': params}, x)
    edge = 32.0 - 10.0 if sign > 0 else 10.0
    if not inside:
      edge = 32.0 if sign > 0 else 0.0
    np.testing.assert_allclose(centres, edge, atol=1e-4)
    np.testing.assert_allclose(halves, 10.0)


def test_soft_cross_entropy_and_binary_gan_losses_hand_computed():
  from xdomain import losses  # pylint: disable=g-import-not-at-top
  target = jnp.log(jnp.array([[0.25, 0.75]]))
  fake = jnp.log(jnp.array([[0.5, 0.5]]))
  # -(0.25 log 0.5 + 0.75 log 0.5) = log 2
  np.testing.assert_allclose(dagan.soft_cross_entropy(target, fake),
                             np.log(2.0), rtol=1e-6)
  real, fake_logit = jnp.array([[0.0]]), jnp.array([[0.0]])
  # -log sigmoid(0) - log(1 - sigmoid(0)) = 2 log 2
  np.testing.assert_allclose(losses.binary_d_loss([fake_logit], real),
                             2 * np.log(2.0), rtol=1e-6)
  np.testing.assert_allclose(losses.binary_g_loss([jnp.array([[2.0]])]),
                             np.log1p(np.exp(-2.0)), rtol=1e-6)


def _tiny(data_dir, tiny_classifiers, **overrides):
  config = load(os.path.join(REPO, 'configs', 'dagan_synth_mnist.py'), 'tiny')
  config.data.data_dir = data_dir
  config.eval.evaluator_checkpoint = tiny_classifiers[1]
  return apply_overrides(config, overrides)


def _state(config):
  method = methods.build(config, '/tmp/unused')
  batch = random_batch(config)
  state = steps.init_state(method, jax.random.key(0),
                           jax.tree.map(lambda x: x[0], batch))
  return method, batch, state


def _on_one_device(fn, params, stats, batch):
  """fn(params, stats, one device's batch) under the device axis that the
  networks' batch norm averages over (as in the pmapped step)."""
  out = jax.vmap(fn, in_axes=(None, None, 0), axis_name=steps.AXIS)(
      params, stats, batch)
  return jax.tree.map(lambda x: x[0], out)


def _one_step(method, state, batch, schedule):
  step = steps.make_train_step(dataclasses.replace(method, schedule=schedule),
                               seed=0, donate=False)
  after, metrics = step(flax.jax_utils.replicate(state), batch)
  return flax.jax_utils.unreplicate(after), metrics


def test_each_group_and_each_discriminator_changes_only_its_own(
    data_dir, tiny_classifiers):
  config = _tiny(data_dir, tiny_classifiers)
  method, batch, state = _state(config)
  assert set(state['params']) == {'dae', 'g', 'cls', 'd1', 'd2'}
  for schedule, networks in ((('disc',), {'d1', 'd2'}),
                             (('gen',), {'dae', 'g', 'cls'})):
    after, _ = _one_step(method, state, batch, schedule)
    assert changed_networks(state, after) == networks
  # D1's loss reaches D1 only, D2's D2 only.
  for weights, own in (({'loss.gan_t': 0.0}, {'d1'}),
                       ({'loss.gan_s': 0.0}, {'d2'})):
    method, batch, state = _state(_tiny(data_dir, tiny_classifiers,
                                        **weights))
    after, _ = _one_step(method, state, batch, ('disc',))
    assert changed_networks(state, after) == own


def test_gradients_reach_the_localiser_through_the_masks(data_dir,
                                                         tiny_classifiers):
  config = _tiny(data_dir, tiny_classifiers, **{'model.steepness': 0.5,
                                                'model.predict_box_size': True})
  method, batch, state = _state(config)
  gen = method.groups['gen']

  def loss(p, stats, one):
    shared, _ = method.shared.fn(p, stats, one, None)
    return gen.loss_fn(p, stats, one, None, shared)[0]

  grads = _on_one_device(jax.grad(loss), state['params'],
                         state['batch_stats'], batch)['dae']['f_loc']
  assert float(jnp.abs(grads['kernel']).sum()) > 0
  assert float(jnp.abs(grads['bias'][:2]).sum()) > 0  # the centre
  assert float(jnp.abs(grads['bias'][2:]).sum()) > 0  # the size
  # Without attention there is no localiser.
  _, _, plain = _state(_tiny(data_dir, tiny_classifiers,
                             **{'model.attention': False}))
  assert 'f_loc' not in plain['params']['dae']


def test_losses_of_the_gen_update_match_hand_computed_values(
    data_dir, tiny_classifiers):
  config = _tiny(data_dir, tiny_classifiers, **{'loss.distance': 'mse'})
  method, batch, state = _state(config)
  params, stats = state['params'], state['batch_stats']

  def gen_pass(p, stats, one):
    shared, _ = method.shared.fn(p, stats, one, None)
    loss, aux = method.groups['gen'].loss_fn(p, stats, one, None, shared)
    return shared, loss, aux['metrics']

  shared, loss, m = _on_one_device(gen_pass, params, stats, batch)
  n = config.per_device_batch_size
  # L_cst / L_sym: mse between DAE(x) and DAE(F(x)) (training-mode DAE).
  dae = dagan_models.DeepAttentionEncoder(
      widths=tuple(config.model.dae.widths), regions=1, attention=True,
      box_half_size=config.model.box_half_size,
      steepness=config.model.steepness,
      fixed_scale=config.model.dae.fixed_scale)
  variables = {'params': params['dae'], 'batch_stats': stats['dae']}
  z_fake = dae.apply(variables, shared['fakes'], train=True,
                     mutable=['batch_stats'])[0][0]
  np.testing.assert_allclose(
      m['L_cst'], np.mean((shared['z'][:n] - z_fake[:n]) ** 2), rtol=1e-4)
  np.testing.assert_allclose(
      m['L_sym'], np.mean((shared['z'][n:] - z_fake[n:]) ** 2), rtol=1e-4)
  w = config.loss
  np.testing.assert_allclose(
      loss, w.gan_s * m['L_GAN_s'] + w.gan_t * m['L_GAN_t'] +
      w.alpha * m['L_cst'] + w.beta * m['L_sym'] + w.geometric * m['L_geo'],
      rtol=1e-5)
  # The geometric regulariser: the source labels' cross-entropy, ~log 10
  # for an untrained classifier.
  assert 1.0 < float(m['L_geo']) < 5.0


def test_classifier_distance_is_the_soft_cross_entropy_of_cls(
    data_dir, tiny_classifiers):
  """d = 'classifier' (Table 4's ResBlock d): L_cst = CE of cls(DAE(F(s)))
  against softmax(cls(DAE(s))), by hand from the networks' outputs."""
  config = _tiny(data_dir, tiny_classifiers)
  assert config.loss.distance == 'classifier'  # the default
  method, batch, state = _state(config)
  params, stats = state['params'], state['batch_stats']

  def gen_pass(p, stats, one):
    shared, _ = method.shared.fn(p, stats, one, None)
    _, aux = method.groups['gen'].loss_fn(p, stats, one, None, shared)
    return shared, aux['metrics']

  shared, m = _on_one_device(gen_pass, params, stats, batch)
  n = config.per_device_batch_size
  dae = dagan_models.DeepAttentionEncoder(
      widths=tuple(config.model.dae.widths),
      box_half_size=config.model.box_half_size,
      steepness=config.model.steepness, fixed_scale=True)
  z_fake = dae.apply({'params': params['dae'], 'batch_stats': stats['dae']},
                     shared['fakes'], train=True,
                     mutable=['batch_stats'])[0][0]
  cls = dagan_models.ResBlockClassifier(res_blocks=config.model.cls_res_blocks)
  cls_vars = {'params': params['cls'], 'batch_stats': stats['cls']}
  for part, key in ((slice(0, n), 'L_cst'), (slice(n, None), 'L_sym')):
    logits = cls.apply(cls_vars, jnp.concatenate(
        [shared['z'][part], z_fake[part]]), train=True,
                       mutable=['batch_stats'])[0]
    target = np.asarray(jax.nn.softmax(logits[:n]))
    log_p = np.asarray(jax.nn.log_softmax(logits[n:]))
    np.testing.assert_allclose(m[key], -(target * log_p).sum(-1).mean(),
                               rtol=1e-4)


def test_fixed_scale_drops_only_the_last_batch_norms_scale_and_offset():
  for fixed in (True, False):
    encoder = dagan_models.Encoder(widths=(4, 8, 8), fixed_scale=fixed)
    params = encoder.init(jax.random.key(0), jnp.zeros((2, 32, 32, 3)))[
        'params']
    assert set(params['BatchNorm_0']) == {'scale', 'bias'}
    assert set(params['BatchNorm_1']) == {'scale', 'bias'}
    assert set(params.get('BatchNorm_2', {})) == (
        set() if fixed else {'scale', 'bias'})


@pytest.mark.parametrize('trains_metric', [True, False])
def test_consistency_trains_the_metric_only_when_asked(
    data_dir, tiny_classifiers, trains_metric):
  """model.consistency_trains_metric=False: L_cst's gradient reaches G (and
  the DAE as G's encoder) but not the classifier that measures it."""
  config = _tiny(data_dir, tiny_classifiers, **{
      'model.consistency_trains_metric': trains_metric, 'loss.gan_s': 0.0,
      'loss.gan_t': 0.0, 'loss.beta': 0.0, 'loss.geometric': 0.0,
      'loss.alpha': 1.0})
  method, batch, state = _state(config)

  def loss(p, stats, one):
    shared, _ = method.shared.fn(p, stats, one, None)
    return method.groups['gen'].loss_fn(p, stats, one, None, shared)[0]

  grads = _on_one_device(jax.grad(loss), state['params'],
                         state['batch_stats'], batch)
  norm = lambda tree: float(sum(jnp.abs(x).sum()
                                for x in jax.tree.leaves(tree)))
  assert norm(grads['g']) > 0 and norm(grads['dae']) > 0
  assert (norm(grads['cls']) > 0) == trains_metric


def test_grid_boxes_are_drawn_where_the_region_is():
  images = -np.ones((1, 32, 32, 3), np.float32)
  drawn = dagan.draw_boxes(images, np.array([[[16.0, 10.0]]]),
                           np.array([[[4.0, 2.0]]]))
  np.testing.assert_array_equal(drawn[0, 8, 12:21], [(1, -1, -1)] * 9)
  np.testing.assert_array_equal(drawn[0, 12, 12], (1, -1, -1))
  np.testing.assert_array_equal(drawn[0, 10, 16], (-1, -1, -1))  # inside
  np.testing.assert_array_equal(images, -1)  # the input is not drawn on


def test_tiny_dagan_runs_end_to_end_with_boxes_and_curves(
    data_dir, tiny_classifiers, tmp_path):
  config = _tiny(data_dir, tiny_classifiers,
                 **{'loss.distance': 'classifier', 'model.ema_decay': 0.9})
  metrics = train.train_and_evaluate(config, str(tmp_path))
  for key in ('translated_accuracy', 'knn_accuracy', 'adaptation_accuracy'):
    assert 0.0 <= metrics[key] <= 1.0
  for path in ('samples/latest.png', 'curves.png', 'results.json'):
    assert os.path.exists(tmp_path / path)


@pytest.mark.parametrize('key,value', [('loss.distance', 'l3'),
                                       ('model.regions', 0),
                                       ('model.target_channels', 2)])
def test_bad_values_are_named(data_dir, tiny_classifiers, key, value):
  from xdomain import errors  # pylint: disable=g-import-not-at-top
  with pytest.raises(errors.ConfigError, match=key):
    methods.build(_tiny(data_dir, tiny_classifiers, **{key: value}),
                  '/tmp/unused')
