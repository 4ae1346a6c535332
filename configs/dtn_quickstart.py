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

Smaller than the paper's networks and run length so that it finishes in
minutes on 2 CPU cores; configs/dtn_synth_mnist.py is the full-size run.
"""

import ml_collections

from xdomain import config_lib

F_WORKDIR = 'runs/quickstart_f'
EVALUATOR_WORKDIR = 'runs/quickstart_evaluator'
SOURCE = 'synth_digits/small'
TARGET = 'uci_digits'
# f's strided variant (3x3 stride-2 convs) costs a quarter of the paper's
# max-pooling one on CPU; configs/dtn_synth_mnist.py uses the paper's.
QUICK_VARIANT = 'strided'


def _quick_classifier(dataset: str) -> ml_collections.ConfigDict:
  """A 300-step classifier of f's family on `dataset`'s labels."""
  config = config_lib.base_config()
  config.method = 'classifier'
  config.data.source = config_lib.domain(dataset, 'train', 'test')
  config.model.variant = QUICK_VARIANT
  config.optim.clf = config_lib.optimizer('adam', 1e-3, schedule='cosine',
                                          warmup_steps=30)
  config.per_device_batch_size = 64
  config_lib.set_run_length(config, 300, log_every=100, eval_every=300,
                            checkpoint_every=300)
  return config


def f_config() -> ml_collections.ConfigDict:
  """f: the paper's encoder family, pretrained on the source's labels."""
  config = _quick_classifier(SOURCE)
  config.eval.cross_domain = (f'{TARGET}:test',)  # "source only" accuracy
  return config


def evaluator_config() -> ml_collections.ConfigDict:
  """The target evaluator: f's architecture on target labels only."""
  config = _quick_classifier(TARGET)
  config.data.augment_translate = 2
  return config


def get_config(variant: str = ''):
  if variant not in ('', 'tiny'):
    raise ValueError(f'Unknown variant {variant!r}; known: tiny')
  config = config_lib.dtn_config(
      source=config_lib.domain(SOURCE, 'train', 'test'),
      target=config_lib.domain(TARGET, 'train', 'test'),
      f_checkpoint=f'{F_WORKDIR}/classifier',
      evaluator_checkpoint=f'{EVALUATOR_WORKDIR}/classifier')
  config.prerequisites = ml_collections.ConfigDict({
      'f': {'workdir': F_WORKDIR, 'config': f_config()},
      'evaluator': {'workdir': EVALUATOR_WORKDIR,
                    'config': evaluator_config()},
  })
  config.model.g.widths = (256, 128, 64)
  config.model.d.widths = (64, 128, 256)
  config.per_device_batch_size = 32
  config_lib.set_run_length(config, 600, log_every=50, eval_every=600,
                            checkpoint_every=200)
  config.eval.knn_labelled_examples = 5000
  if variant == 'tiny':  # tests: the same chain on tiny data, a few steps
    config_lib.dtn_tiny(config)
    for pre in config.prerequisites.values():
      pre.config.data.source.name = pre.config.data.source.name.replace(
          SOURCE, 'synth_digits/tiny')
      pre.config.per_device_batch_size = 16
      config_lib.set_run_length(pre.config, 4, log_every=2, eval_every=4,
                                checkpoint_every=4)
      pre.config.eval.per_device_batch_size = 64
      pre.config.eval.limit = 128
  return config
