"""Layers shared by the generators and discriminators.

`conv_transpose_stride2` is a transposed convolution written as the
input-gradient of a stride-2 convolution, with a custom VJP: its input
gradient is that strided convolution itself and its weight gradient is the
strided convolution's weight gradient. XLA on CPU computes the weight
gradient of `nn.ConvTranspose` (a dilated convolution) many times slower;
this form keeps every backward pass a plain strided convolution.
"""

from typing import Tuple

import flax.linen as nn
import jax
import jax.numpy as jnp

_DIMENSIONS = ('NHWC', 'HWIO', 'NHWC')


def _strided_conv(y: jax.Array, kernel: jax.Array, padding) -> jax.Array:
  return jax.lax.conv_general_dilated(y, kernel, (2, 2), padding,
                                      dimension_numbers=_DIMENSIONS)


def _padding(kernel_size: int) -> Tuple[Tuple[int, int], Tuple[int, int]]:
  # Output size exactly 2x the input (PyTorch: padding=(k-2)/2 for k even).
  low = (kernel_size - 2) // 2
  high = kernel_size - 2 - low
  return ((low, high), (low, high))


def _upsampled_shape(x: jax.Array, kernel: jax.Array):
  b, h, w, _ = x.shape
  return (b, 2 * h, 2 * w, kernel.shape[2])


@jax.custom_vjp
def conv_transpose_stride2(x: jax.Array, kernel: jax.Array) -> jax.Array:
  """[B, H, W, Cin] -> [B, 2H, 2W, Cout] with `kernel` [k, k, Cout, Cin].

  The adjoint of `y -> conv(y, kernel, stride 2)`: the kernel is laid out as
  that forward convolution's HWIO kernel (its I = our Cout, its O = our Cin).
  """
  padding = _padding(kernel.shape[0])
  zeros = jnp.zeros(_upsampled_shape(x, kernel), x.dtype)
  _, input_vjp = jax.vjp(lambda y: _strided_conv(y, kernel, padding), zeros)
  return input_vjp(x)[0]


def _conv_transpose_fwd(x, kernel):
  return conv_transpose_stride2(x, kernel), (x, kernel)


def _conv_transpose_bwd(residuals, grad_out):
  x, kernel = residuals
  padding = _padding(kernel.shape[0])
  # <T(x), g> = <x, conv(g)>: the input gradient is conv(g) ...
  grad_x, kernel_vjp = jax.vjp(lambda k: _strided_conv(grad_out, k, padding),
                               kernel)
  # ... and the kernel gradient is conv's weight gradient with cotangent x.
  return grad_x, kernel_vjp(x)[0]


conv_transpose_stride2.defvjp(_conv_transpose_fwd, _conv_transpose_bwd)


def transposed_kernel_init():
  """LeCun-normal over the true fan-in, k*k*Cin of the [k, k, Cout, Cin]
  kernel. (`lecun_normal()` would read Cout as the fan-in: with Cout = 1 in
  the output layer its weights come out ~sqrt(Cin) too large and the tanh
  starts saturated, which stalls every pixel-level loss.)"""
  return nn.initializers.variance_scaling(1.0, 'fan_in', 'truncated_normal',
                                          in_axis=-1, out_axis=-2)


class ConvTranspose2x(nn.Module):
  """Stride-2 transposed convolution (k x k, output exactly 2x the input)."""
  features: int
  kernel_size: int = 4
  use_bias: bool = True

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    k = self.kernel_size
    kernel = self.param('kernel', transposed_kernel_init(),
                        (k, k, self.features, x.shape[-1]))
    y = conv_transpose_stride2(x, kernel.astype(x.dtype))
    if self.use_bias:
      y = y + self.param('bias', nn.initializers.zeros, (self.features,))
    return y

