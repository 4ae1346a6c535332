"""Errors that mean "the input is wrong; here is what to do"."""


class XdomainError(RuntimeError):
  """Base class: the CLI prints these as one message, without a traceback."""


class ConfigError(XdomainError, ValueError):
  """A config value is invalid."""


class DatasetUnavailableError(XdomainError):
  """A dataset is not prepared and cannot be built from local files."""


class CheckpointError(XdomainError):
  """A checkpoint is missing or unreadable."""


class NonFiniteLossError(XdomainError, FloatingPointError):
  """A loss became NaN or Inf."""


class Preempted(XdomainError):
  """The run stopped on SIGTERM/SIGINT after saving the step it was in
  (`xdomain.preemption`); `xdomain.main` exits with `exit_status`."""
  exit_status = 75  # EX_TEMPFAIL (sysexits.h): stopped early, rerun resumes

  def __init__(self, message: str, step: int):
    super().__init__(message)
    self.step = step
