r"""CycleGAN, SVHN <-> MNIST (needs SVHN through TFDS; offline, use
configs/cyclegan_synth_mnist.py).

  python -m xdomain.main --config=configs/cyclegan_digits.py --workdir=runs/cyclegan_digits

Evaluators trained on the spot when missing: MNIST (runs/eval_mnist_strided)
and SVHN (runs/eval_svhn_strided), each on its own training labels only.
Sizes '' (paper), ':cpu', ':tiny' as configs/cyclegan_synth_mnist.py.
"""

from xdomain import config_lib
from xdomain.defaults import cyclegan


def get_config(variant: str = ''):
  config = cyclegan.cyclegan_config(
      source=config_lib.domain('svhn_cropped', 'train', 'test'),
      target=config_lib.domain('mnist', 'train', 'test'))
  config.model.target_channels = 1
  cyclegan.with_evaluators(config, 'runs/eval_mnist_strided',
                           'runs/eval_svhn_strided')
  return cyclegan.variant(config, variant)
