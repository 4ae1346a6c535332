"""Workdir file access that also works on cloud storage (gs://...).

A TPU pod's workers share their workdir through a bucket (Orbax needs one
directory all processes see), so run files go through `etils.epath`, which
reads local paths and gs:// URLs alike.
"""

import os

from etils import epath


def is_remote(path: str) -> bool:
  return '://' in str(path)


def absolute(path: str) -> str:
  """Local paths made absolute (and ~ expanded); URLs unchanged."""
  path = str(path)
  return path if is_remote(path) else os.path.abspath(os.path.expanduser(path))


def makedirs(path: str) -> None:
  epath.Path(path).mkdir(parents=True, exist_ok=True)


def isdir(path: str) -> bool:
  return epath.Path(path).is_dir()


def write_bytes(path: str, data: bytes) -> None:
  """Writes `path` whole: locally through a temporary file and a rename, so
  a reader never sees half a file."""
  if is_remote(path):
    epath.Path(path).write_bytes(data)
    return
  tmp = f'{path}.tmp'
  with open(tmp, 'wb') as f:
    f.write(data)
  os.replace(tmp, path)


def write_text(path: str, text: str) -> None:
  write_bytes(path, text.encode())


def exists(path: str) -> bool:
  return epath.Path(path).exists()


def read_text(path: str) -> str:
  return epath.Path(path).read_text()
