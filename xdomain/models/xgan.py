"""XGAN's networks for 32x32 digits (Royer et al. 2018): two encoders into
one embedding, two decoders out of it, layers shared between domains.

Each encoder is four blocks: three 4x4 stride-2 convolutions (leaky ReLU
0.2; 32 -> 16 -> 8 -> 4) and a dense layer to the embedding. Each decoder
mirrors it: a dense layer to 4x4, three 4x4 stride-2 transposed
convolutions (ReLU; tanh after the last). A block is a network of its own
in the training state, so sharing is naming: the encoders' last
`shared_encoder_blocks` blocks and the decoders' first
`shared_decoder_blocks` blocks are one parameter set used by both domains
(`block_names`). The slides' appendix (remark 2): no sharing (0, 0),
partial symmetric sharing (2, 2, the default) or a fully shared encoder
(4, 2).
"""

from typing import Dict, List, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from xdomain.models import layers

NUM_BLOCKS = 4  # per encoder and per decoder


@jax.custom_vjp
def gradient_reversal(x: jax.Array, scale: jax.Array) -> jax.Array:
  """The identity forward; backward, the gradient times -scale (Ganin et
  al.'s gradient reversal layer, as XGAN trains its encoders against
  c_DANN). `scale` gets no gradient."""
  return x


def _reversal_fwd(x, scale):
  return x, scale


def _reversal_bwd(scale, grad):
  return -scale * grad, jnp.zeros_like(scale)


gradient_reversal.defvjp(_reversal_fwd, _reversal_bwd)


class EncoderBlock(nn.Module):
  """Block `index` of an encoder: a stride-2 convolution to `width`
  channels (leaky ReLU), or for the last block a dense layer to the
  embedding (`width` = its size)."""
  index: int
  width: int

  @nn.compact
  def __call__(self, h: jax.Array) -> jax.Array:
    if self.index == NUM_BLOCKS - 1:
      return nn.Dense(self.width)(h.reshape(h.shape[0], -1))
    h = nn.Conv(self.width, (4, 4), strides=2, padding='SAME')(h)
    return nn.leaky_relu(h, 0.2)


class DecoderBlock(nn.Module):
  """Block `index` of a decoder: the first a dense layer to 4x4x`width`,
  the others stride-2 transposed convolutions (ReLU; the last to `width` =
  the image's channels, tanh)."""
  index: int
  width: int

  @nn.compact
  def __call__(self, h: jax.Array) -> jax.Array:
    if self.index == 0:
      h = nn.Dense(4 * 4 * self.width)(h)
      return nn.relu(h.reshape(h.shape[0], 4, 4, self.width))
    h = layers.ConvTranspose2x(self.width)(h)
    return jnp.tanh(h) if self.index == NUM_BLOCKS - 1 else nn.relu(h)


def block_names(shared_encoder_blocks: int,
                shared_decoder_blocks: int) -> Dict[str, List[str]]:
  """The network names of each domain's encoder ('e1', 'e2') and decoder
  ('d1', 'd2') blocks, in order: a shared block has one name for both
  domains ('e_b3'), a domain's own block its domain's ('e1_b0')."""
  names = {}
  for i in (1, 2):
    names[f'e{i}'] = [f'e_b{k}' if k >= NUM_BLOCKS - shared_encoder_blocks
                      else f'e{i}_b{k}' for k in range(NUM_BLOCKS)]
    names[f'd{i}'] = [f'd_b{k}' if k < shared_decoder_blocks
                      else f'd{i}_b{k}' for k in range(NUM_BLOCKS)]
  return names


def blocks(widths: Sequence[int], embedding: int, channels: Dict[str, int],
           names: Dict[str, List[str]]) -> Dict[str, nn.Module]:
  """One module per distinct block name. `widths` are the encoder's three
  convolution widths (the decoder mirrors them); `channels` the image
  channels of 'd1' and 'd2'."""
  enc = list(widths) + [embedding]
  dec = list(reversed(widths))
  modules = {}
  for net, block_list in names.items():
    for k, name in enumerate(block_list):
      if net.startswith('e'):
        modules[name] = EncoderBlock(k, enc[k])
      else:
        width = channels[net] if k == NUM_BLOCKS - 1 else dec[k]
        modules[name] = DecoderBlock(k, width)
  return modules


class DomainClassifier(nn.Module):
  """c_DANN: embedding -> `num_classes` logits (one hidden layer)."""
  num_classes: int = 2
  hidden: int = 128

  @nn.compact
  def __call__(self, z: jax.Array) -> jax.Array:
    return nn.Dense(self.num_classes)(nn.leaky_relu(nn.Dense(self.hidden)(z),
                                                    0.2))
