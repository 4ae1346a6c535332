"""Preemption and requeue safety of the loop (one process; the two-process
case is in test_multihost.py): SIGTERM saves the step it arrives in and
exits 75, the resumed run is bit-identical to an uninterrupted one, a
finished run run again changes nothing, and a checkpoint that cannot be
written stops the run with the previous one intact."""

import hashlib
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from xdomain import checkpoints
from xdomain import errors
from xdomain import preemption
from xdomain import train
from conftest import (REPO, BackgroundProcess, stopped_step,
                      tiny_classifier_config, wait_for_logged_steps)

STEPS = 60


def _quickstart_overrides(data_dir, tiny_classifiers):
  """configs/dtn_quickstart.py:tiny on the test data, with its prerequisites
  already trained (the fixture's exports), STEPS steps, no periodic
  checkpoint before the end."""
  f_path, evaluator_path = tiny_classifiers
  return {
      'data.data_dir': data_dir,
      'prerequisites.f.workdir': os.path.dirname(f_path),
      'prerequisites.evaluator.workdir': os.path.dirname(evaluator_path),
      'model.f_checkpoint': f_path,
      'eval.evaluator_checkpoint': evaluator_path,
      'num_train_steps': STEPS, 'log_every_steps': 1,
      'eval_every_steps': STEPS, 'checkpoint_every_steps': 10 * STEPS}


def _cli(overrides, workdir):
  return [sys.executable, '-m', 'xdomain.main',
          '--config=configs/dtn_quickstart.py:tiny', f'--workdir={workdir}',
          *[f'--config.{k}={v}' for k, v in overrides.items()]]


def _tree_digest(*directories) -> dict:
  """path -> (sha256, mtime) of every file under `directories`."""
  out = {}
  for directory in directories:
    for root, _, names in os.walk(directory):
      for name in names:
        path = os.path.join(root, name)
        with open(path, 'rb') as f:
          out[path] = (hashlib.sha256(f.read()).hexdigest(),
                       os.stat(path).st_mtime_ns)
  return out


def _fingerprint(workdir):
  with open(os.path.join(workdir, 'results.json')) as f:
    return json.load(f)['params_fingerprint']


def test_sigterm_saves_its_step_resume_is_bit_identical_rerun_is_harmless(
    data_dir, tiny_classifiers, tmp_path):
  overrides = _quickstart_overrides(data_dir, tiny_classifiers)
  stopped, straight = str(tmp_path / 'stopped'), str(tmp_path / 'straight')
  uninterrupted = BackgroundProcess(_cli(overrides, straight), cwd=REPO)
  process = BackgroundProcess(_cli(overrides, stopped), cwd=REPO)
  wait_for_logged_steps(stopped, 3, [process])
  process.process.send_signal(signal.SIGTERM)
  _, stderr = process.communicate(timeout=300)
  assert process.process.returncode == preemption.EXIT_STATUS == 75, (
      stderr[-3000:])
  step, line = stopped_step(stderr)
  assert 3 <= step < STEPS  # an arbitrary step, not a periodic checkpoint
  manager = checkpoints.TrainCheckpointer(stopped)
  assert manager.manager.all_steps() == [step]
  manager.close()
  assert f'checkpoints/{step}' in line and 'same command' in line

  # The same command resumes; the result equals the uninterrupted run's.
  resumed = subprocess.run(_cli(overrides, stopped), cwd=REPO,
                           capture_output=True, text=True, timeout=300)
  assert resumed.returncode == 0, resumed.stderr[-3000:]
  assert f'Resumed from step {step}.' in resumed.stderr
  _, stderr = uninterrupted.communicate(timeout=300)
  assert uninterrupted.process.returncode == 0, stderr[-3000:]
  assert _fingerprint(stopped) == _fingerprint(straight)

  # The same command on the finished run: exit 0, nothing written.
  before = _tree_digest(os.path.join(stopped, 'checkpoints'),
                        os.path.join(stopped, 'best'),
                        os.path.join(stopped, 'samples'))
  with open(os.path.join(stopped, 'results.json')) as f:
    results_before = f.read()
  again = subprocess.run(_cli(overrides, stopped), cwd=REPO,
                         capture_output=True, text=True, timeout=300)
  assert again.returncode == 0, again.stderr[-3000:]
  assert 'finished at step 60: nothing to do' in again.stderr
  assert 'Final evaluation: ' in again.stdout
  assert _tree_digest(os.path.join(stopped, 'checkpoints'),
                      os.path.join(stopped, 'best'),
                      os.path.join(stopped, 'samples')) == before
  with open(os.path.join(stopped, 'results.json')) as f:
    assert f.read() == results_before


def test_finished_run_without_final_results_is_evaluated_once(data_dir,
                                                              tmp_path):
  """Stopped between its last checkpoint and its final evaluation: the
  rerun evaluates and exports; the run after that only reads results."""
  workdir = str(tmp_path / 'run')
  config = tiny_classifier_config(data_dir)
  train.train_and_evaluate(config, workdir)
  fingerprint = _fingerprint(workdir)
  os.remove(os.path.join(workdir, 'results.json'))
  metrics = train.train_and_evaluate(config, workdir)
  assert _fingerprint(workdir) == fingerprint
  assert metrics == train.train_and_evaluate(config, workdir)


def test_signal_handlers_request_a_stop_and_are_restored():
  before = signal.getsignal(signal.SIGTERM)
  with preemption.StopSignals() as stop:
    assert not stop.requested(1)
    os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C: the same clean stop
    time.sleep(0.01)
    assert stop.requested(2) and stop.received == 'SIGINT'
  assert signal.getsignal(signal.SIGTERM) is before


def _make_immutable(directory) -> bool:
  """Makes `directory` refuse new entries (chmod, or chattr +i for root);
  False when neither works here."""
  os.chmod(directory, 0o555)
  probe = os.path.join(directory, 'probe')
  try:
    open(probe, 'w').close()
  except OSError:
    return True
  os.remove(probe)
  subprocess.run(['chattr', '+i', directory], check=False,
                 capture_output=True)
  try:
    open(probe, 'w').close()
  except OSError:
    return True
  os.remove(probe)
  return False


def _make_writable(directory):
  subprocess.run(['chattr', '-i', directory], check=False,
                 capture_output=True)
  os.chmod(directory, 0o755)


def test_unwritable_checkpoint_directory_stops_and_keeps_the_previous(
    data_dir, tmp_path, monkeypatch):
  workdir = str(tmp_path / 'run')
  config = tiny_classifier_config(
      data_dir, **{'checkpoint_every_steps': 2, 'eval_every_steps': 100})
  real_save = checkpoints.TrainCheckpointer.save
  state = {'saves': 0, 'immutable': None}

  def save_then_break_the_directory(self, step, host_state):
    state['saves'] += 1
    if state['saves'] == 2:  # mid-run: after the step-2 checkpoint
      state['immutable'] = _make_immutable(self.directory)
      if not state['immutable']:
        pytest.skip('cannot make a directory unwritable here')
    return real_save(self, step, host_state)

  monkeypatch.setattr(checkpoints.TrainCheckpointer, 'save',
                      save_then_break_the_directory)
  checkpoint_dir = os.path.join(workdir, 'checkpoints')
  try:
    with pytest.raises(errors.CheckpointError) as raised:
      train.train_and_evaluate(config, workdir)
  finally:
    if os.path.isdir(checkpoint_dir):
      _make_writable(checkpoint_dir)
  message = str(raised.value)
  assert 'step 4' in message and checkpoint_dir in message
  assert 'step 2 there is intact' in message
  monkeypatch.undo()
  manager = checkpoints.TrainCheckpointer(workdir)
  assert manager.manager.all_steps() == [2]
  manager.close()
  # The same command resumes from step 2 and finishes.
  assert train.train_and_evaluate(config, workdir)
  assert json.load(open(os.path.join(workdir, 'results.json')))['step'] == (
      config.num_train_steps)
