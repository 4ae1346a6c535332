"""Multi-host: real processes on 127.0.0.1 (jax.distributed + gloo).

Two processes, one CPU device each, train tiny DTN through the real loop,
each reading its own shard of both domains. One of them is sent SIGTERM:
both must save the same step and exit 75 (JAX's preemption sync point);
restarted from that checkpoint, they must end with the parameters of one
process that trains on the same global batches without interruption (two
devices fed the two shards' batches side by side).
"""

import json
import os
import signal
import socket
import subprocess
import sys

import jax
import numpy as np

from xdomain import distributed
from xdomain import errors

from conftest import REPO, BackgroundProcess, stopped_step, wait_for_logged_steps

import pytest

# argv: role ('0', '1' or 'reference'), port, data_dir, f, evaluator,
# workdir, steps[, checkpoint_every, eval_every]
_WORKER = r'''
import os, sys
role, port, data_dir, f_path, evaluator_path, workdir, steps = sys.argv[1:8]
checkpoint_every, eval_every = map(int, (sys.argv[8:10] or [2, 3]))
sys.path.insert(0, os.path.join(os.getcwd(), 'tests'))
from xdomain import distributed
if role != 'reference':
  distributed.initialize(distributed.ProcessGroup(
      f'127.0.0.1:{port}', num_processes=2, process_id=int(role)))
import jax
import numpy as np
from absl import logging
from xdomain import train
from xdomain.data import pipeline
logging.use_absl_handler()  # the loop's INFO lines (e.g. 'Resumed from') to stderr
logging.set_verbosity(logging.INFO)
logging.set_stderrthreshold(logging.INFO)
from test_configs import load
config = load('configs/dtn_synth_mnist.py', 'tiny')
config.data.data_dir = data_dir
config.model.f_checkpoint, config.eval.evaluator_checkpoint = (
    f_path, evaluator_path)
config.data.shuffle_buffer = 64
config.num_train_steps = int(steps)
config.checkpoint_every_steps = checkpoint_every
config.eval_every_steps = eval_every
config.log_every_steps = 1
if role == 'reference':
  # Two local devices fed what processes 0 and 1 read from their shards.
  assert jax.local_device_count() == 2
  shard_iterator = pipeline.train_iterator
  def both_shards(config, num_devices, seed, process_index, process_count,
                  skip_batches=0):
    shards = [shard_iterator(config, num_devices=1, seed=seed,
                             process_index=i, process_count=2,
                             skip_batches=skip_batches) for i in range(2)]
    while True:
      parts = [next(s) for s in shards]
      yield jax.tree.map(lambda *x: np.concatenate(x), *parts)
  pipeline.train_iterator = both_shards
else:
  assert (jax.process_count(), jax.local_device_count(),
          jax.device_count()) == (2, 1, 2)
from xdomain import errors
try:
  train.train_and_evaluate(config, workdir)
except errors.Preempted as e:  # as xdomain.main does
  print(f'stopped: {e}', file=sys.stderr, flush=True)
  sys.exit(e.exit_status)
print('DONE', jax.process_index(), jax.process_count())
'''


def _free_port() -> int:
  with socket.socket() as s:
    s.bind(('127.0.0.1', 0))
    return s.getsockname()[1]


def _final_params(workdir):
  from xdomain import checkpoints  # pylint: disable=g-import-not-at-top
  manager = checkpoints.TrainCheckpointer(str(workdir))
  state = manager.manager.restore(manager.manager.latest_step())
  manager.close()
  return state


_ENV = dict(os.environ, JAX_PLATFORMS='cpu', XLA_FLAGS='')


def _start_two(common, workdir, steps, *extra):
  port = str(_free_port())
  return [BackgroundProcess(
      [sys.executable, '-c', _WORKER, str(i), port, *common, str(workdir),
       str(steps), *extra], cwd=REPO, env=_ENV) for i in range(2)]


def _run_reference(common, workdir, steps, *extra):
  """The one-process run on both shards' batches (two local devices)."""
  reference = subprocess.run(
      [sys.executable, '-c', _WORKER, 'reference', '0', *common,
       str(workdir), str(steps), *extra], cwd=REPO, capture_output=True,
      text=True, timeout=600, check=False,
      env=dict(_ENV, XLA_FLAGS='--xla_force_host_platform_device_count=2'))
  assert reference.returncode == 0, reference.stderr[-4000:]


def _train_both_ways(common, tmp_path, steps, *extra):
  """Two processes in tmp_path/two, the one-process reference in
  tmp_path/one, each `steps` steps (resuming what the workdir holds)."""
  procs = _start_two(common, tmp_path / 'two', steps, *extra)
  outputs = [p.communicate(timeout=600) for p in procs]
  for i, (p, (out, err)) in enumerate(zip(procs, outputs)):
    assert p.process.returncode == 0, f'process {i}:\n{err[-4000:]}'
    assert f'DONE {i} 2' in out
  _run_reference(common, tmp_path / 'one', steps, *extra)
  return outputs[0][1] + outputs[1][1]


def _assert_same_state(two, one, step):
  assert int(two['step']) == int(one['step']) == step
  for name in ('g', 'd'):
    for a, b in zip(jax.tree.leaves(two['params'][name]),
                    jax.tree.leaves(one['params'][name])):
      np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
  for a, b in zip(jax.tree.leaves(two['batch_stats']),
                  jax.tree.leaves(one['batch_stats'])):
    np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


def test_two_processes_stop_together_on_sigterm_and_resume_like_one(
    data_dir, tiny_classifiers, tmp_path):
  """SIGTERM to one of two processes: both save the same step and exit 75;
  restarted, they end with the parameters of one process trained without
  interruption on the same global batches."""
  common, steps = [data_dir, *tiny_classifiers], 20
  rare = ('1000', str(steps))  # no checkpoint, one evaluation, at the end
  procs = _start_two(common, tmp_path / 'two', steps, *rare)
  wait_for_logged_steps(tmp_path / 'two', 3, procs)  # process 0 logs
  procs[1].process.send_signal(signal.SIGTERM)  # only process 1 is told
  stopped_at = []
  for i, p in enumerate(procs):
    _, err = p.communicate(timeout=300)
    assert p.process.returncode == 75, f'process {i}:\n{err[-4000:]}'
    stopped_at.append(stopped_step(err)[0])
  assert stopped_at[0] == stopped_at[1] < steps
  step = stopped_at[0]
  assert sorted(os.listdir(tmp_path / 'two' / 'checkpoints')) == [str(step)]

  # Restarted, both finish; the result equals an uninterrupted run's: the
  # one process that trains on the same global batches.
  logs = _train_both_ways(common, tmp_path, steps, *rare)
  assert f'Resumed from step {step}.' in logs
  _assert_same_state(_final_params(tmp_path / 'two'),
                     _final_params(tmp_path / 'one'), steps)
  # Process 0 alone wrote the run's files.
  results = json.loads((tmp_path / 'two' / 'results.json').read_text())
  assert results['step'] == steps
  assert (tmp_path / 'two' / 'samples' / 'latest.png').exists()


def test_process_group_from_flags_environment_or_nothing():
  assert distributed.process_group(environ={}) is None
  group = distributed.process_group('10.0.0.1:1234', 4, 3, environ={})
  assert group == distributed.ProcessGroup('10.0.0.1:1234', 4, 3)
  env = {distributed.ENV_ADDRESS: 'h:1', distributed.ENV_NUM_PROCESSES: '2',
         distributed.ENV_PROCESS_ID: '1'}
  assert distributed.process_group(environ=env) == distributed.ProcessGroup(
      'h:1', 2, 1)
  # Flags win over the environment.
  assert distributed.process_group(
      'x:2', 8, 0, environ=env) == distributed.ProcessGroup('x:2', 8, 0)
  # Cloud TPU pod slices: JAX detects everything itself.
  assert distributed.process_group(
      environ={'TPU_WORKER_HOSTNAMES': 'a,b'}) == distributed.ProcessGroup()
  assert distributed.process_group(
      environ={'TPU_WORKER_HOSTNAMES': 'a'}) is None


@pytest.mark.parametrize('kwargs, message', [
    (dict(coordinator_address='h:1', num_processes=2), 'process_id'),
    (dict(coordinator_address='h:1', num_processes=2, process_id=2),
     'process_id'),
    (dict(num_processes=2, process_id=0), 'coordinator_address'),
])
def test_incomplete_process_group_is_named(kwargs, message):
  with pytest.raises(errors.ConfigError, match=message):
    distributed.process_group(environ={}, **kwargs)
