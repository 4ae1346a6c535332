"""CycleGAN's defaults (xdomain.methods.cyclegan) and its sizes.

Paper-size defaults follow the public digit implementations (read from
their code): yunjey/mnist-svhn-transfer — 32x32, conv_dim 64, two stride-2
convs, two 3x3 residual-style convs, two transposed convs, Adam 2e-4 (b1
0.5), batch 64, 40,000 iterations; jhoffman/cycada_release — least-squares
GAN, L1 cycle loss, a pool of past fakes. Cycle weight lambda = 10 and a
pool of 50 are the CycleGAN paper's.
"""

import ml_collections

from xdomain import config_lib


def cyclegan_config(source: ml_collections.ConfigDict,
                    target: ml_collections.ConfigDict,
                    evaluator_checkpoint: str = '',
                    reverse_evaluator_checkpoint: str = ''
                    ) -> ml_collections.ConfigDict:
  config = config_lib.base_config()
  config.method = 'cyclegan'
  config.data.source, config.data.target = source, target
  config.model = ml_collections.ConfigDict(dict(
      source_channels=3, target_channels=3,  # 1 = grey (MNIST), as RGB
      g=dict(width=64, res_blocks=2),  # both generators
      d=dict(widths=(64, 128, 256)),  # both discriminators
      pool_size=50))  # past fakes per direction, 0 = none
  config.loss = ml_collections.ConfigDict(dict(
      gan_weight=1.0, cycle=10.0, identity=0.0))
  config.optim.disc = config_lib.optimizer('adam', 2e-4, b1=0.5)
  config.optim.gen = config_lib.optimizer('adam', 2e-4, b1=0.5)
  config.schedule = ('disc', 'gen')
  config.per_device_batch_size = 64
  config_lib.set_run_length(config, 40_000, log_every=100, eval_every=4000,
                            checkpoint_every=2000)
  config.eval.evaluator_checkpoint = evaluator_checkpoint
  # The source-domain evaluator for F(target test); '' = not scored.
  config.eval.reverse_evaluator_checkpoint = reverse_evaluator_checkpoint
  config.eval.knn_k = 1
  config.eval.knn_labelled_examples = 10_000
  config.eval.grid_rows = 4
  config.eval.grid_cols = 10
  return config


def with_evaluators(config: ml_collections.ConfigDict, evaluator_workdir: str,
                    reverse_evaluator_workdir: str, steps: int = 2000,
                    augment: int = 2, reverse_steps: int = 1500,
                    reverse_augment: int = 0) -> ml_collections.ConfigDict:
  """Both evaluators as prerequisites trained on the spot when missing,
  each on its own domain's training labels only (f's strided family; the
  defaults are those of the DTN configs' evaluators, whose workdirs they
  share: MNIST 2,000 steps with 2-pixel shifts, synth_digits 1,500)."""
  evaluators = {}
  for name, workdir, dom, length, shift in (
      ('evaluator', evaluator_workdir, config.data.target, steps, augment),
      ('reverse_evaluator', reverse_evaluator_workdir, config.data.source,
       reverse_steps, reverse_augment)):
    evaluators[name] = (workdir, config_lib.evaluator_config(
        dom.name, length, shift))
    config.eval[f'{name}_checkpoint'] = f'{workdir}/classifier'
  return config_lib.with_prerequisites(config, **evaluators)


def cpu(config: ml_collections.ConfigDict) -> ml_collections.ConfigDict:
  """`:cpu`: quarter-width networks (generators 16, Ds 16/32/64), batch 32,
  2,000 iterations with cosine-decayed rates: ~5 min on 2 CPU cores,
  evaluations included (the step: 0.15 s; at half width 0.18 s,
  `benchmarks/train_step.py`, so half width also fits in 20 min)."""
  config.model.g.width = 16
  config.model.d.widths = (16, 32, 64)
  return config_lib.cpu_run(config, ('disc', 'gen'))


def tiny(config: ml_collections.ConfigDict) -> ml_collections.ConfigDict:
  """`:tiny` (tests): tiny data and networks, 3 steps."""
  source, target = config.data.source.name, config.data.target.name
  config.data.source = config_lib.domain('synth_digits/tiny', 'train', 'test')
  config.data.target = config_lib.domain('uci_digits', 'train', 'test')
  config.model.g.width, config.model.g.res_blocks = 4, 1
  config.model.d.widths = (4, 8)
  config.model.pool_size = 6
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
