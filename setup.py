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
    # PyTorch only for benchmarks/jax_vs_torch.py (never imported by xdomain).
    extras_require={'test': ['pytest>=8'], 'bench': ['torch==2.13.0']},
)
