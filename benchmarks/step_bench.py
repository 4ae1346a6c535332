"""A method's compiled training step with random inputs, for the benchmarks.

Shared by `benchmarks/train_step.py` and `benchmarks/jax_vs_torch.py`.
"""

import os
import tempfile

import jax
import ml_collections
import numpy as np

from xdomain import checkpoints
from xdomain import methods
from xdomain import steps


def _ensure_exports(config: ml_collections.ConfigDict, tmp: str) -> None:
  """Random classifiers for whichever of the config's classifier exports
  (f, the evaluators) are missing: their weights do not change the cost."""
  with config.unlocked():
    for section, key in ((config.model, 'f_checkpoint'),
                         (config.eval, 'evaluator_checkpoint'),
                         (config.eval, 'reverse_evaluator_checkpoint')):
      if key in section and not os.path.isdir(section[key]):
        section[key] = checkpoints.save_untrained_classifier(
            os.path.join(tmp, key))


def build(config: ml_collections.ConfigDict, global_batch: int):
  """The training loop's compiled step of `config.method`, its replicated
  state and a random batch of `global_batch` source and target images (host
  arrays [devices, per_device, 32, 32, 3], as the loop feeds them)."""
  num_devices = jax.local_device_count()
  if global_batch % num_devices:
    raise ValueError(f'--batch={global_batch} does not split over '
                         f'{num_devices} devices')
  per_device = global_batch // num_devices
  config = config.copy_and_resolve_references()
  with config.unlocked():
    config.per_device_batch_size = per_device
  with tempfile.TemporaryDirectory() as tmp:
    _ensure_exports(config, tmp)
    method = methods.build(config, tmp)
  rng = np.random.default_rng(0)

  def images():
    return rng.uniform(-1, 1, (num_devices, per_device, 32, 32, 3)).astype(
        np.float32)

  batch = {d: {'image': images(),
               'label': np.zeros((num_devices, per_device), np.int32)}
           for d in ('source', 'target')}
  state = steps.init_state(method, jax.random.key(0),
                           jax.tree.map(lambda x: x[0], batch))
  state = steps.replicate(state)
  return steps.make_train_step(method, seed=0), state, batch


def flops_per_step(train_step, state, batch) -> float:
  """XLA's cost-analysis FLOPs of one compiled step, summed over devices."""
  cost = train_step.lower(state, batch).compile().cost_analysis()
  cost = cost[0] if isinstance(cost, (list, tuple)) else cost
  return float(cost['flops']) * jax.local_device_count()


