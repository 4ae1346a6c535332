"""One run and the prerequisites it trains first (no flags: importable by
tools as well as by `xdomain.main`).

A config may name `prerequisites` (e.g. DTN's f and target evaluator):
name -> {workdir, config}. `run` trains each one whose export
(<workdir>/classifier) is missing, then the run itself.
"""

import os

from absl import logging

from xdomain import config_lib
from xdomain.data import datasets


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
      _warn_if_trained_otherwise(config, name, pre)
    else:
      missing.append((name, pre))
  return missing


def _warn_if_trained_otherwise(config, name, pre) -> None:
  """A found export is used as it is, but a run must not silently read an
  f or evaluator of another recipe (e.g. one left by an older version)."""
  expected = pre.config.copy_and_resolve_references()
  inherit_data_dirs(config, expected)
  differences = config_lib.differences_from_saved(pre.workdir, expected)
  if differences:
    message = (
        f'Prerequisite {name!r}: the export in {pre.workdir} was trained with '
        f'another config ({config_lib.summarize_differences(differences)}). '
        f'Using it anyway; remove {pre.workdir} to retrain it with this '
        f'config.')
    logging.warning(message)
    print(f'WARNING: {message}', flush=True)


def inherit_data_dirs(config, pre_config) -> None:
  """A prerequisite reads its data where its parent does: its empty
  data.data_dir / data.manual_dir take the parent's (one
  --config.data.manual_dir on the command line serves the whole chain)."""
  for key in ('data_dir', 'manual_dir'):
    if not pre_config.data[key]:
      pre_config.data[key] = config.data[key]


def run(config, workdir: str):
  """Validates, prepares data, trains missing prerequisites (e.g. f and the
  evaluator, `config.prerequisites`), then trains; returns final metrics."""
  config_lib.validate(config)
  missing = _missing_prerequisites(config)
  for _, pre in missing:  # every config checked before anything trains
    inherit_data_dirs(config, pre.config)
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
