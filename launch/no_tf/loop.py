"""`python -m xdomain.main` on a machine without TensorFlow (a lent GPU box
with no package registry): the TF/TFDS input is replaced by in-memory
numpy arrays, and TF/TFDS/clu imports by stand-ins (`stub/`) that the
step never calls.

  python launch/no_tf/loop.py --render      # synth_digits once, to /tmp
  python launch/no_tf/loop.py --config=configs/dtn_synth_mnist.py --workdir=W

Only synth_digits (default / small) and MNIST ($XDOMAIN_MNIST_DIR, default
../shared/data/mnist: the four raw .gz files) are served. synth_digits is rendered by the
project's own renderer (same seed, same images as the TFDS build); MNIST
is read from the raw files and resized 28 -> 32 with Lanczos-3, as the
pipeline does. Everything else -- the loop, steps, methods, evaluation,
checkpoints -- is the project's code."""
import concurrent.futures, gzip, hashlib, multiprocessing, os, sys, types
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, 'stub'))
sys.path.insert(0, os.path.dirname(os.path.dirname(HERE)))
import numpy as np

class _Writer:  # clu.metric_writers stand-in: metrics.jsonl is xdomain's own
  def __getattr__(self, name):
    return lambda *a, **k: None
clu = types.ModuleType('clu'); mw = types.ModuleType('clu.metric_writers')
mw.create_default_writer = lambda *a, **k: _Writer()
clu.metric_writers = mw
sys.modules['clu'] = clu; sys.modules['clu.metric_writers'] = mw

from xdomain.data import datasets, pipeline, synth_render  # noqa: E402

_SYNTH_SIZES = {'default': {'train': 73_257, 'test': 26_032},
                'small': {'train': 20_000, 'test': 5_000}}
_CACHE = {}


def _render(args):
  seed, split, start, stop = args
  return start, synth_render.render_range(seed, split, start, stop)


def _synth(config_name, split):
  path = f'/tmp/synth_{config_name}_{split}.npz'
  if os.path.exists(path):
    d = np.load(path); return d['image'], d['label']
  size = int(os.environ.get(f'LOOP_SYNTH_{split.upper()}', 0)) or _SYNTH_SIZES[config_name][split]
  jobs = [(0, split, s, min(s + 512, size)) for s in range(0, size, 512)]
  images = np.empty((size, 32, 32, 3), np.uint8); labels = np.empty(size, np.int64)
  ctx = multiprocessing.get_context('fork')
  with concurrent.futures.ProcessPoolExecutor(os.cpu_count(), ctx) as pool:
    for start, chunk in pool.map(_render, jobs):
      images[start:start + len(chunk['label'])] = chunk['image']
      labels[start:start + len(chunk['label'])] = chunk['label']
  np.savez(path, image=images, label=labels)
  return images, labels


def _mnist_root():
  return os.path.abspath(os.environ.get('XDOMAIN_MNIST_DIR') or os.path.join(
      os.path.dirname(os.path.dirname(HERE)), '..', 'shared', 'data', 'mnist'))


def _mnist(split):
  """MNIST resized once per raw-file directory and split, then read by
  every run from /tmp (keyed by the directory, so other files never mix)."""
  root = _mnist_root()
  key = hashlib.sha256(root.encode()).hexdigest()[:12]
  path = f'/tmp/mnist_{split}_{key}.npz'
  if os.path.exists(path):
    d = np.load(path); return d['image'], d['label']
  images, labels = _mnist_resized(root, split)
  np.savez(path + '.tmp.npz', image=images, label=labels)
  os.replace(path + '.tmp.npz', path)  # never a half-written cache
  return images, labels


def _mnist_resized(root, split):
  prefix = {'train': 'train', 'test': 't10k'}[split]
  with gzip.open(f'{root}/{prefix}-images-idx3-ubyte.gz') as f:
    images = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 28, 28, 1)
  with gzip.open(f'{root}/{prefix}-labels-idx1-ubyte.gz') as f:
    labels = np.frombuffer(f.read(), np.uint8, offset=8).astype(np.int64)
  import jax, jax.numpy as jnp
  cpu = jax.devices('cpu')[0]
  out = []
  for s in range(0, len(images), 5000):
    x = jax.device_put(jnp.asarray(images[s:s + 5000], jnp.float32), cpu)
    y = jax.image.resize(x, (x.shape[0], 32, 32, 1), 'lanczos3', antialias=True)
    out.append(np.asarray(jnp.clip(jnp.round(y), 0, 255)).astype(np.uint8))
  return np.concatenate(out), labels


def load(name, split):
  key = (name, split)
  if key not in _CACHE:
    if name.startswith('synth_digits'):
      cfg = name.split('/')[1] if '/' in name else 'default'
      _CACHE[key] = _synth(cfg, split)
    elif name == 'mnist':
      _CACHE[key] = _mnist(split)
    else:
      raise ValueError(f'device launcher: no numpy source for {name}')
  return _CACHE[key]


def _rgb(x):
  x = x.astype(np.float32) / 127.5 - 1.0
  return np.repeat(x, 3, -1) if x.shape[-1] == 1 else x


def _translate(images, shift, rng):
  n, h, w, _ = images.shape
  padded = np.pad(images, ((0, 0), (shift, shift), (shift, shift), (0, 0)),
                  mode='symmetric')
  dy, dx = rng.integers(0, 2 * shift + 1, (2, n))
  return np.stack([padded[i, dy[i]:dy[i] + h, dx[i]:dx[i] + w]
                   for i in range(n)])


def _grey_invert(images, rng):
  x = images.astype(np.float32)
  draws = rng.random((2, len(x)))
  grey = np.repeat(x.mean(-1, keepdims=True), x.shape[-1], -1)
  x = np.where(draws[0][:, None, None, None] < 0.5, grey, x)
  x = np.where(draws[1][:, None, None, None] < 0.5, 255.0 - x, x)
  return np.round(x).astype(np.uint8)


def train_iterator(config, *, num_devices, seed, process_index=0,
                   process_count=1, skip_batches=0):
  host_batch = num_devices * config.per_device_batch_size
  data = config.data
  streams = []
  for offset, d in enumerate(datasets.active_domains(data)):
    dom = data[d]
    images, labels = load(dom.name, dom.train_split)
    excluded = list(dom.get('exclude_labels', ()))
    if excluded:
      keep = ~np.isin(labels, excluded); images, labels = images[keep], labels[keep]
    streams.append([d, images, labels, np.random.default_rng(seed + offset), None, 0])
  shift = int(data.augment_translate); grey = bool(data.get('augment_grey_invert', False))
  if pipeline.shape_augmented(data):
    raise ValueError('device launcher: data.augment_rotate / _shear / _scale / _stroke are '
                     'served by the TF pipeline only; train that classifier with '
                     'python -m xdomain.main and point the run at its export')

  def take(stream):
    d, images, labels, rng, order, pos = stream
    idx = []
    while len(idx) < host_batch:
      if order is None or pos >= len(order):
        order, pos = rng.permutation(len(labels)), 0
      k = min(host_batch - len(idx), len(order) - pos)
      idx.extend(order[pos:pos + k]); pos += k
    stream[4], stream[5] = order, pos
    return np.asarray(idx), rng

  for _ in range(skip_batches):
    for s in streams: take(s)
  while True:
    batch = {}
    for s in streams:
      idx, rng = take(s)
      x = s[1][idx]
      if shift: x = _translate(x, shift, rng)
      if grey: x = _grey_invert(x, rng)
      b = {'image': _rgb(x), 'label': s[2][idx].astype(np.int32)}
      batch[s[0]] = {k: v.reshape((num_devices, -1) + v.shape[1:]) for k, v in b.items()}
    yield batch


def eval_iterator(data, name, split, *, num_devices, per_device_batch,
                  process_index=0, process_count=1, limit=None, only_labels=()):
  images, labels = load(name, split)
  if only_labels:
    keep = np.isin(labels, list(only_labels)); images, labels = images[keep], labels[keep]
  if limit:
    images, labels = images[:limit], labels[:limit]
  host_batch = num_devices * per_device_batch
  for s in range(0, len(labels), host_batch):
    x, y = _rgb(images[s:s + host_batch]), labels[s:s + host_batch].astype(np.int32)
    n, pad = len(y), host_batch - len(y)
    batch = {'image': np.concatenate([x, np.zeros((pad,) + x.shape[1:], x.dtype)]),
             'label': np.concatenate([y, np.zeros(pad, y.dtype)]),
             'mask': np.concatenate([np.ones(n, np.float32), np.zeros(pad, np.float32)])}
    yield {k: v.reshape((num_devices, -1) + v.shape[1:]) for k, v in batch.items()}


pipeline.train_iterator = train_iterator
pipeline.eval_iterator = eval_iterator
datasets.prepare_all = lambda data: None
datasets.prepare = lambda *a, **k: None

if __name__ == '__main__':
  if sys.argv[1:2] == ['--render']:
    for name, split in (('synth_digits', 'train'), ('synth_digits', 'test'),
                        ('mnist', 'train'), ('mnist', 'test')):
      print(name, split, load(name, split)[0].shape, flush=True)
    sys.exit(0)
  from absl import app
  from xdomain import main
  app.run(main.main)
