"""Input pipeline: TFDS in, numpy batches `[devices, per_device, 32, 32, 3]` out.

Never imports models. Every image goes through the same small steps:
decode (TFDS) -> resize to 32x32 (Lanczos or bilinear; grey stays 1 channel)
-> uint8 cache -> [augment] -> grey-to-RGB -> scale to [-1, 1].

Training batches are `{'source': {'image','label'}, 'target': {...}}`: two
unpaired, independently shuffled streams, one per domain named in
`config.data` (a domain with an empty `name` is left out). Each host reads its
own even shard of every split. Given the seed, the stream is deterministic.
"""

from typing import Dict, Iterator, Optional

import ml_collections
import numpy as np
import tensorflow as tf
import tensorflow_datasets as tfds

from xdomain import config_lib
from xdomain import errors
from xdomain.data import datasets

IMAGE_SIZE = 32


def resize_to_32(image: tf.Tensor, method: str) -> tf.Tensor:
  """uint8 [H, W, C] -> uint8 [32, 32, C]; images already 32x32 pass as-is."""
  methods = config_lib.RESIZE_METHODS
  if method not in methods:
    raise errors.ConfigError(f'data.resize_method must be one of '
                             f'{sorted(methods)}, got {method!r}')
  if image.shape[0] == IMAGE_SIZE and image.shape[1] == IMAGE_SIZE:
    return image
  return _resized_to_32_uint8(tf.cast(image, tf.float32), methods[method])


def _resized_to_32_uint8(image: tf.Tensor, tf_method: str) -> tf.Tensor:
  """float [H, W, C] in 0..255 -> uint8 [32, 32, C], antialiased."""
  resized = tf.image.resize(image, (IMAGE_SIZE, IMAGE_SIZE),
                            method=tf_method, antialias=True)
  return tf.cast(tf.clip_by_value(tf.round(resized), 0, 255), tf.uint8)


def to_rgb_float(image: tf.Tensor) -> tf.Tensor:
  """uint8 [..., C] with C in {1, 3} -> float32 [..., 3] in [-1, 1]."""
  image = tf.cast(image, tf.float32) / 127.5 - 1.0
  if image.shape[-1] == 1:
    image = tf.repeat(image, 3, axis=-1)
  return image


def random_translate(image: tf.Tensor, max_shift: int,
                     seed: tf.Tensor) -> tf.Tensor:
  """Shifts by up to `max_shift` pixels (mirror padding), stateless in
  `seed`."""
  padded = tf.pad(image, [[max_shift, max_shift], [max_shift, max_shift],
                          [0, 0]], mode='SYMMETRIC')
  return tf.image.stateless_random_crop(padded, tf.shape(image), seed=seed)


def affine_transform(image: tf.Tensor, rotate: tf.Tensor, shear: tf.Tensor,
                     zoom: tf.Tensor) -> tf.Tensor:
  """uint8 [H, W, C] rotated by `rotate` degrees (counter-clockwise as
  shown), sheared by `shear` degrees (a slant) and scaled by `zoom` about
  the image centre; bilinear, edges reflected."""
  theta = tf.cast(rotate, tf.float32) * np.pi / 180.0
  slant = tf.tan(tf.cast(shear, tf.float32) * np.pi / 180.0)
  cos, sin = tf.cos(theta), tf.sin(theta)
  # Forward map (x right, y down) = R(theta) @ shear @ zoom; the transform
  # op wants its inverse, output pixel -> input pixel.
  forward = tf.stack([[cos, cos * slant + sin],
                      [-sin, -sin * slant + cos]]) * tf.cast(zoom, tf.float32)
  inverse = tf.linalg.inv(forward)
  height, width = tf.shape(image)[0], tf.shape(image)[1]
  centre = tf.stack([tf.cast(width, tf.float32) - 1.0,
                     tf.cast(height, tf.float32) - 1.0]) / 2.0
  offset = centre - tf.linalg.matvec(inverse, centre)
  transform = tf.stack([inverse[0, 0], inverse[0, 1], offset[0],
                        inverse[1, 0], inverse[1, 1], offset[1], 0.0, 0.0])
  out = tf.raw_ops.ImageProjectiveTransformV3(
      images=tf.cast(image, tf.float32)[None], transforms=transform[None],
      output_shape=tf.stack([height, width]), fill_value=0.0,
      interpolation='BILINEAR', fill_mode='REFLECT')[0]
  return tf.cast(tf.clip_by_value(tf.round(out), 0, 255), tf.uint8)


def random_affine(image: tf.Tensor, rotate: float, shear: float,
                  scale: float, seed: tf.Tensor) -> tf.Tensor:
  """`affine_transform` by a rotation in +-`rotate` degrees, a shear in
  +-`shear` degrees and a zoom in [1 - scale, 1 + scale], drawn uniformly
  and statelessly from `seed`: the slant and proportions of handwriting on
  printed digits."""
  u = tf.random.stateless_uniform([3], seed=seed, minval=-1.0, maxval=1.0)
  return affine_transform(image, u[0] * rotate, u[1] * shear,
                          1.0 + u[2] * scale)


def random_stroke(image: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
  """uint8 [H, W, C]: with probability 1/3 each, a 3x3 grey dilation (max
  filter), a 3x3 erosion (min filter) or unchanged, stateless in `seed`:
  bright strokes thicken or thin (dark strokes the reverse)."""
  draw = tf.random.stateless_uniform([], seed=seed)
  x = tf.cast(image, tf.float32)[None]
  dilated = tf.nn.max_pool2d(x, 3, 1, 'SAME')[0]
  eroded = -tf.nn.max_pool2d(-x, 3, 1, 'SAME')[0]
  out = tf.where(draw < 1 / 3, dilated,
                 tf.where(draw < 2 / 3, eroded, x[0]))
  return tf.cast(out, tf.uint8)


def random_low_resolution(image: tf.Tensor, min_side: int, method: str,
                          seed: tf.Tensor) -> tf.Tensor:
  """uint8 [32, 32, C]: with probability 1/2, shrunk to a random side in
  [min_side, 31] (area averaging) and resized back to 32x32 with `method`
  (as `resize_to_32` resizes small datasets), stateless in `seed`; else
  unchanged."""
  if not 1 <= min_side < IMAGE_SIZE:
    raise errors.ConfigError(
        f'data.augment_low_resolution must be 0 (off) or a side in [1, '
        f'{IMAGE_SIZE - 1}], got {min_side}')
  draws = tf.random.stateless_uniform([2], seed=seed)
  side = min_side + tf.cast(draws[1] * (IMAGE_SIZE - min_side), tf.int32)
  small = tf.image.resize(tf.cast(image, tf.float32), tf.stack([side, side]),
                          method='area')
  back = _resized_to_32_uint8(small, config_lib.RESIZE_METHODS[method])
  return tf.where(draws[0] < 0.5, back, image)


def augment_shape(image: tf.Tensor, data: ml_collections.ConfigDict,
                  seed: tf.Tensor) -> tf.Tensor:
  """The shape augmentations `data` asks for (data.augment_rotate / _shear
  / _scale, data.augment_stroke), applied in that order; the image as it
  is when none is on."""
  rotate = float(data.get('augment_rotate', 0.0))
  shear = float(data.get('augment_shear', 0.0))
  scale = float(data.get('augment_scale', 0.0))
  if rotate or shear or scale:
    image = random_affine(image, rotate, shear, scale, seed)
  if data.get('augment_stroke', False):
    image = random_stroke(image, seed + tf.constant([104729, 0], seed.dtype))
  return image


def shape_augmented(data: ml_collections.ConfigDict) -> bool:
  """Whether `augment_shape` changes images under `data`."""
  return bool(data.get('augment_rotate', 0.0) or data.get('augment_shear', 0.0)
              or data.get('augment_scale', 0.0)
              or data.get('augment_stroke', False))


def host_shard(split: str, process_index: int, process_count: int) -> str:
  """This host's even share of `split` (TFDS sub-split syntax)."""
  if process_count == 1:
    return split
  return tfds.even_splits(split, n=process_count,
                          drop_remainder=True)[process_index]


def _decoded(data: ml_collections.ConfigDict, name: str, split: str,
             process_index: int, process_count: int) -> tf.data.Dataset:
  builder = datasets.prepare(name, data.data_dir, data.manual_dir,
                             data.download)
  datasets.check_split(builder, split, name)
  ds = builder.as_dataset(
      split=host_shard(split, process_index, process_count),
      shuffle_files=False, as_supervised=False)
  method = data.resize_method
  ds = ds.map(lambda ex: {'image': resize_to_32(ex['image'], method),
                          'label': tf.cast(ex['label'], tf.int32)},
              num_parallel_calls=tf.data.AUTOTUNE)
  if data.cache:
    ds = ds.cache()
  return ds


def _keep_labels(ds: tf.data.Dataset, exclude=(), only=()) -> tf.data.Dataset:
  """Drops the examples whose label is in `exclude`, or not in `only`."""
  if exclude:
    excluded = tf.constant(list(exclude), tf.int32)
    ds = ds.filter(lambda ex: tf.reduce_all(ex['label'] != excluded))
  if only:
    kept = tf.constant(list(only), tf.int32)
    ds = ds.filter(lambda ex: tf.reduce_any(ex['label'] == kept))
  return ds


def domain_train_dataset(data: ml_collections.ConfigDict,
                         domain: ml_collections.ConfigDict, *, host_batch: int,
                         seed: int, process_index: int = 0,
                         process_count: int = 1,
                         skip_batches: int = 0) -> tf.data.Dataset:
  """Endless shuffled float batches of one domain's training split.

  `skip_batches` starts the stream where a run that stopped after that many
  batches left off: the same elements, the same augmentations. Labels in
  `domain.exclude_labels` never reach a batch (DTN's unseen-digit
  experiment); evaluation splits keep every label.
  """
  ds = _decoded(data, domain.name, domain.train_split, process_index,
                process_count)
  ds = _keep_labels(ds, exclude=tuple(domain.get('exclude_labels', ())))
  buffer = data.shuffle_buffer
  ds = ds.shuffle(buffer, seed=seed, reshuffle_each_iteration=True).repeat()
  ds = ds.enumerate().skip(skip_batches * host_batch)  # before any mapping
  shift = int(data.augment_translate)
  if shift > 0:
    ds = ds.map(
        lambda i, ex: (i, {**ex, 'image': random_translate(
            ex['image'], shift, tf.stack([tf.cast(seed, tf.int64), i]))}),
        num_parallel_calls=tf.data.AUTOTUNE)
  if shape_augmented(data):
    ds = ds.map(
        lambda i, ex: (i, {**ex, 'image': augment_shape(
            ex['image'], data, tf.stack([tf.cast(seed, tf.int64) + 3571, i]))}),
        num_parallel_calls=tf.data.AUTOTUNE)
  low_resolution = int(data.get('augment_low_resolution', 0))
  if low_resolution:
    ds = ds.map(
        lambda i, ex: (i, {**ex, 'image': random_low_resolution(
            ex['image'], low_resolution, data.resize_method,
            tf.stack([tf.cast(seed, tf.int64) + 6007, i]))}),
        num_parallel_calls=tf.data.AUTOTUNE)
  if data.get('augment_grey_invert', False):
    ds = ds.map(
        lambda i, ex: (i, {**ex, 'image': random_grey_invert(
            ex['image'], tf.stack([tf.cast(seed, tf.int64) + 7919, i]))}),
        num_parallel_calls=tf.data.AUTOTUNE)
  ds = ds.map(lambda i, ex: ex)
  ds = ds.batch(host_batch, drop_remainder=True)
  return ds.map(lambda ex: {**ex, 'image': to_rgb_float(ex['image'])},
                num_parallel_calls=tf.data.AUTOTUNE)


def random_grey_invert(image: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
  """uint8 [H, W, C]: grey (all channels their mean) with probability 1/2,
  then inverted (255 - x) with probability 1/2, stateless in `seed`: makes a
  classifier trained on coloured digits read shape, not colour or
  polarity."""
  draws = tf.random.stateless_uniform([2], seed=seed)
  x = tf.cast(image, tf.float32)
  grey = tf.repeat(tf.reduce_mean(x, axis=-1, keepdims=True),
                   tf.shape(x)[-1], axis=-1)
  x = tf.where(draws[0] < 0.5, grey, x)
  x = tf.where(draws[1] < 0.5, 255.0 - x, x)
  return tf.cast(tf.round(x), tf.uint8)


def _shard_for_devices(batch: Dict[str, np.ndarray],
                       num_devices: int) -> Dict[str, np.ndarray]:
  return {k: v.reshape((num_devices, -1) + v.shape[1:])
          for k, v in batch.items()}


def example_batch(config: ml_collections.ConfigDict) -> Dict:
  """Zeros shaped like one device's training batch (for initialisation)."""
  n = config.per_device_batch_size
  return {d: {'image': np.zeros((n, IMAGE_SIZE, IMAGE_SIZE, 3), np.float32),
              'label': np.zeros((n,), np.int32)}
          for d in datasets.active_domains(config.data)}


def train_iterator(config: ml_collections.ConfigDict, *, num_devices: int,
                   seed: int, process_index: int = 0, process_count: int = 1,
                   skip_batches: int = 0) -> Iterator[Dict]:
  """Zipped `{'source': ..., 'target': ...}` numpy training batches.

  Each leaf is shaped `[num_devices, per_device_batch, ...]`. With
  `skip_batches` = n the stream starts at its (n+1)-th batch.
  """
  per_device = config.per_device_batch_size
  streams = {}
  for offset, domain in enumerate(datasets.active_domains(config.data)):
    streams[domain] = domain_train_dataset(
        config.data, config.data[domain], host_batch=num_devices * per_device,
        seed=seed + offset, process_index=process_index,
        process_count=process_count, skip_batches=skip_batches)
  ds = tf.data.Dataset.zip(streams).prefetch(2)
  for batch in tfds.as_numpy(ds):
    yield {d: _shard_for_devices(b, num_devices) for d, b in batch.items()}


def eval_iterator(data: ml_collections.ConfigDict, name: str, split: str, *,
                  num_devices: int, per_device_batch: int,
                  process_index: int = 0, process_count: int = 1,
                  limit: Optional[int] = None,
                  only_labels=()) -> Iterator[Dict[str, np.ndarray]]:
  """One pass over a split, in order, padded to full batches (of the
  examples labelled in `only_labels`, if given).

  Batches carry `mask` (1 for real examples, 0 for padding) so that metrics
  count every example exactly once.
  """
  ds = _keep_labels(_decoded(data, name, split, process_index, process_count),
                    only=tuple(only_labels))
  if limit:
    ds = ds.take(limit)
  host_batch = num_devices * per_device_batch
  ds = ds.batch(host_batch).map(
      lambda ex: {**ex, 'image': to_rgb_float(ex['image'])},
      num_parallel_calls=tf.data.AUTOTUNE).prefetch(2)
  for batch in tfds.as_numpy(ds):
    n = batch['label'].shape[0]
    pad = host_batch - n
    batch = {k: np.concatenate([v, np.zeros((pad,) + v.shape[1:], v.dtype)])
             for k, v in batch.items()}
    batch['mask'] = np.concatenate([np.ones(n, np.float32),
                                    np.zeros(pad, np.float32)])
    yield _shard_for_devices(batch, num_devices)
