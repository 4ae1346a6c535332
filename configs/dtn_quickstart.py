r"""DTN quickstart on CPU: synth_digits (small) -> uci_digits, end to end.

  python -m xdomain.main --config=configs/dtn_quickstart.py --workdir=runs/quickstart

Everything it needs is made on the spot, offline: the `synth_digits/small`
dataset (rendered), uci_digits (from scikit-learn), then, if their exports
are missing, the two prerequisites -- f pretrained on synth_digits/small
(runs/quickstart_f) and the uci_digits evaluator trained on uci_digits train
only (runs/quickstart_evaluator) -- and finally DTN itself. It prints the
translated-image accuracy (the evaluator on G(synth_digits/small test),
scored against the source labels) and the k-NN accuracy, and writes the
sample grid to <workdir>/samples/latest.png.

The DTN recipe of configs/dtn_synth_mnist.py (f with batch norm and tanh
features, the paper's ternary D, one D then one g update, cosine-decayed
Adam, beta = 45, averaged g), with smaller networks and run length so that
it finishes in minutes on 2 CPU cores;
configs/dtn_synth_mnist.py:cpu is the MNIST run of the same size class.
"""

import ml_collections

from xdomain import config_lib
from xdomain.defaults import dtn

F_WORKDIR = 'runs/quickstart_f'
EVALUATOR_WORKDIR = 'runs/quickstart_evaluator'
SOURCE = 'synth_digits/small'
TARGET = 'uci_digits'
QUICK_STEPS, QUICK_BATCH = 300, 64  # each prerequisite classifier


def f_config() -> ml_collections.ConfigDict:
  """f as the DTN recipe trains it (batch norm, tanh features), on the
  source's labels; also scored on the target ("source only")."""
  return dtn.dtn_f_config(SOURCE, f'{TARGET}:test', QUICK_STEPS,
                                 QUICK_BATCH, variant='strided')


def evaluator_config() -> ml_collections.ConfigDict:
  """The target evaluator: f's family on target labels only."""
  return config_lib.classifier_config(TARGET, QUICK_STEPS, QUICK_BATCH,
                                      variant='strided', augment_translate=2)


def get_config(variant: str = ''):
  if variant not in ('', 'tiny'):
    raise ValueError(f'Unknown variant {variant!r}; known: tiny')
  config = dtn.dtn_config(
      source=config_lib.domain(SOURCE, 'train', 'test'),
      target=config_lib.domain(TARGET, 'train', 'test'),
      f_checkpoint=f'{F_WORKDIR}/classifier',
      evaluator_checkpoint=f'{EVALUATOR_WORKDIR}/classifier')
  config_lib.with_prerequisites(
      config, f=(F_WORKDIR, f_config()),
      evaluator=(EVALUATOR_WORKDIR, evaluator_config()))
  dtn.dtn_recipe(config)  # the recipe of configs/dtn_synth_mnist.py
  config.model.g.widths = (256, 128, 64)
  config.model.d.widths = (64, 128, 256)
  config.per_device_batch_size = 32
  config_lib.set_run_length(config, 600, log_every=50, eval_every=600,
                            checkpoint_every=200)
  config.eval.knn_labelled_examples = 5000
  if variant == 'tiny':  # tests: the same chain on tiny data, a few steps
    dtn.dtn_tiny(config)
  return config
