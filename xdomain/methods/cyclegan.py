"""CycleGAN (Zhu, Park, Isola & Efros, ICCV 2017), the baseline every paper
in ../shared/papers compares against.

Networks (`xdomain.models.resnet_gan`): G: S -> T ('g_st') and F: T -> S
('g_ts'), residual image-to-image generators; D_T ('d_t') and D_S ('d_s'),
least-squares discriminators. Two update groups (`config.schedule`):
  disc: D_T and D_S minimise the least-squares L_GAN (eq. 1 with Sec. 4's
        least-squares form): 1/2 E[(D_T(t) - 1)^2] + 1/2 E[D_T(G(s))^2], and
        the same for D_S, F(t) and s; the fakes they see come through a
        pool of past fakes (Sec. 4, after Shrivastava et al.).
  gen:  G and F minimise L = w_gan (E[(D_T(G(s)) - 1)^2] + E[(D_S(F(t)) -
        1)^2]) + lambda L_cyc + lambda_id L_identity, with
          L_cyc (eq. 2) = E|F(G(s)) - s|_1 + E|G(F(t)) - t|_1, lambda = 10;
          L_identity (Sec. 5.2) = E|G(t) - t|_1 + E|F(s) - s|_1, optional
          (loss.identity, 0 = off, the default here).
[G(s); F(t)] is the method's shared forward pass, computed once per
iteration for both groups.

The pool (model.pool_size images per direction, 0 = off) is part of the
training state (`SharedForward.reads_buffers`): with the pool not yet full
a new fake is stored and shown; afterwards each new fake, with probability
1/2, replaces a random stored one which D sees instead. Its randomness is a
key kept in the pool itself, and it runs on the fakes of all devices at
once, so the pool is the same on every device, restored with the
checkpoint, and a resumed run is bit-identical.

Evaluation, both directions: `translated_accuracy` — the target evaluator on
G(source test) against the source labels (DTN's protocol); `reverse_accuracy`
— the source-domain evaluator on F(target test) against the target labels;
`knn_accuracy` — target test images labelled by their nearest G(source
train) images (DTN Table 2's protocol). Grids: samples/ (source -> target)
and samples_reverse/ (target -> source).
"""


import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from xdomain import checkpoints
from xdomain import errors
from xdomain import evaluation
from xdomain import losses
from xdomain import optim
from xdomain import steps
from xdomain.methods import base
from xdomain.models import gan
from xdomain.models import resnet_gan

G_ST, G_TS, D_T, D_S = 'g_st', 'g_ts', 'd_t', 'd_s'

# CycleGAN's rows for the comparison / table tools. No paper in
# ../shared/papers gives a CycleGAN number for digits (SIGAN's Fig. 1 only
# shows its SVHN -> MNIST samples as "totally meaningless").
TABLE = base.Table(
    rows=(
        base.TableRow('CycleGAN', {}),
        base.TableRow('without the cycle loss', {'loss.cycle': 0.0}),
        base.TableRow('without the pool', {'model.pool_size': 0}),
        base.TableRow('with the identity loss', {'loss.identity': 5.0}),
    ),
    metrics=('translated_accuracy', 'reverse_accuracy', 'knn_accuracy'),
    main_metric='translated_accuracy',
    paper_source='no CycleGAN digits number in ../shared/papers')


# --- The pool of past fakes -------------------------------------------------

def init_pool(size: int, image_shape, seed: int):
  """An empty pool: `size` image slots, how many are filled, its key."""
  return {'images': np.zeros((size,) + tuple(image_shape), np.float32),
          'count': np.zeros((), np.int32),
          'key': np.asarray(jax.random.key_data(
              jax.random.fold_in(jax.random.key(seed), 7)))}


def query_pool(pool, images):
  """(new pool, what D sees) for a batch of new fakes, one at a time in
  batch order (see the module docstring); an empty-sized pool shows the
  fakes as they are."""
  size = pool['images'].shape[0]
  if size == 0:
    return pool, images

  def one(carry, image):
    stored, count, key = carry
    key, coin_key, slot_key = jax.random.split(key, 3)
    filling = count < size
    swap = ~filling & (jax.random.uniform(coin_key) < 0.5)
    slot = jnp.where(filling, count,
                     jax.random.randint(slot_key, (), 0, size))
    old = stored[slot]
    stored = stored.at[slot].set(jnp.where(filling | swap, image, old))
    return (stored, count + filling.astype(count.dtype), key), jnp.where(
        swap, old, image)

  key = jax.random.wrap_key_data(pool['key'])
  (stored, count, key), shown = jax.lax.scan(
      one, (pool['images'], pool['count'], key), images)
  return {'images': stored, 'count': count,
          'key': jax.random.key_data(key)}, shown


def _query_pool_across_devices(pool, fakes):
  """The pool run on the fakes of every device (gathered in device order),
  each device keeping its own slice of what D sees: every device ends with
  the same pool, and the result does not depend on the device count."""
  everyone = jax.lax.all_gather(fakes, steps.AXIS, tiled=True)
  pool, shown = query_pool(pool, jax.lax.stop_gradient(everyone))
  n = fakes.shape[0]
  mine = jax.lax.dynamic_slice_in_dim(shown, jax.lax.axis_index(steps.AXIS)
                                      * n, n)
  return pool, mine


# --- The method -------------------------------------------------------------

def _generators(config):
  g = config.model.g
  return {
      G_ST: resnet_gan.Generator(channels=config.model.target_channels,
                                 width=g.width, res_blocks=g.res_blocks),
      G_TS: resnet_gan.Generator(channels=config.model.source_channels,
                                 width=g.width, res_blocks=g.res_blocks)}


def build(config: ml_collections.ConfigDict, workdir: str) -> base.Method:
  for name in ('source_channels', 'target_channels'):
    if config.model[name] not in (1, 3):
      raise errors.ConfigError(
          f'config.model.{name} must be 1 (grey, replicated to RGB) or 3, '
          f'got {config.model[name]}')
  if config.model.pool_size < 0:
    raise errors.ConfigError(
        f'config.model.pool_size must be >= 0 (0 = no pool), got '
        f'{config.model.pool_size}')
  evaluator, evaluator_variables, _ = checkpoints.load_required_classifier(
      config.eval.evaluator_checkpoint, 'CycleGAN',
      'the target-domain evaluator', 'eval.evaluator_checkpoint')
  reverse = None
  if config.eval.reverse_evaluator_checkpoint:
    reverse = checkpoints.load_required_classifier(
        config.eval.reverse_evaluator_checkpoint, 'CycleGAN',
        'the source-domain evaluator', 'eval.reverse_evaluator_checkpoint')
  generators = _generators(config)
  discriminator = resnet_gan.Discriminator(widths=tuple(config.model.d.widths))
  weights = config.loss

  def apply(params, name, x):
    module = generators.get(name, discriminator)
    out = module.apply({'params': params[name]}, x)
    return gan.to_rgb(out) if name in generators else out

  def init_variables(rng, batch):
    x = batch['source']['image']
    keys = jax.random.split(rng, 4)
    params = {name: module.init(key, x)['params'] for (name, module), key in
              zip(list(generators.items()) + [(D_T, discriminator),
                                              (D_S, discriminator)], keys)}
    pools = {direction: init_pool(config.model.pool_size, x.shape[1:],
                                  config.seed + i)
             for i, direction in enumerate(('to_target', 'to_source'))}
    return {'params': params, 'batch_stats': {}, 'buffers': pools}

  def translate_both(params, batch_stats, batch, rng, buffers):
    """[G(s); F(t)] and the pooled copies D sees (shared forward pass)."""
    del batch_stats, rng
    fake_t = apply(params, G_ST, batch['source']['image'])
    fake_s = apply(params, G_TS, batch['target']['image'])
    pool_t, shown_t = _query_pool_across_devices(buffers['to_target'], fake_t)
    pool_s, shown_s = _query_pool_across_devices(buffers['to_source'], fake_s)
    outputs = {'fake_t': fake_t, 'fake_s': fake_s,
               'shown_t': shown_t, 'shown_s': shown_s}
    return outputs, {'buffers': {'to_target': pool_t, 'to_source': pool_s}}

  def disc_loss(params, batch_stats, batch, rng, shared):
    del batch_stats, rng
    real_t, real_s = batch['target']['image'], batch['source']['image']
    scores = {
        'real_t': apply(params, D_T, real_t),
        'fake_t': apply(params, D_T, jax.lax.stop_gradient(shared['shown_t'])),
        'real_s': apply(params, D_S, real_s),
        'fake_s': apply(params, D_S, jax.lax.stop_gradient(shared['shown_s']))}
    l_t = losses.lsgan_d_loss(scores['real_t'], scores['fake_t'])
    l_s = losses.lsgan_d_loss(scores['real_s'], scores['fake_s'])
    # A fake is caught when its score is nearer 0 than 1.
    accuracy_fake = jnp.concatenate([scores['fake_t'], scores['fake_s']]) < 0.5
    metrics = {'L_D_T': l_t, 'L_D_S': l_s,
               'accuracy_fake': accuracy_fake.mean(),
               **{f'D({k})': v.mean() for k, v in scores.items()}}
    return l_t + l_s, {'metrics': metrics}

  def gen_loss(params, batch_stats, batch, rng, shared):
    del batch_stats, rng
    s, t = batch['source']['image'], batch['target']['image']
    fake_t, fake_s = shared['fake_t'], shared['fake_s']
    l_gan = (losses.lsgan_g_loss(apply(params, D_T, fake_t)) +
             losses.lsgan_g_loss(apply(params, D_S, fake_s)))
    # L_cyc (eq. 2): F(G(s)) ~ s and G(F(t)) ~ t.
    l_cyc = (losses.l1(apply(params, G_TS, fake_t), s) +
             losses.l1(apply(params, G_ST, fake_s), t))
    l_id = jnp.zeros(())
    if weights.identity:  # Sec. 5.2: G(t) ~ t and F(s) ~ s
      l_id = (losses.l1(apply(params, G_ST, t), t) +
              losses.l1(apply(params, G_TS, s), s))
    loss = (weights.gan_weight * l_gan + weights.cycle * l_cyc +
            weights.identity * l_id)
    return loss, {'metrics': {'L_GAN': l_gan, 'L_cyc': l_cyc,
                              'L_identity': l_id}}

  # --- Evaluation -----------------------------------------------------------
  def translator(name):
    return lambda variables, images: apply(variables['params'], name, images)

  to_target, to_source = translator(G_ST), translator(G_TS)
  two_way = evaluation.two_way_translation_evaluator(
      to_target, to_source, (evaluator, evaluator_variables), reverse, config,
      workdir)

  def evaluate(variables, step):
    return two_way({'params': variables['params']}, step)

  groups = {
      'disc': base.UpdateGroup(
          networks=(D_T, D_S), loss_fn=disc_loss,
          optimizer=optim.make_optimizer(config.optim.disc,
                                         config.num_train_steps)),
      'gen': base.UpdateGroup(
          networks=(G_ST, G_TS), loss_fn=gen_loss,
          optimizer=optim.make_optimizer(config.optim.gen,
                                         config.num_train_steps)),
  }
  return base.Method(
      init_variables=init_variables, groups=groups,
      schedule=tuple(config.schedule), evaluate=evaluate,
      best_metric='translated_accuracy',
      shared=base.SharedForward(networks=(G_ST, G_TS), fn=translate_both,
                                reads_buffers=True),
      fake_accuracy_metrics=('disc/accuracy_fake',),
      translate=to_target)
