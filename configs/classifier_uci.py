r"""The uci_digits target evaluator (scikit-learn's 8x8 handwritten digits).

  python -m xdomain.main --config=configs/classifier_uci.py --workdir=runs/eval_uci

Needs no download: the data ships inside scikit-learn. 1,437 training and
360 test images (fixed split, see xdomain/data/uci_digits.py).
"""

from xdomain import config_lib


def get_config(variant: str = ''):
  config = config_lib.base_config()
  config.method = 'classifier'
  config.data.source = config_lib.domain('uci_digits', 'train', 'test')
  config.data.augment_translate = 2
  config.optim.clf = config_lib.optimizer('adam', 1e-3, schedule='cosine',
                                          warmup_steps=100)
  config.per_device_batch_size = 64
  config_lib.set_run_length(config, 1500, log_every=100, eval_every=500,
                            checkpoint_every=500)
  if variant == 'tiny':
    config.per_device_batch_size = 16
    config_lib.set_run_length(config, 4, log_every=2, eval_every=4,
                              checkpoint_every=4)
  elif variant:
    raise ValueError(f'Unknown variant {variant!r}; known: tiny')
  return config
