"""xdomain: unsupervised cross-domain image generation in JAX/Flax."""

import os

import setuptools

_HERE = os.path.dirname(os.path.abspath(__file__))


def _requirements():
  with open(os.path.join(_HERE, 'requirements.txt')) as f:
    return [line.split('#')[0].strip() for line in f
            if line.split('#')[0].strip()]


setuptools.setup(
    name='xdomain',
    version='0.1.0',
    description=('JAX/Flax reimplementation of DTN, SIGAN, DA-GAN and XGAN '
                 'for unsupervised cross-domain image generation.'),
    packages=setuptools.find_packages(include=['xdomain', 'xdomain.*']),
    python_requires='>=3.10',
    install_requires=_requirements(),
    extras_require={
        'test': ['pytest>=8'],
        # PyTorch only for benchmarks/jax_vs_torch.py (never imported by
        # xdomain).
        'bench': ['torch==2.13.0'],
        # Accelerator builds of the pinned jax (launch/gpu.sh, tpu_pod.sh).
        'gpu': ['jax[cuda12]==0.10.2'],
        'tpu': ['jax[tpu]==0.10.2'],
    },
)
