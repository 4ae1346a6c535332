r"""DA-GAN, SVHN -> MNIST, the paper's pair (needs SVHN through TFDS;
offline, use configs/dagan_synth_mnist.py).

  python -m xdomain.main --config=configs/dagan_digits.py --workdir=runs/dagan_digits

The MNIST evaluator (runs/eval_mnist_strided) is trained on the spot when
missing. Sizes '' (paper), ':cpu', ':tiny' as configs/dagan_synth_mnist.py.
"""

from xdomain import config_lib
from xdomain.defaults import dagan


def get_config(variant: str = ''):
  config = dagan.dagan_config(
      source=config_lib.domain('svhn_cropped', 'train', 'test'),
      target=config_lib.domain('mnist', 'train', 'test'))
  config.model.target_channels = 1
  dagan.with_evaluator(config, 'runs/eval_mnist_strided')
  return dagan.variant(config, variant)
