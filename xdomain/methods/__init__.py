"""Methods by name: `config.method` picks one; the loop never names them."""

from typing import Callable, Dict

import ml_collections

from xdomain import errors
from xdomain.methods import base
from xdomain.methods import classifier
from xdomain.methods import cyclegan
from xdomain.methods import dagan
from xdomain.methods import dtn
from xdomain.methods import sigan
from xdomain.methods import xgan

Builder = Callable[[ml_collections.ConfigDict, str], base.Method]

REGISTRY: Dict[str, Builder] = {
    'classifier': classifier.build,
    'cyclegan': cyclegan.build,
    'dagan': dagan.build,
    'dtn': dtn.build,
    'sigan': sigan.build,
    'xgan': xgan.build,
}


# Results tables the methods declare (python -m xdomain.tools.compare).
TABLES: Dict[str, base.Table] = {
    'cyclegan': cyclegan.TABLE,
    'dagan': dagan.TABLE,
    'dtn': dtn.TABLE,
    'sigan': sigan.TABLE,
    'xgan': xgan.TABLE,
}


def build(config: ml_collections.ConfigDict, workdir: str) -> base.Method:
  if config.method not in REGISTRY:
    raise errors.ConfigError(f'Unknown method {config.method!r}; known methods: '
                             f'{sorted(REGISTRY)}')
  return REGISTRY[config.method](config, workdir)
