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
from conftest import (apply_overrides, changed_networks, random_batch,
                      run_on_fake_cpu_devices, tiny_classifier_config)
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


def test_real_label_smoothing_hand_computed():
  """One-sided smoothing moves only the real target's label."""
  zeros = jnp.zeros((2, 3))  # uniform softmax: any label sums to log 3
  np.testing.assert_allclose(
      losses.ternary_d_loss(zeros, zeros, zeros, real_smoothing=0.2),
      3 * math.log(3), rtol=1e-6)
  sure = 20.0 * jnp.eye(3)
  fs, ft, rt = sure[0:1], sure[1:2], sure[2:3]
  # D sure that real is real: log softmax = (-20, -20, 0) up to e^-20, so
  # the real term is 0.1 * 20 + 0.1 * 20 + 0.8 * 0 = 4 (fakes' terms ~ 0).
  np.testing.assert_allclose(
      losses.ternary_d_loss(fs, ft, rt, real_smoothing=0.2), 4.0, rtol=1e-4)
  # Binary: real logit 0 costs log 2 whatever the label; logit 20 with label
  # 0.9 costs 0.1 * 20 (fakes at -20 cost ~0).
  np.testing.assert_allclose(
      losses.binary_d_loss([jnp.full((4, 1), -20.0)], jnp.full((4, 1), 20.0),
                           real_smoothing=0.1), 2.0, rtol=1e-4)


def test_real_label_smoothing_out_of_range_is_named(data_dir,
                                                    tiny_classifiers):
  from xdomain import errors, methods  # pylint: disable=g-import-not-at-top
  config = _tiny_dtn(data_dir, tiny_classifiers,
                     **{'model.d.real_label_smoothing': 1.0})
  with pytest.raises(errors.ConfigError, match='real_label_smoothing'):
    methods.build(config, '/tmp/unused')


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


def test_kl_divergence_hand_computed():
  same = jnp.array([[1.0, 2.0, 3.0]])
  np.testing.assert_allclose(losses.kl_divergence(same, same), 0.0, atol=1e-7)
  # p = (1/2, 1/2), q = (1/4 ... via logits log 1, log 3): q = (1/4, 3/4).
  p_logits = jnp.zeros((1, 2))
  q_logits = jnp.log(jnp.array([[1.0, 3.0]]))
  expected = 0.5 * math.log(0.5 / 0.25) + 0.5 * math.log(0.5 / 0.75)
  np.testing.assert_allclose(losses.kl_divergence(p_logits, q_logits),
                             expected, rtol=1e-6)


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


def test_spectral_norm_discriminator_has_unit_spectral_norm_and_no_bn():
  """normalization='spectral': no batch norm; every layer's kernel is used
  divided by its largest singular value, estimated by power iteration whose
  vector advances only with train=True."""
  d = gan.Discriminator(num_outputs=3, widths=(8, 16, 32),
                        normalization='spectral')
  x = jax.random.normal(jax.random.key(0), (4, 32, 32, 3))
  v = d.init(jax.random.key(1), x)
  assert not any('BatchNorm' in k for k in v['params'])
  stats = v['batch_stats']
  _, frozen = d.apply(v, x, train=False, mutable=['batch_stats'])
  for a, b in zip(jax.tree.leaves(frozen), jax.tree.leaves(stats)):
    np.testing.assert_array_equal(a, b)  # evaluation: no power iteration
  for _ in range(50):
    _, new = d.apply({'params': v['params'], 'batch_stats': stats}, x,
                     train=True, mutable=['batch_stats'])
    stats = new['batch_stats']
  for i, name in enumerate(['Conv_0', 'Conv_1', 'Conv_2', 'Dense_0']):
    kernel = np.asarray(v['params'][name]['kernel'])
    largest = np.linalg.svd(kernel.reshape(-1, kernel.shape[-1]),
                            compute_uv=False)[0]
    sigma = float(stats[f'SpectralNorm_{i}'][f'{name}/kernel/sigma'])
    np.testing.assert_allclose(sigma, largest, rtol=1e-3)
  # D is then the plain network with every kernel divided by its sigma.
  plain = jax.tree.map(lambda a: a, v['params'])
  for i, name in enumerate(['Conv_0', 'Conv_1', 'Conv_2', 'Dense_0']):
    plain[name] = {**plain[name], 'kernel': plain[name]['kernel'] / float(
        stats[f'SpectralNorm_{i}'][f'{name}/kernel/sigma'])}
  h = x
  for name in ['Conv_0', 'Conv_1', 'Conv_2']:
    h = jax.lax.conv_general_dilated(
        h, plain[name]['kernel'], (2, 2), 'SAME',
        dimension_numbers=('NHWC', 'HWIO', 'NHWC')) + plain[name]['bias']
    h = nn.leaky_relu(h, 0.2)
  expected = h.reshape(4, -1) @ plain['Dense_0']['kernel'] + plain[
      'Dense_0']['bias']
  out = d.apply({'params': v['params'], 'batch_stats': stats}, x)
  np.testing.assert_allclose(out, expected, rtol=1e-4, atol=1e-5)
  with pytest.raises(ValueError, match='normalization'):
    gan.Discriminator(normalization='layer').init(jax.random.key(0), x)


def test_projection_discriminator_adds_the_class_embedding_term():
  """num_classes > 0: D(x, y) = Dense(phi(x)) + <embed(y), phi(x)>, linear in
  y; with y = 0 it is the unconditional D with the same other parameters."""
  x = jax.random.normal(jax.random.key(0), (4, 32, 32, 3))
  cond = gan.Discriminator(num_outputs=3, widths=(8, 8, 8), num_classes=10)
  one_hot = lambda c: jax.nn.one_hot(jnp.array(c), 10)
  v = cond.init(jax.random.key(1), x, labels=one_hot([0, 1, 2, 3]))
  plain = gan.Discriminator(num_outputs=3, widths=(8, 8, 8))
  plain_params = {k: w for k, w in v['params'].items()
                  if k != 'class_embedding'}
  np.testing.assert_allclose(
      cond.apply(v, x, labels=jnp.zeros((4, 10))),
      plain.apply({**v, 'params': plain_params}, x), rtol=1e-6)
  base = cond.apply(v, x, labels=jnp.zeros((4, 10)))
  d_a = cond.apply(v, x, labels=one_hot([3, 3, 3, 3])) - base
  d_b = cond.apply(v, x, labels=one_hot([7, 7, 7, 7])) - base
  assert float(jnp.abs(d_a - d_b).max()) > 1e-4  # the class matters
  mixed = cond.apply(v, x, labels=(one_hot([3] * 4) + one_hot([7] * 4)) / 2)
  np.testing.assert_allclose(mixed - base, (d_a + d_b) / 2, rtol=1e-4,
                             atol=1e-5)
  with pytest.raises(ValueError, match='labels'):
    cond.apply(v, x)


def test_class_conditional_d_is_told_f_predicted_classes(data_dir,
                                                         tiny_classifiers):
  """model.d.class_conditional: L_D is the ternary loss of a projection D
  told f's argmax class of x for G(x) and of the real target image itself
  (never a target label); the D update changes only D."""
  from xdomain import steps  # pylint: disable=g-import-not-at-top
  f_module, f_variables, _ = checkpoints.load_classifier(tiny_classifiers[0])
  config = _tiny_dtn(data_dir, tiny_classifiers,
                     **{'model.d.class_conditional': True})
  method, batch = _built(config), random_batch(config)
  one = jax.tree.map(lambda x: x[0], batch)
  state = steps.init_state(method, jax.random.key(0), one)
  assert 'class_embedding' in state['params']['d']
  d = gan.Discriminator(num_outputs=3, widths=tuple(config.model.d.widths),
                        bn_axis_name=steps.AXIS, num_classes=10)
  f_class = lambda im: jax.nn.one_hot(jnp.argmax(
      f_module.apply(f_variables, im, train=False), -1), 10)

  def passes(params, stats, one):
    shared, _ = _shared_pass(method, state, params, stats, one, jax.random.key(1))
    loss = method.groups['disc'].loss_fn(params, stats, one,
                                         jax.random.key(1), shared)[0]
    xs, xt = one['source']['image'], one['target']['image']
    images = jnp.concatenate([shared['fakes'], xt])
    variables = {'params': params['d'], 'batch_stats': stats['d']}

    def expected(labels):
      logits, _ = d.apply(variables, images, train=True, labels=labels,
                          mutable=['batch_stats'])
      return losses.ternary_d_loss(*jnp.split(logits, 3),
                                   config.model.d.real_label_smoothing)
    told = jnp.concatenate([f_class(xs), f_class(xt), f_class(xt)])
    return loss, expected(told), expected(jnp.roll(told, 1, axis=-1))

  loss, expected, wrong = jax.vmap(passes, in_axes=(None, None, 0),
                                   axis_name=steps.AXIS)(
                                       state['params'], state['batch_stats'],
                                       batch)
  np.testing.assert_allclose(loss, expected, rtol=1e-5)
  assert float(jnp.abs(loss - wrong).max()) > 1e-5  # the classes matter
  after_disc, _ = _one_step(method, ('disc',), state, batch)
  assert changed_networks(state, after_disc) == {'d'}


def test_generator_output_scale_clips_a_scaled_tanh():
  z = jax.random.normal(jax.random.key(1), (4, 128)) * 30.0  # saturating
  plain = gan.Generator(channels=1, widths=(8, 8, 8))
  v = plain.init(jax.random.key(0), z)
  tanh_out = plain.apply(v, z)
  scaled = gan.Generator(channels=1, widths=(8, 8, 8), output_scale=1.25)
  out = scaled.apply(v, z)  # same parameters: only the output map differs
  np.testing.assert_allclose(out, np.clip(1.25 * np.asarray(tanh_out), -1, 1),
                             rtol=1e-6, atol=1e-6)
  assert float(jnp.abs(tanh_out).max()) < 1.0  # tanh never reaches -1 or 1
  assert float(jnp.abs(out).max()) == 1.0  # the scaled output does


def test_generator_output_scale_below_one_is_named(data_dir,
                                                   tiny_classifiers):
  from xdomain import errors  # pylint: disable=g-import-not-at-top
  config = _tiny_dtn(data_dir, tiny_classifiers,
                     **{'model.g.output_scale': 0.5})
  with pytest.raises(errors.ConfigError, match='output_scale'):
    _built(config)


def _shared_pass(method, state, params, stats, one, rng):
  """DTN's shared forward pass (G on the batch), given the state's buffers
  (the target bank of loss.nn_anchor) where the method keeps them."""
  extra = (state['buffers'],) if method.shared.reads_buffers else ()
  return method.shared.fn(params, stats, one, rng, *extra)


def _tiny_dtn(data_dir, tiny_classifiers, **overrides):
  config = load(os.path.join(REPO, 'configs', 'dtn_synth_mnist.py'), 'tiny')
  config.data.data_dir = data_dir
  config.model.f_checkpoint, config.eval.evaluator_checkpoint = tiny_classifiers
  return apply_overrides(config, overrides)


@pytest.mark.parametrize('overrides', [
    {},
    {'model.d.ternary': True, 'schedule': ('disc', 'gen'),
     'model.g.ema_decay': 0.0},
    {'model.generator_input': 'pixels', 'model.d.ternary': False,
     'loss.beta': 0.0, 'loss.target_through_g': False},
], ids=['dtn', 'paper_ternary_d', 'baseline'])
def test_tiny_dtn_runs_end_to_end_and_keeps_f_frozen(data_dir,
                                                     tiny_classifiers,
                                                     tmp_path, overrides):
  config = _tiny_dtn(data_dir, tiny_classifiers, **overrides)
  metrics = train.train_and_evaluate(config, str(tmp_path))
  assert 0.0 <= metrics['translated_accuracy'] <= 1.0
  assert 0.0 <= metrics['knn_accuracy'] <= 1.0
  assert os.path.exists(tmp_path / 'samples' / 'latest.png')
  with open(tmp_path / 'curves.png', 'rb') as f:  # the learning curves
    assert f.read(4) == b'\x89PNG'
  from xdomain import curves  # pylint: disable=g-import-not-at-top
  history = curves.read(str(tmp_path))
  assert [s for s, _ in history['eval/translated_accuracy']] == [3]
  assert 'disc/accuracy_fake' in history and 'gen/L_CONST' in history
  if not overrides:  # the error tool reads the finished run
    import subprocess  # pylint: disable=g-import-not-at-top
    import sys  # pylint: disable=g-import-not-at-top
    result = subprocess.run(
        [sys.executable, '-m', 'xdomain.tools.translation_errors',
         f'--workdir={tmp_path}', '--limit=64'], cwd=REPO, check=False,
        capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.startswith('all  n=64  evaluator=')
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


# --- The compiled step: what each update group may change ---------------------

def _built(config):
  from xdomain import methods  # pylint: disable=g-import-not-at-top
  return methods.build(config, '/tmp/unused')


def _one_step(method, schedule, state, batch):
  import dataclasses  # pylint: disable=g-import-not-at-top
  import flax  # pylint: disable=g-import-not-at-top
  from xdomain import steps  # pylint: disable=g-import-not-at-top
  step = steps.make_train_step(dataclasses.replace(method, schedule=schedule),
                               seed=0, donate=False)
  new, metrics = step(flax.jax_utils.replicate(state), batch)
  return flax.jax_utils.unreplicate(new), metrics


def test_disc_updates_only_d_gen_only_g_and_f_never(data_dir,
                                                    tiny_classifiers):
  from xdomain import steps  # pylint: disable=g-import-not-at-top
  config = _tiny_dtn(data_dir, tiny_classifiers)
  method = _built(config)
  batch = random_batch(config)
  state = steps.init_state(method, jax.random.key(0),
                           jax.tree.map(lambda x: x[0], batch))
  assert set(state['params']) == {'f', 'g', 'd'}
  after_disc, _ = _one_step(method, ('disc',), state, batch)
  assert changed_networks(state, after_disc) == {'d'}
  after_gen, _ = _one_step(method, ('gen',), state, batch)
  assert changed_networks(state, after_gen) == {'g'}
  after_both, _ = _one_step(method, ('disc', 'gen', 'gen'), state, batch)
  assert changed_networks(state, after_both) == {'d', 'g'}
  for later in (after_disc, after_gen, after_both):  # f and its BN stats
    for a, b in zip(jax.tree.leaves({'p': state['params']['f'],
                                     's': state['batch_stats']['f']}),
                    jax.tree.leaves({'p': later['params']['f'],
                                     's': later['batch_stats']['f']})):
      np.testing.assert_array_equal(a, b)


def test_f_tune_updates_only_f_every_kth_iteration_on_l_const(
    data_dir, tiny_classifiers):
  from xdomain import errors  # pylint: disable=g-import-not-at-top
  from xdomain import steps  # pylint: disable=g-import-not-at-top
  config = _tiny_dtn(data_dir, tiny_classifiers,
                     **{'model.f_tune_every': 2,
                        'optim.f.schedule': 'constant'})
  method = _built(config)
  assert method.schedule == tuple(config.schedule) + ('f',)
  batch = random_batch(config)
  state = steps.init_state(method, jax.random.key(0),
                           jax.tree.map(lambda x: x[0], batch))
  alone = []
  for i in range(4):  # f alone: it updates on iterations 2 and 4 only
    after, metrics = _one_step(method, ('f',), state, random_batch(config, i))
    alone.append((changed_networks(state, after),
                  float(metrics['f/updated'][0])))
    for a, b in zip(jax.tree.leaves(state['batch_stats']['f']),
                    jax.tree.leaves(after['batch_stats']['f'])):
      np.testing.assert_array_equal(a, b)  # f's batch norm stays frozen
    state = after
  assert alone == [(set(), 0.0), ({'f'}, 1.0), (set(), 0.0), ({'f'}, 1.0)]
  # Its loss is L_CONST = mean (f(x) - f(G(x)))^2 of the current f and G.
  params, stats = state['params'], state['batch_stats']

  def loss_and_by_hand(one):  # one device's batch (batch norm's axis bound)
    fakes, _ = _shared_pass(method, state, params, stats, one, None)
    loss, _ = method.groups['f'].loss_fn(params, stats, one, None, fakes)
    f_apply = lambda x: method_f(config, params, stats, x)
    n = one['source']['image'].shape[0]
    return loss, jnp.mean((f_apply(one['source']['image']) -
                           f_apply(fakes['fakes'][:n])) ** 2)
  loss, expected = jax.vmap(loss_and_by_hand, axis_name=steps.AXIS)(batch)
  assert float(loss[0]) > 0
  np.testing.assert_allclose(loss, expected, rtol=1e-5)
  with pytest.raises(errors.ConfigError, match='f_tune_every'):
    _built(_tiny_dtn(data_dir, tiny_classifiers,
                     **{'model.f_tune_every': 2,
                        'model.generator_input': 'pixels'}))


def method_f(config, params, stats, x):
  """f(x) with frozen batch norm, straight from f's export."""
  module, _, _ = checkpoints.load_classifier(config.model.f_checkpoint)
  return module.encoder.apply({'params': params['f'],
                               'batch_stats': stats['f']}, x, train=False)


def test_per_class_report_hand_computed():
  from xdomain import evaluation  # pylint: disable=g-import-not-at-top
  labels = np.array([4, 4, 4, 7])
  lines = evaluation.per_class_report(
      labels, evaluator_preds=np.array([5, 5, 4, 7]),
      f_preds=np.array([4, 4, 4, 1]))
  assert lines == ['all  n=4  evaluator=0.5000  f=0.7500',
                   '4    n=3  evaluator=0.3333  f=1.0000  read as 5',
                   '7    n=1  evaluator=1.0000  f=0.0000  read as -']


def test_thresholded_d_skips_exactly_when_its_accuracy_is_above(
    data_dir, tiny_classifiers):
  from xdomain import steps  # pylint: disable=g-import-not-at-top
  for threshold in (0.0, 0.5):
    config = _tiny_dtn(data_dir, tiny_classifiers,
                       **{'model.d.skip_above_accuracy': threshold,
                          # a learning rate that stays > 0 for 4 steps
                          'optim.disc.schedule': 'constant'})
    method = _built(config)
    state = steps.init_state(method, jax.random.key(0), jax.tree.map(
        lambda x: x[0], random_batch(config)))
    skipped = []
    for i in range(4):
      after, metrics = _one_step(method, ('disc', 'gen'), state,
                                 random_batch(config, i))
      accuracy = float(metrics['disc/accuracy'][0])
      skip = float(metrics['disc/skipped'][0])
      assert skip == float(accuracy > threshold), (threshold, accuracy)
      assert ('d' in changed_networks(state, after)) == (not skip)
      skipped.append(skip)
      state = after
    if threshold == 0.0:
      assert skipped == [1.0] * 4  # D never updates
  config = _tiny_dtn(data_dir, tiny_classifiers)  # default 1: no rule at all
  assert _built(config).groups['disc'].skip_if is None


def test_instance_noise_is_what_d_sees_and_only_d(data_dir,
                                                  tiny_classifiers):
  """model.d.instance_noise: D's losses change with the noise draw (the
  step's key), not without noise; g's translations never see it."""
  from xdomain import steps  # pylint: disable=g-import-not-at-top
  losses_by = {}
  for noise in (0.0, 0.5):
    config = _tiny_dtn(data_dir, tiny_classifiers,
                       **{'model.d.instance_noise': noise})
    method, batch = _built(config), random_batch(config)
    state = steps.init_state(method, jax.random.key(0),
                             jax.tree.map(lambda x: x[0], batch))

    def passes(params, stats, one, rng):
      shared, _ = _shared_pass(method, state, params, stats, one, rng)
      return (shared['fakes'],
              method.groups['disc'].loss_fn(params, stats, one, rng,
                                            shared)[0],
              method.groups['gen'].loss_fn(params, stats, one, rng,
                                           shared)[0])

    run = jax.vmap(passes, in_axes=(None, None, 0, None),
                   axis_name=steps.AXIS)
    losses_by[noise] = [run(state['params'], state['batch_stats'], batch,
                            jax.random.key(k)) for k in (1, 2)]
  quiet, noisy = losses_by[0.0], losses_by[0.5]
  for a, b in zip(quiet[0], quiet[1]):  # no noise: the key does not matter
    np.testing.assert_array_equal(a, b)
  np.testing.assert_array_equal(noisy[0][0], quiet[0][0])  # same G(x)
  for i in (1, 2):  # L_D and L_GANG see D through the noise
    assert float(noisy[0][i][0]) != float(noisy[1][i][0])
    assert float(noisy[0][i][0]) != float(quiet[0][i][0])


def test_spectral_norm_d_is_built_updated_alone_and_bad_values_named(
    data_dir, tiny_classifiers):
  """model.d.normalization='spectral': DTN's D carries no batch norm; D's
  update changes D (weights and power-iteration vectors) and nothing else,
  g's update changes only g; an unknown value is named."""
  from xdomain import errors  # pylint: disable=g-import-not-at-top
  from xdomain import steps  # pylint: disable=g-import-not-at-top
  config = _tiny_dtn(data_dir, tiny_classifiers,
                     **{'model.d.normalization': 'spectral'})
  method, batch = _built(config), random_batch(config)
  state = steps.init_state(method, jax.random.key(0),
                           jax.tree.map(lambda x: x[0], batch))
  assert not any('BatchNorm' in k for k in state['params']['d'])
  assert any('SpectralNorm' in k for k in state['batch_stats']['d'])
  after_disc, _ = _one_step(method, ('disc',), state, batch)
  assert changed_networks(state, after_disc) == {'d'}
  u_before = jax.tree.leaves(state['batch_stats']['d'])
  u_after = jax.tree.leaves(after_disc['batch_stats']['d'])
  assert any(not np.array_equal(a, b) for a, b in zip(u_before, u_after))
  after_gen, _ = _one_step(method, ('gen',), state, batch)
  assert changed_networks(state, after_gen) == {'g'}
  for a, b in zip(u_before, jax.tree.leaves(after_gen['batch_stats']['d'])):
    np.testing.assert_array_equal(a, b)  # g's pass of D is dropped
  config = _tiny_dtn(data_dir, tiny_classifiers,
                     **{'model.d.normalization': 'layer'})
  with pytest.raises(errors.ConfigError, match='model.d.normalization'):
    _built(config)


def test_const_space_logits_is_kl_of_f_classifier_on_x_and_g_x(
    data_dir, tiny_classifiers):
  """loss.const_space='logits': L_CONST = KL(f's class distribution on x ||
  on G(x)), f's own frozen head on its features; 'features' is the MSE."""
  from xdomain import steps  # pylint: disable=g-import-not-at-top
  f_module, f_variables, _ = checkpoints.load_classifier(tiny_classifiers[0])
  for space in ('features', 'logits'):
    config = _tiny_dtn(data_dir, tiny_classifiers,
                       **{'loss.const_space': space})
    method, batch = _built(config), random_batch(config)
    one = jax.tree.map(lambda x: x[0], batch)
    state = steps.init_state(method, jax.random.key(0), one)

    def passes(params, stats, one):
      shared, _ = _shared_pass(method, state, params, stats, one, jax.random.key(1))
      metrics = method.groups['gen'].loss_fn(params, stats, one,
                                             jax.random.key(1), shared)[1]
      return shared['fakes'], metrics['metrics']['L_CONST']

    fakes, l_const = jax.vmap(passes, in_axes=(None, None, 0),
                              axis_name=steps.AXIS)(
                                  state['params'], state['batch_stats'], batch)
    x = one['source']['image']
    fake_s = fakes[0][:x.shape[0]]
    if space == 'logits':
      apply = lambda im: f_module.apply(f_variables, im, train=False)
      p = jax.nn.softmax(apply(x))
      q = jax.nn.softmax(apply(fake_s))
      expected = jnp.mean(jnp.sum(p * (jnp.log(p) - jnp.log(q)), -1))
    else:
      apply = lambda im: f_module.apply(f_variables, im, train=False,
                                        method='features')
      expected = jnp.mean(jnp.square(apply(x) - apply(fake_s)))
    np.testing.assert_allclose(l_const[0], expected, rtol=2e-4, atol=1e-6)
  with pytest.raises(Exception, match='const_space'):
    _built(_tiny_dtn(data_dir, tiny_classifiers,
                     **{'loss.const_space': 'pixels'}))


def test_const_f_checkpoints_average_l_const_over_every_f(
    data_dir, tiny_classifiers):
  """model.const_f_checkpoints: L_CONST = the mean over f and each extra
  frozen classifier of the MSE of its features on x and on G(x); the extra
  fs are in no update group; with loss.const_space=logits it is refused."""
  from xdomain import errors  # pylint: disable=g-import-not-at-top
  from xdomain import steps  # pylint: disable=g-import-not-at-top
  extra = tiny_classifiers[1]  # any classifier export: here the evaluator
  config = _tiny_dtn(data_dir, tiny_classifiers,
                     **{'model.const_f_checkpoints': (extra,)})
  method, batch = _built(config), random_batch(config)
  one = jax.tree.map(lambda x: x[0], batch)
  state = steps.init_state(method, jax.random.key(0), one)
  assert set(state['params']) == {'f', 'g', 'd'}

  def passes(params, stats, one):
    shared, _ = _shared_pass(method, state, params, stats, one, jax.random.key(1))
    metrics = method.groups['gen'].loss_fn(params, stats, one,
                                           jax.random.key(1), shared)[1]
    return shared['fakes'], metrics['metrics']

  fakes, metrics = jax.vmap(passes, in_axes=(None, None, 0),
                            axis_name=steps.AXIS)(
                                state['params'], state['batch_stats'], batch)
  x = one['source']['image']
  fake_s = fakes[0][:x.shape[0]]
  per_f = []
  for path in tiny_classifiers:
    module, variables, _ = checkpoints.load_classifier(path)
    apply = lambda im, m=module, v=variables: m.apply(v, im, train=False,
                                                      method='features')
    per_f.append(jnp.mean(jnp.square(apply(x) - apply(fake_s))))
  np.testing.assert_allclose(metrics['L_CONST_f1'][0], per_f[1], rtol=2e-4,
                             atol=1e-6)
  np.testing.assert_allclose(metrics['L_CONST'][0], (per_f[0] + per_f[1]) / 2,
                             rtol=2e-4, atol=1e-6)
  # The extra f's term reaches g: its gradient w.r.t. g is not zero.
  def extra_term(g_params, one):
    params = {**state['params'], 'g': g_params}
    return passes(params, state['batch_stats'], one)[1]['L_CONST_f1']
  grads = jax.vmap(jax.grad(extra_term), in_axes=(None, 0),
                   axis_name=steps.AXIS)(state['params']['g'], batch)
  assert any(float(jnp.abs(leaf).max()) > 0
             for leaf in jax.tree.leaves(grads))
  after_gen, _ = _one_step(method, ('gen',), state, batch)
  assert changed_networks(state, after_gen) == {'g'}
  with pytest.raises(errors.ConfigError, match='const_f_checkpoints'):
    _built(_tiny_dtn(data_dir, tiny_classifiers,
                     **{'model.const_f_checkpoints': (extra,),
                        'loss.const_space': 'logits'}))


def test_target_bank_is_first_in_first_out_and_nearest_by_features():
  from xdomain.methods import dtn  # pylint: disable=g-import-not-at-top
  bank = dtn.init_target_bank(3, (2, 2, 1), 2)
  images = jnp.arange(2 * 4, dtype=jnp.float32).reshape(2, 2, 2, 1)
  bank = dtn.push_target_bank(bank, images, jnp.array([[0., 0.], [5., 5.]]))
  assert int(bank['count']) == 2
  # Only filled slots count: the empty third slot (features 0) never wins.
  near = dtn.nearest_in_bank(bank, jnp.array([[4., 4.], [1., -1.]]))
  np.testing.assert_array_equal(near, images[jnp.array([1, 0])])
  newer = jnp.full((2, 2, 2, 1), 9.0)
  bank = dtn.push_target_bank(bank, newer, jnp.array([[1., 0.], [9., 9.]]))
  assert int(bank['count']) == 3  # full: the oldest (features 5,5) dropped
  np.testing.assert_array_equal(bank['features'],
                                [[1., 0.], [9., 9.], [0., 0.]])
  np.testing.assert_array_equal(bank['images'][2], images[0])


def test_nn_anchor_pulls_g_x_towards_the_nearest_banked_target(
    data_dir, tiny_classifiers, tmp_path):
  """loss.nn_anchor: the bank holds the real targets of the iteration (and
  earlier ones), L_NN is the MSE of G(x) and the banked target nearest in
  f's features; a tiny run trains, checkpoints and resumes with the bank."""
  from xdomain import errors  # pylint: disable=g-import-not-at-top
  from xdomain import steps  # pylint: disable=g-import-not-at-top
  from xdomain.methods import dtn  # pylint: disable=g-import-not-at-top
  config = _tiny_dtn(data_dir, tiny_classifiers,
                     **{'loss.nn_anchor': 10.0, 'model.nn_bank_size': 8})
  method, batch = _built(config), random_batch(config)
  one = jax.tree.map(lambda x: x[0], batch)
  state = steps.init_state(method, jax.random.key(0), one)
  assert int(state['buffers']['target_bank']['count']) == 0

  def passes(params, stats, one, buffers):
    shared, aux = method.shared.fn(params, stats, one, jax.random.key(1),
                                   buffers)
    metrics = method.groups['gen'].loss_fn(params, stats, one,
                                           jax.random.key(1), shared)[1]
    return shared, aux['buffers'], metrics['metrics']

  shared, buffers, metrics = jax.vmap(
      passes, in_axes=(None, None, 0, None), axis_name=steps.AXIS)(
          state['params'], state['batch_stats'], batch, state['buffers'])
  xs, xt = one['source']['image'], one['target']['image']
  n = xs.shape[0]
  bank = jax.tree.map(lambda a: a[0], buffers['target_bank'])
  np.testing.assert_array_equal(bank['images'][:n], xt)
  features = shared['features'][0]
  expected_anchor = dtn.nearest_in_bank(bank, features[:n])
  np.testing.assert_array_equal(shared['anchor'][0], expected_anchor)
  np.testing.assert_allclose(
      metrics['L_NN'][0],
      jnp.mean(jnp.square(shared['fakes'][0][:n] - expected_anchor)),
      rtol=1e-5)
  run = train.train_and_evaluate(config, str(tmp_path))
  assert 0.0 <= run['translated_accuracy'] <= 1.0
  for bad in ({'loss.nn_anchor': -1.0}, {'model.nn_bank_size': 0}):
    with pytest.raises(errors.ConfigError, match='nn_anchor'):
      _built(_tiny_dtn(data_dir, tiny_classifiers,
                       **{'loss.nn_anchor': 1.0, **bad}))


def test_alpha_maps_adds_the_mse_of_f_block_maps_on_x_and_g_x(
    data_dir, tiny_classifiers):
  """loss.alpha_maps > 0: L_CONST_maps = mean over loss.const_maps of the MSE
  of f's sown block maps on x and on G(x); L_G grows by alpha_maps x it."""
  from xdomain import steps  # pylint: disable=g-import-not-at-top
  f_module, f_variables, _ = checkpoints.load_classifier(tiny_classifiers[0])
  blocks = ('block2', 'block3')
  totals = {}
  for weight in (0.0, 3.0):
    config = _tiny_dtn(data_dir, tiny_classifiers,
                       **{'loss.alpha_maps': weight,
                          'loss.const_maps': blocks})
    method, batch = _built(config), random_batch(config)
    one = jax.tree.map(lambda x: x[0], batch)
    state = steps.init_state(method, jax.random.key(0), one)

    def passes(params, stats, one):
      shared, _ = _shared_pass(method, state, params, stats, one, jax.random.key(1))
      loss, aux = method.groups['gen'].loss_fn(params, stats, one,
                                               jax.random.key(1), shared)
      return shared['fakes'], loss, aux['metrics']

    fakes, loss, metrics = jax.vmap(passes, in_axes=(None, None, 0),
                                    axis_name=steps.AXIS)(
                                        state['params'], state['batch_stats'],
                                        batch)
    totals[weight] = float(loss[0])
    if weight == 0.0:
      assert 'L_CONST_maps' not in metrics
      continue
    x = one['source']['image']
    fake_s = fakes[0][:x.shape[0]]

    def maps(im):
      _, sown = f_module.apply(f_variables, im, train=False,
                               method='features', mutable=['intermediates'])
      return [sown['intermediates']['encoder'][b][0] for b in blocks]

    expected = np.mean([jnp.mean(jnp.square(a - b))
                        for a, b in zip(maps(x), maps(fake_s))])
    np.testing.assert_allclose(metrics['L_CONST_maps'][0], expected,
                               rtol=2e-4, atol=1e-6)
    np.testing.assert_allclose(totals[weight] - totals[0.0],
                               weight * expected, rtol=2e-3, atol=1e-5)
  with pytest.raises(Exception, match="unknown f block.*'block9'"):
    _built(_tiny_dtn(data_dir, tiny_classifiers,
                     **{'loss.alpha_maps': 1.0, 'loss.const_maps':
                        ('block3', 'block9')}))


def test_evaluation_reads_the_averaged_g(data_dir, tiny_classifiers):
  from xdomain import steps  # pylint: disable=g-import-not-at-top
  config = _tiny_dtn(data_dir, tiny_classifiers,
                     **{'model.g.ema_decay': 0.5})
  method = _built(config)
  assert method.averaged_networks == ('g',) and method.ema_decay == 0.5
  assert method.ema_start == 0 and _built(_tiny_dtn(
      data_dir, tiny_classifiers, **{'model.g.ema_decay': 0.5,
                                     'model.g.ema_start': 7})).ema_start == 7
  state = steps.init_state(method, jax.random.key(0), jax.tree.map(
      lambda x: x[0], random_batch(config)))
  for i in range(3):
    state, _ = _one_step(method, ('disc', 'gen'), state,
                         random_batch(config, i))
  assert set(state['ema']) == {'g'}
  evaluated = steps.eval_variables(state)['params']
  assert changed_networks({'params': {'g': state['params']['g']}},
                  {'params': {'g': evaluated['g']}}) == {'g'}  # not raw g
  for a, b in zip(jax.tree.leaves(evaluated['g']),
                  jax.tree.leaves(state['ema']['g'])):
    np.testing.assert_array_equal(a, b)
  for net in ('f', 'd'):  # every other network as trained
    for a, b in zip(jax.tree.leaves(evaluated[net]),
                    jax.tree.leaves(state['params'][net])):
      np.testing.assert_array_equal(a, b)


def test_baseline_updates_its_encoder_with_g(data_dir, tiny_classifiers):
  from xdomain import steps  # pylint: disable=g-import-not-at-top
  config = _tiny_dtn(data_dir, tiny_classifiers,
                     **{'model.generator_input': 'pixels'})
  method = _built(config)
  batch = random_batch(config)
  state = steps.init_state(method, jax.random.key(0),
                           jax.tree.map(lambda x: x[0], batch))
  after_gen, _ = _one_step(method, ('gen',), state, batch)
  assert changed_networks(state, after_gen) == {'encoder', 'g'}


def test_train_step_compiles_once(data_dir, tiny_classifiers):
  """The loss functions are traced for the first step only (no retracing)."""
  import dataclasses  # pylint: disable=g-import-not-at-top
  import flax  # pylint: disable=g-import-not-at-top
  from xdomain import steps  # pylint: disable=g-import-not-at-top
  config = _tiny_dtn(data_dir, tiny_classifiers)
  method = _built(config)
  traces = []

  def counted(name, fn):
    def loss_fn(*args):
      traces.append(name)
      return fn(*args)
    return loss_fn

  method = dataclasses.replace(method, groups={
      name: dataclasses.replace(g, loss_fn=counted(name, g.loss_fn))
      for name, g in method.groups.items()})
  state = steps.init_state(method, jax.random.key(0),
                           jax.tree.map(lambda x: x[0], random_batch(config)))
  step = steps.make_train_step(method, seed=0)
  state = steps.replicate(state)
  state, _ = step(state, random_batch(config, 0))
  first = list(traces)
  assert sorted(first) == sorted(config.schedule)  # once per position
  for i in range(1, 4):
    state, metrics = step(state, random_batch(config, i))
  jax.block_until_ready(metrics)
  assert traces == first
  assert int(flax.jax_utils.unreplicate(state)['step']) == 4


def test_nan_loss_stops_dtn_with_step_and_loss_named(data_dir,
                                                     tiny_classifiers,
                                                     tmp_path):
  config = _tiny_dtn(data_dir, tiny_classifiers,
                     **{'loss.alpha': float('nan')})
  with pytest.raises(train.NonFiniteLossError, match=r'step 1.*gen/loss'):
    train.train_and_evaluate(config, str(tmp_path))
  # Nothing was saved from a state not seen finite.
  assert not os.path.exists(tmp_path / 'checkpoints' / '1')


def test_dtn_resume_gives_the_uninterrupted_fingerprint(data_dir,
                                                        tiny_classifiers,
                                                        tmp_path):
  import json  # pylint: disable=g-import-not-at-top
  # The interruption is simulated by a shorter num_train_steps, which would
  # also shorten a learning-rate decay over the run: constant rates here
  # (the averaged g, in the state, is restored and checked all the same).
  overrides = {'num_train_steps': 4, 'checkpoint_every_steps': 2,
               'eval_every_steps': 4, 'log_every_steps': 2,
               'optim.disc.schedule': 'constant',
               'optim.gen.schedule': 'constant'}
  train.train_and_evaluate(_tiny_dtn(data_dir, tiny_classifiers, **overrides),
                           str(tmp_path / 'straight'))
  # Interrupted after step 2 (its checkpoint written), then the same command.
  train.train_and_evaluate(_tiny_dtn(data_dir, tiny_classifiers, **{
      **overrides, 'num_train_steps': 2}), str(tmp_path / 'resumed'))
  train.train_and_evaluate(_tiny_dtn(data_dir, tiny_classifiers, **overrides),
                           str(tmp_path / 'resumed'))
  fingerprints = [json.load(open(tmp_path / run / 'results.json'))[
      'params_fingerprint'] for run in ('straight', 'resumed')]
  assert fingerprints[0] == fingerprints[1]


_DTN_MULTI_DEVICE = r'''
import sys
import jax, numpy as np
from xdomain import checkpoints, config_lib, methods, steps
from xdomain.defaults import dtn
tmp = sys.argv[2]
exports = [checkpoints.save_untrained_classifier(f'{tmp}/{name}', seed=i)
           for i, name in enumerate(('f', 'evaluator'))]
config = dtn.dtn_config(config_lib.domain('a'), config_lib.domain('b'),
                               *exports)
config.model.g.widths = (32, 16, 8)
config.model.d.widths = (8, 16, 32)
config.loss.nn_anchor, config.model.nn_bank_size = 10.0, 24  # bank: 1.5 batches
n, global_batch = jax.local_device_count(), 16
config.per_device_batch_size = global_batch // n
method = methods.build(config, tmp)
rng = np.random.RandomState(0)
images = rng.uniform(-1, 1, (2, 2, global_batch, 32, 32, 3)).astype(np.float32)
def batch(i):
  return {d: {'image': images[i, j].reshape(n, global_batch // n, 32, 32, 3),
              'label': np.zeros((n, global_batch // n), np.int32)}
          for j, d in enumerate(('source', 'target'))}
state = steps.init_state(method, jax.random.key(0),
                         jax.tree.map(lambda x: x[0], batch(0)))
step = steps.make_train_step(method, seed=0)
state = steps.replicate(state)
for i in range(2):
  state, metrics = step(state, batch(i))
state = jax.tree.map(lambda x: np.asarray(x)[0], state)
leaves = jax.tree.leaves({'p': state['params'], 's': state['batch_stats'],
                          'b': state['buffers']})
np.savez(sys.argv[1], leaves=np.concatenate([np.ravel(x) for x in leaves]))
print(n)
'''


def test_dtn_step_on_eight_fake_devices_matches_one_device(tmp_path):
  """Same global batch: gradients pmean'd, batch norm over the global batch,
  the same bank of targets (loss.nn_anchor) on every device."""
  outputs = {n: np.load(path)['leaves'] for n, path in
             run_on_fake_cpu_devices(_DTN_MULTI_DEVICE, tmp_path).items()}
  np.testing.assert_allclose(outputs[8], outputs[1], rtol=1e-3, atol=1e-4)


def test_quickstart_chain_trains_missing_prerequisites_then_dtn(data_dir,
                                                                tmp_path,
                                                                capsys):
  """configs/dtn_quickstart.py:tiny through main.run: f and the evaluator are
  trained first when their exports are missing, reused when present, with a
  warning naming the differences when an export's config is not the one
  asked for now."""
  from xdomain import main  # pylint: disable=g-import-not-at-top
  config = load(os.path.join(REPO, 'configs', 'dtn_quickstart.py'), 'tiny')
  config.data.data_dir = data_dir
  for name, pre in config.prerequisites.items():
    pre.workdir = str(tmp_path / name)
    pre.config.data.data_dir = data_dir
    pre.config.eval.cross_domain = ()
  config.model.f_checkpoint = str(tmp_path / 'f' / 'classifier')
  config.eval.evaluator_checkpoint = str(tmp_path / 'evaluator' / 'classifier')
  metrics = main.run(config, str(tmp_path / 'dtn'))
  assert 0.0 <= metrics['translated_accuracy'] <= 1.0
  f_results = tmp_path / 'f' / 'results.json'
  stamp = os.path.getmtime(f_results)
  capsys.readouterr()
  main.run(config, str(tmp_path / 'dtn2'))  # exports exist: not retrained
  assert os.path.getmtime(f_results) == stamp
  assert 'WARNING' not in capsys.readouterr().out
  config.prerequisites.f.config.data.augment_low_resolution = 12
  main.run(config, str(tmp_path / 'dtn3'))  # another f asked for: warned
  assert os.path.getmtime(f_results) == stamp
  out = capsys.readouterr().out
  assert "WARNING: Prerequisite 'f'" in out
  assert 'data.augment_low_resolution: 8 there, 12 now' in out


def test_wrong_generator_channels_named_before_compiling(data_dir,
                                                         tiny_classifiers,
                                                         tmp_path):
  from xdomain import errors  # pylint: disable=g-import-not-at-top
  config = _tiny_dtn(data_dir, tiny_classifiers, **{'model.g.channels': 2})
  with pytest.raises(errors.ConfigError, match='model.g.channels'):
    train.train_and_evaluate(config, str(tmp_path))


def test_ternary_d_without_the_target_batch_is_named(data_dir,
                                                     tiny_classifiers):
  from xdomain import errors, methods  # pylint: disable=g-import-not-at-top
  config = _tiny_dtn(data_dir, tiny_classifiers, **{
      'model.d.ternary': True, 'loss.target_through_g': False})
  with pytest.raises(errors.ConfigError, match='target_through_g'):
    methods.build(config, '/tmp/unused')
