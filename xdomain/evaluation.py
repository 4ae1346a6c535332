"""Evaluators: run on the host over full, padded eval splits.

`classifier_accuracy` is the building block: the fraction of a split's images
that a classifier labels correctly, each example counted exactly once.
"""

from typing import Callable, Dict, Optional

import jax
import jax.numpy as jnp
import numpy as np

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
                        process_count: int = 1) -> float:
  """Accuracy over `name`'s `split`, via a counter from `make_counter`."""
  num_devices = jax.local_device_count()
  totals = np.zeros(2, np.float64)
  for batch in pipeline.eval_iterator(
      data_config, name, split, num_devices=num_devices,
      per_device_batch=per_device_batch, limit=limit,
      process_index=process_index, process_count=process_count):
    totals += np.asarray(counter(replicated_variables, batch)[0])
  if totals[1] == 0:
    raise ValueError(f'Evaluation split {name}:{split} is empty.')
  return float(totals[0] / totals[1])
