"""Multi-host: real processes on 127.0.0.1 (jax.distributed + gloo).

Two processes, one CPU device each, train tiny DTN for a few steps through
the real loop, each reading its own shard of both domains; they must end
with the parameters of one process that trains on the same global batches
(two devices fed the two shards' batches side by side) — also after both
runs are restarted from their Orbax checkpoints and trained further.
"""

import json
import os
import socket
import subprocess
import sys

import jax
import numpy as np

from xdomain import distributed
from xdomain import errors

from conftest import REPO

import pytest

# argv: role ('0', '1' or 'reference'), port, data_dir, f, evaluator,
# workdir, steps
_WORKER = r'''
import os, sys
role, port, data_dir, f_path, evaluator_path, workdir, steps = sys.argv[1:8]
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
config.checkpoint_every_steps = 2
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
train.train_and_evaluate(config, workdir)
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


def _train_both_ways(common, tmp_path, steps):
  """Two processes in tmp_path/two, the one-process reference in
  tmp_path/one, each `steps` steps (resuming what the workdir holds)."""
  env = dict(os.environ, JAX_PLATFORMS='cpu', XLA_FLAGS='')
  port = str(_free_port())
  procs = [subprocess.Popen(
      [sys.executable, '-c', _WORKER, str(i), port, *common,
       str(tmp_path / 'two'), str(steps)],
      cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
      text=True) for i in range(2)]
  outputs = [p.communicate(timeout=600) for p in procs]
  for i, (p, (out, err)) in enumerate(zip(procs, outputs)):
    assert p.returncode == 0, f'process {i}:\n{err[-4000:]}'
    assert f'DONE {i} 2' in out
  reference = subprocess.run(
      [sys.executable, '-c', _WORKER, 'reference', port, *common,
       str(tmp_path / 'one'), str(steps)], cwd=REPO, capture_output=True,
      text=True, timeout=600, check=False,
      env=dict(env, XLA_FLAGS='--xla_force_host_platform_device_count=2'))
  assert reference.returncode == 0, reference.stderr[-4000:]
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


def test_two_processes_train_like_one_process_on_same_global_batch(
    data_dir, tiny_classifiers, tmp_path):
  common = [data_dir, *tiny_classifiers]
  _train_both_ways(common, tmp_path, steps=3)
  _assert_same_state(_final_params(tmp_path / 'two'),
                     _final_params(tmp_path / 'one'), 3)
  # Process 0 alone wrote the run's files.
  results = json.loads((tmp_path / 'two' / 'results.json').read_text())
  assert results['step'] == 3
  assert (tmp_path / 'two' / 'samples' / 'latest.png').exists()

  # Restart both from their checkpoints (step 3) and train to step 5.
  logs = _train_both_ways(common, tmp_path, steps=5)
  assert 'Resumed from step 3.' in logs
  _assert_same_state(_final_params(tmp_path / 'two'),
                     _final_params(tmp_path / 'one'), 5)


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
