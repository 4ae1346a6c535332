r"""SIGAN, synth_digits -> MNIST (offline stand-in for SVHN -> MNIST).

  python -m xdomain.main --config=configs/sigan_synth_mnist.py --workdir=runs/sigan_synth_mnist \
      --config.data.manual_dir=../shared/data/mnist

E and F: the classifier pretrained on labelled synth_digits
(configs/pretrain_f_synth.py -> runs/f_synth/classifier); evaluator: the
MNIST classifier (configs/classifier_mnist.py -> runs/eval_mnist). Reports
`adaptation_accuracy` (F o E on MNIST test, SIGAN Table 1) and
`translated_accuracy` (evaluator on G(E(synth_digits test)), DTN's
protocol). Ablations: as in configs/sigan_digits.py.
Variants: `:short` (sigan.sigan_short: 2,000 steps at batch 32 with
RMSprop 2e-4, t = 1, E's adversarial learning rate x 0.05 and normalised
attention maps: the setting of the measured CPU runs in docs/measurements.md),
`:cpu` (sigan.sigan_cpu: `:short` with DTN's `:cpu` widths, E and F from DTN's
f -- batch norm, tanh features -- and DTN's strided MNIST evaluator, the one
every method's comparison shares; ~12 min on 2 cores) and `:tiny` (tests).
"""

import os

from xdomain import config_lib
from xdomain.defaults import dtn
from xdomain.defaults import sigan


def get_config(variant: str = ''):
  config = sigan.sigan_config(
      source=config_lib.domain('synth_digits', 'train', 'test'),
      target=config_lib.domain('mnist', 'train', 'test'),
      f_checkpoint='', evaluator_checkpoint='')
  # Trained first when missing: E and F, and the MNIST evaluator. At the
  # `:cpu` size, those of configs/dtn_synth_mnist.py (f with batch norm and
  # tanh features; the strided evaluator every method's comparison shares).
  if variant == 'cpu':
    dtn.dtn_prerequisites(config, 'runs/f_synth_bn_tanh',
                          'runs/eval_mnist_strided')
  else:
    sigan.sigan_prerequisites(config, os.path.dirname(__file__),
                              'pretrain_f_synth.py', 'runs/f_synth',
                              'classifier_mnist.py', 'runs/eval_mnist')
  return sigan.sigan_variant(config, variant)
