"""Entry point: python -m xdomain.main --config=configs/NAME.py --workdir=DIR.

Override any config field on the command line, e.g.
  --config.num_train_steps=100 --config.data.manual_dir=../shared/data/mnist

The config is validated and every dataset it names is prepared before
TensorFlow and JAX are imported, so bad input fails in seconds.

Exit status: 0 done (also when the run had already finished: rerunning a
finished workdir changes nothing); 1 bad input, named in one line (config,
data, checkpoint, non-finite loss); 75 stopped by SIGTERM/SIGINT after
saving the current step (`xdomain.preemption`): the same command resumes.
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

from xdomain import chain
from xdomain import distributed
from xdomain import errors
from xdomain import platform_defaults

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


run = chain.run  # validate, prepare data, train prerequisites, train


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f'Unexpected arguments: {argv[1:]}')
  platform_defaults.apply()  # XLA settings, before JAX starts its backends
  logging.get_absl_handler().addFilter(_quiet_orbax_info)
  try:
    distributed.initialize(distributed.process_group(
        _COORDINATOR.value, _NUM_PROCESSES.value, _PROCESS_ID.value))
    metrics = run(flags.FLAGS.config, _WORKDIR.value)
  except errors.Preempted as e:  # SIGTERM/SIGINT: saved; rerun resumes
    print(f'stopped: {e}', file=sys.stderr, flush=True)
    sys.exit(e.exit_status)
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
