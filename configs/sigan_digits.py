r"""SIGAN, SVHN -> MNIST: the paper's setup (Mao et al. 2018, Sec. 6).

  python -m xdomain.main --config=configs/sigan_digits.py --workdir=runs/sigan_digits \
      --config.data.manual_dir=/path/with/svhn_and_mnist_files

E and F are the classifier pretrained on labelled SVHN (configs/
pretrain_f_svhn.py -> runs/f_svhn/classifier; Algorithm 1, line 1); the
MNIST evaluator (configs/classifier_mnist.py -> runs/eval_mnist) scores
G(E(SVHN test)) (DTN's protocol). As in SIGAN Table 1, both training splits
are used and the adapted F o E is scored on MNIST test
(`adaptation_accuracy`; the paper reports 83.41 %). SVHN cannot be
downloaded here: its .mat files must be in data.manual_dir
(configs/sigan_synth_mnist.py is the offline stand-in). Ablations (Table 1):
  --config.loss.gamma=0          without L_TV
  --config.loss.alpha=0          without L_Attention
  --config.loss.label_weight=0   without L_LabelConst
  --config.loss.gan_weight=0     without L_GAN
Variants: `:short` (sigan.sigan_short: 2,000 steps at batch 32 with
RMSprop 2e-4, t = 1, E's adversarial learning rate x 0.05 and normalised
attention maps: the setting of the measured CPU runs in docs/measurements.md),
`:cpu` (sigan.sigan_cpu, with configs/dtn_digits.py's f and evaluator; see
configs/sigan_synth_mnist.py) and `:tiny` (tests).
"""

import os

from xdomain import config_lib
from xdomain.defaults import dtn
from xdomain.defaults import sigan


def get_config(variant: str = ''):
  config = sigan.sigan_config(
      source=config_lib.domain('svhn_cropped', 'train', 'test'),
      target=config_lib.domain('mnist', 'train', 'test'),
      f_checkpoint='', evaluator_checkpoint='')
  # Trained first when missing: E and F, and the MNIST evaluator; at the
  # `:cpu` size those of configs/dtn_digits.py (as sigan_synth_mnist.py).
  if variant == 'cpu':
    dtn.dtn_prerequisites(config, 'runs/f_svhn_bn_tanh',
                          'runs/eval_mnist_strided', f_steps=20_000,
                          f_batch=100, f_train_split='extra')
  else:
    sigan.sigan_prerequisites(config, os.path.dirname(__file__),
                              'pretrain_f_svhn.py', 'runs/f_svhn',
                              'classifier_mnist.py', 'runs/eval_mnist')
  return sigan.sigan_variant(config, variant)
