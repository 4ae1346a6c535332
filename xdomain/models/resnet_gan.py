"""CycleGAN's image-to-image generator and discriminator, sized for 32x32
digits (yunjey/mnist-svhn-transfer's shapes, with CycleGAN's residual
blocks and instance norm; Zhu et al. 2017, Appendix 7.2).

Generator: 32x32xC_in -> [4x4 conv s2] 16x16xw -> [4x4 conv s2] 8x8x2w ->
`res_blocks` residual blocks (two 3x3 convs) -> [4x4 transposed conv s2]
16x16xw -> [4x4 transposed conv s2] 32x32xC_out, tanh. Instance norm and
leaky ReLU (0.2) after every hidden layer; no running statistics, so the
networks hold only params and every device normalises the same way.

Discriminator: 4x4 stride-2 convs of `widths` (leaky ReLU 0.2, instance norm
from the second on), then a 4x4 valid conv to one least-squares score per
image (the 4x4 map that remains of a 32x32 input is the whole image: a
PatchGAN whose patch is the digit).
"""

from typing import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from xdomain.models import layers


def _check_32x32(x: jax.Array, who: str) -> None:
  if x.shape[-3:-1] != (32, 32):
    raise ValueError(f'{who} expects [..., 32, 32, C] images, got shape '
                     f'{x.shape}')


def _norm(x: jax.Array) -> jax.Array:
  return nn.InstanceNorm(use_bias=True, use_scale=True)(x)


class ResidualBlock(nn.Module):
  """x + IN(conv(lrelu(IN(conv(x))))), 3x3 convs keeping the width."""

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    width = x.shape[-1]
    h = nn.leaky_relu(_norm(nn.Conv(width, (3, 3), padding='SAME')(x)), 0.2)
    return x + _norm(nn.Conv(width, (3, 3), padding='SAME')(h))


class Generator(nn.Module):
  """[B, 32, 32, C_in] in [-1, 1] -> [B, 32, 32, channels] in [-1, 1]."""
  channels: int = 3
  width: int = 64
  res_blocks: int = 2

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    _check_32x32(x, 'Generator')
    h = x
    for width in (self.width, 2 * self.width):
      h = nn.Conv(width, (4, 4), strides=2, padding=((1, 1), (1, 1)))(h)
      h = nn.leaky_relu(_norm(h), 0.2)
    for _ in range(self.res_blocks):
      h = ResidualBlock()(h)
    h = nn.leaky_relu(_norm(layers.ConvTranspose2x(self.width)(h)), 0.2)
    return jnp.tanh(layers.ConvTranspose2x(self.channels)(h))


class Discriminator(nn.Module):
  """[B, 32, 32, C] in [-1, 1] -> [B] least-squares scores."""
  widths: Sequence[int] = (64, 128, 256)

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    _check_32x32(x, 'Discriminator')
    h = x
    for i, width in enumerate(self.widths):
      h = nn.Conv(width, (4, 4), strides=2, padding=((1, 1), (1, 1)))(h)
      h = nn.leaky_relu(_norm(h) if i else h, 0.2)
    # 32 / 2^len(widths) remaining: one valid conv over what is left.
    size = h.shape[-2]
    return nn.Conv(1, (size, size), padding='VALID')(h).reshape(x.shape[0])
