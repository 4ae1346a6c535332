"""The training loop shared by every method.

Read top to bottom: config -> method -> input -> state (fresh or resumed)
-> compiled step -> loop with logging, evaluation and checkpoints -> export.
The loop knows no method by name: `xdomain.methods.build` turns the config
into a `Method` (networks, update groups, evaluation, export).
"""

import json
import os
import time
from typing import Any, Dict

from absl import logging
from clu import metric_writers
import jax
import ml_collections
import numpy as np

from xdomain import checkpoints
from xdomain import config_lib
from xdomain import curves
from xdomain import errors
from xdomain import files
from xdomain import methods
from xdomain import preemption
from xdomain import steps
from xdomain.data import datasets
from xdomain.data import pipeline


NonFiniteLossError = errors.NonFiniteLossError


def write_json(path: str, payload: Dict[str, Any]) -> None:
  files.write_text(path, json.dumps(payload, indent=2, sort_keys=True))


def _check_finite(metrics: Dict[str, float], step: int,
                  checkpoint_dir: str) -> None:
  bad = {k: v for k, v in metrics.items() if not np.isfinite(v)}
  if bad:
    raise NonFiniteLossError(
        f'Non-finite values at step {step}: {bad}. Training stopped; the last '
        f'good checkpoint in {checkpoint_dir} is intact. Lower the learning '
        'rate or the loss weights and restart.')


_RUN_FIELDS = ('step', 'wall_seconds', 'params_fingerprint')


def _recorded_results(workdir: str, state) -> Dict[str, Any]:
  """The final metrics in <workdir>/results.json if they were computed from
  `state` (same step, same parameters), else {}. The loop writes that file
  for the last step only after the export, so a match means the run is
  complete."""
  path = os.path.join(workdir, 'results.json')
  if not files.exists(path):
    return {}
  try:
    results = json.loads(files.read_text(path))
  except ValueError:
    return {}
  if (results.get('step') != int(state['step']) or
      results.get('params_fingerprint') != checkpoints.params_fingerprint(
          state['params'])):
    return {}
  return {k: v for k, v in results.items() if k not in _RUN_FIELDS}


# A discriminator this sure of the fakes for this many log steps in a row
# gives its generator no gradient to learn from: worth a warning.
FAKE_ACCURACY_ALARM, FAKE_ACCURACY_PATIENCE = 0.99, 5


class _FakeAccuracyWatch:
  """Counts consecutive log steps with a discriminator's accuracy on fakes
  above FAKE_ACCURACY_ALARM; logs one warning when the run reaches
  FAKE_ACCURACY_PATIENCE of them (again after each recovery)."""

  def __init__(self, names):
    self.streak = {name: 0 for name in names}

  def update(self, step: int, scalars: Dict[str, float]) -> None:
    for name in self.streak:
      if name not in scalars:
        continue
      above = scalars[name] > FAKE_ACCURACY_ALARM
      self.streak[name] = self.streak[name] + 1 if above else 0
      if self.streak[name] == FAKE_ACCURACY_PATIENCE:
        logging.warning(
            'Step %d: %s has stayed above %.0f %% for %d log steps: the '
            'discriminator wins and its generator gets little signal. Look '
            'at curves.png and the sample grid; consider a weaker or '
            'thresholded D, more generator updates per D update, or lower '
            'D learning rate.', step, name, 100 * FAKE_ACCURACY_ALARM,
            FAKE_ACCURACY_PATIENCE)


def train_and_evaluate(config: ml_collections.ConfigDict,
                       workdir: str) -> Dict[str, float]:
  """Trains `config.method`, evaluates, exports; returns final eval metrics."""
  # --- Config and workdir -------------------------------------------------
  config_lib.validate(config)
  workdir = files.absolute(workdir)  # a local path or a gs:// URL
  files.makedirs(workdir)
  is_main = jax.process_index() == 0
  if is_main:
    write_json(os.path.join(workdir, 'config.json'), config.to_dict())
  writer = metric_writers.create_default_writer(workdir,
                                                just_logging=not is_main)

  # --- Method ----------------------------------------------------------------
  # Datasets first: a missing one fails here, before anything compiles.
  datasets.prepare_all(config.data)
  method = methods.build(config, workdir)
  num_devices = jax.local_device_count()

  # --- State: fresh or resumed, and the input from that step -----------------
  state = steps.init_state(method, jax.random.key(config.seed),
                           pipeline.example_batch(config))
  checkpointer = checkpoints.TrainCheckpointer(workdir)
  restored = checkpointer.restore_latest(state)
  if restored is not None:
    state = restored
    logging.info('Resumed from step %d.', int(state['step']))
  start_step = int(state['step'])
  batches = pipeline.train_iterator(
      config, num_devices=num_devices, seed=config.seed,
      process_index=jax.process_index(), process_count=jax.process_count(),
      skip_batches=start_step)

  # --- Compiled step ---------------------------------------------------------
  train_step = steps.make_train_step(method, config.seed)
  replicated = steps.replicate(state)
  global_batch = (config.per_device_batch_size * num_devices *
                  jax.process_count())

  # --- Loop ------------------------------------------------------------------
  eval_metrics: Dict[str, float] = {}
  t_start = time.time()
  t_log, step_log = t_start, start_step
  num_steps = config.num_train_steps
  host_state = state  # host copy; refreshed at every checkpoint/eval step,
  # which includes the last one, so it is current after the loop

  fake_watch = _FakeAccuracyWatch(method.fake_accuracy_metrics)

  def evaluate(step: int, host_state, final: bool = False):
    """Evaluates, keeps the best checkpoint, writes results.json; `final`:
    exports first, so that a final results.json means a complete run."""
    nonlocal eval_metrics
    eval_metrics = method.evaluate(steps.eval_variables(host_state), step)
    eval_scalars = {f'eval/{k}': v for k, v in eval_metrics.items()}
    writer.write_scalars(step, eval_scalars)
    if is_main:  # with the wall time of training so far (for comparisons)
      curves.append(workdir, step, {
          **eval_scalars, 'wall_seconds': round(time.time() - t_start, 1)})
      curves.plot(workdir)
    if method.best_metric:
      checkpointer.save_if_best(step, host_state, method.best_metric,
                                eval_metrics)
    if final and method.export is not None:
      method.export(steps.eval_variables(host_state), eval_metrics)
    if is_main:
      write_json(os.path.join(workdir, 'results.json'), {
          **eval_metrics, 'step': step,
          'wall_seconds': round(time.time() - t_start, 1),
          'params_fingerprint': checkpoints.params_fingerprint(
              host_state['params'])})

  if start_step >= num_steps:  # a finished run, e.g. requeued
    eval_metrics = _recorded_results(workdir, state)
    if eval_metrics:
      logging.info('The run in %s finished at step %d: nothing to do; its '
                   'results are in results.json.', workdir, start_step)
    else:  # it stopped before its final evaluation and export
      evaluate(start_step, state, final=True)
    writer.flush()
    checkpointer.close()
    return eval_metrics

  stopped_at = None  # the step a SIGTERM/SIGINT stopped the run at
  with preemption.StopSignals() as stop:  # SIGTERM/SIGINT: save, stop
    for step in range(start_step + 1, num_steps + 1):
      batch = next(batches)
      replicated, metrics = train_step(replicated, batch)
      stopping = stop.requested(step)
      is_last = step == num_steps
      is_log = step % config.log_every_steps == 0 or is_last
      is_checkpoint = (step % config.checkpoint_every_steps == 0 or is_last
                       or stopping)
      is_eval = ((step % config.eval_every_steps == 0 or is_last)
                 and not stopping)
      if is_log or is_checkpoint or is_eval:  # never save a state not seen finite
        scalars = {k: float(v) for k, v in steps.to_host(metrics).items()}
        _check_finite(scalars, step, checkpointer.directory)
      if is_log:
        now = time.time()
        rate = (step - step_log) * global_batch / max(now - t_log, 1e-9)
        scalars['images_per_second'] = rate
        scalars['eta_seconds'] = (num_steps - step) * global_batch / max(
            rate, 1e-9)
        writer.write_scalars(step, scalars)
        fake_watch.update(step, scalars)
        if is_main:
          curves.append(workdir, step, scalars)
        t_log, step_log = now, step
      if is_checkpoint or is_eval:
        host_state = steps.to_host(replicated)  # one copy for both
      if is_checkpoint:
        checkpointer.save(step, host_state)
      if is_eval:
        evaluate(step, host_state, final=is_last)
      if stopping:
        stopped_at = step
        break

  writer.flush()
  checkpointer.close()
  if stopped_at is not None:
    message = (f'Stopped by {stop.received} at step {stopped_at} of '
               f'{num_steps}; its checkpoint is saved in '
               f'{checkpointer.directory}/{stopped_at}. Run the same command '
               'to resume from it.')
    logging.warning(message)
    raise errors.Preempted(message, stopped_at)
  return eval_metrics
