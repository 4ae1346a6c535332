r"""DTN in the reverse direction, MNIST -> synth_digits (offline).

  python -m xdomain.main --config=configs/dtn_mnist_synth.py:cpu --workdir=runs/dtn_mnist_synth_cpu \
      --config.data.manual_dir=../shared/data/mnist

f is now an MNIST classifier (the recipe's f: batch norm, tanh features;
trained on the spot in runs/f_mnist_bn_tanh, MNIST train only) and the
evaluator a synth_digits one (runs/eval_synth_strided, synth_digits train
only). g emits 3-channel (colour) images. Sizes and recipe as
configs/dtn_synth_mnist.py ('' paper size, ':cpu', ':tiny'). The DTN paper notes this direction is harder:
f trained on the plain domain carries little of the rich one.
"""

from xdomain import config_lib
from xdomain.defaults import dtn


F_WORKDIR = 'runs/f_mnist_bn_tanh'
EVALUATOR_WORKDIR = 'runs/eval_synth_strided'


def get_config(variant: str = ''):
  config = dtn.dtn_config(
      source=config_lib.domain('mnist', 'train', 'test'),
      target=config_lib.domain('synth_digits', 'train', 'test'),
      f_checkpoint='', evaluator_checkpoint='')
  dtn.dtn_prerequisites(config, F_WORKDIR, EVALUATOR_WORKDIR,
                               evaluator_steps=1500, evaluator_augment=0)
  dtn.dtn_recipe(config)
  config.model.g.channels = 3
  return dtn.dtn_variant(config, variant)
