"""The one compiled training iteration, built from a method's update groups.

`make_train_step(method, seed)` returns a pmapped, pure
`(state, batch) -> (state, metrics)` that runs every group of the method's
schedule in order (e.g. D then G) inside one XLA computation. Gradients and
metrics are averaged over the device axis `AXIS`; batch norm layers built
with `bn_axis_name=AXIS` average their statistics over the same axis, so the
result does not depend on the number of devices.

State is a dict keyed by network and group:
  {'step': int32, 'params': {net: ...}, 'batch_stats': {net: ...},
   'opt': {group: optax state}}
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


def step_rng(seed: int, step: jax.Array, purpose: int) -> jax.Array:
  """Randomness of one step: fold_in(key(seed), step), then purpose, device."""
  key = jax.random.fold_in(jax.random.key(seed), step)
  key = jax.random.fold_in(key, purpose)
  return jax.random.fold_in(key, jax.lax.axis_index(AXIS))


def _group_update(group: base.UpdateGroup, params, batch_stats, opt_state,
                  batch, rng):
  own = {n: params[n] for n in group.networks}

  def loss_of_own(own_params):
    return group.loss_fn({**params, **own_params}, batch_stats, batch, rng)

  (loss, aux), grads = jax.value_and_grad(loss_of_own, has_aux=True)(own)
  grads = jax.lax.pmean(grads, AXIS)
  updates, opt_state = group.optimizer.update(grads, opt_state, own)
  own = optax.apply_updates(own, updates)
  metrics = {'loss': loss, 'grad_norm': optax.tree.norm(grads),
             **aux.get('metrics', {})}
  return own, aux.get('batch_stats', {}), opt_state, metrics


def make_train_step(method: base.Method, seed: int, donate: bool = True):
  """The pmapped training iteration for `method`."""

  def train_step(state: State, batch):
    params, batch_stats = state['params'], state['batch_stats']
    opt = dict(state['opt'])
    metrics = {}
    for position, name in enumerate(method.schedule):
      rng = step_rng(seed, state['step'], position)
      own, new_stats, opt[name], group_metrics = _group_update(
          method.groups[name], params, batch_stats, opt[name], batch, rng)
      params = {**params, **own}
      batch_stats = {**batch_stats, **new_stats}
      metrics.update({f'{name}/{k}': v for k, v in group_metrics.items()})
    metrics = jax.lax.pmean(metrics, AXIS)
    new_state = {'step': state['step'] + 1, 'params': params,
                 'batch_stats': batch_stats, 'opt': opt}
    return new_state, metrics

  return jax.pmap(train_step, axis_name=AXIS,
                  donate_argnums=(0,) if donate else ())


def variables_of(state: State) -> Dict[str, Any]:
  return {'params': state['params'], 'batch_stats': state['batch_stats']}
