"""XGAN (Royer, Bousmalis, Gouws, Bertsch, Mosseri, Cole & Murphy, 2018):
two auto-encoders that share layers and one embedding space, learnt on
both domains (../shared/papers/xgan_royer2018_slides.md, appendix included).

Networks (`xdomain.models.xgan`): encoders e1 (source), e2 (target) and
decoders d1, d2, built of blocks of which some are shared between the
domains (model.shared_encoder_blocks / shared_decoder_blocks); c_DANN, a
domain classifier on embeddings; optionally D, a discriminator on d2(e1(x))
against real target images. Translation S -> T is d2∘e1, T -> S d1∘e2.

Update groups (`config.schedule`; 'disc' exists only with loss.gan > 0):
  dann: c_DANN minimises the cross-entropy of the embeddings' domain
        classes (ordinary gradients; the embeddings held fixed).
  disc: D minimises the binary cross-entropy real target -> 1,
        d2(e1(x)) -> 0; its update is skipped while its accuracy on the
        batch is above model.d.skip_above_accuracy (the slides: "the
        discriminator is typically very powerful right from the start ->
        only train if accuracy is below a certain threshold").
  ae:   the encoders and decoders minimise
          rec L_rec + dann L_dann + sem L_sem + gan L_GAN + teacher L_teacher
        L_rec     = |d1(e1(x)) - x|^2 + |d2(e2(y)) - y|^2 (mean squared);
        L_dann    = c_DANN's cross-entropy on the embeddings through a
                    gradient reversal layer (factor loss.reversal): the
                    encoders are pushed to make the domains inseparable;
                    binary (e1(x) vs e2(y)) or, with model.dann_classes = 4,
                    the appendix's multi-class DANN, adding e1(d1(e2(y)))
                    and e2(d2(e1(x))) as classes of their own;
        L_sem     = d(e2(d2(e1(x))), e1(x)) + d(e1(d1(e2(y))), e2(y)),
                    d = loss.sem_distance ('l2': mean squared, or 'l1');
        L_GAN     = -log D(d2(e1(x))) (non-saturating);
        L_teacher = |e1(x) - f(x)|^2 with f a frozen pretrained teacher
                    (model.teacher_checkpoint; for digits DTN's f, whose
                    128-d features the embedding then matches in size).
The encoders' and decoders' forward pass on the batch is computed once per
iteration and shared by the three groups.

Evaluation: `translated_accuracy` (the target evaluator on d2(e1(source
test)), DTN's protocol), `reverse_accuracy` (the source evaluator on
d1(e2(target test))), `knn_accuracy` (target test labelled by the nearest
translated source training images), `embedding_accuracy` (a ridge linear
classifier fitted on e1(source train) with the source labels, applied to
e2(target test): the embedding as domain adaptation) and
`semantic_distance` (mean squared |e2(d2(e1(x))) - e1(x)| on source test,
lower is better; the slides propose it for model selection). Grids:
samples/ (S -> T) and samples_reverse/ (T -> S).
"""


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
from xdomain.data import pipeline
from xdomain.methods import base
from xdomain.models import gan
from xdomain.models import xgan as nets

C_DANN, DISC = 'c_dann', 'd'
SEM_DISTANCES = {'l2': losses.mse, 'l1': losses.l1}

# XGAN's rows for the comparison tool. The slides give no digits number
# for XGAN (only DTN's: ~0.70, fine-tuned ~0.86, SVHN -> MNIST).
TABLE = base.Table(
    rows=(
        base.TableRow('XGAN', {}),
        base.TableRow('without L_sem', {'loss.sem': 0.0}),
        base.TableRow('without L_dann', {'loss.dann': 0.0}),
        base.TableRow('with the GAN', {'loss.gan': 1.0}),
        base.TableRow('with the teacher', {'loss.teacher': 1.0}),
        base.TableRow('no sharing', {'model.shared_encoder_blocks': 0,
                                     'model.shared_decoder_blocks': 0}),
        base.TableRow('fully shared encoder',
                      {'model.shared_encoder_blocks': nets.NUM_BLOCKS}),
        base.TableRow('4-class DANN', {'model.dann_classes': 4}),
    ),
    metrics=('translated_accuracy', 'reverse_accuracy', 'knn_accuracy',
             'embedding_accuracy'),
    main_metric='translated_accuracy',
    paper_source='no XGAN digits number in ../shared/papers')


def _validate(config) -> None:
  model = config.model
  if not 0 <= model.shared_encoder_blocks <= nets.NUM_BLOCKS:
    raise errors.ConfigError(
        f'config.model.shared_encoder_blocks must be in 0..{nets.NUM_BLOCKS},'
        f' got {model.shared_encoder_blocks}')
  if not 0 <= model.shared_decoder_blocks < nets.NUM_BLOCKS:
    raise errors.ConfigError(
        f'config.model.shared_decoder_blocks must be in '
        f'0..{nets.NUM_BLOCKS - 1} (the last block draws each domain\'s '
        f'own channels), got {model.shared_decoder_blocks}')
  if model.dann_classes not in (2, 4):
    raise errors.ConfigError(
        f'config.model.dann_classes must be 2 (e1 vs e2) or 4 (the '
        f'appendix\'s multi-class DANN), got {model.dann_classes}')
  if config.loss.sem_distance not in SEM_DISTANCES:
    raise errors.ConfigError(
        f'config.loss.sem_distance must be one of {sorted(SEM_DISTANCES)}, '
        f'got {config.loss.sem_distance!r}')
  for name in ('source_channels', 'target_channels'):
    if model[name] not in (1, 3):
      raise errors.ConfigError(
          f'config.model.{name} must be 1 (grey, replicated to RGB) or 3, '
          f'got {model[name]}')
  if config.loss.teacher and not model.teacher_checkpoint:
    raise errors.ConfigError(
        'config.loss.teacher > 0 needs config.model.teacher_checkpoint (a '
        'pretrained classifier export, e.g. DTN\'s f: runs/f_synth_bn_tanh/'
        'classifier)')


def ridge_classifier_accuracy(train_x, train_y, test_x, test_y,
                              l2: float = 1e-3, num_classes: int = 10):
  """Accuracy on (test_x, test_y) of the least-squares linear classifier
  (one-hot targets, a bias, ridge `l2` scaled by the examples) fitted on
  (train_x, train_y)."""
  def with_bias(x):
    return np.concatenate([x, np.ones((len(x), 1))], axis=1).astype(np.float64)
  a = with_bias(train_x)
  targets = np.eye(num_classes)[train_y]
  gram = a.T @ a + l2 * len(a) * np.eye(a.shape[1])
  weights = np.linalg.solve(gram, a.T @ targets)
  predicted = np.argmax(with_bias(test_x) @ weights, axis=1)
  return float(np.mean(predicted == test_y))


def build(config: ml_collections.ConfigDict, workdir: str) -> base.Method:
  _validate(config)
  model, weights = config.model, config.loss
  evaluator, evaluator_variables, _ = checkpoints.load_required_classifier(
      config.eval.evaluator_checkpoint, 'XGAN', 'the target-domain evaluator',
      'eval.evaluator_checkpoint')
  reverse = None
  if config.eval.reverse_evaluator_checkpoint:
    reverse = checkpoints.load_required_classifier(
        config.eval.reverse_evaluator_checkpoint, 'XGAN',
        'the source-domain evaluator', 'eval.reverse_evaluator_checkpoint')
  teacher = None
  if weights.teacher:
    teacher_module, teacher_variables, _ = (
        checkpoints.load_required_classifier(
            model.teacher_checkpoint, 'XGAN', 'the teacher (a pretrained f)',
            'model.teacher_checkpoint'))
    teacher = (teacher_module.encoder,
               {'params': teacher_variables['params']['encoder'],
                'batch_stats': teacher_variables.get('batch_stats', {}).get(
                    'encoder', {})})
  names = nets.block_names(model.shared_encoder_blocks,
                           model.shared_decoder_blocks)
  modules = nets.blocks(model.widths, model.embedding,
                        {'d1': model.source_channels,
                         'd2': model.target_channels}, names)
  ae_networks = tuple(sorted(modules))
  c_dann = nets.DomainClassifier(num_classes=model.dann_classes,
                                 hidden=model.dann_hidden)
  use_gan = weights.gan > 0
  disc = gan.Discriminator(num_outputs=1, widths=tuple(model.d.widths),
                           bn_axis_name=steps.AXIS)
  sem_distance = SEM_DISTANCES[weights.sem_distance]

  def run(params, net, x):
    """x through encoder or decoder `net` ('e1', 'e2', 'd1', 'd2')."""
    for name in names[net]:
      x = modules[name].apply({'params': params[name]}, x)
    if net.startswith('e') and model.normalize_embedding:
      x = x / (jnp.linalg.norm(x, axis=-1, keepdims=True) + 1e-8)
    if net.startswith('d'):
      x = gan.to_rgb(x)
    return x

  def init_variables(rng, batch):
    x = batch['source']['image']
    keys = iter(jax.random.split(rng, len(modules) + 2))
    params, inputs = {}, {}
    for net in ('e1', 'e2', 'd1', 'd2'):
      h = x if net.startswith('e') else jnp.zeros((x.shape[0],
                                                   model.embedding))
      for name in names[net]:
        if name not in params:
          params[name] = modules[name].init(next(keys), h)['params']
        h = modules[name].apply({'params': params[name]}, h)
      inputs[net] = h
    params[C_DANN] = c_dann.init(next(keys), inputs['e1'])['params']
    stats = {}
    if use_gan:
      v = disc.init(next(keys), x, train=False)
      params[DISC], stats[DISC] = v['params'], v['batch_stats']
    return {'params': params, 'batch_stats': stats}

  def forward(params, batch_stats, batch, rng):
    """The auto-encoders on the batch (the shared forward pass)."""
    del batch_stats, rng
    s, t = batch['source']['image'], batch['target']['image']
    out = {'z_s': run(params, 'e1', s), 'z_t': run(params, 'e2', t)}
    out['rec_s'] = run(params, 'd1', out['z_s'])
    out['rec_t'] = run(params, 'd2', out['z_t'])
    out['fake_t'] = run(params, 'd2', out['z_s'])  # S -> T
    out['fake_s'] = run(params, 'd1', out['z_t'])  # T -> S
    out['z_fake_t'] = run(params, 'e2', out['fake_t'])
    out['z_fake_s'] = run(params, 'e1', out['fake_s'])
    return out, {}

  def domain_batches(shared):
    """(embeddings, domain classes) that c_DANN tells apart."""
    parts = [shared['z_s'], shared['z_t']]
    if model.dann_classes == 4:  # after transfer: e1(d1(e2(y))), e2(d2(e1(x)))
      parts += [shared['z_fake_s'], shared['z_fake_t']]
    labels = jnp.concatenate([jnp.full(p.shape[:1], k, jnp.int32)
                              for k, p in enumerate(parts)])
    return parts, labels

  def dann_cross_entropy(params, parts, labels):
    logits = c_dann.apply({'params': params[C_DANN]},
                          jnp.concatenate(parts))
    loss = optax.softmax_cross_entropy_with_integer_labels(
        logits, labels).mean()
    return loss, jnp.mean(jnp.argmax(logits, -1) == labels)

  def dann_loss(params, batch_stats, batch, rng, shared):
    del batch_stats, batch, rng
    parts, labels = domain_batches(shared)
    loss, accuracy = dann_cross_entropy(
        params, [jax.lax.stop_gradient(p) for p in parts], labels)
    return loss, {'metrics': {'L_dann': loss, 'accuracy': accuracy}}

  def critic(params, batch_stats, x):
    logits, updates = disc.apply(
        {'params': params[DISC], 'batch_stats': batch_stats[DISC]}, x,
        train=True, mutable=['batch_stats'])
    return logits, updates['batch_stats']

  def disc_loss(params, batch_stats, batch, rng, shared):
    del rng
    real = batch['target']['image']
    fake = jax.lax.stop_gradient(shared['fake_t'])
    logits, stats = critic(params, batch_stats, jnp.concatenate([real, fake]))
    real_logits, fake_logits = jnp.split(logits, 2)
    loss = losses.binary_d_loss([fake_logits], real_logits)
    accuracy = jnp.mean(jnp.concatenate([real_logits > 0, fake_logits < 0]))
    return loss, {'batch_stats': {DISC: stats},
                  'metrics': {'L_D': loss, 'accuracy': accuracy,
                              'accuracy_fake': jnp.mean(fake_logits < 0)}}

  def ae_loss(params, batch_stats, batch, rng, shared):
    del rng
    s, t = batch['source']['image'], batch['target']['image']
    l_rec = losses.mse(shared['rec_s'], s) + losses.mse(shared['rec_t'], t)
    # L_sem both ways: the embedding survives the translation.
    l_sem = (sem_distance(shared['z_fake_t'], shared['z_s']) +
             sem_distance(shared['z_fake_s'], shared['z_t']))
    parts, labels = domain_batches(shared)
    scale = jnp.asarray(weights.reversal, jnp.float32)
    l_dann, _ = dann_cross_entropy(
        params, [nets.gradient_reversal(p, scale) for p in parts], labels)
    loss = weights.rec * l_rec + weights.sem * l_sem + weights.dann * l_dann
    metrics = {'L_rec': l_rec, 'L_sem': l_sem, 'L_dann': l_dann}
    if use_gan:
      fake_logits, _ = critic(params, batch_stats, shared['fake_t'])
      l_gan = losses.binary_g_loss([fake_logits])
      loss += weights.gan * l_gan
      metrics['L_GAN'] = l_gan
    if teacher is not None:
      features = jax.lax.stop_gradient(
          teacher[0].apply(teacher[1], s, train=False))
      l_teacher = losses.mse(shared['z_s'], features)
      loss += weights.teacher * l_teacher
      metrics['L_teacher'] = l_teacher
    return loss, {'metrics': metrics}

  # --- Evaluation -----------------------------------------------------------
  def to_target(variables, images):
    return run(variables['params'], 'd2', run(variables['params'], 'e1',
                                              images))

  def to_source(variables, images):
    return run(variables['params'], 'd1', run(variables['params'], 'e2',
                                              images))

  two_way = evaluation.two_way_translation_evaluator(
      to_target, to_source, (evaluator, evaluator_variables), reverse, config,
      workdir)
  p_embed = {net: jax.pmap(lambda v, x, net=net: run(v['params'], net, x))
             for net in ('e1', 'e2')}
  p_sem = jax.pmap(lambda v, x: jnp.mean(jnp.square(
      run(v['params'], 'e2', to_target(v, x)) - run(v['params'], 'e1', x)),
      axis=-1))

  def over_split(fn, rep_vars, domain, split, limit):
    """fn(rep_vars, images) per batch of a split, unpadded, with labels."""
    values, labels = [], []
    for batch in pipeline.eval_iterator(
        config.data, domain, split, num_devices=jax.local_device_count(),
        per_device_batch=config.eval.per_device_batch_size, limit=limit):
      keep = batch['mask'].reshape(-1) > 0
      out = np.asarray(fn(rep_vars, batch['image']))
      values.append(out.reshape((keep.size,) + out.shape[2:])[keep])
      labels.append(batch['label'].reshape(-1)[keep])
    return np.concatenate(values), np.concatenate(labels)

  def evaluate(variables, step):
    source, target = config.data.source, config.data.target
    params_only = {'params': variables['params']}
    metrics = two_way(params_only, step)
    rep_vars = steps.replicate(params_only)
    limit = config.eval.limit or None
    train_z, train_y = over_split(p_embed['e1'], rep_vars, source.name,
                                  source.train_split,
                                  config.eval.knn_labelled_examples)
    test_z, test_y = over_split(p_embed['e2'], rep_vars, target.name,
                                target.test_split, limit)
    metrics['embedding_accuracy'] = ridge_classifier_accuracy(
        train_z, train_y, test_z, test_y)
    distances, _ = over_split(p_sem, rep_vars, source.name, source.test_split,
                              limit)
    metrics['semantic_distance'] = float(np.mean(distances))
    return metrics

  groups = {
      'dann': base.UpdateGroup(
          networks=(C_DANN,), loss_fn=dann_loss,
          optimizer=optim.make_optimizer(config.optim.dann,
                                         config.num_train_steps)),
      'ae': base.UpdateGroup(
          networks=ae_networks, loss_fn=ae_loss,
          optimizer=optim.make_optimizer(config.optim.ae,
                                         config.num_train_steps)),
  }
  if use_gan:
    threshold = model.d.skip_above_accuracy
    groups['disc'] = base.UpdateGroup(
        networks=(DISC,), loss_fn=disc_loss,
        optimizer=optim.make_optimizer(config.optim.disc,
                                       config.num_train_steps),
        skip_if=lambda m: m['accuracy'] > threshold)
  # Without the GAN there is no D: its group leaves the schedule.
  schedule = tuple(g for g in config.schedule if g in groups)
  return base.Method(
      init_variables=init_variables, groups=groups, schedule=schedule,
      evaluate=evaluate, best_metric='translated_accuracy',
      shared=base.SharedForward(networks=ae_networks, fn=forward),
      fake_accuracy_metrics=('disc/accuracy_fake',) if use_gan else (),
      translate=to_target)
