"""TFDS builders and offline preparation."""

import os
import time

import numpy as np
import pytest
import tensorflow_datasets as tfds

from xdomain.data import datasets
from xdomain.data import uci_digits


def test_synth_digits_tiny_splits(data_dir):
  builder = datasets.prepare('synth_digits/tiny', data_dir)
  assert {k: v.num_examples for k, v in builder.info.splits.items()} == {
      'train': 512, 'test': 256, 'extra': 128}
  example = next(iter(tfds.as_numpy(builder.as_dataset(split='train'))))
  assert example['image'].shape == (32, 32, 3)
  assert example['image'].dtype == np.uint8


def test_synth_digits_tfds_example_matches_renderer(data_dir):
  from xdomain.data import synth_render  # pylint: disable=g-import-not-at-top
  builder = datasets.prepare('synth_digits/tiny', data_dir)
  ds = builder.as_dataset(split='test', shuffle_files=False)
  by_label = {}
  for ex in tfds.as_numpy(ds.take(256)):
    by_label.setdefault(int(ex['label']), []).append(ex['image'])
  image, label = synth_render.render(0, 'test', 0)
  assert any(np.array_equal(image, im) for im in by_label[label])


def test_uci_digits_fixed_split(data_dir):
  builder = datasets.prepare('uci_digits', data_dir)
  assert builder.info.splits['train'].num_examples == 1437
  assert builder.info.splits['test'].num_examples == 360
  train = uci_digits.split_indices(1797, 'train')
  test = uci_digits.split_indices(1797, 'test')
  assert not set(train) & set(test)
  assert len(train) + len(test) == 1797
  assert (test % 5 == 0).all()


@pytest.mark.parametrize('name, expected', [
    ('mnist', ['train-images-idx3-ubyte.gz', 't10k-labels-idx1-ubyte.gz']),
    ('svhn_cropped', ['train_32x32.mat', 'test_32x32.mat', 'extra_32x32.mat']),
])
def test_missing_files_fail_fast_naming_files_and_flag(tmp_path, name,
                                                       expected):
  start = time.time()
  with pytest.raises(datasets.DatasetUnavailableError) as error:
    datasets.prepare(name, str(tmp_path / 'tfds'),
                     str(tmp_path / 'empty_manual'))
  assert time.time() - start < 5.0
  message = str(error.value)
  for filename in expected:
    assert filename in message
  assert 'data.manual_dir' in message


def test_mnist_builds_offline_from_raw_files(mnist_data_dir):
  builder = datasets.prepare('mnist', mnist_data_dir, download='never')
  assert builder.info.splits['train'].num_examples == 60000
  assert builder.info.splits['test'].num_examples == 10000


def test_prepared_directory_can_be_named(data_dir):
  builder = datasets.prepare('synth_digits/tiny', data_dir)
  by_path = datasets.prepare(str(builder.data_path))
  assert by_path.info.splits['test'].num_examples == 256


def test_unknown_dataset_and_split_are_named(data_dir, tmp_path):
  with pytest.raises(datasets.DatasetUnavailableError, match='no_such_set'):
    datasets.prepare('no_such_set', data_dir)
  with pytest.raises(datasets.DatasetUnavailableError, match='dataset_info'):
    datasets.prepare(str(tmp_path), data_dir)
  builder = datasets.prepare('uci_digits', data_dir)
  with pytest.raises(ValueError, match="no split 'validation'"):
    datasets.check_split(builder, 'validation')


def test_default_manual_dir_is_under_data_dir(tmp_path):
  data_dir, manual_dir = datasets.resolve_dirs(str(tmp_path), '')
  assert manual_dir == os.path.join(data_dir, 'downloads', 'manual')
