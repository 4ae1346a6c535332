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


def f_config() -> ml_collections.ConfigDict:
  """f: the paper's encoder, pretrained on the source's labels."""
  config = config_lib.base_config()
  config.method = 'classifier'
  config.data.source = config_lib.domain(SOURCE, 'train', 'test')
  config.optim.clf = config_lib.optimizer('adam', 1e-3, schedule='cosine',
                                          warmup_steps=50)
  config.per_device_batch_size = 64
  config_lib.set_run_length(config, 500, log_every=100, eval_every=500,
                            checkpoint_every=500)
  config.eval.cross_domain = (f'{TARGET}:test',)  # "source only" accuracy
  return config


def evaluator_config() -> ml_collections.ConfigDict:
  """The target evaluator: f's architecture on target labels only."""
  config = config_lib.base_config()
  config.method = 'classifier'
  config.data.source = config_lib.domain(TARGET, 'train', 'test')
  config.data.augment_translate = 2
  config.optim.clf = config_lib.optimizer('adam', 1e-3, schedule='cosine',
                                          warmup_steps=50)
  config.per_device_batch_size = 64
  config_lib.set_run_length(config, 500, log_every=100, eval_every=500,
                            checkpoint_every=500)
  return config


def get_config(variant: str = ''):
  if variant:
    raise ValueError(f'Unknown variant {variant!r}; this config has none')
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
  return config
