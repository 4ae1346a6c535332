"""Finding and preparing TFDS datasets, offline-first.

A dataset is named either by its TFDS name (`mnist`, `svhn_cropped`,
`synth_digits/tiny`, ...) or by the path of a prepared TFDS directory (the one
holding `dataset_info.json`). Datasets that TFDS downloads (`mnist`,
`svhn_cropped`, ...) are built from files placed in `data.manual_dir`, with
the names and checksums TFDS registers for them. When those files are
missing and the download hosts cannot be reached, `prepare` fails at once with
the list of files instead of letting TFDS retry the network for minutes.
"""

import os
import socket
import threading
import urllib.parse
from typing import List, Optional

import tensorflow_datasets as tfds

from xdomain import errors

# Importing registers the project's own builders with TFDS.
from xdomain.data import synth_digits  # pylint: disable=unused-import
from xdomain.data import uci_digits  # pylint: disable=unused-import


DatasetUnavailableError = errors.DatasetUnavailableError


def default_data_dir() -> str:
  """TFDS's data dir: $TFDS_DATA_DIR, else ~/tensorflow_datasets."""
  return os.environ.get('TFDS_DATA_DIR') or tfds.core.constants.DATA_DIR


def resolve_dirs(data_dir: str, manual_dir: str):
  """Config strings ('' = default) to absolute (data_dir, manual_dir)."""
  data_dir = os.path.abspath(os.path.expanduser(data_dir or default_data_dir()))
  manual_dir = manual_dir or os.path.join(data_dir, 'downloads', 'manual')
  return data_dir, os.path.abspath(os.path.expanduser(manual_dir))


def get_builder(name: str, data_dir: str) -> tfds.core.DatasetBuilder:
  """A TFDS builder for a registered name or a prepared dataset directory."""
  path = os.path.expanduser(name)
  if os.path.isdir(path):
    if not os.path.exists(os.path.join(path, 'dataset_info.json')):
      raise DatasetUnavailableError(
          f'{path} is a directory but not a prepared TFDS dataset (no '
          'dataset_info.json). Name a registered TFDS dataset or the '
          'version directory of a prepared one.')
    return tfds.builder_from_directory(path)
  try:
    return tfds.builder(name, data_dir=data_dir)
  except tfds.core.registered.DatasetNotFoundError as e:
    raise DatasetUnavailableError(
        f'Unknown dataset {name!r}: not a registered TFDS name and not a '
        f'prepared dataset directory. ({e})') from None


def missing_manual_files(builder: tfds.core.DatasetBuilder,
                         manual_dir: str) -> List[str]:
  """Files TFDS would download for `builder` that are not in `manual_dir`."""
  try:
    url_infos = builder.url_infos or {}
  except Exception:  # pylint: disable=broad-except
    url_infos = {}
  names = sorted({info.filename for info in url_infos.values()
                  if info.filename})
  return [n for n in names if not os.path.exists(os.path.join(manual_dir, n))]


def _hosts_reachable(builder: tfds.core.DatasetBuilder,
                     timeout: float = 2.0) -> bool:
  """Whether one download host answers within `timeout` s (DNS included)."""
  hosts = {urllib.parse.urlparse(url).hostname
           for url in (builder.url_infos or {})}
  result = []

  def probe():
    for host in hosts:
      try:
        socket.create_connection((host, 443), timeout=timeout).close()
        result.append(True)
        return
      except OSError:
        continue

  thread = threading.Thread(target=probe, daemon=True)
  thread.start()
  thread.join(timeout)
  return bool(result)


def prepare(name: str, data_dir: str = '', manual_dir: str = '',
            download: str = 'auto') -> tfds.core.DatasetBuilder:
  """Returns a prepared builder, building it from local files if needed.

  Args:
    name: TFDS name (with optional `/config` and `:version`) or a prepared
      dataset directory.
    data_dir: TFDS data dir ('' = TFDS's default, honouring $TFDS_DATA_DIR).
    manual_dir: folder with manually downloaded files ('' =
      `<data_dir>/downloads/manual`).
    download: 'auto' (download missing files only if the hosts answer),
      'never' or 'always'.
  """
  if download not in ('auto', 'never', 'always'):
    raise errors.ConfigError(
        f"data.download must be 'auto', 'never' or 'always', got {download!r}")
  data_dir, manual_dir = resolve_dirs(data_dir, manual_dir)
  builder = get_builder(name, data_dir)
  if builder.is_prepared():
    return builder
  missing = missing_manual_files(builder, manual_dir)
  if missing and (download == 'never' or
                  (download == 'auto' and not _hosts_reachable(builder))):
    raise DatasetUnavailableError(
        f'Dataset {name!r} is not prepared in {data_dir} and cannot be built '
        f'offline: these files are missing from {manual_dir}: '
        f'{", ".join(missing)}. Place them there (names and checksums as TFDS '
        'registers them), or point the config field data.manual_dir '
        '(--config.data.manual_dir=DIR) at the folder that holds them.')
  builder.download_and_prepare(
      download_config=tfds.download.DownloadConfig(manual_dir=manual_dir))
  return builder


DOMAINS = ('source', 'target')


def active_domains(data) -> List[str]:
  """The domains of `config.data` that name a dataset, in a fixed order."""
  return [d for d in DOMAINS if d in data and data[d].name]


def prepare_domain(data, domain):
  """Prepares one domain of `config.data` (building it offline if needed),
  checks its split names, and returns the builder."""
  builder = prepare(domain.name, data.data_dir, data.manual_dir, data.download)
  for split in (domain.train_split, domain.test_split):
    check_split(builder, split, domain.name)
  return builder


def prepare_all(data) -> None:
  """Prepares every active domain; fails fast on a missing dataset."""
  for domain in active_domains(data):
    prepare_domain(data, data[domain])


def num_examples(builder: tfds.core.DatasetBuilder, split: str) -> int:
  return builder.info.splits[split].num_examples


def check_split(builder: tfds.core.DatasetBuilder, split: str,
                name: Optional[str] = None) -> None:
  """Raises a clear error when `split` (e.g. 'train[:10%]') is unknown."""
  base = split.split('[')[0]
  known = builder.info.splits
  if known and base not in known:  # no split metadata: leave it to TFDS
    raise errors.ConfigError(
        f'Dataset {name or builder.name!r} has no split {base!r}; it has '
        f'{sorted(builder.info.splits.keys())}.')
