r"""Pretrain DTN's f on SVHN, as the DTN paper does (f trained on SVHN extra).

  python -m xdomain.main --config=configs/pretrain_f_svhn.py --workdir=runs/f_svhn \
      --config.data.manual_dir=/path/with/svhn_mat_files

SVHN cannot be downloaded offline: put train_32x32.mat, test_32x32.mat and
extra_32x32.mat (TFDS's names and checksums) in data.manual_dir. The paper's
f reaches 4.95 % error on SVHN test and 23.92 % error on MNIST.
"""

from xdomain import config_lib


def get_config(variant: str = ''):
  config = config_lib.base_config()
  config.method = 'classifier'
  # The DTN paper trains f on SVHN's `extra` split and DTN on `train`.
  config.data.source = config_lib.domain('svhn_cropped', 'extra', 'test')
  config.optim.clf = config_lib.optimizer('adam', 1e-3, schedule='cosine',
                                          warmup_steps=200)
  config.per_device_batch_size = 128
  config_lib.set_run_length(config, 20000, log_every=100, eval_every=5000,
                            checkpoint_every=1000)
  config.eval.cross_domain = ('mnist:test',)
  if variant == 'tiny':
    config.per_device_batch_size = 8
    config_lib.set_run_length(config, 2, log_every=1, eval_every=2,
                              checkpoint_every=2)
    config.eval.limit = 16
    config.eval.cross_domain = ()
  elif variant:
    raise ValueError(f'Unknown variant {variant!r}; known: tiny')
  return config
