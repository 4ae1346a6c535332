"""The one compiled training iteration, built from a method's update groups.

`make_train_step(method, seed)` returns a pmapped, pure
`(state, batch) -> (state, metrics)` that runs every group of the method's
schedule in order (e.g. D then G) inside one XLA computation. A method's
shared forward pass (DTN: G(x)) runs once and serves every group; gradients
reach its networks through its VJP. Gradients and
metrics are averaged over the device axis `AXIS`; batch norm layers built
with `bn_axis_name=AXIS` average their statistics over the same axis, so the
result does not depend on the number of devices.

State is a dict keyed by network and group:
  {'step': int32, 'params': {net: ...}, 'batch_stats': {net: ...},
   'opt': {group: optax state}[, 'ema': {net: averaged params}]
   [, 'buffers': {...}]}
'ema' exists when the method averages some networks' parameters
(`Method.averaged_networks`); `eval_variables` reads those averages.
'buffers' exists when the method keeps non-network training state that its
shared forward pass reads and replaces (`SharedForward.reads_buffers`, e.g.
CycleGAN's pool of past fakes).
"""

from typing import Any, Dict, Mapping

import jax
import jax.numpy as jnp
import numpy as np
import optax

from xdomain.methods import base

AXIS = 'batch'
State = Dict[str, Any]


def init_state(method: base.Method, rng: jax.Array,
               batch: Mapping[str, Any]) -> State:
  """Initial (unreplicated) state from one device's batch."""
  variables = method.init_variables(rng, batch)
  params = variables['params']
  opt = {name: group.optimizer.init({n: params[n] for n in group.networks})
         for name, group in method.groups.items()}
  state = {'step': jnp.zeros((), jnp.int32), 'params': params,
           'batch_stats': variables.get('batch_stats', {}), 'opt': opt}
  if _averages(method):
    state['ema'] = {n: params[n] for n in method.averaged_networks}
  if 'buffers' in variables:
    state['buffers'] = variables['buffers']
  # Host arrays: no weakly-typed leaves (e.g. optimizer counters), whose
  # strongly-typed outputs would make the compiled step retrace at step 2.
  return jax.tree.map(np.asarray, state)


def replicate(tree: Any) -> Any:
  """One copy of `tree` per local device, laid out exactly as the pmapped
  step's outputs are (a mesh over the local devices named `AXIS`), so that
  the step compiles once: `flax.jax_utils.replicate`'s differently named
  mesh would make it retrace at step 2."""
  devices = jax.local_devices()
  sharding = jax.sharding.NamedSharding(
      jax.sharding.Mesh(np.array(devices), (AXIS,)),
      jax.sharding.PartitionSpec(AXIS))

  def put(x):
    x = np.asarray(x)
    return jax.device_put(np.broadcast_to(x, (len(devices),) + x.shape),
                          sharding)
  return jax.tree.map(put, tree)


def to_host(tree: Any) -> Any:
  """One device's copy of a replicated tree as numpy arrays: what the host
  logs, evaluates and checkpoints (works in multi-process runs, where the
  pmapped step's outputs are not fully addressable)."""
  def first(x):
    return np.asarray(x.addressable_data(0)).reshape(x.shape[1:])
  return jax.tree.map(first, tree)


def step_rng(seed: int, step: jax.Array, purpose: int) -> jax.Array:
  """Randomness of one step: fold_in(key(seed), step), then purpose, device."""
  key = jax.random.fold_in(jax.random.key(seed), step)
  key = jax.random.fold_in(key, purpose)
  return jax.random.fold_in(key, jax.lax.axis_index(AXIS))


def _shared_forward(shared: base.SharedForward, params, batch_stats, batch,
                    rng, buffers):
  """Runs the method's shared forward pass once; returns its outputs, the
  VJP back to its networks' params, its batch-stats updates and the new
  buffers (`buffers` unchanged where the pass returns none)."""
  own = {n: params[n] for n in shared.networks}
  extra = (buffers,) if shared.reads_buffers else ()

  def forward(own_params):
    return shared.fn({**params, **own_params}, batch_stats, batch, rng,
                     *extra)

  outputs, pullback, aux = jax.vjp(forward, own, has_aux=True)
  return (outputs, pullback, aux.get('batch_stats', {}),
          aux.get('buffers', buffers))


def _group_update(group: base.UpdateGroup, params, batch_stats, opt_state,
                  batch, rng, shared=None):
  """One optimizer update of `group`. `shared`: None where the method has
  no shared forward pass (the loss takes 4 arguments), else (its networks,
  its outputs, its VJP) — ((), None, None) for a group that does not read
  it (its loss gets None)."""
  own = {n: params[n] for n in group.networks}
  shared_networks, outputs, pullback = shared or ((), None, None)
  extra = () if shared is None else (outputs,)

  def loss_of(own_params, *extra_args):
    return group.loss_fn({**params, **own_params}, batch_stats, batch, rng,
                         *extra_args)

  if set(group.networks) & set(shared_networks):
    # Total derivative: directly, plus through the saved shared forward.
    (loss, aux), (grads, output_grads) = jax.value_and_grad(
        loss_of, argnums=(0, 1), has_aux=True)(own, outputs)
    (via_shared,) = pullback(output_grads)
    grads = {n: jax.tree.map(jnp.add, g, via_shared[n]) if n in via_shared
             else g for n, g in grads.items()}
  else:  # The shared outputs are constants for this group.
    (loss, aux), grads = jax.value_and_grad(loss_of, has_aux=True)(
        own, *extra)
  grads = jax.lax.pmean(grads, AXIS)
  updates, new_opt_state = group.optimizer.update(grads, opt_state, own)
  new_own = optax.apply_updates(own, updates)
  new_stats = aux.get('batch_stats', {})
  metrics = {'loss': loss, 'grad_norm': optax.tree.norm(grads),
             **aux.get('metrics', {})}
  if group.skip_if is not None:  # e.g. a thresholded D (UpdateGroup.skip_if)
    skip = jnp.asarray(group.skip_if(jax.lax.pmean(metrics, AXIS)), bool)
    keep_old = lambda new, old: jax.tree.map(
        lambda n, o: jnp.where(skip, o, n), new, old)
    new_own = keep_old(new_own, own)
    new_opt_state = keep_old(new_opt_state, opt_state)
    new_stats = keep_old(new_stats, {n: batch_stats[n] for n in new_stats})
    metrics['skipped'] = skip.astype(jnp.float32)
  return new_own, new_stats, new_opt_state, metrics


# Randomness purposes of the shared forward pass (after the groups').
_SHARED_PURPOSE = 1000


def _maybe_update(group: base.UpdateGroup, step, params, batch_stats,
                  opt_state, batch, rng, shared):
  """`_group_update`, or on iterations the group sits out (see
  `UpdateGroup.every`) the unchanged params, stats and optimizer state with
  zero metrics — one `lax.cond`, so the step still compiles once."""
  if group.every == 1:
    return _group_update(group, params, batch_stats, opt_state, batch, rng,
                         shared)

  def update(_):
    own, new_stats, new_opt, metrics = _group_update(
        group, params, batch_stats, opt_state, batch, rng, shared)
    return own, new_stats, new_opt, {**metrics, 'updated': jnp.ones(())}

  shapes = jax.eval_shape(update, None)

  def skip(_):
    own = {n: params[n] for n in group.networks}
    stats = {n: batch_stats[n] for n in shapes[1]}
    metrics = jax.tree.map(lambda s: jnp.zeros(s.shape, s.dtype), shapes[3])
    return own, stats, opt_state, metrics

  return jax.lax.cond((step + 1) % group.every == 0, update, skip, None)


def _averages(method: base.Method) -> bool:
  return bool(method.averaged_networks) and method.ema_decay > 0


def ema_update(ema, params, step, decay: float, start: int = 0):
  """One step of the parameter average after update number `step` + 1:
  ema <- d ema + (1 - d) params. With start = 0, d = min(decay, (1 + t) /
  (10 + t)) (the warm-up of tf.train.ExponentialMovingAverage's
  num_updates), so early averages are not dominated by the
  initialisation; with start > 0 the average follows the raw parameters
  (d = 0) until update `start` and decays at `decay` from there on."""
  t = step.astype(jnp.float32)
  if start > 0:
    d = jnp.where(t < start, 0.0, decay)
  else:
    d = jnp.minimum(decay, (1.0 + t) / (10.0 + t))
  return jax.tree.map(lambda e, p: d * e + (1.0 - d) * p, ema, params)


def make_train_step(method: base.Method, seed: int, donate: bool = True):
  """The pmapped training iteration for `method`."""

  def train_step(state: State, batch):
    params, batch_stats = state['params'], state['batch_stats']
    opt = dict(state['opt'])
    metrics = {}
    shared, stale = None, True
    buffers = state.get('buffers')
    shared_networks = set(method.shared.networks) if method.shared else set()
    for position, name in enumerate(method.schedule):
      group = method.groups[name]
      group_shared = None if method.shared is None else ((), None, None)
      if method.shared is not None and group.uses_shared:
        if stale:  # computed once, again only after its networks changed
          rng = step_rng(seed, state['step'], _SHARED_PURPOSE + position)
          outputs, pullback, new_stats, buffers = _shared_forward(
              method.shared, params, batch_stats, batch, rng,
              state.get('buffers'))
          batch_stats = {**batch_stats, **new_stats}
          shared, stale = (method.shared.networks, outputs, pullback), False
        group_shared = shared
      rng = step_rng(seed, state['step'], position)
      own, new_stats, opt[name], group_metrics = _maybe_update(
          group, state['step'], params, batch_stats, opt[name], batch, rng,
          group_shared)
      params = {**params, **own}
      batch_stats = {**batch_stats, **new_stats}
      if set(group.networks) & shared_networks:
        stale = True
      metrics.update({f'{name}/{k}': v for k, v in group_metrics.items()})
    metrics = jax.lax.pmean(metrics, AXIS)
    new_state = {'step': state['step'] + 1, 'params': params,
                 'batch_stats': batch_stats, 'opt': opt}
    if _averages(method):
      new_state['ema'] = ema_update(
          state['ema'], {n: params[n] for n in method.averaged_networks},
          state['step'], method.ema_decay, method.ema_start)
    if 'buffers' in state:
      new_state['buffers'] = buffers
    return new_state, metrics

  return jax.pmap(train_step, axis_name=AXIS,
                  donate_argnums=(0,) if donate else ())


def variables_of(state: State) -> Dict[str, Any]:
  """The raw (trained) variables of a state."""
  return {'params': state['params'], 'batch_stats': state['batch_stats']}


def eval_variables(state: State) -> Dict[str, Any]:
  """What evaluation and export read: the raw variables with the averaged
  parameters (state['ema'], where the method keeps them) in place of the
  raw ones of those networks."""
  return {'params': {**state['params'], **state.get('ema', {})},
          'batch_stats': state['batch_stats']}
