"""CycleGAN: the pool of past fakes, its losses against hand-computed values,
what each update group changes, a tiny end-to-end run, resume, devices."""

import json
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from xdomain import losses
from xdomain import train
from xdomain.methods import cyclegan
from conftest import (apply_overrides, changed_networks, random_batch,
                      run_on_fake_cpu_devices)
from test_configs import load, REPO


def test_lsgan_and_l1_losses_hand_computed():
  real, fake = jnp.array([1.0, 0.0]), jnp.array([0.0, 2.0])
  # 1/2 (mean((1-1)^2, (0-1)^2) + mean(0^2, 2^2)) = 1/2 (0.5 + 2)
  np.testing.assert_allclose(losses.lsgan_d_loss(real, fake), 1.25)
  np.testing.assert_allclose(losses.lsgan_g_loss(fake), (1 + 1) / 2)
  np.testing.assert_allclose(losses.l1(jnp.array([1.0, -2.0]),
                                       jnp.array([0.0, 0.0])), 1.5)


def _images(values):
  return jnp.asarray(values, jnp.float32).reshape(-1, 1, 1, 1)


def test_pool_fills_then_mixes_old_and_new_fakes_deterministically():
  pool = cyclegan.init_pool(3, (1, 1, 1), seed=0)
  pool, shown = cyclegan.query_pool(pool, _images([1, 2]))
  np.testing.assert_array_equal(shown.ravel(), [1, 2])  # filling: as is
  assert int(pool['count']) == 2
  pool, shown = cyclegan.query_pool(pool, _images([3, 4, 5, 6, 7, 8, 9, 10]))
  assert int(pool['count']) == 3
  np.testing.assert_array_equal(shown.ravel()[0], 3)  # the last free slot
  stored = set(np.asarray(pool['images']).ravel().tolist())
  assert len(stored) == 3 and stored <= set(range(1, 11))
  shown = np.asarray(shown).ravel()
  old = [v for v, new in zip(shown[1:], range(4, 11)) if v != new]
  assert old and len(old) < 7  # D sees a mix of old and new fakes
  # Each old fake shown was stored before, and was replaced by the new one.
  assert set(old) <= set(range(1, 10))
  again = cyclegan.init_pool(3, (1, 1, 1), seed=0)
  again, _ = cyclegan.query_pool(again, _images([1, 2]))
  again, shown_again = cyclegan.query_pool(
      again, _images([3, 4, 5, 6, 7, 8, 9, 10]))
  np.testing.assert_array_equal(np.asarray(shown_again).ravel(), shown)
  for a, b in zip(jax.tree.leaves(pool), jax.tree.leaves(again)):
    np.testing.assert_array_equal(a, b)
  empty = cyclegan.init_pool(0, (1, 1, 1), seed=0)
  _, shown = cyclegan.query_pool(empty, _images([5, 6]))
  np.testing.assert_array_equal(shown.ravel(), [5, 6])


def _tiny(data_dir, tiny_classifiers, **overrides):
  config = load(os.path.join(REPO, 'configs', 'cyclegan_synth_mnist.py'),
                'tiny')
  config.data.data_dir = data_dir
  f, evaluator = tiny_classifiers  # f is a synth_digits/tiny classifier
  config.eval.evaluator_checkpoint = evaluator
  config.eval.reverse_evaluator_checkpoint = f
  return apply_overrides(config, overrides)


def test_each_group_changes_only_its_own_networks_and_the_pool(
    data_dir, tiny_classifiers):
  import dataclasses  # pylint: disable=g-import-not-at-top
  import flax  # pylint: disable=g-import-not-at-top
  from xdomain import methods, steps  # pylint: disable=g-import-not-at-top
  config = _tiny(data_dir, tiny_classifiers)
  method = methods.build(config, '/tmp/unused')
  batch = random_batch(config)
  state = steps.init_state(method, jax.random.key(0),
                           jax.tree.map(lambda x: x[0], batch))
  assert set(state['params']) == {'g_st', 'g_ts', 'd_t', 'd_s'}
  for schedule, networks in ((('disc',), {'d_t', 'd_s'}),
                             (('gen',), {'g_st', 'g_ts'})):
    step = steps.make_train_step(
        dataclasses.replace(method, schedule=schedule), seed=0, donate=False)
    after, metrics = step(flax.jax_utils.replicate(state), batch)
    after = flax.jax_utils.unreplicate(after)
    assert changed_networks(state, after) == networks
    # Either group's iteration runs the shared pass: the pool takes fakes.
    assert int(after['buffers']['to_target']['count']) == min(
        config.model.pool_size, config.per_device_batch_size)
  assert float(metrics['gen/L_cyc'][0]) > 0


def test_tiny_cyclegan_runs_end_to_end_both_directions(data_dir,
                                                       tiny_classifiers,
                                                       tmp_path):
  metrics = train.train_and_evaluate(_tiny(data_dir, tiny_classifiers),
                                     str(tmp_path))
  for key in ('translated_accuracy', 'reverse_accuracy', 'knn_accuracy'):
    assert 0.0 <= metrics[key] <= 1.0
  for grid in ('samples', 'samples_reverse'):
    assert os.path.exists(tmp_path / grid / 'latest.png')
  assert os.path.exists(tmp_path / 'curves.png')


def test_resume_restores_the_pool_and_gives_the_uninterrupted_run(
    data_dir, tiny_classifiers, tmp_path):
  from xdomain import checkpoints  # pylint: disable=g-import-not-at-top
  overrides = {'num_train_steps': 4, 'checkpoint_every_steps': 2,
               'eval_every_steps': 4, 'log_every_steps': 2,
               # pool of 6, batch 4: it fills at step 2, then mixes
               'optim.disc.schedule': 'constant',
               'optim.gen.schedule': 'constant'}
  train.train_and_evaluate(_tiny(data_dir, tiny_classifiers, **overrides),
                           str(tmp_path / 'straight'))
  train.train_and_evaluate(_tiny(data_dir, tiny_classifiers, **{
      **overrides, 'num_train_steps': 2}), str(tmp_path / 'resumed'))
  train.train_and_evaluate(_tiny(data_dir, tiny_classifiers, **overrides),
                           str(tmp_path / 'resumed'))
  results = [json.load(open(tmp_path / run / 'results.json'))
             for run in ('straight', 'resumed')]
  assert results[0]['params_fingerprint'] == results[1]['params_fingerprint']
  pools = []
  for run in ('straight', 'resumed'):
    manager = checkpoints.TrainCheckpointer(str(tmp_path / run))
    pools.append(manager.manager.restore(4)['buffers'])
    manager.close()
  assert int(pools[0]['to_target']['count']) == 6
  for a, b in zip(jax.tree.leaves(pools[0]), jax.tree.leaves(pools[1])):
    np.testing.assert_array_equal(a, b)


_MULTI_DEVICE = r'''
import sys
import jax, numpy as np
from xdomain import config_lib, methods, steps
from xdomain.defaults import cyclegan
from xdomain import checkpoints
tmp = sys.argv[2]
export = checkpoints.save_untrained_classifier(f'{tmp}/evaluator')
config = cyclegan.cyclegan_config(config_lib.domain('a'),
                                  config_lib.domain('b'), export)
config.model.g.width, config.model.d.widths = 4, (4, 8)
config.model.pool_size = 12
n, global_batch = jax.local_device_count(), 8
config.per_device_batch_size = global_batch // n
method = methods.build(config, tmp)
rng = np.random.RandomState(0)
images = rng.uniform(-1, 1, (3, 2, global_batch, 32, 32, 3)).astype(np.float32)
def batch(i):
  return {d: {'image': images[i, j].reshape(n, global_batch // n, 32, 32, 3),
              'label': np.zeros((n, global_batch // n), np.int32)}
          for j, d in enumerate(('source', 'target'))}
state = steps.init_state(method, jax.random.key(0),
                         jax.tree.map(lambda x: x[0], batch(0)))
step = steps.make_train_step(method, seed=0)
state = steps.replicate(state)
for i in range(3):  # the pool (12) fills at step 2 and mixes at step 3
  state, metrics = step(state, batch(i))
copies = jax.tree.map(np.asarray, state['buffers'])
for leaf in jax.tree.leaves(copies):  # the same pool on every device
  assert all(np.array_equal(leaf[0], leaf[k]) for k in range(n))
state = jax.tree.map(lambda x: np.asarray(x)[0], state)
flat = lambda tree: np.concatenate([np.ravel(x).astype(np.float64)
                                   for x in jax.tree.leaves(tree)])
np.savez(sys.argv[1], params=flat(state['params']),
         pool=flat(state['buffers']))
print(n)
'''


def test_step_and_pool_on_eight_fake_devices_match_one_device(tmp_path):
  outputs = {n: dict(np.load(path)) for n, path in
             run_on_fake_cpu_devices(_MULTI_DEVICE, tmp_path).items()}
  # The pool: the same fakes kept in the same slots (count and key exact).
  np.testing.assert_allclose(outputs[8]['pool'], outputs[1]['pool'],
                             rtol=1e-4, atol=1e-5)
  # Params: a summation-order difference in a near-zero gradient can flip
  # the sign of Adam's normalised step (2e-4 per step, 3 steps).
  np.testing.assert_allclose(outputs[8]['params'], outputs[1]['params'],
                             rtol=1e-3, atol=1.5e-3)


def test_bad_channels_and_pool_size_are_named(data_dir, tiny_classifiers):
  from xdomain import errors, methods  # pylint: disable=g-import-not-at-top
  for key, value in (('model.target_channels', 2), ('model.pool_size', -1)):
    config = _tiny(data_dir, tiny_classifiers, **{key: value})
    with pytest.raises(errors.ConfigError, match=key):
      methods.build(config, '/tmp/unused')
