"""Input pipeline: shapes, ranges, determinism, sharding, mock data."""

import itertools

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds

from xdomain import config_lib
from xdomain import errors
from xdomain.data import pipeline


def two_domain_config(data_dir, source='synth_digits/tiny',
                      target='uci_digits', per_device=4):
  config = config_lib.base_config()
  config.data.source = config_lib.domain(source)
  config.data.target = config_lib.domain(target)
  config.data.data_dir = data_dir
  config.data.shuffle_buffer = 64
  config.per_device_batch_size = per_device
  return config


def take(iterator, n):
  return list(itertools.islice(iterator, n))


def test_batches_are_two_unpaired_domains_shaped_for_devices(data_dir):
  config = two_domain_config(data_dir)
  batch = next(pipeline.train_iterator(config, num_devices=2, seed=0))
  assert set(batch) == {'source', 'target'}
  for domain in ('source', 'target'):
    image, label = batch[domain]['image'], batch[domain]['label']
    assert image.shape == (2, 4, 32, 32, 3)
    assert image.dtype == np.float32
    assert label.shape == (2, 4)
    assert -1.0 <= image.min() and image.max() <= 1.0
    assert set(np.unique(label)) <= set(range(10))


def test_grey_images_are_resized_and_replicated_to_rgb(data_dir):
  config = two_domain_config(data_dir)
  target = next(pipeline.train_iterator(config, num_devices=1,
                                        seed=0))['target']['image']
  np.testing.assert_array_equal(target[..., 0], target[..., 1])
  np.testing.assert_array_equal(target[..., 0], target[..., 2])


@pytest.mark.parametrize('method', ['lanczos3', 'bilinear'])
def test_resize_methods(method):
  image = tf.constant(np.random.RandomState(0).randint(0, 256, (8, 8, 1)),
                      tf.uint8)
  out = pipeline.resize_to_32(image, method)
  assert out.shape == (32, 32, 1) and out.dtype == tf.uint8
  with pytest.raises(ValueError, match='resize_method'):
    pipeline.resize_to_32(image, 'nearest')


def test_scale_to_minus_one_one():
  image = tf.constant([[[0]], [[255]]], tf.uint8)
  out = pipeline.to_rgb_float(image).numpy()
  np.testing.assert_allclose(out[0, 0], [-1, -1, -1])
  np.testing.assert_allclose(out[1, 0], [1, 1, 1])


def test_deterministic_given_seed(data_dir):
  config = two_domain_config(data_dir)
  config.data.augment_translate = 2
  a = take(pipeline.train_iterator(config, num_devices=1, seed=7), 3)
  b = take(pipeline.train_iterator(config, num_devices=1, seed=7), 3)
  c = take(pipeline.train_iterator(config, num_devices=1, seed=8), 3)
  for x, y in zip(a, b):
    for domain in ('source', 'target'):
      np.testing.assert_array_equal(x[domain]['image'], y[domain]['image'])
  assert not np.array_equal(a[0]['source']['image'], c[0]['source']['image'])


def test_domain_with_empty_name_is_left_out(data_dir):
  config = two_domain_config(data_dir, target='')
  batch = next(pipeline.train_iterator(config, num_devices=1, seed=0))
  assert set(batch) == {'source'}


def test_eval_iterator_counts_every_example_once(data_dir):
  config = two_domain_config(data_dir)
  total, labels = 0, []
  for batch in pipeline.eval_iterator(config.data, 'uci_digits', 'test',
                                      num_devices=2, per_device_batch=50):
    assert batch['image'].shape == (2, 50, 32, 32, 3)
    total += int(batch['mask'].sum())
    labels.append(batch['label'][batch['mask'] > 0])
  assert total == 360
  assert np.concatenate(labels).shape == (360,)


def test_host_shards_are_disjoint_and_cover_the_split(data_dir):
  config = two_domain_config(data_dir)
  seen = []
  for process in range(2):
    images = [b['image'][b['mask'] > 0] for b in pipeline.eval_iterator(
        config.data, 'uci_digits', 'test', num_devices=1,
        per_device_batch=64, process_index=process, process_count=2)]
    seen.append(np.concatenate(images).reshape(-1, 32 * 32 * 3))
  assert len(seen[0]) == len(seen[1]) == 180
  first = {row.tobytes() for row in seen[0]}
  assert not any(row.tobytes() in first for row in seen[1])


def test_svhn_cropped_pipeline_on_mock_data(tmp_path):
  config = two_domain_config(str(tmp_path), source='svhn_cropped',
                             target='svhn_cropped')
  config.data.target.train_split = 'extra'
  # The user's files are present (mock_data stands in for their content).
  manual_dir = tmp_path / 'manual'
  manual_dir.mkdir()
  for name in ('train_32x32.mat', 'test_32x32.mat', 'extra_32x32.mat'):
    (manual_dir / name).touch()
  config.data.manual_dir = str(manual_dir)
  with tfds.testing.mock_data(num_examples=16):
    batch = next(pipeline.train_iterator(config, num_devices=2, seed=0))
  assert batch['source']['image'].shape == (2, 4, 32, 32, 3)
  assert batch['target']['image'].shape == (2, 4, 32, 32, 3)
  assert -1.0 <= batch['source']['image'].min()
  assert batch['source']['image'].max() <= 1.0


def test_unknown_split_is_a_clear_error(data_dir):
  config = two_domain_config(data_dir)
  config.data.source.train_split = 'validation'
  with pytest.raises(ValueError, match="no split 'validation'"):
    next(pipeline.train_iterator(config, num_devices=1, seed=0))




def test_skip_batches_resumes_the_same_stream(data_dir):
  config = two_domain_config(data_dir)
  config.data.augment_translate = 2
  straight = take(pipeline.train_iterator(config, num_devices=1, seed=3), 5)
  resumed = take(pipeline.train_iterator(config, num_devices=1, seed=3,
                                         skip_batches=3), 2)
  for x, y in zip(straight[3:], resumed):
    for domain in ('source', 'target'):
      np.testing.assert_array_equal(x[domain]['image'], y[domain]['image'])
      np.testing.assert_array_equal(x[domain]['label'], y[domain]['label'])


def test_example_batch_matches_real_batch_shapes(data_dir):
  config = two_domain_config(data_dir)
  real = next(pipeline.train_iterator(config, num_devices=1, seed=0))
  example = pipeline.example_batch(config)
  for domain in ('source', 'target'):
    for key in ('image', 'label'):
      assert example[domain][key].shape == real[domain][key].shape[1:]
      assert example[domain][key].dtype == real[domain][key].dtype


def test_excluded_labels_never_appear_in_a_training_batch(data_dir):
  config = two_domain_config(data_dir, per_device=16)
  config.data.source.exclude_labels = (3,)
  config.data.target.exclude_labels = (3, 7)
  seen = {'source': set(), 'target': set()}
  for batch in take(pipeline.train_iterator(config, num_devices=1, seed=0),
                    30):
    for domain in seen:
      seen[domain] |= set(np.unique(batch[domain]['label']).tolist())
  assert seen['source'] == set(range(10)) - {3}
  assert seen['target'] == set(range(10)) - {3, 7}
  # Evaluation splits keep every label; only_labels picks some.
  threes = [b['label'][b['mask'] > 0] for b in pipeline.eval_iterator(
      config.data, 'uci_digits', 'test', num_devices=1, per_device_batch=50,
      only_labels=(3,))]
  threes = np.concatenate(threes)
  assert len(threes) > 0 and set(threes.tolist()) == {3}


def test_grey_invert_augmentation_is_grey_or_inverted_and_seeded(data_dir):
  config = two_domain_config(data_dir, per_device=32)
  plain = next(pipeline.train_iterator(config, num_devices=1, seed=0))
  config.data.augment_grey_invert = True
  first = next(pipeline.train_iterator(config, num_devices=1, seed=0))
  again = next(pipeline.train_iterator(config, num_devices=1, seed=0))
  np.testing.assert_array_equal(first['source']['image'],
                                again['source']['image'])
  x, y = plain['source']['image'][0], first['source']['image'][0]
  np.testing.assert_array_equal(plain['source']['label'],
                                first['source']['label'])
  kinds = set()
  for a, b in zip(x, y):
    grey = np.repeat(a.mean(-1, keepdims=True), 3, -1)
    for name, candidate in (('same', a), ('inverted', -a), ('grey', grey),
                            ('grey inverted', -grey)):
      if np.abs(candidate - b).max() < 2.5 / 127.5:  # uint8 rounding
        kinds.add(name)
        break
    else:
      raise AssertionError('an augmented image is none of the four kinds')
  assert len(kinds) >= 3  # p = 1/2 each: 32 images show most kinds


def test_affine_transform_by_hand():
  """A quarter turn is np.rot90 (counter-clockwise as shown), zoom 1 with
  no angle the identity, a shear slants a vertical bar, zoom 2 doubles it."""
  image = np.zeros((32, 32, 1), np.uint8)
  image[4:20, 15:17] = 255
  image[4:6, 15:25] = 255  # a "7": not symmetric under any quarter turn
  out = pipeline.affine_transform(tf.constant(image), 90.0, 0.0, 1.0).numpy()
  np.testing.assert_array_equal(out, np.rot90(image, 1))
  out = pipeline.affine_transform(tf.constant(image), 0.0, 0.0, 1.0).numpy()
  np.testing.assert_array_equal(out, image)
  bar = np.zeros((32, 32, 1), np.uint8)
  bar[6:26, 15:17] = 255
  out = pipeline.affine_transform(tf.constant(bar), 0.0, 20.0, 1.0).numpy()
  ys, xs = np.nonzero(out[..., 0] > 127)
  slope = np.polyfit(ys, xs, 1)[0]  # columns gained per row down
  np.testing.assert_allclose(slope, np.tan(np.deg2rad(20.0)), atol=0.05)
  out = pipeline.affine_transform(tf.constant(bar), 0.0, 0.0, 2.0).numpy()
  rows = np.nonzero(out[..., 0].max(1) > 127)[0]
  assert rows.min() == 0 and rows.max() == 31  # 20 rows -> 40, cut at 32


def test_stroke_is_dilated_eroded_or_unchanged():
  image = np.zeros((32, 32, 1), np.uint8)
  image[8:24, 14:18] = 200
  dilated = np.zeros_like(image)
  dilated[7:25, 13:19] = 200
  eroded = np.zeros_like(image)
  eroded[9:23, 15:17] = 200
  kinds = set()
  for k in range(30):
    out = pipeline.random_stroke(tf.constant(image),
                                 tf.constant([0, k], tf.int64)).numpy()
    for name, candidate in (('same', image), ('dilated', dilated),
                            ('eroded', eroded)):
      if np.array_equal(out, candidate):
        kinds.add(name)
        break
    else:
      raise AssertionError('a stroke augmentation is none of the three kinds')
  assert kinds == {'same', 'dilated', 'eroded'}


def test_shape_augmentation_is_seeded_keeps_labels_and_is_off_by_default(
    data_dir):
  config = two_domain_config(data_dir, per_device=16)
  plain = next(pipeline.train_iterator(config, num_devices=1, seed=0))
  assert not pipeline.shape_augmented(config.data)
  config.data.augment_rotate = 10.0
  config.data.augment_shear = 20.0
  config.data.augment_scale = 0.15
  config.data.augment_stroke = True
  assert pipeline.shape_augmented(config.data)
  first = next(pipeline.train_iterator(config, num_devices=1, seed=0))
  again = next(pipeline.train_iterator(config, num_devices=1, seed=0))
  np.testing.assert_array_equal(first['source']['image'],
                                again['source']['image'])
  np.testing.assert_array_equal(plain['source']['label'],
                                first['source']['label'])
  changed = [not np.array_equal(a, b) for a, b in zip(
      plain['source']['image'][0], first['source']['image'][0])]
  assert sum(changed) >= 12  # nearly every image moves


def test_low_resolution_is_a_shrunk_copy_or_unchanged():
  image = np.zeros((32, 32, 1), np.uint8)
  image[8:24, 14:18] = 200
  kinds = {'same': 0, 'blurred': 0}
  for k in range(40):
    out = pipeline.random_low_resolution(
        tf.constant(image), 8, 'bilinear', tf.constant([0, k], tf.int64))
    out = out.numpy()
    assert out.shape == image.shape and out.dtype == np.uint8
    if np.array_equal(out, image):
      kinds['same'] += 1
    else:  # the bar spread over its neighbours, its mass about kept
      kinds['blurred'] += 1
      assert out[16, 13] > 0 or out[16, 18] > 0
      assert out.max() <= 200
      assert abs(out.astype(float).sum() / image.sum() - 1) < 0.1
  assert min(kinds.values()) >= 10  # p = 1/2 each
  again = pipeline.random_low_resolution(
      tf.constant(image), 8, 'bilinear', tf.constant([0, 3], tf.int64))
  np.testing.assert_array_equal(again, pipeline.random_low_resolution(
      tf.constant(image), 8, 'bilinear', tf.constant([0, 3], tf.int64)))
  with pytest.raises(errors.ConfigError, match='augment_low_resolution'):
    pipeline.random_low_resolution(tf.constant(image), 32, 'bilinear',
                                   tf.constant([0, 0], tf.int64))
