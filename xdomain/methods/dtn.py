"""Domain Transfer Network (Taigman, Polyak & Wolf, ICLR 2017).

G = g o f, with f restored from an exported classifier and frozen (it sits in
the params under 'f' but in no update group, as in the paper). Update groups:
  disc: D minimises L_D (ternary, or binary for the ablation);
  gen:  g minimises L_G = w_gan L_GANG + alpha L_CONST + beta L_TID
                          + gamma L_TV (+ loss.nn_anchor L_NN, not in the
                          paper: MSE of G(x) and the real target nearest
                          to x in f's features, from a bank of recent
                          targets kept in the training state);
  f:    only with model.f_tune_every = k > 0 (yunjey/domain-transfer-network,
        which fine-tunes f on L_CONST every 15 steps): every k-th iteration f
        minimises L_CONST = d(f(x), f(G(x))) (G(x) held fixed, f's batch
        norm statistics frozen), with optimiser config.optim.f.
Ablations are config switches (see configs/dtn_synth_mnist.py):
  loss.alpha = 0 (no L_CONST), loss.beta = 0 (no L_TID), loss.gan_weight = 0
  (no GAN terms), model.d.ternary = False (binary D), and the paper's
  baseline model.generator_input = 'pixels' (G = g o E with a trainable
  encoder E of f's architecture, not built on f; E updates with g).

Evaluation (DTN Tables 1 and 2): the frozen target evaluator's accuracy on
G(source test) against the source labels, and k-NN domain adaptation:
target test images labelled by their nearest neighbours among translated,
labelled source training images.
"""

import json
import os
from typing import Any, Dict

import jax
import jax.numpy as jnp
import ml_collections

from xdomain import checkpoints
from xdomain import errors
from xdomain import evaluation
from xdomain import losses
from xdomain import optim
from xdomain import steps
from xdomain.methods import base
from xdomain.models import classifiers
from xdomain.models import gan

F, ENCODER, GENERATOR, DISCRIMINATOR = 'f', 'encoder', 'g', 'd'
GENERATOR_INPUTS = ('f', 'pixels')  # DTN's G = g o f, or the baseline's
# Where L_CONST compares x and G(x): f's features (the paper) or f's class
# distribution through f's own frozen linear head (KL, a weaker constraint).
CONST_SPACES = ('features', 'logits')
CONST_MAPS = ('block1', 'block2', 'block3')  # f's sown maps: 16x16, 8x8, 4x4


def _unseen(*domains, in_f=False):
  """Overrides of DTN's unseen-digit experiment (Sec. 5.1): digit 3 left
  out of the training batches of `domains` (and of f's training, in its own
  prerequisite workdir), its translated accuracy reported on its own."""
  overrides = {f'data.{d}.exclude_labels': (3,) for d in domains}
  overrides['eval.report_labels'] = (3,)
  if in_f:
    overrides.update({
        'prerequisites.f.config.data.source.exclude_labels': (3,),
        'prerequisites.f.workdir': lambda c: c.prerequisites.f.workdir + '_no3',
        'model.f_checkpoint': (
            lambda c: c.prerequisites.f.workdir + '_no3/classifier')})
  return overrides


# DTN's experiments for `python -m xdomain.tools.compare --ablations`: Table 1's rows (the
# paper's numbers are SVHN -> MNIST; ../shared/papers reproduces only the
# full method's 90.66 %, the others are quoted from the paper from memory),
# a binary D, and the unseen-digit experiment (Sec. 5.1).
TABLE = base.Table(
    rows=(
        base.TableRow('DTN', {}, 90.66),
        base.TableRow('without L_TID', {'loss.beta': 0.0}, 88.40),
        base.TableRow('without L_CONST', {'loss.alpha': 0.0}, 74.55),
        # The paper has no row without the GAN terms alone: its 34.70 % is
        # without L_D and L_TID (the next row).
        base.TableRow('without the GAN terms', {'loss.gan_weight': 0.0}),
        base.TableRow('without L_GAN and L_TID',
                      {'loss.gan_weight': 0.0, 'loss.beta': 0.0}, 34.70),
        base.TableRow('binary D', {'model.d.ternary': False}),
        base.TableRow('Sec. 3 baseline', {  # G = g o E, E trained; no L_TID;
            'model.generator_input': 'pixels', 'loss.beta': 0.0,  # a plain GAN
            'loss.target_through_g': False, 'model.d.ternary': False,
            'loss.nn_anchor': 0.0}, 13.71),
        base.TableRow('without L_NN',  # the recipe before 2026-12-07
                      {'loss.nn_anchor': 0.0}),
        base.TableRow('3 not in S', _unseen('source')),
        base.TableRow('3 not in T', _unseen('target')),
        base.TableRow('3 not in S nor T', _unseen('source', 'target')),
        base.TableRow('3 not in S, T nor f',
                      _unseen('source', 'target', in_f=True)),
    ),
    metrics=('translated_accuracy', 'knn_accuracy', 'translated_accuracy_3'),
    main_metric='translated_accuracy',
    paper_source=('DTN (Taigman et al. 2017) Table 1, SVHN -> MNIST (only '
                  '90.66 % is in ../shared/papers; the others from memory)'),
    source_only_paper=100 - 23.92,
    paper_pairs=('synth_mnist', 'digits'))  # SVHN -> MNIST and its proxy


class _Networks:
  """The modules of one DTN instance and how they are applied."""

  def __init__(self, config: ml_collections.ConfigDict, f_module,
               f_variables, f_model_config: Dict[str, Any]):
    model = config.model
    if model.d.ternary and not config.loss.target_through_g:
      raise errors.ConfigError(
          'config.model.d.ternary=True needs config.loss.target_through_g='
          'True (its second class is G(target)); set '
          'config.model.d.ternary=False for a binary D')
    if model.generator_input not in GENERATOR_INPUTS:
      raise errors.ConfigError(
          f'config.model.generator_input must be one of {GENERATOR_INPUTS}, '
          f'got {model.generator_input!r}')
    if model.g.channels not in (1, 3):
      raise errors.ConfigError(
          f'config.model.g.channels must be 1 (grey, replicated to RGB before '
          f'f and D) or 3, got {model.g.channels}')
    bad_maps = set(config.loss.get('const_maps', ())) - set(CONST_MAPS)
    if bad_maps:
      raise errors.ConfigError(
          f'config.loss.const_maps: unknown f block(s) {sorted(bad_maps)}; '
          f'choose from {CONST_MAPS}')
    if config.loss.get('const_space', 'features') not in CONST_SPACES:
      raise errors.ConfigError(
          f'config.loss.const_space must be one of {CONST_SPACES}, got '
          f'{config.loss.const_space!r}')
    self.f = f_module.encoder
    self.f_head = f_variables['params']['head']  # constant: in no group
    self.f_variables = _encoder_variables(f_variables)
    self.uses_f = model.generator_input == 'f'
    # The baseline's trainable encoder E has f's architecture.
    self.encoder = None if self.uses_f else classifiers.encoder_from_config(
        ml_collections.ConfigDict(f_model_config), steps.AXIS)
    output_scale = float(model.g.get('output_scale', 1.0))  # older runs: 1
    if output_scale < 1.0:
      raise errors.ConfigError(
          f'config.model.g.output_scale must be >= 1 (1 = tanh, the paper; '
          f'> 1 = clip(s tanh, -1, 1)), got {output_scale}')
    self.g = gan.Generator(channels=model.g.channels,
                           widths=tuple(model.g.widths),
                           bn_axis_name=steps.AXIS, output_scale=output_scale)
    self.num_classes = self.f_head['kernel'].shape[-1]
    self.class_conditional = bool(model.d.get('class_conditional', False))
    d_norm = model.d.get('normalization', 'batch')  # older runs: batch
    if d_norm not in gan.NORMALIZATIONS:
      raise errors.ConfigError(
          f'config.model.d.normalization must be one of '
          f'{gan.NORMALIZATIONS}, got {d_norm!r}')
    self.d = gan.Discriminator(
        num_outputs=3 if model.d.ternary else 1, widths=tuple(model.d.widths),
        bn_axis_name=steps.AXIS,
        num_classes=self.num_classes if self.class_conditional else 0,
        normalization=d_norm)

  def features(self, params, batch_stats, x, train):
    """f(x) (frozen), or the baseline's trainable E(x); returns (h, stats)."""
    if self.uses_f:
      return jax.lax.stop_gradient(self.frozen_f(params, batch_stats, x)), {}
    h, updates = self.encoder.apply(
        {'params': params[ENCODER], 'batch_stats': batch_stats[ENCODER]}, x,
        train=train, mutable=['batch_stats'])
    return h, {ENCODER: updates.get('batch_stats', {})}

  def frozen_f(self, params, batch_stats, x):
    """f(x) with f's batch norm statistics frozen (f is in no update group
    unless model.f_tune_every > 0)."""
    return self.f.apply({'params': params[F],
                         'batch_stats': batch_stats[F]}, x, train=False)

  def frozen_f_with_maps(self, params, batch_stats, x, names):
    """f(x) and f's sown block maps `names` (e.g. 'block3', 4x4x256) on x,
    frozen, from one pass of f."""
    h, state = self.f.apply({'params': params[F],
                             'batch_stats': batch_stats[F]}, x, train=False,
                            mutable=['intermediates'])
    return h, [state['intermediates'][name][0] for name in names]

  def f_logits(self, h):
    """f's class logits from its features h (f's frozen linear head)."""
    return h @ self.f_head['kernel'] + self.f_head['bias']

  def generate(self, params, batch_stats, x, train):
    """G(x) as 3-channel images; returns (images, f-or-E features, stats)."""
    h, stats = self.features(params, batch_stats, x, train)
    out, updates = self.g.apply(
        {'params': params[GENERATOR], 'batch_stats': batch_stats[GENERATOR]},
        h, train=train, mutable=['batch_stats'])
    stats[GENERATOR] = updates['batch_stats']
    return gan.to_rgb(out), h, stats

  def discriminate(self, params, batch_stats, x, labels=None):
    logits, updates = self.d.apply(
        {'params': params[DISCRIMINATOR],
         'batch_stats': batch_stats[DISCRIMINATOR]}, x, train=True,
        labels=labels, mutable=['batch_stats'])
    return logits, updates['batch_stats']

  def d_labels(self, params, batch_stats, batch, shared, through_g):
    """With model.d.class_conditional, the class D is told for each image it
    sees, [G(source); (G(target)); real target]: f's one-hot prediction on
    the image G translated (the class G was asked to render), and on the
    real target image itself -- never a target label. None otherwise."""
    if not self.class_conditional:
      return None
    xs, xt = batch['source']['image'], batch['target']['image']
    inputs = jnp.concatenate([xs, xt]) if through_g else xs
    h = (shared['features'] if self.uses_f
         else self.frozen_f(params, batch_stats, inputs))
    h_real = (h[xs.shape[0]:] if through_g
              else self.frozen_f(params, batch_stats, xt))
    logits = self.f_logits(jnp.concatenate([h, h_real]))
    return jax.lax.stop_gradient(
        jax.nn.one_hot(jnp.argmax(logits, -1), self.num_classes))


def init_target_bank(size: int, image_shape, feature_dim: int):
  """An empty bank of `size` real target images and their f features."""
  return {'images': jnp.zeros((size,) + tuple(image_shape), jnp.float32),
          'features': jnp.zeros((size, feature_dim), jnp.float32),
          'count': jnp.zeros((), jnp.int32)}


def push_target_bank(bank, images, features):
  """The bank with `images` / `features` in front (first in, first out):
  the newest targets first, the oldest dropped once it is full."""
  size = bank['images'].shape[0]
  return {'images': jnp.concatenate([images, bank['images']])[:size],
          'features': jnp.concatenate([features, bank['features']])[:size],
          'count': jnp.minimum(bank['count'] + images.shape[0], size)}


def nearest_in_bank(bank, features):
  """For each row of `features`, the bank image whose f features are the
  nearest (squared Euclidean), among the filled slots only."""
  d = (jnp.sum(features ** 2, -1, keepdims=True)
       - 2 * features @ bank['features'].T
       + jnp.sum(bank['features'] ** 2, -1)[None])
  filled = jnp.arange(bank['images'].shape[0]) < bank['count']
  nearest = jnp.argmin(jnp.where(filled[None], d, jnp.inf), -1)
  return bank['images'][nearest]


def _encoder_variables(variables):
  """A restored classifier's encoder part (params and batch statistics)."""
  return {'params': variables['params']['encoder'],
          'batch_stats': variables.get('batch_stats', {}).get('encoder', {})}


def _frozen_encoder(module, variables):
  """x -> a restored classifier's features, frozen: inference batch norm,
  its variables constants of the step (in no update group); gradients
  still flow to x, so that g learns from L_CONST through it."""
  encoder_variables = _encoder_variables(variables)
  return lambda x: module.encoder.apply(encoder_variables, x, train=False)


def restored_translator(workdir: str):
  """(config, translate, variables) of a finished or running DTN run, for
  tools reading it: its config.json, G as a function of (variables,
  images), and the evaluation variables of its latest checkpoint (the
  averaged g where the run keeps one, as evaluation does); variables is
  None where no checkpoint is readable."""
  from xdomain.data import pipeline  # pylint: disable=g-import-not-at-top
  with open(os.path.join(workdir, 'config.json')) as f:
    config = ml_collections.ConfigDict(json.load(f))
  method = build(config, os.path.join('/tmp', 'xdomain_translator'))
  state = steps.init_state(method, jax.random.key(0),
                           pipeline.example_batch(config))
  checkpointer = checkpoints.TrainCheckpointer(workdir)
  state = checkpointer.restore_latest(state)
  checkpointer.close()
  variables = None if state is None else steps.eval_variables(state)
  return config, method.translate, variables


def build(config: ml_collections.ConfigDict, workdir: str) -> base.Method:
  f_module, f_variables, f_meta = checkpoints.load_required_classifier(
      config.model.f_checkpoint, 'DTN', 'the pretrained f',
      'model.f_checkpoint')
  evaluator, evaluator_variables, _ = checkpoints.load_required_classifier(
      config.eval.evaluator_checkpoint, 'DTN', 'the target-domain evaluator',
      'eval.evaluator_checkpoint')
  nets = _Networks(config, f_module, f_variables, f_meta['model'])
  # Further frozen classifiers whose features L_CONST also compares (an
  # ensemble of fs: a glyph must then keep the class for every one of them).
  if config.model.get('const_f_checkpoints', ()) and (
      config.loss.get('const_space', 'features') != 'features'):
    raise errors.ConfigError(
        'config.model.const_f_checkpoints compares features: it needs '
        f'config.loss.const_space=features, got {config.loss.const_space!r}')
  const_fs = [_frozen_encoder(*checkpoints.load_required_classifier(
      path, 'DTN', 'an extra f of L_CONST', 'model.const_f_checkpoints')[:2])
              for path in config.model.get('const_f_checkpoints', ())]
  weights = config.loss
  ternary = config.model.d.ternary
  # The nearest-target anchor (not in the paper): G(x) pulled in pixels
  # towards the real target image whose f features are nearest to f(x),
  # from a bank of the last model.nn_bank_size targets (training state).
  nn_weight = float(config.loss.get('nn_anchor', 0.0))  # older runs: off
  bank_size = int(config.model.get('nn_bank_size', 512))
  if nn_weight < 0 or (nn_weight > 0 and bank_size < 1):
    raise errors.ConfigError(
        f'config.loss.nn_anchor={nn_weight} needs a weight >= 0 (0 = off) '
        f'and, when on, model.nn_bank_size >= 1 (got {bank_size})')

  def init_variables(rng, batch):
    x = batch['source']['image']
    keys = jax.random.split(rng, 3)
    params = {F: nets.f_variables['params']}
    stats = {F: nets.f_variables['batch_stats']}
    h = nets.f.apply(nets.f_variables, x, train=False)
    if not nets.uses_f:
      v = nets.encoder.init(keys[0], x, train=False)
      params[ENCODER], stats[ENCODER] = v['params'], v.get('batch_stats', {})
    v = nets.g.init(keys[1], h, train=False)
    params[GENERATOR], stats[GENERATOR] = v['params'], v['batch_stats']
    labels = (jnp.zeros((x.shape[0], nets.num_classes))
              if nets.class_conditional else None)
    v = nets.d.init(keys[2], x, train=False, labels=labels)
    params[DISCRIMINATOR], stats[DISCRIMINATOR] = v['params'], v['batch_stats']
    if not nn_weight:
      return {'params': params, 'batch_stats': stats}
    bank = init_target_bank(bank_size, x.shape[1:], h.shape[-1])
    return {'params': params, 'batch_stats': stats,
            'buffers': {'target_bank': bank}}

  # G runs once per iteration on [source; target] (the method's shared
  # forward pass: the D and g updates both use it; g's gradients flow back
  # through its VJP), D once per update on [G(source); G(target); real
  # target]: batch norm then normalises each network's input as one batch,
  # the same mix its running averages (used by `translate`) see, and D cannot
  # tell real from fake by per-batch statistics alone.
  def generate_batch(params, batch_stats, batch, rng, buffers=None):
    del rng
    xs, xt = batch['source']['image'], batch['target']['image']
    x = jnp.concatenate([xs, xt]) if weights.target_through_g else xs
    fakes, features, stats = nets.generate(params, batch_stats, x, train=True)
    outputs = {'fakes': fakes, 'features': features}
    if not nn_weight:
      return outputs, {'batch_stats': stats}
    # Every device pushes every device's targets (in device order): the
    # bank is the same everywhere and independent of the device count.
    n = xs.shape[0]  # the frozen f's features, from G's pass where it has them
    f_source = (features[:n] if nets.uses_f
                else nets.frozen_f(params, batch_stats, xs))
    f_target = (features[n:] if nets.uses_f and weights.target_through_g
                else nets.frozen_f(params, batch_stats, xt))
    gather = lambda a: jax.lax.all_gather(jax.lax.stop_gradient(a),
                                          steps.AXIS, tiled=True)
    bank = push_target_bank(buffers['target_bank'], gather(xt),
                            gather(f_target))
    outputs['anchor'] = nearest_in_bank(bank, f_source)
    return outputs, {'batch_stats': stats, 'buffers': {'target_bank': bank}}

  noise_std = float(config.model.d.get('instance_noise', 0.0))
  real_smoothing = float(config.model.d.get('real_label_smoothing', 0.0))
  if not 0.0 <= real_smoothing < 1.0:
    raise errors.ConfigError(
        f'model.d.real_label_smoothing={real_smoothing}: must be in [0, 1) '
        '(0 = hard labels, the paper).')
  const_space = config.loss.get('const_space', 'features')
  alpha_maps = float(config.loss.get('alpha_maps', 0.0))  # older runs: none
  const_maps = tuple(config.loss.get('const_maps', ('block3',)))

  def d_logits(params, batch_stats, fakes, real, rng, labels=None):
    images = jnp.concatenate([fakes, real])
    if noise_std > 0:  # instance noise: D sees every image through N(0, s^2)
      images = images + noise_std * jax.random.normal(rng, images.shape)
    logits, stats = nets.discriminate(params, batch_stats, images, labels)
    n = real.shape[0]
    parts = jnp.split(logits[:-n], fakes.shape[0] // n) + [logits[-n:]]
    return parts, stats  # [G(source), (G(target)), real target]

  def disc_loss(params, batch_stats, batch, rng, shared):
    (*fake_logits, real_logits), stats = d_logits(
        params, batch_stats, jax.lax.stop_gradient(shared['fakes']),
        batch['target']['image'], rng,
        nets.d_labels(params, batch_stats, batch, shared,
                      weights.target_through_g))
    if ternary:  # L_D, DTN Sec. 3
      loss = losses.ternary_d_loss(*fake_logits, real_logits,
                                   real_smoothing)
      probs = [jax.nn.softmax(l).mean(0) for l in fake_logits + [real_logits]]
      names = ['fake_source', 'fake_target', 'real_target']
      metrics = {f'D{c + 1}({n})': p[c] for n, p in zip(names, probs)
                 for c in range(3)}
      # Real vs fake as D sees it: a fake is caught unless D3 wins.
      said_real = lambda l: jnp.argmax(l, -1) == losses.REAL_TARGET
    else:
      loss = losses.binary_d_loss(fake_logits, real_logits, real_smoothing)
      metrics = {'D(fake_source)': jax.nn.sigmoid(fake_logits[0]).mean(),
                 'D(real_target)': jax.nn.sigmoid(real_logits).mean()}
      said_real = lambda l: l[:, 0] > 0
    caught = jnp.concatenate([~said_real(l) for l in fake_logits])
    metrics['accuracy_fake'] = caught.mean()
    metrics['accuracy'] = jnp.concatenate([caught, said_real(real_logits)]
                                          ).mean()
    return loss, {'batch_stats': {DISCRIMINATOR: stats},
                  'metrics': metrics}

  def gen_loss(params, batch_stats, batch, rng, shared):
    xs, xt = batch['source']['image'], batch['target']['image']
    n = xs.shape[0]
    fakes, features = shared['fakes'], shared['features']
    # D's batch-stats update from this pass is dropped (only L_D's is kept).
    *fake_logits, _ = d_logits(
        params, batch_stats, fakes, xt, rng,
        nets.d_labels(params, batch_stats, batch, shared,
                      weights.target_through_g))[0]
    fake_s = fakes[:n]
    # L_GANG (DTN Sec. 3): G's fakes pushed towards D3, "real target".
    l_gan = (losses.ternary_g_loss(*fake_logits) if ternary
             else losses.binary_g_loss(fake_logits))
    # L_CONST = d(f(x), f(G(x))) on source, with the frozen, pretrained f
    # (G = g o f has already computed f(x); the baseline's G used its own E).
    f_source = (features[:n] if nets.uses_f
                else nets.frozen_f(params, batch_stats, xs))
    if alpha_maps > 0:  # f's maps of G(x) come from the same pass of f
      f_fake, fake_maps = nets.frozen_f_with_maps(params, batch_stats, fake_s,
                                                  const_maps)
    else:
      f_fake = nets.frozen_f(params, batch_stats, fake_s)
    if const_space == 'logits':  # KL(f's class distribution on x || on G(x))
      l_const = losses.kl_divergence(nets.f_logits(f_source),
                                     nets.f_logits(f_fake))
    else:
      l_const = losses.mse(f_source, f_fake)
    # With model.const_f_checkpoints, L_CONST is the mean over f and the
    # extra fs (not in the paper; each extra f sees x and G(x) alike).
    l_const_extra = [losses.mse(extra(xs), extra(fake_s)) for extra in const_fs]
    if l_const_extra:
      l_const = (l_const + sum(l_const_extra)) / (1 + len(l_const_extra))
    # An L_CONST on f's spatial block maps as well (not in the paper): the
    # 128-d f(x) accepts glyphs of the wrong shape; its 4x4 maps keep where.
    l_const_maps = jnp.zeros(())
    if alpha_maps > 0:
      _, source_maps = nets.frozen_f_with_maps(params, batch_stats, xs,
                                               const_maps)
      l_const_maps = sum(losses.mse(a, b) for a, b in zip(
          source_maps, fake_maps)) / len(const_maps)
    # L_TID = d2(x, G(x)) on target.
    l_tid = (losses.mse(xt, fakes[n:]) if weights.target_through_g
             else jnp.zeros(()))
    l_nn = (losses.mse(fake_s, shared['anchor']) if nn_weight
            else jnp.zeros(()))
    l_tv = losses.total_variation(fakes, weights.tv_exponent)
    # L_G = L_GANG + alpha L_CONST + beta L_TID + gamma L_TV (DTN Sec. 3),
    # + the switches beyond the paper (alpha_maps L_CONST_maps, nn L_NN).
    loss = (weights.gan_weight * l_gan + weights.alpha * l_const +
            weights.beta * l_tid + weights.gamma * l_tv +
            alpha_maps * l_const_maps + nn_weight * l_nn)
    metrics = {'L_GANG': l_gan, 'L_CONST': l_const, 'L_TID': l_tid,
               'L_TV': l_tv}
    if alpha_maps > 0:
      metrics['L_CONST_maps'] = l_const_maps
    if nn_weight:
      metrics['L_NN'] = l_nn
    for i, l in enumerate(l_const_extra):
      metrics[f'L_CONST_f{i + 1}'] = l
    return loss, {'metrics': metrics}

  def f_tune_loss(params, batch_stats, batch, rng, shared):
    """L_CONST as a loss of f (yunjey/domain-transfer-network), G(x) fixed."""
    del rng
    xs = batch['source']['image']
    fake_s = jax.lax.stop_gradient(shared['fakes'][:xs.shape[0]])
    l_const = losses.mse(nets.frozen_f(params, batch_stats, xs),
                         nets.frozen_f(params, batch_stats, fake_s))
    return l_const, {'metrics': {'L_CONST': l_const}}

  # --- Evaluation -----------------------------------------------------------
  def translate(variables, images):
    out, _, _ = nets.generate(variables['params'], variables['batch_stats'],
                              images, train=False)
    return out

  evaluator_counter = evaluation.make_counter(
      lambda v, x: evaluator.apply(v['evaluator'], translate(v, x)))
  p_translate = jax.pmap(translate)
  workdir_samples = os.path.join(workdir, 'samples')

  def evaluate(variables, step):
    both = {**variables, 'evaluator': evaluator_variables}
    replicated = steps.replicate(both)
    source = config.data.source
    def accuracy(only_labels=()):
      return evaluation.classifier_accuracy(
          evaluator_counter, replicated, config.data, source.name,
          source.test_split, config.eval.per_device_batch_size,
          only_labels=only_labels, **evaluation.split_options(config))
    metrics = {'translated_accuracy': accuracy()}
    for label in config.eval.report_labels:
      metrics[f'translated_accuracy_{label}'] = accuracy((int(label),))
    rep_vars = steps.replicate(variables)
    metrics['knn_accuracy'] = evaluation.translated_knn(
        lambda b: p_translate(rep_vars, b), config)
    # Every process translates (pmap spans all of them); process 0 writes.
    evaluation.save_translation_grid(
        lambda b: p_translate(rep_vars, b), config, workdir_samples, step,
        write=jax.process_index() == 0)
    return metrics

  # A thresholded D (XGAN slides: "only train if accuracy is below a
  # certain threshold"): its update is skipped on batches it already
  # separates better than model.d.skip_above_accuracy (1 = never skipped).
  threshold = float(config.model.d.skip_above_accuracy)
  skip_if = (None if threshold >= 1.0
             else lambda metrics: metrics['accuracy'] > threshold)
  groups = {
      'disc': base.UpdateGroup(
          networks=(DISCRIMINATOR,), loss_fn=disc_loss,
          optimizer=optim.make_optimizer(config.optim.disc,
                                         config.num_train_steps),
          skip_if=skip_if),
      'gen': base.UpdateGroup(
          networks=(GENERATOR,) if nets.uses_f else (ENCODER, GENERATOR),
          loss_fn=gen_loss,
          optimizer=optim.make_optimizer(config.optim.gen,
                                         config.num_train_steps)),
  }
  schedule = tuple(config.schedule)
  f_tune_every = int(config.model.get('f_tune_every', 0))
  if f_tune_every < 0 or (f_tune_every and not nets.uses_f):
    raise errors.ConfigError(
        f'config.model.f_tune_every must be 0 (f frozen, the paper) or a '
        f'positive period with model.generator_input=f, got {f_tune_every} '
        f'with generator_input={config.model.generator_input!r}')
  if f_tune_every:
    groups[F] = base.UpdateGroup(
        networks=(F,), loss_fn=f_tune_loss, every=f_tune_every,
        optimizer=optim.make_optimizer(config.optim.f,
                                       config.num_train_steps))
    schedule += (F,)
  generator_networks = groups['gen'].networks  # g (and the baseline's E)
  return base.Method(init_variables=init_variables, groups=groups,
                     schedule=schedule, evaluate=evaluate,
                     best_metric='translated_accuracy',
                     shared=base.SharedForward(networks=generator_networks,
                                               fn=generate_batch,
                                               reads_buffers=bool(nn_weight)),
                     # Evaluation reads the averaged weights of G (model.g.ema_decay > 0).
                     averaged_networks=generator_networks,
                     ema_decay=float(config.model.g.ema_decay),
                     ema_start=int(config.model.g.get('ema_start', 0)),
                     fake_accuracy_metrics=('disc/accuracy_fake',),
                     translate=translate)
