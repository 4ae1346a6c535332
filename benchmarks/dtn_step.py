r"""Images/s of the compiled DTN training step (D update then g update).

  python benchmarks/dtn_step.py --config=configs/dtn_synth_mnist.py \
      --batch=128 --steps=10 --out=benchmarks/results/dtn_step_cpu.json

Times the same pmapped `(state, batch) -> (state, metrics)` the training loop
runs, on random images of the right shape (no input pipeline), after one
compile-and-warm-up step. The global batch is split over all local devices.
f and the evaluator are randomly initialised here unless the config's exports
exist (their weights do not change the step's cost). Prints images/s and
writes JSON with the device, batch and per-step seconds.
"""

import json
import os
import platform
import sys
import tempfile
import time

from absl import app
from absl import flags
from ml_collections import config_flags

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# pylint: disable=g-import-not-at-top,wrong-import-position
import jax
import ml_collections
import numpy as np

from xdomain import checkpoints
from xdomain import config_lib
from xdomain import methods
from xdomain import steps
from xdomain.models import classifiers

_CONFIG = config_flags.DEFINE_config_file('config', 'configs/dtn_synth_mnist.py')
_BATCH = flags.DEFINE_integer('batch', 128, 'Global batch (source and target '
                              'each), split over the local devices.')
_STEPS = flags.DEFINE_integer('steps', 10, 'Timed steps.')
_OUT = flags.DEFINE_string('out', '', 'JSON output path (default: '
                           'benchmarks/results/dtn_step_<platform>.json).')


def _random_classifier(path: str) -> str:
  model_config = config_lib.classifier_model()
  model = classifiers.classifier_from_config(model_config)
  variables = model.init(jax.random.key(0), np.zeros((1, 32, 32, 3)))
  return checkpoints.save_classifier(path, variables, model_config, {})


def _ensure_exports(config: ml_collections.ConfigDict, tmp: str) -> None:
  with config.unlocked():
    if not os.path.isdir(config.model.f_checkpoint):
      config.model.f_checkpoint = _random_classifier(os.path.join(tmp, 'f'))
    if not os.path.isdir(config.eval.evaluator_checkpoint):
      config.eval.evaluator_checkpoint = _random_classifier(
          os.path.join(tmp, 'evaluator'))


def main(argv):
  del argv
  config = _CONFIG.value
  num_devices = jax.local_device_count()
  if _BATCH.value % num_devices:
    raise app.UsageError(f'--batch={_BATCH.value} does not split over '
                         f'{num_devices} devices')
  per_device = _BATCH.value // num_devices
  with config.unlocked():
    config.per_device_batch_size = per_device
  with tempfile.TemporaryDirectory() as tmp:
    _ensure_exports(config, tmp)
    method = methods.build(config, tmp)
  rng = np.random.default_rng(0)

  def images():
    return rng.uniform(-1, 1, (num_devices, per_device, 32, 32, 3)).astype(
        np.float32)

  batch = {d: {'image': images(),
               'label': np.zeros((num_devices, per_device), np.int32)}
           for d in ('source', 'target')}
  state = steps.init_state(method, jax.random.key(0),
                           jax.tree.map(lambda x: x[0], batch))
  state = steps.replicate(state)
  # Fed as host arrays [devices, per_device, ...], as the training loop does.
  train_step = steps.make_train_step(method, seed=0)

  start = time.perf_counter()
  state, metrics = train_step(state, batch)
  jax.block_until_ready(metrics)
  compile_seconds = time.perf_counter() - start
  start = time.perf_counter()
  for _ in range(_STEPS.value):
    state, metrics = train_step(state, batch)
  jax.block_until_ready(metrics)
  seconds = (time.perf_counter() - start) / _STEPS.value
  rate = _BATCH.value / seconds

  device = jax.devices()[0]
  result = {
      'benchmark': 'dtn_step', 'config': config.method,
      'schedule': list(config.schedule), 'global_batch': _BATCH.value,
      'num_devices': num_devices, 'steps': _STEPS.value,
      'seconds_per_step': round(seconds, 4),
      'images_per_second': round(rate, 1),
      'compile_and_first_step_seconds': round(compile_seconds, 1),
      'platform': device.platform, 'device_kind': device.device_kind,
      'cpu_count': os.cpu_count(), 'machine': platform.machine(),
      'jax': jax.__version__, 'xla_flags': os.environ.get('XLA_FLAGS', ''),
      'g_widths': list(config.model.g.widths),
      'd_widths': list(config.model.d.widths),
  }
  print(f'DTN step, global batch {_BATCH.value} on {num_devices} '
        f'{device.platform} device(s): {seconds:.3f} s/step, '
        f'{rate:.1f} images/s')
  out = _OUT.value or f'benchmarks/results/dtn_step_{device.platform}.json'
  os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
  with open(out, 'w') as f:
    json.dump(result, f, indent=2)
  print(f'wrote {out}')


if __name__ == '__main__':
  app.run(main)
