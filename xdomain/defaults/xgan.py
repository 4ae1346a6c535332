"""XGAN's defaults (xdomain.methods.xgan), its prerequisites and sizes.

The slides give no weights or optimisers. Community implementations (read
from their code; no official one exists): pomelyu/AnimateGAN — rec 10,
sem 10, dann 1, a 1024-d L2-normalised embedding, Adam 2e-5 (b1 0) for the
auto-encoders and 1e-4 for the domain part; IAmigos/avatar-image-generator
— rec 1, dann 1, sem 0.5, GAN 0.7, lr 1e-4 (D 1e-3). The defaults here
take pomelyu's weights and L2-normalised embedding at 128-d (the size of DTN's f, so that
f can be the teacher) and DTN's Adam 2e-4 (b1 0.5); the GAN and the
teacher are off (weights 0), as optional refinements in the slides.
"""

import copy

import ml_collections

from xdomain import config_lib
from xdomain.defaults import cyclegan
from xdomain.defaults import dtn


def xgan_config(source: ml_collections.ConfigDict,
                target: ml_collections.ConfigDict) -> ml_collections.ConfigDict:
  config = config_lib.base_config()
  config.method = 'xgan'
  config.data.source, config.data.target = source, target
  config.model = ml_collections.ConfigDict(dict(
      source_channels=3, target_channels=3,  # 1 = grey (MNIST), as RGB
      widths=(64, 128, 256),  # the encoders' convolutions; decoders mirror
      # L2-normalised (pomelyu's): unnormalised, L_sem (x 10) shrank every
      # embedding to one point by step 1,000 (translations a grey blank,
      # 10.2 %); normalised, 28.6 % at step 500 (docs/measurements.md).
      embedding=128, normalize_embedding=True,
      # Remark 2 of the appendix: (0, 0) none, (2, 2) partial symmetric,
      # (4, 2) a fully shared encoder.
      shared_encoder_blocks=2, shared_decoder_blocks=2,
      dann_classes=2, dann_hidden=128,  # 4 = the appendix's multi-class
      teacher_checkpoint='',  # a pretrained f export, for loss.teacher
      d=dict(widths=(64, 128, 256), skip_above_accuracy=1.0)))
  config.loss = ml_collections.ConfigDict(dict(
      rec=10.0, sem=10.0, dann=1.0, gan=0.0, teacher=0.0,
      reversal=1.0,  # the gradient reversal layer's factor
      sem_distance='l2'))
  config.optim.ae = config_lib.optimizer('adam', 2e-4, b1=0.5)
  config.optim.dann = config_lib.optimizer('adam', 2e-4, b1=0.5)
  config.optim.disc = config_lib.optimizer('adam', 2e-4, b1=0.5)
  config.schedule = ('dann', 'disc', 'ae')  # 'disc' only with loss.gan > 0
  config.per_device_batch_size = 64
  config_lib.set_run_length(config, 20_000, log_every=100, eval_every=2000,
                            checkpoint_every=1000)
  config.eval.evaluator_checkpoint = ''
  config.eval.reverse_evaluator_checkpoint = ''
  config.eval.knn_k = 1
  config.eval.knn_labelled_examples = 10_000
  config.eval.grid_rows = 4
  config.eval.grid_cols = 10
  return config


def xgan_prerequisites(config: ml_collections.ConfigDict, f_workdir: str,
                       evaluator_workdir: str,
                       reverse_evaluator_workdir: str, **f_options
                       ) -> ml_collections.ConfigDict:
  """Trained on the spot when missing, and shared with the other methods'
  configs of the pair: the target evaluator and DTN's f (the teacher) as
  DTN's configs define them (`f_options`: dtn_prerequisites' f_steps,
  f_batch, f_train_split), the source evaluator as CycleGAN's."""
  dtn_view = copy.deepcopy(config)
  dtn.dtn_prerequisites(dtn_view, f_workdir, evaluator_workdir, **f_options)
  cyclegan.with_evaluators(config, evaluator_workdir,
                           reverse_evaluator_workdir)
  config.prerequisites.f = dtn_view.prerequisites.f
  config.model.teacher_checkpoint = f'{f_workdir}/classifier'
  return config


def cpu(config: ml_collections.ConfigDict) -> ml_collections.ConfigDict:
  """`:cpu`: half-width networks (32/64/128), batch 32, 2,000 iterations,
  cosine-decayed rates."""
  config.model.widths = (32, 64, 128)
  config.model.d.widths = (32, 64, 128)
  return config_lib.cpu_run(config, ('ae', 'dann', 'disc'))


def tiny(config: ml_collections.ConfigDict) -> ml_collections.ConfigDict:
  """`:tiny` (tests): tiny data and networks, 3 steps."""
  source, target = config.data.source.name, config.data.target.name
  config.data.source = config_lib.domain('synth_digits/tiny', 'train', 'test')
  config.data.target = config_lib.domain('uci_digits', 'train', 'test')
  config.model.widths = (4, 8, 8)
  config.model.embedding = 8
  config.model.dann_hidden = 8
  config.model.d.widths = (4, 8)
  config.per_device_batch_size = 4
  config_lib.set_run_length(config, 3, log_every=1, eval_every=3,
                            checkpoint_every=3)
  config.eval.per_device_batch_size = 64
  config.eval.limit = 64
  config.eval.knn_labelled_examples = 64
  config.eval.grid_rows, config.eval.grid_cols = 2, 4
  return config_lib.tiny_prerequisites(config,
                                       {source: config.data.source.name,
                                        target: config.data.target.name})


def variant(config: ml_collections.ConfigDict,
            name: str) -> ml_collections.ConfigDict:
  """'' (the paper size), 'cpu' or 'tiny'."""
  return config_lib.apply_variant(config, name, tiny, cpu=cpu)
