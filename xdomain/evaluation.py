"""Evaluators: run on the host over full, padded eval splits.

`classifier_accuracy` is the building block: the fraction of a split's images
that a classifier labels correctly, each example counted exactly once.
"""

import os
from typing import Callable, Dict, Optional

import jax
import jax.numpy as jnp
import numpy as np

from xdomain import files
from xdomain import images as image_lib
from xdomain.data import pipeline

Predict = Callable[[Dict, jax.Array], jax.Array]  # (variables, images) -> logits


def make_counter(predict: Predict, axis_name: str = 'batch'):
  """pmapped (variables, batch) -> (#correct, #examples) summed over devices."""

  def count(variables, batch):
    logits = predict(variables, batch['image'])
    correct = (jnp.argmax(logits, -1) == batch['label']) * batch['mask']
    return jax.lax.psum(jnp.stack([correct.sum(), batch['mask'].sum()]),
                        axis_name)

  return jax.pmap(count, axis_name=axis_name)


def classifier_accuracy(counter, replicated_variables, data_config, name: str,
                        split: str, per_device_batch: int,
                        limit: Optional[int] = None,
                        process_index: int = 0,
                        process_count: int = 1, only_labels=()) -> float:
  """Accuracy over `name`'s `split` (its examples labelled in
  `only_labels`, if given), via a counter from `make_counter`."""
  num_devices = jax.local_device_count()
  totals = np.zeros(2, np.float64)
  for batch in pipeline.eval_iterator(
      data_config, name, split, num_devices=num_devices,
      per_device_batch=per_device_batch, limit=limit,
      process_index=process_index, process_count=process_count,
      only_labels=only_labels):
    totals += np.asarray(counter(replicated_variables, batch)[0])
  if totals[1] == 0:
    raise ValueError(f'Evaluation split {name}:{split} is empty.')
  return float(totals[0] / totals[1])


def split_options(config) -> dict:
  """classifier_accuracy's keyword arguments of a run: its `eval.limit` and
  this process's share of the split."""
  return dict(limit=config.eval.limit or None,
              process_index=jax.process_index(),
              process_count=jax.process_count())


def translated_knn(translate_fn, config) -> float:
  """`knn_accuracy` as the translation methods report it: target test images
  labelled by the translated source training images (DTN Table 2)."""
  source, target = config.data.source, config.data.target
  return knn_accuracy(
      translate_fn, config.data, labelled=(source.name, source.train_split),
      queries=(target.name, target.test_split), k=config.eval.knn_k,
      per_device_batch=config.eval.per_device_batch_size,
      labelled_limit=config.eval.knn_labelled_examples,
      query_limit=config.eval.limit or None)


def _grey_pixels(images: np.ndarray) -> np.ndarray:
  """[..., 32, 32, 3] in [-1, 1] -> [N, 1024] grey pixel vectors."""
  return images.reshape(-1, 32, 32, 3).mean(-1).reshape(-1, 32 * 32)


def knn_accuracy(translate_fn, data_config, labelled, queries, k: int,
                 per_device_batch: int, labelled_limit: Optional[int] = None,
                 query_limit: Optional[int] = None,
                 chunk: int = 1000) -> float:
  """DTN Table 2's domain adaptation by k-NN, in grey pixel space.

  The labelled set is the source split `labelled` = (name, split), translated
  to the target domain by `translate_fn` (a function of one device-sharded
  image batch) and keeping its source labels; each target image of
  `queries` = (name, split) gets the majority label of its k nearest
  labelled neighbours (ties to the smaller label). Single-host.
  """
  num_devices = jax.local_device_count()
  bank, bank_labels = [], []
  for batch in pipeline.eval_iterator(
      data_config, *labelled, num_devices=num_devices,
      per_device_batch=per_device_batch, limit=labelled_limit):
    keep = batch['mask'].reshape(-1) > 0
    translated = np.asarray(translate_fn(batch['image']))
    bank.append(_grey_pixels(translated)[keep])
    bank_labels.append(batch['label'].reshape(-1)[keep])
  bank = jnp.asarray(np.concatenate(bank))
  bank_labels = jnp.asarray(np.concatenate(bank_labels))
  bank_sq = jnp.sum(bank * bank, axis=1)

  @jax.jit
  def predict(query):
    distance = bank_sq[None, :] - 2.0 * query @ bank.T  # + |q|^2, constant
    _, nearest = jax.lax.top_k(-distance, k)
    votes = jax.nn.one_hot(bank_labels[nearest], 10).sum(axis=1)
    return jnp.argmax(votes, axis=-1)

  correct = total = 0
  for batch in pipeline.eval_iterator(
      data_config, *queries, num_devices=num_devices,
      per_device_batch=per_device_batch, limit=query_limit):
    keep = batch['mask'].reshape(-1) > 0
    query = _grey_pixels(batch['image'])[keep]
    labels = batch['label'].reshape(-1)[keep]
    for start in range(0, len(query), chunk):
      predicted = np.asarray(predict(jnp.asarray(query[start:start + chunk])))
      correct += int((predicted == labels[start:start + chunk]).sum())
    total += len(query)
  if total == 0:
    raise ValueError(f'k-NN query split {queries} is empty.')
  return correct / total


def pairs_sheet(source, translated, rows: int, cols: int) -> np.ndarray:
  """One image of `rows` x `cols` pairs: each row of source images [N, 32,
  32, 3] above the same row of their translations (N = rows * cols)."""
  pairs = np.stack([source.reshape(rows, cols, 32, 32, 3),
                    translated.reshape(rows, cols, 32, 32, 3)], axis=1)
  return image_lib.grid(pairs.reshape(-1, 32, 32, 3), 2 * rows, cols,
                        scale=2, pad=1)


def save_translation_grid(translate_fn, config, directory: str, step: int,
                          write: bool = True, domain=None,
                          annotate=None) -> None:
  """A fixed grid of test images of `domain` (default the source;
  `eval.grid_rows` x `grid_cols`), each row above its translations by
  `translate_fn` (one device-sharded batch -> images), saved as step_N.png
  and latest.png in `directory`. `annotate`: optional (the same batch) ->
  the source images [N, 32, 32, 3] as drawn (e.g. with DA-GAN's attention
  boxes). Every process must call it (the translation may span all of
  them); only `write` processes save."""
  rows, cols = config.eval.grid_rows, config.eval.grid_cols
  n = rows * cols
  num_devices = jax.local_device_count()
  per_device = -(-n // num_devices)
  domain = domain or config.data.source
  batch = next(pipeline.eval_iterator(
      config.data, domain.name, domain.test_split,
      num_devices=num_devices, per_device_batch=per_device, limit=n))
  translated = np.asarray(translate_fn(batch['image'])).reshape(
      (-1, 32, 32, 3))[:n]
  shown = annotate(batch['image']) if annotate else batch['image']
  if not write:
    return
  source = np.asarray(shown).reshape((-1, 32, 32, 3))[:n]
  sheet = pairs_sheet(source, translated, rows, cols)
  files.makedirs(directory)
  image_lib.save_png(os.path.join(directory, f'step_{step:07d}.png'), sheet)
  image_lib.save_png(os.path.join(directory, 'latest.png'), sheet)


def per_class_report(labels, evaluator_preds, f_preds):
  """Report lines of translated images read by two classifiers: overall,
  then per class: examples, the evaluator's accuracy, f's accuracy, and the
  label the evaluator most often gives instead."""
  lines = [f'all  n={len(labels)}  evaluator={np.mean(evaluator_preds == labels):.4f}'
           f'  f={np.mean(f_preds == labels):.4f}']
  for c in range(10):
    mine = labels == c
    if not mine.any():
      continue
    wrong = evaluator_preds[mine & (evaluator_preds != c)]
    common = int(np.bincount(wrong, minlength=10).argmax()) if len(wrong) else '-'
    lines.append(f'{c}    n={int(mine.sum())}  '
                 f'evaluator={np.mean(evaluator_preds[mine] == c):.4f}  '
                 f'f={np.mean(f_preds[mine] == c):.4f}  read as {common}')
  return lines


def two_way_translation_evaluator(to_target, to_source, evaluator, reverse,
                                  config, workdir: str):
  """evaluate(params_only, step) -> metrics for a method translating both
  ways (CycleGAN, XGAN): `translated_accuracy` (the target evaluator
  `evaluator` = (module, variables) on to_target(source test)),
  `reverse_accuracy` (`reverse`, the source evaluator or None, on
  to_source(target test)), `knn_accuracy`, and the grids samples/ and
  samples_reverse/. The translators are (variables, images) -> images."""
  from xdomain import steps  # pylint: disable=g-import-not-at-top
  counter = make_counter(
      lambda v, x: evaluator[0].apply(v['evaluator'], to_target(v, x)))
  reverse_counter = reverse and make_counter(
      lambda v, x: reverse[0].apply(v['evaluator'], to_source(v, x)))
  p_to_target, p_to_source = jax.pmap(to_target), jax.pmap(to_source)

  def evaluate(params_only, step):
    source, target = config.data.source, config.data.target
    per_device = config.eval.per_device_batch_size
    where = split_options(config)
    metrics = {'translated_accuracy': classifier_accuracy(
        counter, steps.replicate({**params_only, 'evaluator': evaluator[1]}),
        config.data, source.name, source.test_split, per_device, **where)}
    if reverse:
      metrics['reverse_accuracy'] = classifier_accuracy(
          reverse_counter, steps.replicate({**params_only,
                                            'evaluator': reverse[1]}),
          config.data, target.name, target.test_split, per_device, **where)
    rep_vars = steps.replicate(params_only)
    metrics['knn_accuracy'] = translated_knn(
        lambda b: p_to_target(rep_vars, b), config)
    write = jax.process_index() == 0
    save_translation_grid(lambda b: p_to_target(rep_vars, b), config,
                          os.path.join(workdir, 'samples'), step, write=write)
    save_translation_grid(lambda b: p_to_source(rep_vars, b), config,
                          os.path.join(workdir, 'samples_reverse'), step,
                          write=write, domain=target)
    return metrics

  return evaluate
