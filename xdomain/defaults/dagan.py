"""DA-GAN's defaults (xdomain.methods.dagan), its prerequisite and sizes.

From the paper (Sec. 3.4, Table 4): one attention region at object level
for digits, a "ResBlock" classifier of nine residual blocks trained from
scratch with DA-GAN, generator = residual blocks + nearest-neighbour
up-sampling with 3x3 convolutions, Adam 2e-4, batch 64. The paper leaves
open alpha, beta, the steepness k of eq. 4, the box size (and whether it is
predicted) and the distance d; the values here are chosen by measurement
at `:cpu` (docs/measurements.md, "DA-GAN results"), each a config field.
Translated accuracy at `:cpu`, 2,000 steps, seed 0, one factor at a time:
d = mse, alpha = beta = 1, boxes anywhere: 10 % (one glyph for every
input; the box left the image, where eqs. 5-6 are trivially 0); boxes
inside, mse x15: 10 % (E shrank its features); + the metric out of eqs.
5-6's gradients: 36 %; d = the classifier x5: 54 %; + fixed-scale E
features: 73 % (seed 1: 65 %).
"""

import ml_collections

from xdomain import config_lib


def dagan_config(source: ml_collections.ConfigDict,
                 target: ml_collections.ConfigDict,
                 evaluator_checkpoint: str = '') -> ml_collections.ConfigDict:
  config = config_lib.base_config()
  config.method = 'dagan'
  config.data.source, config.data.target = source, target
  config.model = ml_collections.ConfigDict(dict(
      target_channels=3,  # 1 = grey (MNIST), replicated to RGB
      # E of the DAE: stride-2 convs to 4x4; bounded (tanh) last features,
      # the lesson of DTN's f.
      dae=dict(widths=(64, 128, 256), feature_activation='tanh',
               # E's last batch norm without scale/offset (fixed-scale
               # features; with them E shrank its features so that the mse
               # of eqs. 5-6 fell while G collapsed to one glyph).
               fixed_scale=True),
      regions=1,  # Table 4: digits, one object-level region
      attention=True,  # False: "w/o DAE", a plain encoder
      box_half_size=12.0,  # pixels (of 32), when not predicted
      predict_box_size=False,
      # Centres limited so that the box stays inside the image (False: eq.
      # 2 anywhere; measured: f_loc then pushes the box off the image,
      # where it attends to nothing and L_cst, L_sym -> 0).
      box_inside=True,
      steepness=1.0,  # k of eq. 4, per pixel
      g=dict(widths=(256, 128, 64), res_blocks=2),
      cls_res_blocks=9,  # Table 4's "ResBlock" classifier
      d=dict(widths=(128, 256, 512)),  # D1 and D2
      # DAE(x) in eqs. 5 and 6 held fixed, so that the DAE cannot satisfy
      # them by moving real images' codes towards the fakes'.
      stop_gradient_target=True,
      # Whether eqs. 5-6 also train the networks that measure them (the
      # DAE on F(x), the classifier for d = 'classifier'), or only G and
      # the DAE as G's encoder (False: the metric is learned from the
      # labels alone, like DTN's fixed f).
      consistency_trains_metric=False,
      ema_decay=0.0))  # evaluation on averaged DAE, G, cls (0 = raw)
  config.loss = ml_collections.ConfigDict(dict(
      gan_s=1.0, gan_t=1.0,  # eqs. 7, 8
      alpha=5.0, beta=5.0,  # eqs. 5, 6 (eq. 9)
      geometric=1.0,  # d(Y, DAE(X)), Sec. 3.1
      distance='classifier'))  # or 'mse' on the DAE maps
  config.optim.disc = config_lib.optimizer('adam', 2e-4, b1=0.5)
  config.optim.gen = config_lib.optimizer('adam', 2e-4, b1=0.5)
  config.schedule = ('disc', 'gen')
  config.per_device_batch_size = 64
  config_lib.set_run_length(config, 20_000, log_every=100, eval_every=2000,
                            checkpoint_every=1000)
  config.eval.evaluator_checkpoint = evaluator_checkpoint
  config.eval.knn_k = 1
  config.eval.knn_labelled_examples = 10_000
  config.eval.grid_rows = 4
  config.eval.grid_cols = 10
  return config


def with_evaluator(config: ml_collections.ConfigDict, workdir: str,
                   steps: int = 2000, augment: int = 2
                   ) -> ml_collections.ConfigDict:
  """The target evaluator as a prerequisite trained on the spot when
  missing, on the target's training labels only (the DTN configs' evaluator,
  whose workdir it shares); DA-GAN itself needs no pretrained network."""
  evaluator = config_lib.evaluator_config(config.data.target.name, steps,
                                         augment)
  config.eval.evaluator_checkpoint = f'{workdir}/classifier'
  return config_lib.with_prerequisites(config, evaluator=(workdir, evaluator))


def cpu(config: ml_collections.ConfigDict) -> ml_collections.ConfigDict:
  """`:cpu`: DTN's `:cpu` widths (E 32/64/128, G 128/64/32, D 64/128/256),
  two residual blocks in G and in the classifier, batch 32, 2,000
  iterations, cosine-decayed rates."""
  config.model.dae.widths = (32, 64, 128)
  config.model.g.widths = (128, 64, 32)
  config.model.cls_res_blocks = 2
  config.model.d.widths = (64, 128, 256)
  return config_lib.cpu_run(config, ('disc', 'gen'))


def tiny(config: ml_collections.ConfigDict) -> ml_collections.ConfigDict:
  """`:tiny` (tests): tiny data and networks, 3 steps."""
  source, target = config.data.source.name, config.data.target.name
  config_lib.translation_tiny(config)
  config.model.dae.widths = (4, 8, 8)
  config.model.g.widths, config.model.g.res_blocks = (8, 8, 4), 1
  config.model.cls_res_blocks = 1
  config.eval.knn_labelled_examples = 64
  return config_lib.tiny_prerequisites(config, {
      source: config.data.source.name, target: config.data.target.name})


def variant(config: ml_collections.ConfigDict,
            name: str) -> ml_collections.ConfigDict:
  """'' (the paper size), 'cpu' or 'tiny'."""
  return config_lib.apply_variant(config, name, tiny, cpu=cpu)
