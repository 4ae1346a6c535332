r"""Images/s of a method's compiled training step (all its update groups).

  python benchmarks/train_step.py --config=configs/dtn_synth_mnist.py \
      --batch=128 --steps=10 --out=benchmarks/results/dtn_step_cpu.json
  python benchmarks/train_step.py --config=configs/cyclegan_synth_mnist.py:cpu \
      --batch=32 --steps=20 --out=benchmarks/results/cyclegan_cpu_step_cpu.json
  python benchmarks/train_step.py --config=configs/sigan_synth_mnist.py \
      --batch=200 --steps=20 --out=benchmarks/results/sigan_step_cpu.json

Times the same pmapped `(state, batch) -> (state, metrics)` the training loop
runs, on random images of the right shape (no input pipeline), after one
compile-and-warm-up step. The global batch is split over all local devices.
f (SIGAN: E and F) and the evaluator are randomly initialised here unless
the config's exports exist (their weights do not change the step's cost).
Prints images/s and writes JSON with the device, batch and per-step seconds.
A group that runs every t iterations only (SIGAN's classification update,
`loss.cls_every`) is in the average at its real share when --steps is a
multiple of t (the timed steps are iterations 1..steps after the warm-up).
"""

import json
import os
import platform
import sys
import time

from absl import app
from absl import flags
from ml_collections import config_flags

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
# pylint: disable=g-import-not-at-top,wrong-import-position
from xdomain import platform_defaults
platform_defaults.apply()  # as `python -m xdomain.main` runs
import jax

import step_bench

_CONFIG = config_flags.DEFINE_config_file('config', 'configs/dtn_synth_mnist.py')
_BATCH = flags.DEFINE_integer('batch', 128, 'Global batch (source and target '
                              'each), split over the local devices.')
_STEPS = flags.DEFINE_integer('steps', 10, 'Timed steps.')
_OUT = flags.DEFINE_string('out', '', 'JSON output path (default: '
                           'benchmarks/results/<method>_step_<platform>.json).')


def main(argv):
  del argv
  config = _CONFIG.value
  num_devices = jax.local_device_count()
  train_step, state, batch = step_bench.build(config, _BATCH.value)

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
      'benchmark': f'{config.method}_step', 'config': config.method,
      'schedule': list(config.schedule), 'global_batch': _BATCH.value,
      'num_devices': num_devices, 'steps': _STEPS.value,
      'seconds_per_step': round(seconds, 4),
      'images_per_second': round(rate, 1),
      'compile_and_first_step_seconds': round(compile_seconds, 1),
      'platform': device.platform, 'device_kind': device.device_kind,
      'cpu_count': os.cpu_count(), 'machine': platform.machine(),
      'jax': jax.__version__, 'xla_flags': os.environ.get('XLA_FLAGS', ''),
      # The networks' sizes: every method's whole model section (its
      # fields differ: DTN g.widths, CycleGAN g.width, XGAN widths, ...).
      'model': config.model.to_dict(),
  }
  if 'cls_every' in config.get('loss', {}):
    result['cls_every'] = int(config.loss.cls_every)
  print(f'{config.method} step ({"+".join(config.schedule)}), global batch '
        f'{_BATCH.value} on {num_devices} {device.platform} device(s): '
        f'{seconds:.3f} s/step, {rate:.1f} images/s')
  out = _OUT.value or (f'benchmarks/results/{config.method}_step_'
                       f'{device.platform}.json')
  os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
  with open(out, 'w') as f:
    json.dump(result, f, indent=2)
  print(f'wrote {out}')


if __name__ == '__main__':
  app.run(main)
