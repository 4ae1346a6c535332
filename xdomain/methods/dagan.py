"""DA-GAN (Ma, Fu, Chen & Mei, CVPR 2018): instance-level translation
through a deep attention encoder (networks: `xdomain.models.dagan`).

F = G o DAE. Networks: 'dae' (the deep attention encoder, Sec. 3.1), 'g'
(the generator), 'cls' (Table 4's "ResBlock" classifier on DAE(X), trained
from scratch on the source labels: the geometric regularisation d(Y,
DAE(X)) that teaches the attention where to look), 'd1' (real target vs
F(s)) and 'd2' (real target vs F(t)). Two update groups:
  disc: D1 and D2 maximise eqs. 7 and 8 (binary cross-entropy, real target
        -> 1, F(s) resp. F(t) -> 0);
  gen:  DAE, G and the classifier minimise
          w_s L_GAN^s + w_t L_GAN^t           (eqs. 7, 8; non-saturating)
          + alpha L_cst + beta L_sym          (eqs. 5, 6)
          + w_geo CE(cls(DAE(s)), y_s)        (Sec. 3.1's regulariser)
        with L_cst = d(DAE(s), DAE(F(s))), L_sym = d(DAE(t), DAE(F(t)))
        (eq. 9's full objective). The distance d (`loss.distance`, the
        paper leaves it open): 'mse' on the DAE maps, or 'classifier', the
        cross-entropy of cls(DAE(F(x))) against cls(DAE(x))'s prediction
        (Table 4: d is the ResBlock classifier).
[F(s); F(t)] (with DAE([s; t])) is the method's shared forward pass,
computed once per iteration for both groups.

Ablations (Table 1(a)) are switches: model.attention=False (w/o DAE: a
plain encoder, no masks), loss.alpha=0 (w/o L_cst), loss.beta=0 (w/o
L_sym), loss.gan_t=0 (w/o D2).

Evaluation: `translated_accuracy`, the target evaluator on F(source test)
against the source labels (Table 1's protocol); `knn_accuracy` (DTN's
Table 2 protocol); `adaptation_accuracy`, the classifier on DAE(target
test) against the target labels; the grid, each source image with its
attention box drawn in red above its translation.
"""

import os

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax

from xdomain import checkpoints
from xdomain import errors
from xdomain import evaluation
from xdomain import losses
from xdomain import optim
from xdomain import steps
from xdomain.methods import base
from xdomain.models import dagan as dagan_models
from xdomain.models import gan

DAE, GENERATOR, CLASSIFIER, D1, D2 = 'dae', 'g', 'cls', 'd1', 'd2'
DISTANCES = ('mse', 'classifier')

# Table 1(a) of the paper (SVHN -> MNIST, the MNIST classifier on the
# translations), for `python -m xdomain.tools.compare --ablations`.
TABLE = base.Table(
    rows=(
        base.TableRow('DA-GAN', {}, 94.3),
        base.TableRow('without DAE', {'model.attention': False}, 90.2),
        base.TableRow('without L_cst', {'loss.alpha': 0.0}, 79.8),
        base.TableRow('without L_sym', {'loss.beta': 0.0}, 90.6),
        base.TableRow('without D2', {'loss.gan_t': 0.0}, 88.2),
    ),
    metrics=('translated_accuracy', 'knn_accuracy', 'adaptation_accuracy'),
    main_metric='translated_accuracy',
    paper_source='DA-GAN (Ma et al. 2018) Table 1(a), SVHN -> MNIST')


def _validate(config) -> None:
  model, weights = config.model, config.loss
  if weights.distance not in DISTANCES:
    raise errors.ConfigError(
        f'config.loss.distance must be one of {DISTANCES}, got '
        f'{weights.distance!r}')
  if model.regions < 1:
    raise errors.ConfigError(
        f'config.model.regions must be >= 1 (digits: 1, Table 4), got '
        f'{model.regions}')
  if model.target_channels not in (1, 3):
    raise errors.ConfigError(
        f'config.model.target_channels must be 1 (grey, replicated to RGB) '
        f'or 3, got {model.target_channels}')


def draw_boxes(images: np.ndarray, centres: np.ndarray,
               half_sizes: np.ndarray) -> np.ndarray:
  """Copies of images [N, H, W, 3] in [-1, 1] with each attention region
  (centres, half sizes [N, R, 2], pixels) outlined in red."""
  out = np.array(images, copy=True)
  size = images.shape[1]
  for image, cs, hs in zip(out, centres, half_sizes):
    for (cx, cy), (w, h) in zip(cs, hs):
      x0, x1 = (int(np.clip(round(v), 0, size - 1)) for v in (cx - w, cx + w))
      y0, y1 = (int(np.clip(round(v), 0, size - 1)) for v in (cy - h, cy + h))
      for ys, xs in ((slice(y0, y1 + 1), x0), (slice(y0, y1 + 1), x1),
                     (y0, slice(x0, x1 + 1)), (y1, slice(x0, x1 + 1))):
        image[ys, xs] = (1.0, -1.0, -1.0)
  return out


def soft_cross_entropy(target_logits, logits):
  """Cross-entropy of softmax(logits) against softmax(target_logits),
  the target held fixed: the 'classifier' distance of eqs. 5 and 6."""
  target = jax.nn.softmax(jax.lax.stop_gradient(target_logits))
  return optax.softmax_cross_entropy(logits, target).mean()


def build(config: ml_collections.ConfigDict, workdir: str) -> base.Method:
  _validate(config)
  model, weights = config.model, config.loss
  evaluator, evaluator_variables, _ = checkpoints.load_required_classifier(
      config.eval.evaluator_checkpoint, 'DA-GAN',
      'the target-domain evaluator', 'eval.evaluator_checkpoint')
  axis = steps.AXIS
  nets = {
      DAE: dagan_models.DeepAttentionEncoder(
          widths=tuple(model.dae.widths),
          feature_activation=model.dae.feature_activation,
          regions=model.regions, attention=model.attention,
          box_half_size=model.box_half_size,
          predict_size=model.predict_box_size, steepness=model.steepness,
          inside=model.box_inside, fixed_scale=model.dae.fixed_scale,
          bn_axis_name=axis),
      GENERATOR: dagan_models.Generator(
          channels=model.target_channels, widths=tuple(model.g.widths),
          res_blocks=model.g.res_blocks, bn_axis_name=axis),
      CLASSIFIER: dagan_models.ResBlockClassifier(
          res_blocks=model.cls_res_blocks, bn_axis_name=axis),
      D1: gan.Discriminator(num_outputs=1, widths=tuple(model.d.widths),
                            bn_axis_name=axis),
      D2: gan.Discriminator(num_outputs=1, widths=tuple(model.d.widths),
                            bn_axis_name=axis),
  }

  def run(params, batch_stats, name, x, train):
    """(output, new batch stats) of one network; eval mode: stats {}."""
    variables = {'params': params[name], 'batch_stats': batch_stats[name]}
    if not train:
      return nets[name].apply(variables, x, train=False), {}
    out, updates = nets[name].apply(variables, x, train=True,
                                    mutable=['batch_stats'])
    return out, updates['batch_stats']

  def init_variables(rng, batch):
    x = batch['source']['image']
    keys = jax.random.split(rng, len(nets))
    inputs = {DAE: x, D1: x, D2: x}
    z = nets[DAE].init(keys[0], x)
    z_out = nets[DAE].apply(z, x)[0]
    inputs.update({GENERATOR: z_out, CLASSIFIER: z_out})
    variables = {name: (z if name == DAE else nets[name].init(key,
                                                              inputs[name]))
                 for (name, key) in zip(nets, keys)}
    return {'params': {n: v['params'] for n, v in variables.items()},
            'batch_stats': {n: v['batch_stats'] for n, v in variables.items()}}

  def translate_batch(params, batch_stats, x, train):
    """F(x) = G(DAE(x)) as RGB; returns (images, DAE outputs, stats)."""
    (z, centres, halves), dae_stats = run(params, batch_stats, DAE, x, train)
    out, g_stats = run(params, batch_stats, GENERATOR, z, train)
    return gan.to_rgb(out), (z, centres, halves), {DAE: dae_stats,
                                                   GENERATOR: g_stats}

  def forward(params, batch_stats, batch, rng):
    """[F(s); F(t)] and DAE([s; t]), the shared forward pass."""
    del rng
    x = jnp.concatenate([batch['source']['image'], batch['target']['image']])
    fakes, (z, centres, halves), stats = translate_batch(params, batch_stats,
                                                         x, train=True)
    return ({'fakes': fakes, 'z': z, 'centres': centres, 'halves': halves},
            {'batch_stats': stats})

  def discriminate(params, batch_stats, name, fakes, real):
    """D's logits on [fakes; real] as one batch, and its new stats."""
    logits, stats = run(params, batch_stats, name,
                        jnp.concatenate([fakes, real]), train=True)
    return logits[:-real.shape[0]], logits[-real.shape[0]:], stats

  def disc_loss(params, batch_stats, batch, rng, shared):
    del rng
    real = batch['target']['image']
    n = batch['source']['image'].shape[0]
    fakes = jax.lax.stop_gradient(shared['fakes'])
    loss, metrics, stats = 0.0, {}, {}
    for name, fake, weight in ((D1, fakes[:n], weights.gan_s),
                               (D2, fakes[n:], weights.gan_t)):
      if not weight:  # e.g. "w/o D2": that D is not trained
        continue
      fake_logits, real_logits, stats[name] = discriminate(
          params, batch_stats, name, fake, real)
      loss += losses.binary_d_loss([fake_logits], real_logits)  # eqs. 7, 8
      metrics[f'{name.upper()}(fake)'] = jax.nn.sigmoid(fake_logits).mean()
      metrics[f'{name.upper()}(real)'] = jax.nn.sigmoid(real_logits).mean()
      metrics[f'accuracy_fake_{name}'] = (fake_logits[:, 0] < 0).mean()
    metrics['accuracy_fake'] = metrics[f'accuracy_fake_{D1}'] if weights.gan_s \
        else metrics.get(f'accuracy_fake_{D2}', jnp.zeros(()))
    return loss, {'batch_stats': stats, 'metrics': metrics}

  # The metric networks of eqs. 5-6 (the DAE that encodes F(x) and, for
  # d = 'classifier', the classifier): trained by the consistency terms too
  # (the paper's joint objective), or only by the labels (L_geo), so that
  # they cannot shrink or bend the metric to satisfy eqs. 5-6.
  def metric_params(params):
    if model.consistency_trains_metric:
      return params
    frozen = {n: jax.lax.stop_gradient(params[n]) for n in (DAE, CLASSIFIER)}
    return {**params, **frozen}

  def distance(params, batch_stats, z, z_fake):
    """d of eqs. 5 and 6 between DAE(x) (held fixed) and DAE(F(x))."""
    z = jax.lax.stop_gradient(z) if model.stop_gradient_target else z
    if weights.distance == 'mse':
      return losses.mse(z, z_fake)
    logits, _ = run(metric_params(params), batch_stats, CLASSIFIER,
                    jnp.concatenate([z, z_fake]), train=True)
    return soft_cross_entropy(*jnp.split(logits, 2))

  def gen_loss(params, batch_stats, batch, rng, shared):
    del rng
    xs, ys, xt = (batch['source']['image'], batch['source']['label'],
                  batch['target']['image'])
    n = xs.shape[0]
    fakes, z = shared['fakes'], shared['z']
    # DAE(F(s)), DAE(F(t)) in training mode; their stats are dropped.
    (z_fake, _, _), _ = run(metric_params(params), batch_stats, DAE, fakes,
                            train=True)
    l_gan_s = l_gan_t = jnp.zeros(())
    if weights.gan_s:
      l_gan_s = losses.binary_g_loss(
          [discriminate(params, batch_stats, D1, fakes[:n], xt)[0]])
    if weights.gan_t:
      l_gan_t = losses.binary_g_loss(
          [discriminate(params, batch_stats, D2, fakes[n:], xt)[0]])
    l_cst = distance(params, batch_stats, z[:n], z_fake[:n])  # eq. 5
    l_sym = distance(params, batch_stats, z[n:], z_fake[n:])  # eq. 6
    logits, cls_stats = run(params, batch_stats, CLASSIFIER, z[:n], True)
    l_geo = optax.softmax_cross_entropy_with_integer_labels(logits, ys).mean()
    loss = (weights.gan_s * l_gan_s + weights.gan_t * l_gan_t +
            weights.alpha * l_cst + weights.beta * l_sym +
            weights.geometric * l_geo)  # eq. 9 with the regulariser
    centres = shared['centres'][:n]
    return loss, {
        'batch_stats': {CLASSIFIER: cls_stats},
        'metrics': {'L_GAN_s': l_gan_s, 'L_GAN_t': l_gan_t, 'L_cst': l_cst,
                    'L_sym': l_sym, 'L_geo': l_geo,
                    'cls_accuracy': (jnp.argmax(logits, -1) == ys).mean(),
                    'box_x': centres[..., 0].mean(),
                    'box_y': centres[..., 1].mean(),
                    'box_half': shared['halves'][:n].mean()}}

  # --- Evaluation -----------------------------------------------------------
  def translate(variables, images):
    return translate_batch(variables['params'], variables['batch_stats'],
                           images, train=False)[0]

  def classify(variables, images):
    (z, _, _), _ = run(variables['params'], variables['batch_stats'], DAE,
                       images, train=False)
    return run(variables['params'], variables['batch_stats'], CLASSIFIER, z,
               train=False)[0]

  def boxes(variables, images):
    (_, centres, halves), _ = run(variables['params'],
                                  variables['batch_stats'], DAE, images,
                                  train=False)
    return centres, halves

  translated_counter = evaluation.make_counter(
      lambda v, x: evaluator.apply(v['evaluator'], translate(v, x)))
  adaptation_counter = evaluation.make_counter(classify)
  p_translate, p_boxes = jax.pmap(translate), jax.pmap(boxes)
  samples = os.path.join(workdir, 'samples')

  def evaluate(variables, step):
    source, target = config.data.source, config.data.target
    per_device = config.eval.per_device_batch_size
    where = evaluation.split_options(config)
    # One replicated copy (the evaluator's variables ride along unused by
    # the functions that do not read them).
    rep_vars = steps.replicate({**variables,
                                'evaluator': evaluator_variables})
    metrics = {
        'translated_accuracy': evaluation.classifier_accuracy(
            translated_counter, rep_vars, config.data, source.name,
            source.test_split, per_device, **where),
        'adaptation_accuracy': evaluation.classifier_accuracy(
            adaptation_counter, rep_vars, config.data, target.name,
            target.test_split, per_device, **where),
        'knn_accuracy': evaluation.translated_knn(
            lambda b: p_translate(rep_vars, b), config)}

    def with_boxes(batch_images):
      centres, halves = (np.asarray(a).reshape((-1,) + a.shape[2:])
                         for a in p_boxes(rep_vars, batch_images))
      return draw_boxes(batch_images.reshape((-1, 32, 32, 3)), centres,
                        halves)

    evaluation.save_translation_grid(
        lambda b: p_translate(rep_vars, b), config, samples, step,
        write=jax.process_index() == 0, annotate=with_boxes)
    return metrics

  generator_networks = (DAE, GENERATOR)
  groups = {
      'disc': base.UpdateGroup(
          networks=(D1, D2), loss_fn=disc_loss,
          optimizer=optim.make_optimizer(config.optim.disc,
                                         config.num_train_steps)),
      'gen': base.UpdateGroup(
          networks=(DAE, GENERATOR, CLASSIFIER), loss_fn=gen_loss,
          optimizer=optim.make_optimizer(config.optim.gen,
                                         config.num_train_steps)),
  }
  return base.Method(
      init_variables=init_variables, groups=groups,
      schedule=tuple(config.schedule), evaluate=evaluate,
      best_metric='translated_accuracy',
      shared=base.SharedForward(networks=generator_networks, fn=forward),
      averaged_networks=(DAE, GENERATOR, CLASSIFIER),
      ema_decay=float(model.ema_decay),
      fake_accuracy_metrics=('disc/accuracy_fake',),
      translate=translate)
