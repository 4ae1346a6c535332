"""DTN's generator g and discriminator D for 32x32 digits (DCGAN-style).

g (DTN Sec. 5.1): four transposed-convolution blocks with batch norm and
ReLU, tanh at the end, mapping f's 128-d vector to a 32x32 image:
  128 -> 4x4x512 -> 8x8x256 -> 16x16x128 -> 32x32xC.
The first block, a 4x4 transposed convolution of a 1x1 input, is a matmul.

D: four convolutional blocks with batch norm (leaky ReLU 0.2):
  32x32xC -> 16x16x128 -> 8x8x256 -> 4x4x512 -> num_outputs logits,
the last block (a full-window 4x4 convolution) written as a matmul.
`num_outputs` = 3 for DTN's ternary D, 1 for a binary D. With
normalization='spectral' every convolution and the output layer are
spectrally normalised (Miyato et al. 2018, SN-GAN) and batch norm is left
out: D is then 1-Lipschitz per layer and judges each image on its own.
"""

from typing import Optional, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from xdomain.models import layers


NORMALIZATIONS = ('batch', 'spectral')  # D's: DCGAN's, or SN-GAN's


def to_rgb(images: jax.Array) -> jax.Array:
  """A 1-channel (grey) generator output replicated to 3 channels, as f, E
  and D take RGB images; 3-channel images unchanged."""
  return jnp.repeat(images, 3, axis=-1) if images.shape[-1] == 1 else images


def _batch_norm(train: bool, axis_name: Optional[str]) -> nn.BatchNorm:
  return nn.BatchNorm(use_running_average=not train, momentum=0.9,
                      axis_name=axis_name if train else None)


class Generator(nn.Module):
  """g: [B, D] features -> [B, 32, 32, channels] in [-1, 1]. Block outputs
  (after BN + ReLU) at 4x4, 8x8, 16x16 are sown into 'intermediates' as
  block0..block2.

  output_scale: the output is clip(s * tanh(x), -1, 1); s = 1 is a plain
  tanh (the paper's), which never reaches -1 or 1 exactly, where real
  uint8 images are exactly -1 on most of their background (a cue a
  discriminator can use without looking at shapes); s > 1 lets g saturate.
  """
  channels: int = 1
  widths: Sequence[int] = (512, 256, 128)
  bn_axis_name: Optional[str] = None
  output_scale: float = 1.0

  @nn.compact
  def __call__(self, z: jax.Array, train: bool = False) -> jax.Array:
    z = z.reshape(z.shape[0], -1)
    h = nn.Dense(4 * 4 * self.widths[0], use_bias=False)(z)
    h = h.reshape(z.shape[0], 4, 4, self.widths[0])
    h = nn.relu(_batch_norm(train, self.bn_axis_name)(h))
    self.sow('intermediates', 'block0', h)  # 4x4 (SIGAN's attention maps)
    for i, width in enumerate(self.widths[1:], start=1):
      h = layers.ConvTranspose2x(width, use_bias=False)(h)
      h = nn.relu(_batch_norm(train, self.bn_axis_name)(h))
      self.sow('intermediates', f'block{i}', h)  # 8x8, 16x16
    out = jnp.tanh(layers.ConvTranspose2x(self.channels)(h))
    if self.output_scale == 1.0:
      return out
    return jnp.clip(self.output_scale * out, -1.0, 1.0)


class Discriminator(nn.Module):
  """D: [B, 32, 32, C] in [-1, 1] -> [B, num_outputs] logits.

  num_classes > 0 makes D class-conditional by projection (Miyato & Koyama
  2018): each logit gains <embed_k(y), phi(x)>, phi(x) D's last features and
  y a [B, num_classes] class distribution (one-hot labels or soft).

  normalization: 'batch' (batch norm after every convolution, DCGAN's and
  the public DTN code's) or 'spectral' (spectral norm on every layer's
  weights, no batch norm; its power-iteration vectors live in
  'batch_stats' and advance only when train=True).
  """
  num_outputs: int = 3
  widths: Sequence[int] = (128, 256, 512)
  bn_axis_name: Optional[str] = None
  num_classes: int = 0
  normalization: str = 'batch'

  @nn.compact
  def __call__(self, x: jax.Array, train: bool = False,
               labels: Optional[jax.Array] = None) -> jax.Array:
    if x.shape[-3:-1] != (32, 32):
      raise ValueError(f'Discriminator expects [..., 32, 32, C] images, got '
                       f'shape {x.shape}')
    if (labels is None) != (self.num_classes == 0):
      raise ValueError(f'Discriminator(num_classes={self.num_classes}) '
                       f'called with labels={labels is not None}')
    if self.normalization not in NORMALIZATIONS:
      raise ValueError(f'Discriminator normalization must be one of '
                       f'{NORMALIZATIONS}, got {self.normalization!r}')
    spectral = self.normalization == 'spectral'
    def layer(module, h):
      if spectral:
        return nn.SpectralNorm(module)(h, update_stats=train)
      return module(h)
    h = x
    for width in self.widths:
      h = layer(nn.Conv(width, (3, 3), strides=2, padding='SAME',
                        use_bias=spectral), h)
      if not spectral:
        h = _batch_norm(train, self.bn_axis_name)(h)
      h = nn.leaky_relu(h, 0.2)
    phi = h.reshape(h.shape[0], -1)
    logits = layer(nn.Dense(self.num_outputs), phi)
    if not self.num_classes:
      return logits
    embed = nn.Dense(self.num_outputs * phi.shape[-1], use_bias=False,
                     name='class_embedding')(labels)
    embed = embed.reshape(phi.shape[0], self.num_outputs, phi.shape[-1])
    return logits + jnp.einsum('bkd,bd->bk', embed, phi)
