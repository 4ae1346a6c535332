"""Semantic Invariant GAN (Mao, Wang, Zheng & Huang, Neurocomputing 2018).

Networks: the encoder E and classifier head F, both restored from a
classifier pretrained on labelled source images (Algorithm 1, line 1: the
`f` export, e.g. configs/pretrain_f_synth.py); the generator G decoding E's
representation (DTN's g); the critic D (DTN's D with one output, no
sigmoid). E is one set of parameters shared by the generation path
G(E(x)) and the classification path F(E(.)), and keeps training.

Update groups (`config.schedule`, default critic -> adv -> cls):
  critic  D maximises L_WGAN = E_t[D(x_t)] - E_s[D(G(E(x_s)))] (eq. 11);
          Lipschitz constraint by weight clipping (optim.critic.weight_clip,
          RMSprop, the default) or a gradient penalty (loss.gp_weight > 0);
  adv     E and G minimise L_adv = w_gan L_WGAN + alpha L_Attention
          + beta L_MSE + gamma L_TV (Algorithm 1, line 3), with
            L_Attention (eqs. 8-10): MSE of the attention maps
              P(T) = sum_c |T_c| of E's 8x8 and 4x4 maps of x_s against G's
              8x8 and 4x4 maps when decoding E(x_s), both scales summed;
            L_MSE (eq. 5): MSE(G(E(x_t)), x_t);
            L_TV (eq. 6) with B = loss.tv_exponent (1) on G(E(x_s));
  cls     every `loss.cls_every` (t) iterations only (Algorithm 1, lines
          4-5): E (and F if model.train_f_head, Algorithm 1's reading; the
          paper's text keeps F fixed, the default) minimise
          L_LabelConst = CE(F(E(G(E(x_s)))), y_s) (eq. 4); its gradient
          reaches E through both applications (eq. 4 minimised over
          theta_e) unless loss.label_detach_translation (then only through
          E reading G(E(x_s))); plus loss.source_label_weight x
          CE(F(E(x_s)), y_s), E kept a source classifier (0 = the paper).
G(E([x_s; x_t])) is the method's shared forward pass, computed once for
critic and adv.

Ablations (SIGAN Table 1) are overrides: loss.gamma=0 (without L_TV),
loss.alpha=0 (without L_Attention), loss.label_weight=0 (without
L_LabelConst), loss.gan_weight=0 (without L_GAN).

Evaluation, both protocols: `translated_accuracy` — the frozen target
evaluator on G(E(source test)) against the source labels (DTN's); and
`adaptation_accuracy` — F(E(target test)) against the target labels (SIGAN
Table 1). Export: the adapted classifier F o E, as a classifier checkpoint.
"""

import os

import flax.linen as nn
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
from xdomain.methods import classifier as classifier_method
from xdomain.models import classifiers
from xdomain.models import gan

ENCODER, HEAD, GENERATOR, CRITIC = 'encoder', 'head', 'g', 'd'
# Attention pairs (eq. 10): E's sown block and G's sown block, per scale.
ATTENTION_PAIRS = (('block2', 'block1'),  # 8x8
                   ('block3', 'block0'))  # 4x4


# SIGAN Table 1 (SVHN -> MNIST, adaptation accuracy in %), for
# `python -m xdomain.tools.table`.
TABLE = base.Table(
    rows=(
        base.TableRow('SIGAN', {}, 83.41),
        base.TableRow('without L_TV', {'loss.gamma': 0.0}, 83.63),
        base.TableRow('without L_Attention', {'loss.alpha': 0.0}, 78.56),
        base.TableRow('without L_LabelConst', {'loss.label_weight': 0.0},
                      51.77),
        base.TableRow('without L_GAN', {'loss.gan_weight': 0.0}, 32.60),
        base.TableRow('without L_Attention and L_LabelConst',
                      {'loss.alpha': 0.0, 'loss.label_weight': 0.0}, 10.39),
    ),
    metrics=('adaptation_accuracy', 'translated_accuracy'),
    main_metric='adaptation_accuracy',
    paper_source='SIGAN Table 1 (SVHN -> MNIST)',
    source_only_paper=60.21)


def _validate(config) -> None:
  if config.model.g.channels not in (1, 3):
    raise errors.ConfigError(
        f'config.model.g.channels must be 1 or 3, got '
        f'{config.model.g.channels}')
  if int(config.loss.cls_every) < 1:
    raise errors.ConfigError(
        f'config.loss.cls_every (t) must be >= 1, got {config.loss.cls_every}')


def build(config: ml_collections.ConfigDict, workdir: str) -> base.Method:
  _validate(config)
  _, pretrained_variables, pretrained_meta = (
      checkpoints.load_required_classifier(
          config.model.f_checkpoint, 'SIGAN',
          'E and F pretrained on labelled source images',
          'model.f_checkpoint'))
  evaluator, evaluator_variables, _ = checkpoints.load_required_classifier(
      config.eval.evaluator_checkpoint, 'SIGAN', 'the target-domain evaluator',
      'eval.evaluator_checkpoint')
  model_config = ml_collections.ConfigDict(pretrained_meta['model'])
  encoder = classifiers.encoder_from_config(model_config, steps.AXIS)
  head = nn.Dense(model_config.num_classes)  # F: the pretrained 'head'
  g = gan.Generator(channels=config.model.g.channels,
                    widths=tuple(config.model.g.widths),
                    bn_axis_name=steps.AXIS)
  d = gan.Discriminator(num_outputs=1, widths=tuple(config.model.d.widths),
                        bn_axis_name=steps.AXIS)
  weights = config.loss
  # Switches added after the paper's losses (absent in older runs' configs).
  label_detach_translation = bool(weights.get('label_detach_translation',
                                              False))
  source_label_weight = float(weights.get('source_label_weight', 0.0))

  def encode(params, batch_stats, x, train):
    """E(x): features, E's sown block maps and its batch-stats updates."""
    h, state = encoder.apply(
        {'params': params[ENCODER], 'batch_stats': batch_stats[ENCODER]}, x,
        train=train, mutable=['batch_stats', 'intermediates'])
    return h, state['intermediates'], state.get('batch_stats', {})

  def classify(params, h):
    return head.apply({'params': params[HEAD]}, h)

  def decode(params, batch_stats, h, train):
    out, state = g.apply(
        {'params': params[GENERATOR], 'batch_stats': batch_stats[GENERATOR]},
        h, train=train, mutable=['batch_stats', 'intermediates'])
    return gan.to_rgb(out), state['intermediates'], state['batch_stats']

  def critic(params, batch_stats, x):
    scores, updates = d.apply(
        {'params': params[CRITIC], 'batch_stats': batch_stats[CRITIC]}, x,
        train=True, mutable=['batch_stats'])
    return scores[:, 0], updates['batch_stats']

  def init_variables(rng, batch):
    x = batch['source']['image']
    keys = jax.random.split(rng, 2)
    v_e = pretrained_variables
    params = {ENCODER: v_e['params']['encoder'],
              HEAD: v_e['params']['head']}
    stats = {ENCODER: v_e.get('batch_stats', {}).get('encoder', {})}
    h = encoder.apply({'params': params[ENCODER],
                       'batch_stats': stats[ENCODER]}, x, train=False)
    v = g.init(keys[0], h, train=False)
    params[GENERATOR], stats[GENERATOR] = v['params'], v['batch_stats']
    v = d.init(keys[1], x, train=False)
    params[CRITIC], stats[CRITIC] = v['params'], v['batch_stats']
    return {'params': params, 'batch_stats': stats}

  # Shared forward: G(E(x)) on [x_s; x_t], once for the critic and adv
  # updates; keeps E's and G's attention maps of the source half.
  def generate_batch(params, batch_stats, batch, rng):
    del rng
    xs, xt = batch['source']['image'], batch['target']['image']
    n = xs.shape[0]
    h, e_maps, e_stats = encode(params, batch_stats,
                                jnp.concatenate([xs, xt]), train=True)
    fakes, g_maps, g_stats = decode(params, batch_stats, h, train=True)
    maps = [(e_maps[e][0][:n], g_maps[gb][0][:n])
            for e, gb in ATTENTION_PAIRS]
    stats = {GENERATOR: g_stats}
    if e_stats:
      stats[ENCODER] = e_stats
    return {'fakes': fakes, 'maps': maps}, {'batch_stats': stats}

  def scores_of(params, batch_stats, fakes_s, xt):
    """D on [G(E(x_s)); x_t] in one batch (batch norm over both)."""
    scores, stats = critic(params, batch_stats,
                           jnp.concatenate([fakes_s, xt]))
    n = fakes_s.shape[0]
    return scores[:n], scores[n:], stats

  def critic_loss(params, batch_stats, batch, rng, shared):
    xs, xt = batch['source']['image'], batch['target']['image']
    fakes_s = jax.lax.stop_gradient(shared['fakes'][:xs.shape[0]])
    fake_scores, real_scores, stats = scores_of(params, batch_stats, fakes_s,
                                                xt)
    loss = losses.wgan_critic_loss(real_scores, fake_scores)  # -eq. 11
    metrics = {'wasserstein': -loss, 'D(real)': real_scores.mean(),
               'D(fake)': fake_scores.mean()}
    if weights.gp_weight:
      penalty = losses.gradient_penalty(
          lambda x: critic(params, batch_stats, x)[0], xt, fakes_s, rng)
      loss = loss + weights.gp_weight * penalty
      metrics['gradient_penalty'] = penalty
    return loss, {'batch_stats': {CRITIC: stats}, 'metrics': metrics}

  def adv_loss(params, batch_stats, batch, rng, shared):
    del rng
    xs, xt = batch['source']['image'], batch['target']['image']
    n = xs.shape[0]
    fakes = shared['fakes']
    fake_scores, _, _ = scores_of(params, batch_stats, fakes[:n], xt)
    l_gan = losses.wgan_generator_loss(fake_scores)  # eq. 11, E and G side
    l_att = losses.attention_loss(  # eqs. 8-10
        [e for e, _ in shared['maps']], [g_map for _, g_map in shared['maps']],
        weights.attention_normalize)
    l_mse = losses.mse(fakes[n:], xt)  # eq. 5
    l_tv = losses.total_variation(fakes[:n], weights.tv_exponent)  # eq. 6
    loss = (weights.gan_weight * l_gan + weights.alpha * l_att +
            weights.beta * l_mse + weights.gamma * l_tv)
    return loss, {'metrics': {'L_WGAN': l_gan, 'L_Attention': l_att,
                              'L_MSE': l_mse, 'L_TV': l_tv}}

  def cls_loss(params, batch_stats, batch, rng, shared):
    del rng, shared
    xs, ys = batch['source']['image'], batch['source']['label']
    # G(E(x_s)) with the current E and G (G is not updated here; its
    # batch-stats updates are dropped), then F(E(.)) of it (eq. 3). G's batch
    # norm uses this source batch's statistics, not those of the mixed
    # [x_s; x_t] batch of the shared forward.
    h, _, _ = encode(params, batch_stats, xs, train=True)
    fakes, _, _ = decode(params, batch_stats, h, train=True)
    if label_detach_translation:  # E learns to read G(E(x_s)), not to shape it
      fakes = jax.lax.stop_gradient(fakes)
    h_fake, _, stats = encode(params, batch_stats, fakes, train=True)
    logits = classify(params, h_fake)
    l_label = classifier_method.cross_entropy_loss(logits, ys)  # eq. 4
    accuracy = jnp.mean(jnp.argmax(logits, -1) == ys)
    metrics = {'L_LabelConst': l_label, 'accuracy_on_G(x_s)': accuracy}
    loss = weights.label_weight * l_label
    if source_label_weight:  # E(x_s) is the same batch's, no second pass
      l_source = classifier_method.cross_entropy_loss(classify(params, h), ys)
      loss = loss + source_label_weight * l_source
      metrics['L_source'] = l_source
    return loss, {'batch_stats': {ENCODER: stats} if stats else {},
                  'metrics': metrics}

  # --- Evaluation -------------------------------------------------------------
  def translate(variables, images):
    h, _, _ = encode(variables['params'], variables['batch_stats'], images,
                     train=False)
    out, _, _ = decode(variables['params'], variables['batch_stats'], h,
                       train=False)
    return out

  def adapted_logits(variables, images):
    h, _, _ = encode(variables['params'], variables['batch_stats'], images,
                     train=False)
    return classify(variables['params'], h)

  translated_counter = evaluation.make_counter(
      lambda v, x: evaluator.apply(v['evaluator'], translate(v, x)))
  adapted_counter = evaluation.make_counter(adapted_logits)
  p_translate = jax.pmap(translate)
  samples_dir = os.path.join(workdir, 'samples')

  def evaluate(variables, step):
    source, target = config.data.source, config.data.target
    per_device = config.eval.per_device_batch_size
    where = evaluation.split_options(config)
    replicated = steps.replicate({**variables,
                                  'evaluator': evaluator_variables})
    metrics = {
        'translated_accuracy': evaluation.classifier_accuracy(
            translated_counter, replicated, config.data, source.name,
            source.test_split, per_device, **where),
        'adaptation_accuracy': evaluation.classifier_accuracy(
            adapted_counter, replicated, config.data, target.name,
            target.test_split, per_device, **where)}
    rep_vars = steps.replicate(variables)
    evaluation.save_translation_grid(
        lambda b: p_translate(rep_vars, b), config, samples_dir, step,
        write=jax.process_index() == 0)
    return metrics

  def export(variables, eval_metrics):
    """The adapted F o E, loadable like any classifier export."""
    classifier_variables = {
        'params': {'encoder': variables['params'][ENCODER],
                   'head': variables['params'][HEAD]},
        'batch_stats': ({'encoder': variables['batch_stats'][ENCODER]}
                        if variables['batch_stats'].get(ENCODER) else {})}
    checkpoints.save_classifier(
        os.path.join(workdir, 'classifier'), classifier_variables,
        model_config,
        {'trained_on': f'sigan:{config.data.source.name}->'
                       f'{config.data.target.name}',
         'num_train_steps': config.num_train_steps, 'seed': config.seed,
         **eval_metrics})

  optimizers = {name: optim.make_optimizer(config.optim[name],
                                           config.num_train_steps)
                for name in ('critic', 'adv', 'cls')}
  groups = {
      'critic': base.UpdateGroup((CRITIC,), critic_loss, optimizers['critic']),
      'adv': base.UpdateGroup((ENCODER, GENERATOR), adv_loss,
                              optimizers['adv']),
      'cls': base.UpdateGroup(
          (ENCODER, HEAD) if config.model.train_f_head else (ENCODER,),
          cls_loss, optimizers['cls'], every=int(weights.cls_every),
          uses_shared=False),
  }
  return base.Method(
      init_variables=init_variables, groups=groups,
      schedule=tuple(config.schedule), evaluate=evaluate, export=export,
      best_metric='adaptation_accuracy',
      shared=base.SharedForward(networks=(ENCODER, GENERATOR),
                                fn=generate_batch))
