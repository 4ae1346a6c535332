"""The loop's general mechanisms on a toy method with hand-computable
updates: averaged parameters (EMA), skipped updates (skip_if), the
discriminator alarm, and the learning curves."""

import numpy as np
import optax
import jax
import jax.numpy as jnp
from absl import logging

from xdomain import curves
from xdomain import steps
from xdomain import train
from xdomain.methods import base


def _toy_method(skip_if=None, ema_decay=0.0, ema_start=0):
  """One network 'w' (a scalar), loss (w - 3)^2, SGD lr 0.25: each update
  moves w halfway to 3; the optimizer state counts the updates."""
  def init_variables(rng, batch):
    del rng, batch
    return {'params': {'w': jnp.zeros(())}, 'batch_stats': {}}

  def loss_fn(params, batch_stats, batch, rng):
    del batch_stats, batch, rng
    loss = jnp.square(params['w'] - 3.0)
    return loss, {'metrics': {'w_before': params['w']}}

  group = base.UpdateGroup(networks=('w',), loss_fn=loss_fn,
                           optimizer=optax.chain(
                               optax.sgd(0.25),
                               optax.scale_by_schedule(lambda count: 1.0)),
                           skip_if=skip_if)
  return base.Method(init_variables=init_variables, groups={'fit': group},
                     schedule=('fit',), evaluate=lambda v, s: {},
                     averaged_networks=('w',) if ema_decay else (),
                     ema_decay=ema_decay, ema_start=ema_start)


def _run(method, num_steps):
  state = steps.init_state(method, jax.random.key(0), {})
  step = steps.make_train_step(method, seed=0, donate=False)
  state = steps.replicate(state)
  history = []
  for _ in range(num_steps):
    state, metrics = step(state, {'x': np.zeros((jax.local_device_count(),
                                                 1))})
    history.append({k: float(v) for k, v in steps.to_host(metrics).items()})
  return steps.to_host(state), history


def test_parameter_average_is_what_evaluation_reads():
  decay = 0.5
  state, _ = _run(_toy_method(ema_decay=decay), 3)
  raw = [1.5, 2.25, 2.625]  # w after each update
  ema = 0.0
  for t, w in enumerate(raw):  # the warm-up rule of steps.ema_update
    d = min(decay, (1 + t) / (10 + t))
    ema = d * ema + (1 - d) * w
  np.testing.assert_allclose(state['params']['w'], raw[-1], rtol=1e-6)
  np.testing.assert_allclose(state['ema']['w'], ema, rtol=1e-6)
  np.testing.assert_allclose(steps.eval_variables(state)['params']['w'], ema,
                             rtol=1e-6)
  np.testing.assert_allclose(steps.variables_of(state)['params']['w'],
                             raw[-1], rtol=1e-6)


def test_parameter_average_from_a_start_step_follows_raw_until_then():
  state, _ = _run(_toy_method(ema_decay=0.5, ema_start=2), 4)
  raw = [1.5, 2.25, 2.625, 2.8125]  # w after each update
  # Updates 1, 2 (t = 0, 1 < 2): the average is the raw w; then decay 0.5.
  ema = raw[1]
  for w in raw[2:]:
    ema = 0.5 * ema + 0.5 * w
  np.testing.assert_allclose(state['ema']['w'], ema, rtol=1e-6)
  np.testing.assert_allclose(steps.eval_variables(state)['params']['w'], ema,
                             rtol=1e-6)


def test_no_average_state_without_averaged_networks():
  state, _ = _run(_toy_method(), 1)
  assert 'ema' not in state
  np.testing.assert_allclose(steps.eval_variables(state)['params']['w'], 1.5)


def test_skip_if_discards_the_update_exactly_when_its_rule_holds():
  # Skip while w (before the update) is above 2: w goes 0 -> 1.5 -> 2.25,
  # then stays at 2.25 (2.25 > 2 on every later step).
  method = _toy_method(skip_if=lambda m: m['w_before'] > 2.0)
  state, history = _run(method, 5)
  assert [h['fit/skipped'] for h in history] == [0, 0, 1, 1, 1]
  assert [h['fit/w_before'] for h in history] == [0, 1.5, 2.25, 2.25, 2.25]
  np.testing.assert_allclose(state['params']['w'], 2.25)
  # The optimizer state is not advanced by skipped updates either.
  assert int(state['opt']['fit'][1].count) == 2
  never, _ = _run(_toy_method(skip_if=lambda m: m['w_before'] > 99.0), 5)
  assert int(never['opt']['fit'][1].count) == 5


def test_fake_accuracy_alarm_after_five_log_steps(monkeypatch):
  warnings = []
  monkeypatch.setattr(logging, 'warning',
                      lambda msg, *args: warnings.append(msg % args))
  watch = train._FakeAccuracyWatch(('disc/accuracy_fake',))
  values = [1.0, 1.0, 0.5, 1.0, 1.0, 1.0, 1.0, 0.995, 1.0]
  for step, value in enumerate(values):
    watch.update(step, {'disc/accuracy_fake': value})
    assert len(warnings) == (1 if step >= 7 else 0)
  assert 'disc/accuracy_fake' in warnings[0] and 'Step 7' in warnings[0]


def test_curves_group_families_and_keep_the_latest_line_per_step(tmp_path):
  workdir = str(tmp_path)
  curves.append(workdir, 10, {'disc/D1(fake_source)': 0.5,
                              'disc/D2(fake_source)': 0.3,
                              'gen/L_CONST': 2.0, 'images_per_second': 9.0,
                              'cls/accuracy_on_G(x_s)': 1.0})
  curves.append(workdir, 20, {'gen/L_CONST': 1.0})
  curves.append(workdir, 20, {'gen/L_CONST': 0.5})  # a resumed run's line
  curves.append(workdir, 20, {'eval/translated_accuracy': 0.9})
  with open(tmp_path / curves.HISTORY, 'a') as f:
    f.write('{"step": 30, "gen/L_CO')  # cut by a kill: ignored
  history = curves.read(workdir)
  assert history['gen/L_CONST'] == [(10, 2.0), (20, 0.5)]
  assert dict(curves.panels(history)) == {
      'evaluation': ['eval/translated_accuracy'],
      'disc/D outputs on fake_source': ['disc/D1(fake_source)',
                                        'disc/D2(fake_source)'],
      'cls/accuracy_on_G(x_s)': ['cls/accuracy_on_G(x_s)'],  # not a D's
      'gen/L_CONST': ['gen/L_CONST']}
  path = curves.plot(workdir)
  with open(path, 'rb') as f:
    assert f.read(8) == b'\x89PNG\r\n\x1a\n'


def test_the_loop_evaluates_the_averaged_parameters(
    data_dir, tmp_path, monkeypatch):
  from xdomain import methods  # pylint: disable=g-import-not-at-top
  from conftest import tiny_classifier_config  # pylint: disable=g-import-not-at-top
  seen = {}
  method = _toy_method(ema_decay=0.5)
  method = base.Method(**{**method.__dict__, 'evaluate': lambda v, step: (
      seen.update({step: float(v['params']['w'])}) or {'w': seen[step]})})
  monkeypatch.setattr(methods, 'build', lambda config, workdir: method)
  config = tiny_classifier_config(data_dir)  # real data, 6 steps, eval at 6
  train.train_and_evaluate(config, str(tmp_path))
  raw, ema = 0.0, 0.0
  for t in range(config.num_train_steps):
    raw += (3.0 - raw) / 2
    d = min(0.5, (1 + t) / (10 + t))
    ema = d * ema + (1 - d) * raw
  assert list(seen) == [config.num_train_steps]
  np.testing.assert_allclose(seen[config.num_train_steps], ema, rtol=1e-5)
  assert abs(ema - raw) > 0.03  # the average is not the raw parameter
