"""launch/no_tf/loop.py, the launcher for machines without TensorFlow: it
serves MNIST as the TFDS pipeline does (the same 32x32 images, up to the
pipeline's rounding), and its training stream keeps the loop's contract
(shapes, labels left out). Run in a subprocess: the launcher replaces the
input functions and the TF/TFDS/clu modules of the process it runs in."""

import json
import os
import subprocess
import sys

import numpy as np

from conftest import MNIST_DIR
from test_configs import REPO

_PROBE = r'''
import json, sys
import numpy as np
sys.path.insert(0, 'launch/no_tf')
import loop
import ml_collections
from xdomain import config_lib
images, labels = loop.load('mnist', 'test')
batch = next(loop.eval_iterator(None, 'mnist', 'test', num_devices=1,
                                per_device_batch=7, limit=5))
data = ml_collections.ConfigDict({
    'source': config_lib.domain('mnist', 'test', 'test'),
    'target': config_lib.domain('', 'train', 'test'),
    'augment_translate': 2, 'augment_grey_invert': False})
data.source.exclude_labels = (3,)
config = ml_collections.ConfigDict({'data': data, 'per_device_batch_size': 64})
stream = loop.train_iterator(config, num_devices=2, seed=0)
seen = np.concatenate([next(stream)['source']['label'].reshape(-1)
                       for _ in range(20)])
first = next(loop.train_iterator(config, num_devices=2, seed=0))
print(json.dumps({
    'shape': list(images.shape), 'count': int(len(labels)),
    'eval_image': list(batch['image'].shape), 'mask': batch['mask'].tolist(),
    'train_image': list(first['source']['image'].shape),
    'train_range': [float(first['source']['image'].min()),
                    float(first['source']['image'].max())],
    'labels_seen': sorted(set(int(v) for v in seen)),
    'first_pixels': images[:64].reshape(64, -1).tolist(),
    'first_labels': labels[:64].tolist()}))
'''


def test_launcher_serves_the_pipelines_mnist(mnist_data_dir):
  env = {**os.environ, 'XDOMAIN_MNIST_DIR': MNIST_DIR,
         'JAX_PLATFORMS': 'cpu'}
  out = subprocess.run([sys.executable, '-c', _PROBE], cwd=REPO, env=env,
                       capture_output=True, text=True, timeout=600)
  assert out.returncode == 0, out.stderr[-3000:]
  got = json.loads(out.stdout.strip().splitlines()[-1])
  assert got['shape'] == [10000, 32, 32, 1] and got['count'] == 10000
  assert got['eval_image'] == [1, 7, 32, 32, 3]
  assert got['mask'] == [[1, 1, 1, 1, 1, 0, 0]]  # padded to a full batch
  assert got['train_image'] == [2, 64, 32, 32, 3]
  assert -1.0 <= got['train_range'][0] < got['train_range'][1] <= 1.0
  assert got['labels_seen'] == [0, 1, 2, 4, 5, 6, 7, 8, 9]  # 3 left out
  # The same images as the TFDS pipeline (which stores them in another
  # order): each of the launcher's first 64 is one of the pipeline's, with
  # its label, within one grey level.
  from xdomain.data import pipeline  # pylint: disable=g-import-not-at-top
  data = ml_collections_data(mnist_data_dir)
  reference = next(pipeline.eval_iterator(data, 'mnist', 'test',
                                          num_devices=1,
                                          per_device_batch=10000))
  ref = np.round((reference['image'][0, ..., 0] + 1) * 127.5).reshape(
      10000, -1)
  ref_labels = reference['label'][0]
  for pixels, label in zip(np.asarray(got['first_pixels']),
                           got['first_labels']):
    distance = np.abs(ref - pixels[None]).max(axis=1)
    best = int(distance.argmin())
    assert distance[best] <= 1 and ref_labels[best] == label


def ml_collections_data(data_dir):
  import ml_collections  # pylint: disable=g-import-not-at-top
  from xdomain import config_lib  # pylint: disable=g-import-not-at-top
  data = config_lib.base_config().data
  data.data_dir, data.manual_dir = data_dir, MNIST_DIR
  return data
