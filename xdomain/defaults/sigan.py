"""SIGAN's defaults (xdomain.methods.sigan) and its sizes."""

import ml_collections

from xdomain import config_lib


def sigan_config(source: ml_collections.ConfigDict,
                 target: ml_collections.ConfigDict, f_checkpoint: str,
                 evaluator_checkpoint: str) -> ml_collections.ConfigDict:
  """SIGAN's defaults (Mao et al. 2018, Sec. 6.1.1), shared by its configs.

  L_adv = gan_weight L_WGAN + alpha L_Attention + beta L_MSE + gamma L_TV
  with alpha = 0.01, beta = 1, gamma = 1e-4 (TV exponent B = 1); the
  classification update (L_LabelConst, weight label_weight) every
  cls_every = t = 20 iterations; batch 200; RMSprop for every network; the
  critic's Lipschitz constraint by weight clipping (0.01, as WGAN) unless
  loss.gp_weight > 0 (then set optim.critic.weight_clip=0). Switches
  beyond the paper (off by default): loss.label_detach_translation (the
  classification update's gradient reaches E only as the reader of
  G(E(x_s)), not through generating it) and loss.source_label_weight (the
  classification update also keeps E a source classifier: + w CE(F(E(x_s)),
  y_s)).
  """
  config = config_lib.base_config()
  config.method = 'sigan'
  config.data.source = source
  config.data.target = target

  config.model = ml_collections.ConfigDict()
  config.model.f_checkpoint = f_checkpoint  # E and F, pretrained on source
  config.model.train_f_head = False  # paper text: F fixed after pretraining
  config.model.g = ml_collections.ConfigDict(
      dict(channels=1, widths=(512, 256, 128)))
  config.model.d = ml_collections.ConfigDict(dict(widths=(128, 256, 512)))

  config.loss = ml_collections.ConfigDict(dict(
      gan_weight=1.0, alpha=0.01, beta=1.0, gamma=1e-4, tv_exponent=1.0,
      label_weight=1.0, cls_every=20, attention_normalize=False,
      gp_weight=0.0, label_detach_translation=False,
      source_label_weight=0.0))

  config.optim.critic = config_lib.optimizer('rmsprop', 5e-5, weight_clip=0.01)
  config.optim.adv = config_lib.optimizer('rmsprop', 5e-5)
  config.optim.cls = config_lib.optimizer('rmsprop', 5e-5)
  # Learning-rate factors per network of a group (1 = the paper's).
  config.optim.adv.lr_scale = ml_collections.ConfigDict(
      dict(encoder=1.0, g=1.0))
  config.optim.cls.lr_scale = ml_collections.ConfigDict(
      dict(encoder=1.0, head=1.0))
  config.schedule = ('critic', 'adv', 'cls')

  config.per_device_batch_size = 200
  config_lib.set_run_length(config, 20_000, log_every=100, eval_every=2000,
                 checkpoint_every=1000)
  config.eval.evaluator_checkpoint = evaluator_checkpoint
  config.eval.grid_rows = 4
  config.eval.grid_cols = 10
  return config


def sigan_short(config: ml_collections.ConfigDict) -> ml_collections.ConfigDict:
  """SIGAN for runs of a few thousand iterations at batch 32 (the runs we
  could afford on CPU). The paper's loss weights and losses; changed:
  - every optimizer RMSprop 2e-4 (the paper does not give its learning
    rate; at 5e-5, the WGAN default, G was still a blur after 500 steps);
  - E's learning rate in the adversarial update x 0.05 (at x 1, the
    WGAN/MSE gradients eroded E's class features faster than L_LabelConst
    restored them: F o E fell below source only);
  - the classification update every iteration (t = 1 instead of 20, so
    that it keeps pace at a 10x shorter budget);
  - L2-normalised attention maps (unnormalised, alpha L_Attention was
    ~25 against L_WGAN ~0.01 at the start and drove E's scale down);
  - batch 32, 2,000 steps."""
  for name in ('critic', 'adv', 'cls'):
    config.optim[name].learning_rate = 2e-4
  config.optim.adv.lr_scale.encoder = 0.05
  config.loss.cls_every = 1
  config.loss.attention_normalize = True
  config.per_device_batch_size = 32
  config_lib.set_run_length(config, 2000, log_every=20, eval_every=500,
                 checkpoint_every=250)
  return config


def sigan_cpu(config: ml_collections.ConfigDict) -> ml_collections.ConfigDict:
  """`:cpu`: `sigan_short` with DTN's `:cpu` networks (g 256/128/64, D
  64/128/256): the size the comparison tool trains; its config file also
  takes E, F and the evaluator from the DTN recipe's prerequisites (see
  configs/sigan_synth_mnist.py)."""
  sigan_short(config)
  config.model.g.widths = (256, 128, 64)
  config.model.d.widths = (64, 128, 256)
  return config


def sigan_variant(config: ml_collections.ConfigDict,
                  variant: str) -> ml_collections.ConfigDict:
  """Applies a SIGAN config's variant: '' (as is, the paper's settings),
  'short' (`sigan_short`), 'cpu' (`sigan_cpu`) or 'tiny' (tests; the classification update
  every 2 iterations)."""
  def tiny(config):
    source, target = config.data.source.name, config.data.target.name
    config_lib.translation_tiny(config)
    config.loss.cls_every = 2
    return config_lib.tiny_prerequisites(
        config, {source: config.data.source.name,
                 target: config.data.target.name})
  return config_lib.apply_variant(config, variant, tiny, short=sigan_short,
                                  cpu=sigan_cpu)


def sigan_prerequisites(config: ml_collections.ConfigDict, configs_dir: str,
                        f_file: str, f_workdir: str, evaluator_file: str,
                        evaluator_workdir: str) -> ml_collections.ConfigDict:
  """E and F (the pretrained f, `f_file`, e.g. pretrain_f_synth.py) and the
  target evaluator (`evaluator_file`) as prerequisites trained on the spot
  when missing, from their config files in `configs_dir`."""
  config.model.f_checkpoint = f'{f_workdir}/classifier'
  config.eval.evaluator_checkpoint = f'{evaluator_workdir}/classifier'
  return config_lib.with_prerequisites(
      config,
      f=(f_workdir, config_lib.load_config_file(f'{configs_dir}/{f_file}')),
      evaluator=(evaluator_workdir, config_lib.load_config_file(
          f'{configs_dir}/{evaluator_file}')))
