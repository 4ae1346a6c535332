r"""XGAN, synth_digits <-> MNIST (offline stand-in for SVHN <-> MNIST).

  python -m xdomain.main --config=configs/xgan_synth_mnist.py:cpu \
      --workdir=runs/xgan_synth_mnist_cpu --config.data.manual_dir=../shared/data/mnist

Trains what it does not find first, in the workdirs the other methods' configs
share: the MNIST evaluator (runs/eval_mnist_strided), the synth_digits
evaluator (runs/eval_synth_strided) and DTN's f (runs/f_synth_bn_tanh, the
optional teacher, --config.loss.teacher=1); then XGAN. Scores d2(e1(synth
test)) with the first, d1(e2(MNIST test)) with the second. Sizes: '' (for
GPU/TPU), ':cpu' (2 CPU cores), ':tiny' (tests). Defaults and where they
come from: xdomain/defaults/xgan.py; ablations: xgan.TABLE.
"""

from xdomain import config_lib
from xdomain.defaults import xgan


def get_config(variant: str = ''):
  config = xgan.xgan_config(
      source=config_lib.domain('synth_digits', 'train', 'test'),
      target=config_lib.domain('mnist', 'train', 'test'))
  config.model.target_channels = 1  # MNIST is grey
  xgan.xgan_prerequisites(config, 'runs/f_synth_bn_tanh',
                          'runs/eval_mnist_strided', 'runs/eval_synth_strided')
  return xgan.variant(config, variant)
