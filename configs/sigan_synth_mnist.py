r"""SIGAN, synth_digits -> MNIST (offline stand-in for SVHN -> MNIST).

  python -m xdomain.main --config=configs/sigan_synth_mnist.py --workdir=runs/sigan_synth_mnist \
      --config.data.manual_dir=../shared/data/mnist

E and F: the classifier pretrained on labelled synth_digits
(configs/pretrain_f_synth.py -> runs/f_synth/classifier); evaluator: the
MNIST classifier (configs/classifier_mnist.py -> runs/eval_mnist). Reports
`adaptation_accuracy` (F o E on MNIST test, SIGAN Table 1) and
`translated_accuracy` (evaluator on G(E(synth_digits test)), DTN's
protocol). Ablations: as in configs/sigan_digits.py.
Variants: `:short` (config_lib.sigan_short: 2,000 steps at batch 32 with
RMSprop 2e-4, t = 1, E's adversarial learning rate x 0.05 and normalised
attention maps: the setting of the measured CPU runs in the README) and
`:tiny` (tests).
"""

from xdomain import config_lib


def get_config(variant: str = ''):
  config = config_lib.sigan_config(
      source=config_lib.domain('synth_digits', 'train', 'test'),
      target=config_lib.domain('mnist', 'train', 'test'),
      f_checkpoint='runs/f_synth/classifier',
      evaluator_checkpoint='runs/eval_mnist/classifier')
  return config_lib.sigan_variant(config, variant)
