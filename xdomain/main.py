"""Entry point: python -m xdomain.main --config=configs/NAME.py --workdir=DIR.

Override any config field on the command line, e.g.
  --config.num_train_steps=100 --config.data.manual_dir=../shared/data/mnist

The config is validated and every dataset it names is prepared before
TensorFlow and JAX are imported, so bad input fails in seconds.
"""

import logging as std_logging
import os
import sys

# Quieter TensorFlow; it is only used by the input pipeline.
os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')

from absl import app  # pylint: disable=g-import-not-at-top
from absl import flags
from absl import logging
from ml_collections import config_flags

from xdomain import config_lib
from xdomain import distributed
from xdomain import errors
from xdomain import platform_defaults
from xdomain.data import datasets

_WORKDIR = flags.DEFINE_string('workdir', None,
                               'Directory for checkpoints, logs and results.')
config_flags.DEFINE_config_file(
    'config', None, 'Path to a config file, e.g. configs/pretrain_f_synth.py '
    '(optionally with :ARG for a variant, e.g. :tiny).', lock_config=True)
flags.mark_flags_as_required(['config', 'workdir'])
# Multi-host runs (see xdomain/distributed.py); unset on one host, and on
# Cloud TPU pods / Slurm / Open MPI, where JAX finds them itself.
_COORDINATOR = flags.DEFINE_string(
    'coordinator_address', '', 'HOST:PORT of process 0 for a multi-process '
    'run (default: $JAX_COORDINATOR_ADDRESS).')
_NUM_PROCESSES = flags.DEFINE_integer(
    'num_processes', 0, 'Processes in the run (default: $JAX_NUM_PROCESSES).')
_PROCESS_ID = flags.DEFINE_integer(
    'process_id', -1, 'This process, 0..num_processes-1 (default: '
    '$JAX_PROCESS_ID).')


def _quiet_orbax_info(record) -> bool:
  """Drops Orbax's per-save INFO chatter; keeps its warnings and errors."""
  return 'orbax' not in record.pathname or record.levelno >= std_logging.WARNING


def _missing_prerequisites(config):
  """(name, prerequisite) pairs whose export does not exist yet."""
  missing = []
  prerequisites = config.get('prerequisites', {})
  if prerequisites:  # imports JAX: only when there is something to check
    from xdomain.methods import classifier  # pylint: disable=g-import-not-at-top
  for name, pre in prerequisites.items():
    export = classifier.export_path(pre.config, pre.workdir)
    if os.path.isdir(export):
      logging.info('Prerequisite %r: using the export at %s.', name, export)
    else:
      missing.append((name, pre))
  return missing


def run(config, workdir: str):
  """Validates, prepares data, trains missing prerequisites (e.g. f and the
  evaluator, `config.prerequisites`), then trains; returns final metrics."""
  config_lib.validate(config)
  missing = _missing_prerequisites(config)
  for _, pre in missing:  # every config checked before anything trains
    config_lib.validate(pre.config)
  datasets.prepare_all(config.data)
  for name, pre in missing:
    logging.info('Prerequisite %r: no export yet; training it in %s.', name,
                 pre.workdir)
    print(f'Training prerequisite {name!r} in {pre.workdir} ...', flush=True)
    run(pre.config, pre.workdir)
  # pylint: disable=g-import-not-at-top
  import tensorflow as tf
  import tensorflow_datasets as tfds
  from xdomain import train
  # pylint: enable=g-import-not-at-top
  tf.config.set_visible_devices([], 'GPU')  # TF must not take JAX's GPUs.
  tfds.disable_progress_bar()
  return train.train_and_evaluate(config, workdir)


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f'Unexpected arguments: {argv[1:]}')
  platform_defaults.apply()  # XLA settings, before JAX starts its backends
  logging.get_absl_handler().addFilter(_quiet_orbax_info)
  try:
    distributed.initialize(distributed.process_group(
        _COORDINATOR.value, _NUM_PROCESSES.value, _PROCESS_ID.value))
    metrics = run(flags.FLAGS.config, _WORKDIR.value)
  except errors.XdomainError as e:
    sys.exit(f'error: {type(e).__name__}: {e}')
  summary = ', '.join(f'{k}={v:.4f}' if isinstance(v, float) else f'{k}={v}'
                      for k, v in sorted(metrics.items()))
  logging.info('Final evaluation: %s', summary)
  print(f'Final evaluation: {summary}', flush=True)
  print('Results: '
        f'{os.path.join(os.path.abspath(_WORKDIR.value), "results.json")}')


if __name__ == '__main__':
  app.run(main)
