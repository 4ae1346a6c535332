"""Default XLA settings xdomain runs with; applied before JAX starts.

On CPU, XLA 0.10's YNNPACK path for convolutions is ~1.3-1.5x slower on
xdomain's steps than XLA's own convolution emitter (benchmarks/train_step.py),
so convolutions are kept out of YNNPACK fusions by default. The setting is
added to XLA_FLAGS only when XLA_FLAGS does not already set the same flag;
set XDOMAIN_XLA_DEFAULTS=0 to leave XLA_FLAGS untouched. It is a CPU flag
(GPU and TPU backends ignore it).
"""

import os

# (flag name, value) pairs; jaxlib is pinned in requirements.txt, which
# knows these flags.
CPU_FLAGS = (('xla_cpu_experimental_ynn_fusion_type',
              '-individual_convolution'),)


def apply(environ=None) -> str:
  """Adds the defaults to XLA_FLAGS in `environ` (os.environ); returns it.

  Must run before JAX initialises its backends (call it before importing
  jax, as `xdomain.main` and the benchmarks do).
  """
  environ = os.environ if environ is None else environ
  flags = environ.get('XLA_FLAGS', '')
  if environ.get('XDOMAIN_XLA_DEFAULTS', '1') == '0':
    return flags
  for name, value in CPU_FLAGS:
    if f'--{name}' not in flags:
      flags = f'{flags} --{name}={value}'.strip()
  environ['XLA_FLAGS'] = flags
  return flags
