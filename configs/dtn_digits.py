r"""DTN, SVHN -> MNIST: the paper's digits setup (Taigman et al. 2017, Sec. 5.1).

  python -m xdomain.main --config=configs/dtn_digits.py --workdir=runs/dtn_digits \
      --config.data.manual_dir=/path/with/svhn_and_mnist_files

f is trained on SVHN `extra` (configs/pretrain_f_svhn.py -> runs/f_svhn),
DTN on SVHN `train`; the evaluator is trained on MNIST `train` only
(configs/classifier_mnist.py -> runs/eval_mnist). As in the paper, DTN's
unlabelled target samples come from MNIST's *test* split: that is the field
`data.target.train_split` (set it to 'train' to keep MNIST test unseen).
Translated accuracy is scored on G(SVHN test); the paper reports 90.66 %.
SVHN cannot be downloaded here: its .mat files must be in data.manual_dir
(configs/dtn_synth_mnist.py is the offline stand-in). Ablations: see there.
"""

from xdomain import config_lib


def get_config(variant: str = ''):
  config = config_lib.dtn_config(
      source=config_lib.domain('svhn_cropped', 'train', 'test'),
      # The paper's choice: DTN sees MNIST test images (unlabelled).
      target=config_lib.domain('mnist', train_split='test', test_split='test'),
      f_checkpoint='runs/f_svhn/classifier',
      evaluator_checkpoint='runs/eval_mnist/classifier')
  return config_lib.dtn_variant(config, variant)
