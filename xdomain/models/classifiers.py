"""The DTN digits encoder `f` and the classifiers built on it.

DTN (Taigman et al. 2017, Sec. 5.1): f has four convolutional blocks with
64, 128, 256 and 128 filters, max pooling and ReLU, mapping a 32x32 RGB image
to a 128-d vector; a linear head on top classifies the ten digits. The same
family serves as the target-domain evaluator ("architecture same as f").

Variants (config `model.variant`):
  'maxpool'  3x3 convolution + ReLU + 2x2 max pooling (the paper's);
  'strided'  3x3 stride-2 convolution + ReLU (most public reimplementations).
`model.batch_norm` adds batch norm after every convolution. Block outputs at
16x16, 8x8 and 4x4 are sown into the 'intermediates' collection as
`block1`..`block3` (SIGAN's attention loss reads the 8x8 and 4x4 maps).
"""

from typing import Optional, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

VARIANTS = ('maxpool', 'strided')
_ACTIVATIONS = {'relu': nn.relu, 'tanh': jnp.tanh, 'none': lambda x: x}


def max_pool_2x2(x: jax.Array) -> jax.Array:
  """2x2 max pooling, stride 2, as a reshape + max.

  Same values as `nn.max_pool(x, (2, 2), strides=(2, 2))`; its gradient is a
  cheap elementwise select, where XLA's select-and-scatter (the gradient of
  reduce_window) is ~2.5x slower on CPU.
  """
  b, h, w, c = x.shape
  return x.reshape(b, h // 2, 2, w // 2, 2, c).max(axis=(2, 4))


class DigitEncoder(nn.Module):
  """f: [B, 32, 32, 3] in [-1, 1] -> [B, features[-1]]."""
  variant: str = 'maxpool'
  batch_norm: bool = False
  features: Sequence[int] = (64, 128, 256, 128)
  feature_activation: str = 'relu'
  bn_axis_name: Optional[str] = None

  def _norm(self, x, train: bool):
    if not self.batch_norm:
      return x
    return nn.BatchNorm(use_running_average=not train, momentum=0.9,
                        axis_name=self.bn_axis_name if train else None)(x)

  @nn.compact
  def __call__(self, x, train: bool = False):
    if self.variant not in VARIANTS:
      raise ValueError(f'model.variant must be one of {VARIANTS}, '
                       f'got {self.variant!r}')
    if x.shape[-3:] != (32, 32, 3):
      raise ValueError(f'DigitEncoder expects [..., 32, 32, 3] images, got '
                       f'shape {x.shape}')
    h = x
    for i, width in enumerate(self.features[:-1], start=1):
      stride = 1 if self.variant == 'maxpool' else 2
      h = nn.Conv(width, (3, 3), strides=stride, padding='SAME',
                  use_bias=not self.batch_norm)(h)
      h = nn.relu(self._norm(h, train))
      if self.variant == 'maxpool':
        h = max_pool_2x2(h)
      self.sow('intermediates', f'block{i}', h)
    # Final block: a full-window 4x4 convolution to a 1x1 feature vector.
    h = nn.Conv(self.features[-1], (4, 4), padding='VALID',
                use_bias=not self.batch_norm)(h)
    h = _ACTIVATIONS[self.feature_activation](self._norm(h, train))
    return h.reshape(h.shape[0], -1)


class DigitClassifier(nn.Module):
  """f followed by a 10-way linear head; returns logits."""
  encoder: DigitEncoder
  num_classes: int = 10

  @nn.compact
  def __call__(self, x, train: bool = False):
    return nn.Dense(self.num_classes, name='head')(self.encoder(x, train))

  def features(self, x, train: bool = False):
    return self.encoder(x, train)


def encoder_from_config(model_config, bn_axis_name=None) -> DigitEncoder:
  return DigitEncoder(variant=model_config.variant,
                      batch_norm=model_config.batch_norm,
                      features=tuple(model_config.features),
                      feature_activation=model_config.feature_activation,
                      bn_axis_name=bn_axis_name)


def classifier_from_config(model_config, bn_axis_name=None) -> DigitClassifier:
  return DigitClassifier(encoder_from_config(model_config, bn_axis_name),
                         num_classes=model_config.num_classes)
