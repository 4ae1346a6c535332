"""Supervised digit classifier: pretrains DTN's `f` and the target evaluators.

One network (`classifier`: f + linear head), one update group (`clf`,
cross-entropy on the labelled training split of `data.source`). Evaluation:
accuracy on the domain's test split and on every `name:split` in
`eval.cross_domain` (e.g. MNIST test for f's "source only" accuracy).
Export: the trained classifier as an Orbax checkpoint (see
`xdomain.checkpoints.save_classifier`).
"""

import os

from absl import logging
import jax
import jax.numpy as jnp
import ml_collections
import optax

from xdomain import checkpoints
from xdomain import evaluation
from xdomain import optim
from xdomain import steps
from xdomain.data import datasets
from xdomain.methods import base
from xdomain.models import classifiers

NET = 'classifier'


def cross_entropy_loss(logits: jax.Array, labels: jax.Array) -> jax.Array:
  """Mean softmax cross-entropy against integer labels."""
  return optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()


def export_path(config: ml_collections.ConfigDict, workdir: str) -> str:
  return config.export.path or os.path.join(workdir, 'classifier')


def _metric_name(dataset: str) -> str:
  return dataset.replace('/', '_').replace(':', '_').replace('[', '_').replace(
      ']', '').replace('%', 'pct')


def build(config: ml_collections.ConfigDict, workdir: str) -> base.Method:
  train_model = classifiers.classifier_from_config(config.model,
                                                   bn_axis_name=steps.AXIS)
  eval_model = classifiers.classifier_from_config(config.model)

  def init_variables(rng, batch):
    variables = eval_model.init(rng, batch['source']['image'], train=False)
    return {'params': {NET: variables['params']},
            'batch_stats': {NET: variables.get('batch_stats', {})}}

  def loss_fn(params, batch_stats, batch, rng):
    del rng
    images, labels = batch['source']['image'], batch['source']['label']
    logits, updates = train_model.apply(
        {'params': params[NET], 'batch_stats': batch_stats[NET]}, images,
        train=True, mutable=['batch_stats'])
    cross_entropy = cross_entropy_loss(logits, labels)
    accuracy = jnp.mean(jnp.argmax(logits, -1) == labels)
    return cross_entropy, {
        'batch_stats': {NET: updates.get('batch_stats', {})},
        'metrics': {'accuracy': accuracy}}

  def predict(variables, images):
    return eval_model.apply(variables, images, train=False)

  counter = evaluation.make_counter(predict)

  def net_variables(variables):
    return {'params': variables['params'][NET],
            'batch_stats': variables['batch_stats'][NET]}

  def evaluate(variables, step):
    del step
    replicated = steps.replicate(net_variables(variables))
    source = config.data.source
    metrics = {'test_accuracy': evaluation.classifier_accuracy(
        counter, replicated, config.data, source.name, source.test_split,
        config.eval.per_device_batch_size, limit=config.eval.limit or None,
        process_index=jax.process_index(), process_count=jax.process_count())}
    for dataset in config.eval.cross_domain:
      name, split = dataset.rsplit(':', 1)
      try:
        metrics[f'{_metric_name(dataset)}_accuracy'] = (
            evaluation.classifier_accuracy(
                counter, replicated, config.data, name, split,
                config.eval.per_device_batch_size,
                limit=config.eval.limit or None,
                process_index=jax.process_index(),
                process_count=jax.process_count()))
      except datasets.DatasetUnavailableError as e:
        # An optional extra evaluation; the run itself needs no download.
        logging.warning('Skipping cross-domain evaluation on %s: %s',
                        dataset, e)
    return metrics

  def export(variables, eval_metrics):
    # Every process calls Orbax (it synchronises them); process 0 writes.
    source = config.data.source
    checkpoints.save_classifier(
        export_path(config, workdir), net_variables(variables), config.model,
        {'trained_on': f'{source.name}:{source.train_split}',
         'resize_method': config.data.resize_method,
         'num_train_steps': config.num_train_steps, 'seed': config.seed,
         **eval_metrics})

  group = base.UpdateGroup(
      networks=(NET,), loss_fn=loss_fn,
      optimizer=optim.make_optimizer(config.optim.clf, config.num_train_steps))
  return base.Method(init_variables=init_variables, groups={'clf': group},
                     schedule=('clf',), evaluate=evaluate, export=export,
                     best_metric='test_accuracy')
