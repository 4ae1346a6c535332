"""TFDS builder `uci_digits`: scikit-learn's bundled 8x8 handwritten digits.

The 1,797 images of the UCI "Optical Recognition of Handwritten Digits" test
set, as shipped inside scikit-learn (no download). Pixel counts 0..16 are
scaled to 0..255 and stored as 8x8x1 uint8; the input pipeline resizes them to
32x32 like any grey image.

Fixed split, by position in `sklearn.datasets.load_digits()`:
  test  = indices i with i % 5 == 0  (360 images)
  train = all other indices           (1,437 images)
"""

import numpy as np
import tensorflow_datasets as tfds

TEST_EVERY = 5


def split_indices(num_examples: int, split: str) -> np.ndarray:
  """The documented fixed split: every fifth image (from index 0) is test."""
  indices = np.arange(num_examples)
  is_test = indices % TEST_EVERY == 0
  return indices[is_test] if split == 'test' else indices[~is_test]


class UciDigits(tfds.core.GeneratorBasedBuilder):
  """UCI / scikit-learn 8x8 handwritten digits."""

  VERSION = tfds.core.Version('1.0.0')
  RELEASE_NOTES = {'1.0.0': 'Initial release.'}

  def _info(self) -> tfds.core.DatasetInfo:
    return self.dataset_info_from_configs(
        description=__doc__,
        features=tfds.features.FeaturesDict({
            'image': tfds.features.Image(shape=(8, 8, 1)),
            'label': tfds.features.ClassLabel(num_classes=10),
        }),
        supervised_keys=('image', 'label'),
    )

  def _split_generators(self, dl_manager):
    del dl_manager  # the data ships inside scikit-learn
    return {split: self._generate_examples(split) for split in ('train', 'test')}

  def _generate_examples(self, split: str):
    from sklearn import datasets  # pylint: disable=g-import-not-at-top
    digits = datasets.load_digits()
    images = np.round(digits.images * (255.0 / 16.0)).astype(np.uint8)
    for index in split_indices(len(images), split):
      yield int(index), {'image': images[index][..., None],
                         'label': int(digits.target[index])}
