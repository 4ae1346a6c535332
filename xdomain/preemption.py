"""Stopping cleanly on SIGTERM / SIGINT: save the current step, then exit.

Preemptible VMs, spot instances and schedulers (Slurm's `scancel`, a
requeue, a time limit) stop a job with SIGTERM and a short grace period;
Ctrl-C sends SIGINT. While the training loop runs, `StopSignals` turns
either into a request the loop reads after each step: it finishes that
step, saves a checkpoint of it, and `xdomain.main` exits with
`EXIT_STATUS` (75, EX_TEMPFAIL: "try again"). Running the same command
again resumes from that checkpoint.

One process: a Python signal handler records the signal.
Several processes: every process must save the *same* step, so the loop
asks JAX's preemption sync point (`multihost_utils.
reached_preemption_sync_point`), which becomes true on every process at
the same step once any of them was sent SIGTERM; JAX's own SIGTERM
handler feeds it, so only SIGINT gets a Python handler (which passes the
signal on as SIGTERM).
"""

import os
import signal
from typing import Optional

from absl import logging
import jax
from jax.experimental import multihost_utils

from xdomain import errors

EXIT_STATUS = errors.Preempted.exit_status  # 75, EX_TEMPFAIL


class StopSignals:
  """Context manager: while active, SIGTERM/SIGINT request a clean stop.

  `requested(step)` is called once per step by every process, after the
  step; True means "save this step and stop" (the same step on every
  process). The previous handlers come back on exit.
  """

  def __init__(self):
    self.received: Optional[str] = None
    self._previous = {}
    self._multi_process = jax.process_count() > 1
    if self._multi_process and not jax.config.jax_enable_preemption_service:
      raise errors.ConfigError(
          'A multi-process run needs JAX\'s preemption service to stop all '
          'processes at the same step on SIGTERM; do not set '
          'jax_enable_preemption_service=False (JAX_ENABLE_PREEMPTION_SERVICE).')

  def __enter__(self):
    if self._multi_process:
      self._install(signal.SIGINT, self._forward_as_sigterm)
    else:
      for sig in (signal.SIGTERM, signal.SIGINT):
        self._install(sig, self._record)
    return self

  def __exit__(self, *unused):
    for sig, handler in self._previous.items():
      signal.signal(sig, handler)
    self._previous.clear()

  def _install(self, sig, handler):
    self._previous[sig] = signal.signal(sig, handler)

  def _record(self, signum, unused_frame):
    if self.received is None:
      logging.warning('Got %s: finishing this step, saving a checkpoint, '
                      'then stopping.', signal.Signals(signum).name)
    self.received = signal.Signals(signum).name

  def _forward_as_sigterm(self, signum, unused_frame):
    self.received = signal.Signals(signum).name
    os.kill(os.getpid(), signal.SIGTERM)  # to JAX's preemption notifier

  def requested(self, step: int) -> bool:
    if not self._multi_process:
      return self.received is not None
    if multihost_utils.reached_preemption_sync_point(step):
      self.received = self.received or 'SIGTERM (this or another process)'
      return True
    return False
