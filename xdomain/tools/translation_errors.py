r"""Where a DTN run's translations go wrong: per-class accuracy of the target
evaluator and of f on G(source test), and a grid of the misread ones.

  python -m xdomain.tools.translation_errors --workdir=runs/dtn_synth_mnist_cpu_s0 \
      --limit=3000 --out=docs/dtn_errors.png

Reads the run's config.json and its latest checkpoint (the averaged g where
the run keeps one, as evaluation does). Prints one line per class:
examples, the evaluator's accuracy, f's accuracy on the translations, the
label the evaluator most often gives instead. The grid shows each misread
source image above its translation (first 40).
"""

import os
import sys

from absl import app
from absl import flags

from xdomain import platform_defaults

_WORKDIR = flags.DEFINE_string('workdir', None, 'A DTN run directory.')
_LIMIT = flags.DEFINE_integer('limit', 3000, 'Source test images to read.')
_OUT = flags.DEFINE_string('out', '', 'PNG grid of misread translations '
                           '(default: <workdir>/samples/errors.png).')
flags.mark_flags_as_required(['workdir'])


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f'Unexpected arguments: {argv[1:]}')
  platform_defaults.apply()
  # pylint: disable=g-import-not-at-top
  import jax
  import numpy as np
  from xdomain import checkpoints
  from xdomain import evaluation
  from xdomain import images
  from xdomain.data import pipeline
  from xdomain.methods import dtn
  # pylint: enable=g-import-not-at-top
  workdir = _WORKDIR.value
  config, translate, variables = dtn.restored_translator(workdir)
  if variables is None:
    sys.exit(f'error: no readable checkpoint in {workdir}/checkpoints')
  evaluator, evaluator_vars, _ = checkpoints.load_classifier(
      config.eval.evaluator_checkpoint)
  f_model, f_vars, _ = checkpoints.load_classifier(config.model.f_checkpoint)
  g = jax.jit(lambda x: translate(variables, x))
  read = jax.jit(lambda x: jax.numpy.argmax(evaluator.apply(evaluator_vars, x), -1))
  read_f = jax.jit(lambda x: jax.numpy.argmax(f_model.apply(f_vars, x), -1))
  got = {'y': [], 'p': [], 'fp': [], 'x': [], 'g': []}
  for batch in pipeline.eval_iterator(
      config.data, config.data.source.name, config.data.source.test_split,
      num_devices=1, per_device_batch=500, limit=_LIMIT.value):
    keep = batch['mask'][0] > 0
    x = batch['image'][0]
    out = np.asarray(g(x))
    for key, value in (('y', batch['label'][0]), ('p', read(out)),
                       ('fp', read_f(out)), ('x', x), ('g', out)):
      got[key].append(np.asarray(value)[keep])
  got = {k: np.concatenate(v) for k, v in got.items()}
  print('\n'.join(evaluation.per_class_report(got['y'], got['p'],
                                               got['fp'])))
  wrong = np.where(got['p'] != got['y'])[0][:40]
  if len(wrong):
    cols = 10
    rows = -(-len(wrong) // cols)
    pad = rows * cols - len(wrong)
    src = np.concatenate([got['x'][wrong], np.zeros((pad, 32, 32, 3))])
    out = np.concatenate([got['g'][wrong], np.zeros((pad, 32, 32, 3))])
    sheet = evaluation.pairs_sheet(src, out, rows, cols)
    path = _OUT.value or os.path.join(workdir, 'samples', 'errors.png')
    images.save_png(path, sheet)
    print(f'wrote {path}: misread sources above their translations')


if __name__ == '__main__':
  app.run(main)
