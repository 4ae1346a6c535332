"""Loss functions, pure and batch-averaged. Equations cite the papers' notes.

DTN (Taigman et al. 2017), with D's softmax over three classes
D1 = G(source), D2 = G(target), D3 = real target:
  L_D    = -E_s log D1(G(x)) - E_t log D2(G(x)) - E_t log D3(x)
  L_GANG = -E_s log D3(G(x)) - E_t log D3(G(x))
  L_CONST = d(f(x), f(G(x))) on source, d = MSE
  L_TID   = d2(x, G(x)) on target, d2 = MSE
  L_TV    = total variation of generated images
The binary-D ablation replaces the ternary softmax by a sigmoid real/fake
discriminator with the same structure (fakes -> 0, real target -> 1; G wants
its fakes -> 1).
"""

import jax
import jax.numpy as jnp
import optax

# Ternary D's classes (DTN's D1, D2, D3).
FAKE_FROM_SOURCE, FAKE_FROM_TARGET, REAL_TARGET = 0, 1, 2


def _class_nll(logits: jax.Array, cls: int) -> jax.Array:
  """-E log softmax(logits)[cls]."""
  labels = jnp.full(logits.shape[:1], cls, jnp.int32)
  return optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()


def ternary_d_loss(fake_source_logits, fake_target_logits,
                   real_target_logits) -> jax.Array:
  """DTN's L_D: each batch pushed towards its own class of the three."""
  return (_class_nll(fake_source_logits, FAKE_FROM_SOURCE) +
          _class_nll(fake_target_logits, FAKE_FROM_TARGET) +
          _class_nll(real_target_logits, REAL_TARGET))


def ternary_g_loss(fake_source_logits, fake_target_logits) -> jax.Array:
  """DTN's L_GANG: both kinds of fakes pushed towards D3 (real target)."""
  return (_class_nll(fake_source_logits, REAL_TARGET) +
          _class_nll(fake_target_logits, REAL_TARGET))


def _bce(logits: jax.Array, target: float) -> jax.Array:
  labels = jnp.full_like(logits, target)
  return optax.sigmoid_binary_cross_entropy(logits, labels).mean()


def binary_d_loss(fake_logits_list, real_logits) -> jax.Array:
  """Binary real/fake D: every fake batch -> 0, the real target -> 1."""
  return sum(_bce(f, 0.0) for f in fake_logits_list) + _bce(real_logits, 1.0)


def binary_g_loss(fake_logits_list) -> jax.Array:
  """Non-saturating G loss for a binary D: -E log D(G(x)) per fake batch."""
  return sum(_bce(f, 1.0) for f in fake_logits_list)


def mse(a: jax.Array, b: jax.Array) -> jax.Array:
  """Mean squared error over all elements (DTN's d and d2)."""
  return jnp.mean(jnp.square(a - b))


def total_variation(images: jax.Array, exponent: float = 1.0) -> jax.Array:
  """L_TV = mean over images of sum_ij ((z_i,j+1 - z_ij)^2 +
  (z_i+1,j - z_ij)^2)^(B/2), images [N, H, W, C] (B = `exponent`)."""
  dx = images[:, :-1, 1:, :] - images[:, :-1, :-1, :]
  dy = images[:, 1:, :-1, :] - images[:, :-1, :-1, :]
  per_pixel = jnp.square(dx) + jnp.square(dy)
  if exponent != 2.0:
    per_pixel = jnp.power(per_pixel + 1e-12, exponent / 2.0)
  return jnp.mean(jnp.sum(per_pixel, axis=(1, 2, 3)))
