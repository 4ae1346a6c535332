r"""The MNIST target evaluator: DTN's f architecture trained on MNIST train.

  python -m xdomain.main --config=configs/classifier_mnist.py --workdir=runs/eval_mnist \
      --config.data.manual_dir=../shared/data/mnist

It scores translated images in the DTN protocol (the paper's evaluator:
99.4 % on MNIST test). MNIST is built offline from the four raw files in
data.manual_dir (default: TFDS's <data_dir>/downloads/manual).
Variant `:tiny` runs a few steps on uci_digits-sized data (tests, CI).
"""

from xdomain import config_lib


def get_config(variant: str = ''):
  config = config_lib.base_config()
  config.method = 'classifier'
  config.data.source = config_lib.domain('mnist', 'train', 'test')
  config.data.augment_translate = 2
  config.optim.clf = config_lib.optimizer('adam', 1e-3, schedule='cosine',
                                          warmup_steps=200)
  config.per_device_batch_size = 128
  config_lib.set_run_length(config, 4000, log_every=100, eval_every=1000,
                            checkpoint_every=1000)
  if variant == 'tiny':
    config.per_device_batch_size = 16
    config_lib.set_run_length(config, 4, log_every=2, eval_every=4,
                              checkpoint_every=4)
    config.eval.per_device_batch_size = 64
    config.eval.limit = 128
  elif variant:
    raise ValueError(f'Unknown variant {variant!r}; known: tiny')
  return config
