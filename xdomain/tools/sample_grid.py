r"""Saves a PNG grid of the first images of a TFDS split.

  python -m xdomain.tools.sample_grid --dataset=synth_digits --split=train \
      --out=docs/synth_digits_train_grid.png
"""

import os

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')

from absl import app  # pylint: disable=g-import-not-at-top
from absl import flags
import numpy as np
import tensorflow_datasets as tfds

from xdomain import images
from xdomain.data import datasets

_DATASET = flags.DEFINE_string('dataset', 'synth_digits', 'TFDS name or dir.')
_SPLIT = flags.DEFINE_string('split', 'train', 'Split to read, in order.')
_OUT = flags.DEFINE_string('out', 'docs/synth_digits_train_grid.png', 'PNG.')
_ROWS = flags.DEFINE_integer('rows', 10, 'Grid rows.')
_COLS = flags.DEFINE_integer('cols', 10, 'Grid columns.')
_SCALE = flags.DEFINE_integer('scale', 3, 'Nearest-neighbour upscaling.')
_DATA_DIR = flags.DEFINE_string('data_dir', '', 'TFDS data dir.')
_MANUAL_DIR = flags.DEFINE_string('manual_dir', '', 'Manual download dir.')


def main(argv):
  del argv
  tfds.disable_progress_bar()
  builder = datasets.prepare(_DATASET.value, _DATA_DIR.value,
                             _MANUAL_DIR.value)
  n = _ROWS.value * _COLS.value
  ds = builder.as_dataset(split=_SPLIT.value, shuffle_files=False).take(n)
  examples = list(tfds.as_numpy(ds))
  batch = np.stack([ex['image'] for ex in examples])
  if batch.shape[-1] == 1:
    batch = np.repeat(batch, 3, axis=-1)
  sheet = images.grid(batch, _ROWS.value, _COLS.value, scale=_SCALE.value)
  os.makedirs(os.path.dirname(os.path.abspath(_OUT.value)), exist_ok=True)
  images.save_png(_OUT.value, sheet)
  labels = ' '.join(str(int(ex['label'])) for ex in examples)
  print(f'Wrote {_OUT.value} ({n} images of {_DATASET.value}:{_SPLIT.value}); '
        f'labels row-major: {labels}')


if __name__ == '__main__':
  app.run(main)
