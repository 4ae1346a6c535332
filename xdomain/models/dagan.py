"""DA-GAN's networks for 32x32 digits (Ma et al., CVPR 2018, Sec. 3).

DeepAttentionEncoder (DAE, Sec. 3.1): an encoder E (stride-2 3x3
convolutions with batch norm; ReLU, the last one `feature_activation`) maps
X to a 4x4 feature map; a localisation head f_loc (eq. 1, a linear map of
E(X)) predicts N region centres (and, as a switch, their half sizes); each
region's mask M_i is the difference of steep sigmoids of eq. 4; the
regions R_i = X o M_i go through the same E (eq. 3), and DAE(X) is the
instance maps E(R_i) concatenated along the channels. Everything is smooth
in the centres, so gradients reach f_loc through the masks (the one public
sketch rounds the box coordinates, which cuts that path).

Generator (Sec. 3.4): residual blocks on DAE(X), then nearest-neighbour
up-sampling each followed by a 3x3 stride-1 convolution; batch norm and
ReLU after every convolution but the last; tanh.

ResBlockClassifier (Table 4's "ResBlock" d): residual blocks on DAE(X),
average pooling, a 10-way linear head; trained from scratch on the source
labels (the geometric regularisation d(Y, DAE(X)) of Sec. 3.1).
"""

from typing import Optional, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

_ACTIVATIONS = {'relu': nn.relu, 'tanh': jnp.tanh, 'none': lambda x: x}


def _batch_norm(train: bool, axis_name: Optional[str],
                affine: bool = True) -> nn.BatchNorm:
  return nn.BatchNorm(use_running_average=not train, momentum=0.9,
                      use_scale=affine, use_bias=affine,
                      axis_name=axis_name if train else None)


def pixel_centres(size: int) -> jax.Array:
  """Coordinates of a row of `size` pixels, in pixels: 0.5, 1.5, ..."""
  return jnp.arange(size, dtype=jnp.float32) + 0.5


def steep_sigmoid(x: jax.Array, steepness: float) -> jax.Array:
  """sigma(x) = 1 / (1 + exp(-k x)) of eq. 4, k = `steepness`."""
  return jax.nn.sigmoid(steepness * x)


def attention_masks(centres: jax.Array, half_sizes: jax.Array, size: int,
                    steepness: float) -> jax.Array:
  """Eq. 4: soft rectangular masks [B, N, size, size] from region centres
  [B, N, 2] (x, y in pixels) and half sizes [B, N, 2] (w, h in pixels):
  M(x, y) = (s(x - x_left) - s(x - x_right)) (s(y - y_top) - s(y -
  y_bottom)), with the edges of eq. 2 (x_left = x_i - w, ...)."""
  u = pixel_centres(size)

  def profile(centre, half):  # [B, N] -> [B, N, size]
    lo, hi = (centre - half)[..., None], (centre + half)[..., None]
    return steep_sigmoid(u - lo, steepness) - steep_sigmoid(u - hi, steepness)

  mask_x = profile(centres[..., 0], half_sizes[..., 0])
  mask_y = profile(centres[..., 1], half_sizes[..., 1])
  return mask_y[..., :, None] * mask_x[..., None, :]  # [B, N, y, x]


class Encoder(nn.Module):
  """E: [B, 32, 32, C] -> [B, 32 / 2^len(widths), ..., widths[-1]]."""
  widths: Sequence[int] = (64, 128, 256)
  feature_activation: str = 'tanh'
  bn_axis_name: Optional[str] = None
  # The last batch norm without scale and offset: features of a fixed
  # scale, which E cannot shrink to make distances between them small.
  fixed_scale: bool = False

  @nn.compact
  def __call__(self, x, train: bool = False):
    h = x
    for i, width in enumerate(self.widths):
      last = i == len(self.widths) - 1
      h = nn.Conv(width, (3, 3), strides=2, padding='SAME', use_bias=False)(h)
      h = _batch_norm(train, self.bn_axis_name,
                      affine=not (last and self.fixed_scale))(h)
      h = _ACTIVATIONS[self.feature_activation](h) if last else nn.relu(h)
    return h


class DeepAttentionEncoder(nn.Module):
  """DAE (Sec. 3.1). Returns (DAE(X) [B, 4, 4, N * widths[-1]], centres
  [B, N, 2], half sizes [B, N, 2]); with attention=False (the "w/o DAE"
  ablation) DAE(X) = E(X) and the single region is the whole image."""
  widths: Sequence[int] = (64, 128, 256)
  feature_activation: str = 'tanh'
  regions: int = 1
  attention: bool = True
  box_half_size: float = 12.0  # pixels; predicted in [4, 16] if predict_size
  predict_size: bool = False
  steepness: float = 1.0  # k of eq. 4, per pixel
  inside: bool = True  # boxes kept inside the image
  fixed_scale: bool = False  # E's features of a fixed scale (Encoder)
  bn_axis_name: Optional[str] = None

  @nn.compact
  def __call__(self, x, train: bool = False):
    batch, size = x.shape[0], x.shape[1]
    encoder = Encoder(self.widths, self.feature_activation, self.bn_axis_name,
                      self.fixed_scale,
                      name='E')
    features = encoder(x, train)
    if not self.attention:
      whole = jnp.full((batch, 1, 2), size / 2.0)
      return features, whole, whole
    # f_loc (eq. 1), zero-initialised: every region starts at the centre.
    n = self.regions
    out = nn.Dense(4 * n, kernel_init=nn.initializers.zeros, name='f_loc')(
        features.reshape(batch, -1)).reshape(batch, n, 4)
    if self.predict_size:
      half_sizes = 4.0 + (size / 2.0 - 4.0) * jax.nn.sigmoid(out[..., 2:])
    else:
      half_sizes = jnp.full(out[..., 2:].shape, self.box_half_size)
    # Centres anywhere in the image, or (inside=True) only where the whole
    # box stays inside it: a box pushed off the image attends to nothing,
    # which makes DAE(s) and DAE(F(s)) constant and eqs. 5-6 trivially 0.
    low = half_sizes if self.inside else jnp.zeros_like(half_sizes)
    centres = low + (size - 2.0 * low) * jax.nn.sigmoid(out[..., :2])
    masks = attention_masks(centres, half_sizes, size, self.steepness)
    regions = x[:, None] * masks[..., None]  # R_i = X o M_i, [B, N, H, W, C]
    instances = encoder(regions.reshape((batch * n,) + x.shape[1:]), train)
    instances = instances.reshape((batch, n) + instances.shape[1:])
    # Eq. 3's instance maps, concatenated along the channels.
    instances = jnp.moveaxis(instances, 1, -2)
    return (instances.reshape(instances.shape[:3] + (-1,)), centres,
            half_sizes)


class ResidualBlock(nn.Module):
  """3x3 conv, BN, ReLU, 3x3 conv, BN, plus the input; ReLU."""
  bn_axis_name: Optional[str] = None

  @nn.compact
  def __call__(self, x, train: bool = False):
    width = x.shape[-1]
    h = nn.Conv(width, (3, 3), padding='SAME', use_bias=False)(x)
    h = nn.relu(_batch_norm(train, self.bn_axis_name)(h))
    h = nn.Conv(width, (3, 3), padding='SAME', use_bias=False)(h)
    return nn.relu(x + _batch_norm(train, self.bn_axis_name)(h))


class Generator(nn.Module):
  """G: DAE(X) [B, 4, 4, C] -> [B, 32, 32, channels] in [-1, 1]."""
  channels: int = 1
  widths: Sequence[int] = (256, 128, 64)
  res_blocks: int = 2
  bn_axis_name: Optional[str] = None

  @nn.compact
  def __call__(self, z, train: bool = False):
    h = nn.Conv(self.widths[0], (3, 3), padding='SAME', use_bias=False)(z)
    h = nn.relu(_batch_norm(train, self.bn_axis_name)(h))
    for _ in range(self.res_blocks):
      h = ResidualBlock(self.bn_axis_name)(h, train)
    for width in self.widths:  # nearest-neighbour x2, 3x3 conv, BN, ReLU
      h = jnp.repeat(jnp.repeat(h, 2, axis=1), 2, axis=2)
      h = nn.Conv(width, (3, 3), padding='SAME', use_bias=False)(h)
      h = nn.relu(_batch_norm(train, self.bn_axis_name)(h))
    return jnp.tanh(nn.Conv(self.channels, (3, 3), padding='SAME')(h))


class ResBlockClassifier(nn.Module):
  """d of Table 4: residual blocks on DAE(X), mean pooling, 10 logits."""
  res_blocks: int = 9
  num_classes: int = 10
  bn_axis_name: Optional[str] = None

  @nn.compact
  def __call__(self, z, train: bool = False):
    h = z
    for _ in range(self.res_blocks):
      h = ResidualBlock(self.bn_axis_name)(h, train)
    return nn.Dense(self.num_classes)(h.mean(axis=(1, 2)))
