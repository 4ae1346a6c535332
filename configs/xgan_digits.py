r"""XGAN, SVHN <-> MNIST (needs the SVHN .mat files in data.manual_dir).

  python -m xdomain.main --config=configs/xgan_digits.py --workdir=runs/xgan_digits \
      --config.data.manual_dir=DIR

As configs/xgan_synth_mnist.py with SVHN as the source; the teacher is
configs/dtn_digits.py's f (runs/f_svhn_bn_tanh).
"""

from xdomain import config_lib
from xdomain.defaults import xgan


def get_config(variant: str = ''):
  config = xgan.xgan_config(
      source=config_lib.domain('svhn_cropped', 'train', 'test'),
      target=config_lib.domain('mnist', 'train', 'test'))
  config.model.target_channels = 1  # MNIST is grey
  xgan.xgan_prerequisites(config, 'runs/f_svhn_bn_tanh',
                          'runs/eval_mnist_strided', 'runs/eval_svhn_strided',
                          # configs/dtn_digits.py's f: SVHN extra, yunjey's length
                          f_steps=20_000, f_batch=100, f_train_split='extra')
  return xgan.variant(config, variant)
