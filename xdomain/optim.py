"""Optimizers from config: one optax transformation per update group."""

from typing import Mapping

import jax
import jax.numpy as jnp
import ml_collections
import optax

from xdomain import errors

_NAMES = ('adam', 'adamw', 'rmsprop', 'sgd')


def learning_rate_schedule(cfg: ml_collections.ConfigDict,
                           num_train_steps: int) -> optax.Schedule:
  if cfg.schedule == 'constant':
    return optax.constant_schedule(cfg.learning_rate)
  if cfg.schedule == 'cosine':
    return optax.warmup_cosine_decay_schedule(
        0.0, cfg.learning_rate, cfg.warmup_steps,
        max(num_train_steps, cfg.warmup_steps + 1))
  raise errors.ConfigError(
      f"optim schedule must be 'constant' or 'cosine', got {cfg.schedule!r}")


def clip_params(limit: float) -> optax.GradientTransformation:
  """Weight clipping (WGAN, Arjovsky et al. 2017) as the last step of a
  chain: turns the updates into ones that leave every parameter in
  [-limit, limit] after `optax.apply_updates`."""

  def update(updates, state, params=None):
    if params is None:
      raise ValueError('clip_params needs the params')
    updates = jax.tree.map(
        lambda p, u: jnp.clip(p + u, -limit, limit) - p, params, updates)
    return updates, state

  return optax.GradientTransformation(lambda params: optax.EmptyState(),
                                      update)


def scale_networks(scales: Mapping[str, float]) -> optax.GradientTransformation:
  """Multiplies the updates of each named network (a top-level key of the
  group's params) by its factor; networks not named keep factor 1."""

  def update(updates, state, params=None):
    del params
    unknown = set(scales) - set(updates)
    if unknown:
      raise errors.ConfigError(
          f'optim lr_scale names networks {sorted(unknown)} that this update '
          f'group does not train (it trains {sorted(updates)})')
    return {name: (jax.tree.map(lambda u, s=scales[name]: u * s, tree)
                   if name in scales else tree)
            for name, tree in updates.items()}, state

  return optax.GradientTransformation(lambda params: optax.EmptyState(),
                                      update)


def make_optimizer(cfg: ml_collections.ConfigDict,
                   num_train_steps: int) -> optax.GradientTransformation:
  """`cfg` fields: name, learning_rate, schedule, warmup_steps, b1, b2,
  weight_decay, grad_clip_norm (0 = off), and optionally weight_clip
  (0 = off; > 0 clips every parameter to [-weight_clip, weight_clip] after
  each update, WGAN's Lipschitz constraint) and lr_scale (a mapping from a
  network of the group to a learning-rate factor, e.g. {'encoder': 0.1})."""
  lr = learning_rate_schedule(cfg, num_train_steps)
  if cfg.name == 'adam':
    tx = optax.adam(lr, b1=cfg.b1, b2=cfg.b2)
  elif cfg.name == 'adamw':
    tx = optax.adamw(lr, b1=cfg.b1, b2=cfg.b2, weight_decay=cfg.weight_decay)
  elif cfg.name == 'rmsprop':
    tx = optax.rmsprop(lr)
  elif cfg.name == 'sgd':
    tx = optax.sgd(lr, momentum=cfg.b1)
  else:
    raise errors.ConfigError(
        f'optim name must be one of {_NAMES}, got {cfg.name!r}')
  if cfg.grad_clip_norm:
    tx = optax.chain(optax.clip_by_global_norm(cfg.grad_clip_norm), tx)
  lr_scale = {name: float(v) for name, v in cfg.get('lr_scale', {}).items()
              if float(v) != 1.0}
  if lr_scale:
    tx = optax.chain(tx, scale_networks(lr_scale))
  if cfg.get('weight_clip', 0.0):
    tx = optax.chain(tx, clip_params(cfg.weight_clip))
  return tx
