r"""DTN, synth_digits -> MNIST (offline stand-in for the paper's SVHN -> MNIST).

  python -m xdomain.main --config=configs/dtn_synth_mnist.py --workdir=runs/dtn_synth_mnist \
      --config.data.manual_dir=../shared/data/mnist

Needs f (configs/pretrain_f_synth.py -> runs/f_synth/classifier) and the MNIST
evaluator (configs/classifier_mnist.py -> runs/eval_mnist/classifier).
Ablations (DTN Table 1 style) are overrides:
  --config.loss.beta=0            without L_TID
  --config.loss.alpha=0           without L_CONST
  --config.loss.gan_weight=0      without the GAN terms
  --config.model.d.ternary=False  binary instead of ternary D
  --config.model.generator_input=pixels --config.model.d.ternary=False \
  --config.loss.beta=0 --config.loss.target_through_g=False   the baseline
"""

from xdomain import config_lib


def get_config(variant: str = ''):
  config = config_lib.dtn_config(
      source=config_lib.domain('synth_digits', 'train', 'test'),
      target=config_lib.domain('mnist', 'train', 'test'),
      f_checkpoint='runs/f_synth/classifier',
      evaluator_checkpoint='runs/eval_mnist/classifier')
  return config_lib.dtn_variant(config, variant)
