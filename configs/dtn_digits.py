r"""DTN, SVHN -> MNIST: the paper's digits setup (Taigman et al. 2017, Sec. 5.1).

  python -m xdomain.main --config=configs/dtn_digits.py --workdir=runs/dtn_digits \
      --config.data.manual_dir=/path/with/svhn_and_mnist_files

f (the recipe's: batch norm, tanh features) is trained on SVHN `extra`
(-> runs/f_svhn_bn_tanh), DTN on SVHN `train`; the evaluator is trained on
MNIST `train` only (-> runs/eval_mnist_strided); both on the spot when
missing. Sizes and recipe as configs/dtn_synth_mnist.py ('', ':cpu',
':tiny'). As in the paper, DTN's
unlabelled target samples come from MNIST's *test* split: that is the field
`data.target.train_split` (set it to 'train' to keep MNIST test unseen).
Translated accuracy is scored on G(SVHN test); the paper reports 90.66 %.
SVHN cannot be downloaded here: its .mat files must be in data.manual_dir
(configs/dtn_synth_mnist.py is the offline stand-in). Ablations: see there.
"""

from xdomain import config_lib
from xdomain.defaults import dtn


F_WORKDIR = 'runs/f_svhn_tg'
EVALUATOR_WORKDIR = 'runs/eval_mnist_strided'


def get_config(variant: str = ''):
  config = dtn.dtn_config(
      source=config_lib.domain('svhn_cropped', 'train', 'test'),
      # The paper's choice: DTN sees MNIST test images (unlabelled).
      target=config_lib.domain('mnist', train_split='test', test_split='test'),
      f_checkpoint='', evaluator_checkpoint='')
  # f on SVHN extra, yunjey's length and batch.
  dtn.dtn_prerequisites(config, F_WORKDIR, EVALUATOR_WORKDIR,
                               f_steps=20_000, f_batch=100,
                               f_train_split='extra',
                               **dtn.DTN_F_AUGMENT)
  dtn.dtn_recipe(config)
  return dtn.dtn_variant(config, variant)
