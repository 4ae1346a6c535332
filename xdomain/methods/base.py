"""What a method declares to the shared training loop.

A method is data, not a subclass of the loop: its networks' initial
variables, its update groups (each: the networks it updates, one pure loss
function, one optax optimizer), the order the groups run in within one
iteration, and its evaluation and export hooks. The loop (`xdomain.train`)
knows no method by name.

Loss functions have the signature

  loss_fn(params, batch_stats, batch, rng) -> (loss, aux)

where `params` / `batch_stats` are dicts keyed by network name (all networks,
frozen ones included), `batch` is one device's `{'source': ..., 'target': ...}`
and `aux = {'batch_stats': {net: new_stats}, 'metrics': {name: scalar}}`.
Gradients are taken only with respect to the group's own networks.
"""

import dataclasses
from typing import Any, Callable, Dict, Mapping, Optional, Tuple

import optax

from xdomain import errors

Variables = Dict[str, Dict[str, Any]]  # {'params': {net: ...}, 'batch_stats': ...}
LossFn = Callable[..., Tuple[Any, Dict[str, Any]]]


@dataclasses.dataclass(frozen=True)
class UpdateGroup:
  networks: Tuple[str, ...]
  loss_fn: LossFn
  optimizer: optax.GradientTransformation


@dataclasses.dataclass(frozen=True)
class Method:
  """Everything the loop needs to train and evaluate one method.

  Attributes:
    init_variables: (rng, batch) -> {'params': {net: ...}, 'batch_stats':
      {net: ...}}, for one device's batch.
    groups: update groups by name.
    schedule: group names in the order they update within one iteration
      (a name may repeat, e.g. ('disc', 'gen', 'gen')).
    evaluate: (variables, step) -> flat dict of metrics (host side).
    export: (variables, eval_metrics) -> None, run once after training.
    best_metric: the eval metric (higher is better) whose best checkpoint is
      kept in addition to the latest.
  """
  init_variables: Callable[[Any, Mapping[str, Any]], Variables]
  groups: Mapping[str, UpdateGroup]
  schedule: Tuple[str, ...]
  evaluate: Callable[[Variables, int], Dict[str, float]]
  export: Optional[Callable[[Variables, Dict[str, float]], None]] = None
  best_metric: Optional[str] = None

  def __post_init__(self):
    unknown = [g for g in self.schedule if g not in self.groups]
    if unknown:
      raise errors.ConfigError(
          f'schedule names unknown update groups {unknown}; groups are '
          f'{sorted(self.groups)}')
