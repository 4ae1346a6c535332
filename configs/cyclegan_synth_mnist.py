r"""CycleGAN, synth_digits <-> MNIST (offline stand-in for SVHN <-> MNIST).

  python -m xdomain.main --config=configs/cyclegan_synth_mnist.py:cpu \
      --workdir=runs/cyclegan_synth_mnist_cpu --config.data.manual_dir=../shared/data/mnist

Trains what it does not find first: the MNIST evaluator (runs/eval_mnist_strided,
MNIST train labels only, shared with DTN) and the synth_digits evaluator
(runs/eval_synth_strided, synth train labels only, shared with the reverse
DTN), then CycleGAN; scores G(synth test) with the first and F(MNIST test)
with the second. Sizes: '' the paper's (yunjey/mnist-svhn-transfer's), ':cpu'
(<= 20 min on 2 CPU cores), ':tiny' (tests). Defaults: xdomain/defaults/cyclegan.py.
"""

from xdomain import config_lib
from xdomain.defaults import cyclegan


def get_config(variant: str = ''):
  config = cyclegan.cyclegan_config(
      source=config_lib.domain('synth_digits', 'train', 'test'),
      target=config_lib.domain('mnist', 'train', 'test'))
  config.model.target_channels = 1  # MNIST is grey
  cyclegan.with_evaluators(config, 'runs/eval_mnist_strided',
                           'runs/eval_synth_strided')
  return cyclegan.variant(config, variant)
