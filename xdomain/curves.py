"""Learning curves a person can look at: `<workdir>/curves.png`.

The loop appends every logged and evaluated scalar to
`<workdir>/metrics.jsonl` (one JSON object per line: {"step": N, name:
value, ...}) and redraws `curves.png` from it at every evaluation: one panel
for the eval metrics, one per family of per-class discriminator outputs
(e.g. DTN's D1/D2/D3 on each batch, one panel per batch), one per other
logged scalar. Lines of a resumed run past its restart step replace the old
ones (the latest line for a step wins).
"""

import collections
import io
import json
import math
import os
import re
from typing import Dict, List, Tuple

from xdomain import files

HISTORY = 'metrics.jsonl'
FIGURE = 'curves.png'
# Speed bookkeeping, not learning curves.
_SKIPPED = ('images_per_second', 'eta_seconds', 'wall_seconds')
# A discriminator's output on a batch: `group/D(batch)`, `group/D2(batch)`.
_FAMILY = re.compile(r'^(?P<group>.*/)?(?P<name>D\d*)\((?P<arg>[^)]*)\)$')


def append(workdir: str, step: int, scalars: Dict[str, float]) -> None:
  line = json.dumps({'step': int(step),
                     **{k: float(v) for k, v in scalars.items()}})
  path = os.path.join(workdir, HISTORY)
  if files.is_remote(path):  # object stores cannot append: rewrite
    old = files.read_text(path) if files.exists(path) else ''
    files.write_text(path, old + line + '\n')
  else:
    with open(path, 'a') as f:
      f.write(line + '\n')


def read(workdir: str) -> Dict[str, List[Tuple[int, float]]]:
  """name -> [(step, value)] sorted by step, the latest line per step."""
  path = os.path.join(workdir, HISTORY)
  latest = collections.defaultdict(dict)
  if not files.exists(path):
    return {}
  for line in files.read_text(path).splitlines():
    try:
      record = json.loads(line)
    except json.JSONDecodeError:  # empty, or a line cut by a kill: skip it
      continue
    step = record.pop('step')
    for name, value in record.items():
      latest[name][step] = value
  return {name: sorted(values.items()) for name, values in latest.items()}


def panels(history) -> List[Tuple[str, List[str]]]:
  """(title, metric names) per panel: eval metrics together, per-class
  outputs `group/Dk(batch)` together per batch, every other scalar alone."""
  evals = sorted(n for n in history if n.startswith('eval/'))
  families = collections.defaultdict(list)
  singles = []
  for name in sorted(history):
    if name.startswith('eval/') or name in _SKIPPED:
      continue
    match = _FAMILY.match(name)
    if match:
      families[f"{match['group'] or ''}D outputs on {match['arg']}"].append(
          name)
    else:
      singles.append(name)
  result = [('evaluation', evals)] if evals else []
  result += sorted(families.items())
  return result + [(name, [name]) for name in singles]


def plot(workdir: str) -> str:
  """Draws `<workdir>/curves.png` from the history; returns its path."""
  import matplotlib  # pylint: disable=g-import-not-at-top
  matplotlib.use('Agg')
  import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top
  history = read(workdir)
  layout = panels(history)
  cols = min(4, max(1, len(layout)))
  rows = max(1, math.ceil(len(layout) / cols))
  fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 2.8 * rows),
                           squeeze=False)
  for ax in axes.flat[len(layout):]:
    ax.axis('off')
  for ax, (title, names) in zip(axes.flat, layout):
    for name in names:
      steps, values = zip(*history[name])
      label = name.split('/', 1)[-1] if len(names) > 1 else None
      ax.plot(steps, values, marker='o' if len(steps) < 30 else None,
              markersize=3, label=label)
    ax.set_title(title, fontsize=9)
    ax.tick_params(labelsize=7)
    ax.grid(alpha=0.3)
    if len(names) > 1:
      ax.legend(fontsize=6)
  fig.supxlabel('step', fontsize=9)
  fig.tight_layout()
  buffer = io.BytesIO()
  fig.savefig(buffer, format='png', dpi=80)
  plt.close(fig)
  path = os.path.join(workdir, FIGURE)
  files.write_bytes(path, buffer.getvalue())
  return path
