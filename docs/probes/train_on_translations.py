"""Diagnostic probe (not part of the package, not a result): how much of the
target domain's variety a DTN run's translations cover. A fresh strided
classifier (batch norm, tanh features; Adam 1e-3 with a cosine decay, batch
128, no augmentation) is trained on G(first N synth_digits training images)
with their source labels and tested on all 10,000 MNIST test images. With
IDENTITY=1 it is trained on the raw synth images instead (the same budget).

  PYTHONPATH=. python docs/probes/train_on_translations.py RUN_WORKDIR N STEPS
"""
import os
import sys
import time

from xdomain import platform_defaults
platform_defaults.apply()
# pylint: disable=g-import-not-at-top,g-bad-import-order
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
from xdomain.data import pipeline
from xdomain.methods import dtn
from xdomain.models import classifiers

workdir, n_train, n_steps = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
config, translate, variables = dtn.restored_translator(workdir)
g = jax.jit(lambda x: translate(variables, x))
if os.environ.get('IDENTITY'):
  g = lambda x: x
start = time.time()


def read(name, split, limit, fn):
  xs, ys = [], []
  for b in pipeline.eval_iterator(config.data, name, split, num_devices=1,
                                  per_device_batch=500, limit=limit):
    keep = b['mask'][0] > 0
    xs.append(np.asarray(fn(b['image'][0]))[keep])
    ys.append(b['label'][0][keep])
  return np.concatenate(xs), np.concatenate(ys)


xs, ys = read('synth_digits', 'train', n_train, g)
mx, my = read('mnist', 'test', None, lambda x: x)
model = classifiers.classifier_from_config(ml_collections.ConfigDict(dict(
    variant='strided', batch_norm=True, feature_activation='tanh',
    num_classes=10, features=(64, 128, 256, 128))))
v = model.init(jax.random.key(1), xs[:2], train=False)
params, stats = v['params'], v['batch_stats']
tx = optax.adam(optax.cosine_decay_schedule(1e-3, n_steps))
opt = tx.init(params)


@jax.jit
def step(params, stats, opt, x, y):
  def loss(p):
    logits, new = model.apply({'params': p, 'batch_stats': stats}, x,
                              train=True, mutable=['batch_stats'])
    ce = optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()
    return ce, new['batch_stats']
  (value, stats), grads = jax.value_and_grad(loss, has_aux=True)(params)
  updates, opt = tx.update(grads, opt, params)
  return optax.apply_updates(params, updates), stats, opt, value


predict = jax.jit(lambda p, s, x: jnp.argmax(
    model.apply({'params': p, 'batch_stats': s}, x, train=False), -1))
rng = np.random.default_rng(0)
for i in range(n_steps):
  idx = rng.integers(0, len(xs), 128)
  params, stats, opt, value = step(params, stats, opt, xs[idx], ys[idx])
  if (i + 1) % max(1, n_steps // 4) == 0:
    pred = np.concatenate([np.asarray(predict(params, stats, mx[j:j + 1000]))
                           for j in range(0, len(mx), 1000)])
    print(f'step {i + 1} loss {float(value):.3f} mnist_test '
          f'{np.mean(pred == my):.4f} ({time.time() - start:.0f} s)',
          flush=True)
