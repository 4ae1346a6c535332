r"""DA-GAN, synth_digits -> MNIST (offline stand-in for SVHN -> MNIST).

  python -m xdomain.main --config=configs/dagan_synth_mnist.py:cpu \
      --workdir=runs/dagan_synth_mnist_cpu --config.data.manual_dir=../shared/data/mnist

Trains the MNIST evaluator first when runs/eval_mnist_strided lacks it
(MNIST train labels only, shared with the other methods' configs), then
DA-GAN, whose networks all start from scratch; scores F(synth test) with the
evaluator. Sizes: '' the paper's, ':cpu' (2 CPU cores), ':tiny' (tests).
Defaults and where they come from: xdomain/defaults/dagan.py; ablations:
dagan.TABLE.
"""

from xdomain import config_lib
from xdomain.defaults import dagan


def get_config(variant: str = ''):
  config = dagan.dagan_config(
      source=config_lib.domain('synth_digits', 'train', 'test'),
      target=config_lib.domain('mnist', 'train', 'test'))
  config.model.target_channels = 1  # MNIST is grey
  dagan.with_evaluator(config, 'runs/eval_mnist_strided')
  return dagan.variant(config, variant)
