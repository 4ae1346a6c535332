r"""DTN in the reverse direction, MNIST -> synth_digits (offline).

  python -m xdomain.main --config=configs/dtn_mnist_synth.py --workdir=runs/dtn_mnist_synth \
      --config.data.manual_dir=../shared/data/mnist

f is now an MNIST classifier and the evaluator a synth_digits one, so the
two exports of the forward direction swap roles: f = runs/eval_mnist
(configs/classifier_mnist.py, MNIST train only) and the evaluator =
runs/f_synth (configs/pretrain_f_synth.py, synth_digits train only). g emits
3-channel (colour) images. The DTN paper notes this direction is harder:
f trained on the plain domain carries little of the rich one.
"""

from xdomain import config_lib


def get_config(variant: str = ''):
  config = config_lib.dtn_config(
      source=config_lib.domain('mnist', 'train', 'test'),
      target=config_lib.domain('synth_digits', 'train', 'test'),
      f_checkpoint='runs/eval_mnist/classifier',
      evaluator_checkpoint='runs/f_synth/classifier')
  config.model.g.channels = 3
  return config_lib.dtn_variant(config, variant)
