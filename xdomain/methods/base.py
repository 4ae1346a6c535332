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

A method may also declare a `SharedForward`: a forward pass (e.g. DTN's
G(x)) computed once per iteration and handed to every group's loss as a
fifth argument, `loss_fn(params, batch_stats, batch, rng, shared)`, instead
of each group recomputing it. A group that updates one of its networks gets
those gradients through the saved forward pass (its VJP); the loop
recomputes the pass only after such a group has changed its networks.
"""

import dataclasses
from typing import Any, Callable, Dict, Mapping, Optional, Tuple

import optax

from xdomain import errors

Variables = Dict[str, Dict[str, Any]]  # {'params': {net: ...}, 'batch_stats': ...}
LossFn = Callable[..., Tuple[Any, Dict[str, Any]]]


@dataclasses.dataclass(frozen=True)
class UpdateGroup:
  """One optimizer update of some networks.

  Attributes:
    networks: the networks whose params this group updates.
    loss_fn: see the module docstring.
    optimizer: one optax transformation over those networks' params.
    every: the group updates on iterations every, 2 every, ... (1-based;
      e.g. SIGAN's classification update every t = 20 iterations) and is
      skipped, inside the same compiled step, on the others. 1 = always.
    uses_shared: whether the loss reads the method's shared forward pass
      (if not, it gets None and the pass is not recomputed for it).
    skip_if: optional (metrics) -> bool scalar, on the group's metrics of
      this iteration's pass before its update, averaged over devices; where
      true the update is discarded (params, batch stats and optimizer state
      stay as they were) inside the same compiled step, and the metric
      'skipped' is 1. E.g. a thresholded D: skip while its accuracy on the
      batch is above a threshold (XGAN slides).
  """
  networks: Tuple[str, ...]
  loss_fn: LossFn
  optimizer: optax.GradientTransformation
  every: int = 1
  uses_shared: bool = True
  skip_if: Optional[Callable[[Mapping[str, Any]], Any]] = None


@dataclasses.dataclass(frozen=True)
class SharedForward:
  """A forward pass shared by the update groups of one iteration.

  Attributes:
    networks: the networks it is differentiated through (e.g. ('g',)).
    fn: (params, batch_stats, batch, rng) -> (outputs, aux), `outputs` any
      pytree of float arrays, `aux = {'batch_stats': {net: new_stats}}`.
    reads_buffers: the method keeps buffers (non-trainable training state
      that is not a network's, e.g. CycleGAN's pool of past fakes: the
      'buffers' collection of `Method.init_variables`); fn is then called
      as fn(params, batch_stats, batch, rng, buffers), the buffers as they
      were at the iteration's start, and may return aux['buffers'], the
      state's buffers after the iteration. Buffers must be identical on
      every device (the checkpoint keeps one copy).
  """
  networks: Tuple[str, ...]
  fn: Callable[..., Tuple[Any, Dict[str, Any]]]
  reads_buffers: bool = False


@dataclasses.dataclass(frozen=True)
class Method:
  """Everything the loop needs to train and evaluate one method.

  Attributes:
    init_variables: (rng, batch) -> {'params': {net: ...}, 'batch_stats':
      {net: ...}[, 'buffers': {...}]}, for one device's batch ('buffers':
      see `SharedForward.reads_buffers`).
    groups: update groups by name.
    schedule: group names in the order they update within one iteration
      (a name may repeat, e.g. ('disc', 'gen', 'gen')).
    evaluate: (variables, step) -> flat dict of metrics (host side).
    export: (variables, eval_metrics) -> None, run once after training.
    best_metric: the eval metric (higher is better) whose best checkpoint is
      kept in addition to the latest.
    shared: an optional forward pass computed once and passed to every
      group's loss function (see the module docstring).
    averaged_networks, ema_decay: networks whose parameters the loop also
      keeps as an exponential moving average (decay `ema_decay`, 0 = off;
      warmed up as min(decay, (1 + t) / (10 + t)), or, with ema_start > 0,
      equal to the raw parameters until update ema_start and decaying at
      ema_decay from there); evaluation and export read the averages,
      training updates the raw parameters.
    fake_accuracy_metrics: logged metrics (e.g. 'disc/accuracy_fake') that
      are a discriminator's accuracy on fakes; the loop warns when one stays
      above 99 % for 5 consecutive log steps.
    translate: for translation methods, (variables, images) -> translated
      images (3-channel, [-1, 1]), what evaluation scores; read by tools.
  """
  init_variables: Callable[[Any, Mapping[str, Any]], Variables]
  groups: Mapping[str, UpdateGroup]
  schedule: Tuple[str, ...]
  evaluate: Callable[[Variables, int], Dict[str, float]]
  export: Optional[Callable[[Variables, Dict[str, float]], None]] = None
  best_metric: Optional[str] = None
  shared: Optional[SharedForward] = None
  averaged_networks: Tuple[str, ...] = ()
  ema_decay: float = 0.0
  ema_start: int = 0
  fake_accuracy_metrics: Tuple[str, ...] = ()
  translate: Optional[Callable[[Variables, Any], Any]] = None

  def __post_init__(self):
    if not 0.0 <= self.ema_decay < 1.0:
      raise errors.ConfigError(
          f'the parameter average decay must be in [0, 1), got '
          f'{self.ema_decay}')
    unknown = [g for g in self.schedule if g not in self.groups]
    if unknown:
      raise errors.ConfigError(
          f'schedule names unknown update groups {unknown}; groups are '
          f'{sorted(self.groups)}')


@dataclasses.dataclass(frozen=True)
class TableRow:
  """One row of a method's results table (`python -m xdomain.tools.table`):
  the method's config with `overrides` (dotted keys -> values), and the
  paper's number for the table's main metric, in % (None: not reported)."""
  name: str
  overrides: Mapping[str, Any] = dataclasses.field(default_factory=dict)
  paper: Optional[float] = None


@dataclasses.dataclass(frozen=True)
class Table:
  """What a method's results table shows.

  Attributes:
    rows: the rows, the full method first (its ablations, experiments).
    metrics: results.json metrics shown per row (mean ± std over seeds).
    main_metric: the one compared with the papers' numbers and ranked.
    paper_source: where the papers' numbers come from.
    source_only_paper: the paper's "source only" number (the pretrained
      f's classifier, `model.f_checkpoint`, on the target test split, no
      adaptation) in %, None when the method has no such row.
    paper_pairs: the config pairs (configs/<method>_<pair>.py) the papers'
      numbers stand for; () = every pair. Other pairs show no paper number.
  """
  rows: Tuple[TableRow, ...]
  metrics: Tuple[str, ...]
  main_metric: str
  paper_source: str = ''
  source_only_paper: Optional[float] = None
  paper_pairs: Tuple[str, ...] = ()
