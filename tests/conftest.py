"""Shared fixtures: a private TFDS data dir with tiny datasets, built once."""

import os
import subprocess
import sys
import tempfile
import time

import numpy as np
import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MNIST_DIR = os.environ.get(
    'XDOMAIN_MNIST_DIR',
    os.path.join(os.path.dirname(REPO), 'shared', 'data', 'mnist'))

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
os.environ.setdefault('XDOMAIN_DATA_WORKERS', '2')
if REPO not in sys.path:
  sys.path.insert(0, REPO)


def pytest_configure(config):
  config.addinivalue_line('markers', 'mnist: needs the raw MNIST files')


@pytest.fixture(scope='session')
def data_dir(tmp_path_factory):
  """A TFDS data dir holding synth_digits/tiny and uci_digits."""
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
  from xdomain.data import datasets  # pylint: disable=g-import-not-at-top
  tfds.disable_progress_bar()
  path = str(tmp_path_factory.mktemp('tfds'))
  datasets.prepare('synth_digits/tiny', path)
  datasets.prepare('uci_digits', path)
  return path


@pytest.fixture(scope='session')
def mnist_data_dir(data_dir):
  """`data_dir` with MNIST built offline from the raw files."""
  if not os.path.isdir(MNIST_DIR):
    pytest.fail(f'MNIST raw files not found at {MNIST_DIR}; set '
                'XDOMAIN_MNIST_DIR to the folder holding them.')
  from xdomain.data import datasets  # pylint: disable=g-import-not-at-top
  datasets.prepare('mnist', data_dir, MNIST_DIR, download='never')
  return data_dir


def tiny_classifier_config(data_dir, **overrides):
  """configs/pretrain_f_synth.py:tiny pointed at the test data dir."""
  from xdomain import config_lib  # pylint: disable=g-import-not-at-top
  config = config_lib.load_config_file(
      os.path.join(REPO, 'configs', 'pretrain_f_synth.py'), 'tiny')
  config.data.data_dir = data_dir
  config.data.manual_dir = MNIST_DIR
  config.eval.cross_domain = ()
  return apply_overrides(config, overrides)


def apply_overrides(config, overrides):
  """Sets dotted keys, like --config.a.b=value on the command line."""
  for key, value in overrides.items():
    target = config
    *parents, leaf = key.split('.')
    for p in parents:
      target = target[p]
    target[leaf] = value
  return config


@pytest.fixture(scope='session')
def tiny_classifiers(data_dir, tmp_path_factory):
  """A tiny f (on synth_digits/tiny) and a tiny uci_digits evaluator:
  their export paths."""
  from xdomain import train  # pylint: disable=g-import-not-at-top
  from test_configs import load  # pylint: disable=g-import-not-at-top
  root = tmp_path_factory.mktemp('classifiers')
  train.train_and_evaluate(tiny_classifier_config(data_dir), str(root / 'f'))
  evaluator = load(os.path.join(REPO, 'configs', 'classifier_uci.py'), 'tiny')
  evaluator.data.data_dir = data_dir
  train.train_and_evaluate(evaluator, str(root / 'evaluator'))
  return str(root / 'f' / 'classifier'), str(root / 'evaluator' / 'classifier')


def changed_networks(before, after):
  """The names of the networks whose params differ between two states."""
  import jax  # pylint: disable=g-import-not-at-top
  return {name for name in before['params']
          if any(not np.array_equal(a, b) for a, b in zip(
              jax.tree.leaves(before['params'][name]),
              jax.tree.leaves(after['params'][name])))}


def random_batch(config, seed=0):
  """One device's random {'source', 'target'} batch for `config`, with the
  leading device axis of size 1."""
  rng = np.random.RandomState(seed)
  n = config.per_device_batch_size
  return {d: {'image': rng.uniform(-1, 1, (1, n, 32, 32, 3)).astype(np.float32),
              'label': rng.randint(0, 10, (1, n)).astype(np.int32)}
          for d in ('source', 'target')}


def run_on_fake_cpu_devices(script, tmp_path, devices=(1, 8)):
  """Runs `python -c script OUT WORKDIR` once per device count (XLA's fake
  CPU devices), checks that it saw that many devices (its last line);
  returns {devices: OUT path}."""
  outputs = {}
  for n in devices:
    env = dict(os.environ, JAX_PLATFORMS='cpu', XLA_FLAGS=(
        f'--xla_force_host_platform_device_count={n}'))
    out, work = tmp_path / f'{n}.npz', tmp_path / f'work{n}'
    work.mkdir()
    result = subprocess.run(
        [sys.executable, '-c', script, str(out), str(work)],
        check=False, cwd=REPO, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().splitlines()[-1] == str(n)
    outputs[n] = out
  return outputs


class BackgroundProcess:
  """A subprocess whose stdout and stderr go to files, not pipes: a pipe
  nobody reads fills up and blocks the process (and, in a multi-process
  run, its peers in their next collective)."""

  def __init__(self, args, **popen_kwargs):
    self._files = [tempfile.TemporaryFile('w+') for _ in range(2)]
    self.process = subprocess.Popen(args, stdout=self._files[0],
                                    stderr=self._files[1], text=True,
                                    **popen_kwargs)

  def communicate(self, timeout):
    """Waits for the process; returns (stdout, stderr) as text."""
    self.process.wait(timeout=timeout)
    texts = []
    for f in self._files:
      f.seek(0)
      texts.append(f.read())
      f.close()
    return tuple(texts)


def wait_for_logged_steps(workdir, count, processes, timeout=300):
  """Waits until <workdir>/metrics.jsonl holds `count` lines (the loop
  appends one per log step), failing if a process ends first."""
  path = os.path.join(str(workdir), 'metrics.jsonl')
  deadline = time.time() + timeout
  while True:
    if os.path.exists(path):
      with open(path) as f:
        if sum(1 for _ in f) >= count:
          return
    assert time.time() < deadline, f'{count} log steps not reached in time'
    assert all(p.process.poll() is None for p in processes), (
        'a process ended before the expected log steps')
    time.sleep(0.05)


def stopped_step(stderr):
  """(step, line) of the last 'stopped: ... at step N ...' line that
  `xdomain.main` prints when a signal stopped the run."""
  line = [l for l in stderr.splitlines() if l.startswith('stopped: ')][-1]
  return int(line.split(' at step ')[1].split()[0]), line
