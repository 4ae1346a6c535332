"""Orbax checkpoints: the training state, and exported classifiers.

Training state: an Orbax `CheckpointManager` under `<workdir>/checkpoints`,
saved every `checkpoint_every_steps`, at the end and on SIGTERM/SIGINT; on
start the latest readable checkpoint is restored (a corrupt one is reported
and the previous one used). Saves are synchronous (the loop needs each one
finished before it goes on, and a failed write must stop the run at once
rather than leave background threads waiting), idempotent per step, and a
failed write is one CheckpointError naming the directory.

Exported classifiers (`f`, target evaluators): one Orbax checkpoint holding
`variables` (params and batch stats) and `metadata` (the model config, the
data it was trained on, its test accuracy). `load_classifier` rebuilds the
module from the stored model config, so a consumer only needs the path.
"""

import hashlib
import json
import os
from typing import Any, Dict, Optional, Tuple

from absl import logging
import jax
import ml_collections
import numpy as np
import orbax.checkpoint as ocp

from xdomain import errors
from xdomain import files
from xdomain.models import classifiers


CheckpointError = errors.CheckpointError


class TrainCheckpointer:
  """Saves and restores the full training state of one run."""

  def __init__(self, workdir: str, max_to_keep: int = 3):
    self.directory = os.path.join(files.absolute(workdir), 'checkpoints')
    self.manager = ocp.CheckpointManager(
        self.directory,
        options=ocp.CheckpointManagerOptions(
            max_to_keep=max_to_keep, create=True,
            enable_async_checkpointing=False))
    self._best = None  # created on the first evaluation

  def save(self, step: int, state: Any) -> None:
    """Saves `state` as `step` (a no-op when that step is already saved).

    Orbax writes into a temporary directory and renames it when complete,
    so a failed write leaves no half-written step; the failure is raised as
    a CheckpointError naming the directory and the step still restorable.
    """
    if step in self.manager.all_steps():
      return
    _save_or_explain(self.manager, step, state, self.directory,
                     self.manager.latest_step())

  def restore_latest(self, template: Any) -> Optional[Any]:
    """The newest readable state, or None when there is no checkpoint."""
    abstract = jax.tree.map(ocp.utils.to_shape_dtype_struct, template)
    for step in sorted(self.manager.all_steps(), reverse=True):
      try:
        return self.manager.restore(
            step, args=ocp.args.StandardRestore(abstract))
      except Exception as e:  # pylint: disable=broad-except
        logging.error('Checkpoint at step %d in %s is unreadable (%s: %s); '
                      'trying the previous one.', step, self.directory,
                      type(e).__name__, e)
    return None

  def close(self) -> None:
    self.manager.close()
    if self._best is not None:
      self._best.close()

  def save_if_best(self, step: int, state: Any, metric: str,
                   metrics: Dict[str, float]) -> None:
    """Keeps the state with the highest `metric` under `<workdir>/best`."""
    if self._best is None:
      self._best = ocp.CheckpointManager(
          os.path.join(os.path.dirname(self.directory), 'best'),
          options=ocp.CheckpointManagerOptions(
              max_to_keep=1, create=True, best_fn=lambda m: m[metric],
              best_mode='max', enable_async_checkpointing=False))
    if step in self._best.all_steps():  # e.g. a finished run evaluated again
      return
    _save_or_explain(self._best, step, state, str(self._best.directory),
                     self._best.latest_step(),
                     metrics={metric: float(metrics[metric])})


def _save_or_explain(manager: ocp.CheckpointManager, step: int, state: Any,
                     directory: str, previous: Optional[int],
                     **save_kwargs) -> None:
  """`manager.save` of `step`, waiting for it; a failed write (full disk,
  no permission, a storage error) becomes one CheckpointError."""
  try:
    manager.save(step, args=ocp.args.StandardSave(state), force=True,
                 **save_kwargs)
    manager.wait_until_finished()
  except Exception as e:  # pylint: disable=broad-except
    kept = (f'the checkpoint of step {previous} there is intact and the '
            'same command resumes from it' if previous is not None else
            'no earlier checkpoint exists there')
    raise CheckpointError(
        f'Could not write the checkpoint of step {step} to {directory} '
        f'({type(e).__name__}: {e}). Training stopped; {kept}. Free disk '
        'space or fix the permissions, then run the same command again.'
    ) from e


def params_fingerprint(params: Any) -> str:
  """SHA-256 of the parameters' bytes (tree order), to compare runs."""
  digest = hashlib.sha256()
  for path, leaf in jax.tree_util.tree_flatten_with_path(params)[0]:
    array = np.ascontiguousarray(np.asarray(leaf))
    digest.update(jax.tree_util.keystr(path).encode())
    digest.update(str(array.dtype).encode() + str(array.shape).encode())
    digest.update(array.tobytes())
  return digest.hexdigest()


def _to_numpy(tree):
  return jax.tree.map(np.asarray, tree)


def save_classifier(path: str, variables: Dict[str, Any],
                    model_config: ml_collections.ConfigDict,
                    metadata: Dict[str, Any]) -> str:
  """Writes an exported classifier; returns its absolute path."""
  path = files.absolute(path)
  meta = {'model': model_config.to_dict(), **metadata}
  json.dumps(meta)  # fail here, not inside Orbax, on non-JSON metadata
  checkpointer = ocp.Checkpointer(ocp.CompositeCheckpointHandler())
  checkpointer.save(
      path,
      args=ocp.args.Composite(
          variables=ocp.args.StandardSave(_to_numpy(variables)),
          metadata=ocp.args.JsonSave(meta)),
      force=True)
  checkpointer.wait_until_finished() if hasattr(
      checkpointer, 'wait_until_finished') else None
  return path


def save_untrained_classifier(path: str, seed: int = 0) -> str:
  """An export of an untrained classifier of f's family (`config_lib`'s
  default model), for benchmarks and tests where its weights do not
  matter; returns its absolute path."""
  from xdomain import config_lib  # pylint: disable=g-import-not-at-top
  model_config = config_lib.classifier_model()
  model = classifiers.classifier_from_config(model_config)
  variables = model.init(jax.random.key(seed), np.zeros((1, 32, 32, 3)))
  return save_classifier(path, variables, model_config, {})


def load_classifier(
    path: str) -> Tuple[classifiers.DigitClassifier, Dict[str, Any], Dict]:
  """Returns (module, variables, metadata) of an exported classifier."""
  path = files.absolute(path)
  if not files.isdir(path):
    raise CheckpointError(
        f'No classifier checkpoint at {path}. Train one first, e.g. '
        'python -m xdomain.main --config=configs/pretrain_f_synth.py '
        '--workdir=DIR (it exports to DIR/classifier), and point the config '
        'at that path.')
  checkpointer = ocp.Checkpointer(ocp.CompositeCheckpointHandler())
  try:
    restored = checkpointer.restore(
        path,
        args=ocp.args.Composite(variables=ocp.args.StandardRestore(),
                                metadata=ocp.args.JsonRestore()))
  except Exception as e:  # pylint: disable=broad-except
    raise CheckpointError(
        f'Classifier checkpoint at {path} is unreadable ({type(e).__name__}: '
        f'{e}). Delete it and train the classifier again.') from e
  metadata = restored['metadata']
  model = classifiers.classifier_from_config(
      ml_collections.ConfigDict(metadata['model']))
  variables = jax.tree.map(np.asarray, restored['variables'])
  return model, variables, metadata


def load_required_classifier(path: str, needed_by: str, what: str,
                             config_field: str):
  """`load_classifier`, with the error naming who needs the export and the
  config field that points at it."""
  try:
    return load_classifier(path)
  except CheckpointError as e:
    raise CheckpointError(
        f'{needed_by} needs {what} (config.{config_field} = {path!r}): {e}'
    ) from None

