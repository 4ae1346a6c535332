r"""Restores an exported classifier and prints a SHA-256 of its logits.

  python -m xdomain.tools.classifier_logits --checkpoint=runs/f_synth/classifier

Run it twice (two processes): equal hashes mean the Orbax checkpoint restores
bit-identically. The inputs are fixed (seeded uniform images in [-1, 1]).
"""

import hashlib
import os

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')

from absl import app  # pylint: disable=g-import-not-at-top
from absl import flags
import numpy as np

from xdomain import checkpoints

_CHECKPOINT = flags.DEFINE_string('checkpoint', None, 'Exported classifier.')
_NUM = flags.DEFINE_integer('num_images', 256, 'Fixed input images.')
_OUT = flags.DEFINE_string('out', '', 'Optional .npy file for the logits.')


def main(argv):
  del argv
  model, variables, metadata = checkpoints.load_classifier(_CHECKPOINT.value)
  images = np.random.RandomState(0).uniform(
      -1, 1, (_NUM.value, 32, 32, 3)).astype(np.float32)
  logits = np.asarray(model.apply(variables, images))
  if _OUT.value:
    np.save(_OUT.value, logits)
  print(f'logits sha256 {hashlib.sha256(logits.tobytes()).hexdigest()} '
        f'(shape {logits.shape}; checkpoint test_accuracy '
        f'{metadata.get("test_accuracy")})')


if __name__ == '__main__':
  flags.mark_flag_as_required('checkpoint')
  app.run(main)
