r"""Runs a method's results table -- its rows declared by the method's module
(`TABLE`: ablations, experiments, the papers' numbers) -- and writes it as
Markdown and CSV.

  python -m xdomain.tools.table --config=configs/dtn_synth_mnist.py:cpu \
      --workdir=runs/dtn_table --seeds=0,1 --config.data.manual_dir=../shared/data/mnist
  python -m xdomain.tools.table --config=configs/sigan_synth_mnist.py:short \
      --workdir=runs/sigan_table --seeds=0,1 --config.data.manual_dir=../shared/data/mnist

Every row is the same config (and length) with the row's overrides, trained
once per seed in <workdir>/<row>/seed_<k> through `xdomain.chain.run`, so
missing prerequisites (e.g. an f trained without the digit 3) are trained
first. A finished run is reused, an unfinished one resumed; either only if
its config.json matches, else a ConfigError names the differences. "Source
only" scores the pretrained f's classifier (config.model.f_checkpoint) on
the target test split without training. Writes <workdir>/table.csv (one
line per run: row, seed, steps, wall seconds, the metrics, the overrides)
and <workdir>/table.md (per row: mean and spread over seeds of each metric,
beside the paper's number, and which of the paper's orderings hold).
"""

import csv
import io
import json
import os
import statistics
import sys

from absl import app
from absl import flags
from ml_collections import config_flags

from xdomain import errors
from xdomain import files
from xdomain import platform_defaults

_CONFIG = config_flags.DEFINE_config_file(
    'config', None, 'A method config file (with its variant, e.g. :cpu).',
    lock_config=True)
_WORKDIR = flags.DEFINE_string('workdir', None,
                               'Root of the runs and the tables.')
_SEEDS = flags.DEFINE_list('seeds', ['0', '1'], 'Seeds per row.')
_ROWS = flags.DEFINE_list('rows', [], 'Only these rows, by name or slug '
                          '(default: all).')
flags.mark_flags_as_required(['config', 'workdir'])
SOURCE_ONLY = 'source only'


def table_of(config):
  """The `TABLE` that the module of `config.method` declares."""
  from xdomain import methods  # pylint: disable=g-import-not-at-top
  table = methods.TABLES.get(config.method)
  if table is None:
    raise errors.ConfigError(
        f'method {config.method!r} declares no results table; methods with '
        f'one: {sorted(methods.TABLES)}')
  return table


def _slug(name: str) -> str:
  """'without L_TV' -> 'without_tv': lower case, words joined by '_', the
  'L' of loss names dropped."""
  keep = ''.join(c if c.isalnum() else '_' for c in name.lower())
  return '_'.join(part for part in keep.split('_') if part not in ('', 'l'))


def _set(config, key: str, value) -> None:
  target = config
  *parents, leaf = key.split('.')
  for p in parents:
    target = target[p]
  target[leaf] = value


def config_differences(saved, current, prefix=''):
  """Dotted keys whose values differ between two config dicts (as
  config.json holds them)."""
  out = []
  for key in sorted(set(saved) | set(current)):
    a, b = saved.get(key, '<absent>'), current.get(key, '<absent>')
    if isinstance(a, dict) and isinstance(b, dict):
      out += config_differences(a, b, f'{prefix}{key}.')
    elif a != b:
      out.append(f'{prefix}{key}: {a!r} there, {b!r} now')
  return out


def check_same_config(workdir, config) -> None:
  """A run is reused or resumed only if it was started with this config:
  otherwise the table would mix settings without saying so."""
  path = os.path.join(workdir, 'config.json')
  if not os.path.exists(path):
    return
  with open(path) as f:
    saved = json.load(f)
  current = json.loads(json.dumps(config.to_dict(), sort_keys=True))
  differences = config_differences(saved, current)
  if differences:
    raise errors.ConfigError(
        f'{workdir} holds a run of another config '
        f'({"; ".join(differences[:5])}'
        f'{"; ..." if len(differences) > 5 else ""}). Nothing was changed: '
        f'pass another --workdir, or remove that run to retrain it.')


def resolved_overrides(base_config, row):
  """The row's overrides, a callable value evaluated on the base config."""
  return {k: (v(base_config) if callable(v) else v)
          for k, v in row.overrides.items()}


def row_config(base_config, row, seed):
  """The base config with the row's (resolved) overrides and the seed."""
  config = base_config.copy_and_resolve_references()
  with config.unlocked():
    for key, value in resolved_overrides(base_config, row).items():
      _set(config, key, value)
    config.seed = seed
  return config


def run_row(base_config, row, seed, root, metrics):
  """Trains (or reuses) one row for one seed; returns its CSV record."""
  from xdomain import chain  # pylint: disable=g-import-not-at-top
  config = row_config(base_config, row, seed)
  workdir = os.path.join(root, _slug(row.name), f'seed_{seed}')
  check_same_config(workdir, config)
  results_path = os.path.join(workdir, 'results.json')
  results = None
  if os.path.exists(results_path):
    with open(results_path) as f:
      results = json.load(f)
  if not results or results.get('step') != config.num_train_steps:
    chain.run(config, workdir)
    with open(results_path) as f:
      results = json.load(f)
  overrides = resolved_overrides(base_config, row)
  return {'row': row.name, 'seed': seed, 'steps': results['step'],
          'wall_seconds': results.get('wall_seconds', ''),
          **{m: results.get(m, '') for m in metrics},
          'overrides': ' '.join(f'{k}={v!r}' for k, v in overrides.items())}


def source_only(config):
  """The pretrained f's classifier (SIGAN: F o E) on the target test split,
  without adaptation."""
  # pylint: disable=g-import-not-at-top
  import jax
  from xdomain import checkpoints
  from xdomain import evaluation
  from xdomain import steps
  from xdomain.data import datasets
  # pylint: enable=g-import-not-at-top
  datasets.prepare_all(config.data)
  model, variables, _ = checkpoints.load_classifier(config.model.f_checkpoint)
  counter = evaluation.make_counter(model.apply)
  target = config.data.target
  return evaluation.classifier_accuracy(
      counter, steps.replicate(variables), config.data, target.name,
      target.test_split, config.eval.per_device_batch_size,
      limit=config.eval.limit or None,
      process_index=jax.process_index(), process_count=jax.process_count())


def _summary(values):
  values = [v for v in values if v != '']
  if not values:
    return '—'
  mean = 100 * statistics.mean(values)
  if len(values) == 1:
    return f'{mean:.2f} %'
  return (f'{mean:.2f} % (±{100 * statistics.stdev(values):.2f}, '
          f'{len(values)} seeds)')


def orderings(table, records, source_only_accuracy) -> str:
  """Which of the paper's pairwise orderings (row A above row B) hold for
  the mean main metric here (rows without a paper number are left out)."""
  metric = table.main_metric
  ours, papers = {}, {}
  for row in table.rows:
    values = [r[metric] for r in records if r['row'] == row.name
              and r.get(metric, '') != '']
    if values and row.paper is not None:
      ours[row.name], papers[row.name] = statistics.mean(values), row.paper
  if source_only_accuracy is not None and table.source_only_paper is not None:
    ours[SOURCE_ONLY] = source_only_accuracy
    papers[SOURCE_ONLY] = table.source_only_paper
  ranked = sorted(papers, key=papers.get, reverse=True)
  held, broken = [], []
  for i, above in enumerate(ranked):
    for below in ranked[i + 1:]:
      (held if ours[above] > ours[below] else broken).append(
          f'{above} > {below}')
  return (f'Orderings of the paper that hold here ({len(held)} of '
          f'{len(held) + len(broken)}): {"; ".join(held) or "none"}.\n\n'
          f'Orderings that do not hold: {"; ".join(broken) or "none"}.\n')


def markdown(table, records, source_only_accuracy, steps, note) -> str:
  shown = [m for m in table.metrics
           if any(r.get(m, '') != '' for r in records)]
  lines = [f'| row | {" | ".join(shown)} | wall min | paper '
           f'({table.main_metric}) |',
           '|---|' + '---|' * (len(shown) + 2)]
  for row in table.rows:
    rows = [r for r in records if r['row'] == row.name]
    if not rows:
      continue
    cells = [_summary([r[m] for r in rows]) for m in shown]
    walls = [r['wall_seconds'] for r in rows if r['wall_seconds'] != '']
    wall = f'{statistics.mean(walls) / 60:.1f}' if walls else '—'
    paper = '—' if row.paper is None else f'{row.paper:.2f} %'
    lines.append(f'| {row.name} | {" | ".join(cells)} | {wall} | {paper} |')
  if source_only_accuracy is not None:
    cells = [f'{100 * source_only_accuracy:.2f} %'
             if m == table.source_only_metric else '—' for m in shown]
    paper = ('—' if table.source_only_paper is None
             else f'{table.source_only_paper:.2f} %')
    lines.append(f'| {SOURCE_ONLY} (f on target test) | {" | ".join(cells)} '
                 f'| 0 | {paper} |')
  return '\n'.join(lines) + (
      f'\n\n{steps} steps per run. {note} Papers: {table.paper_source}.\n\n'
      + orderings(table, records, source_only_accuracy))


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f'Unexpected arguments: {argv[1:]}')
  # In main, not at import, as in xdomain.main: importing the tool must
  # not change the XLA flags of the importing process's subprocesses.
  platform_defaults.apply()
  config = _CONFIG.value
  table = table_of(config)
  root = files.absolute(_WORKDIR.value)
  files.makedirs(root)
  rows = [r for r in table.rows if not _ROWS.value or r.name in _ROWS.value
          or _slug(r.name) in _ROWS.value]
  metrics = table.metrics
  records = []
  for row in rows:
    for seed in _SEEDS.value:
      print(f'== {row.name}, seed {seed}', flush=True)
      records.append(run_row(config, row, int(seed), root, metrics))
  accuracy = source_only(config) if table.source_only_metric else None
  buffer = io.StringIO()
  columns = ('row', 'seed', 'steps', 'wall_seconds') + metrics + (
      'overrides',)
  writer = csv.DictWriter(buffer, fieldnames=columns)
  writer.writeheader()
  writer.writerows(records)
  if accuracy is not None:
    writer.writerow({'row': SOURCE_ONLY, 'seed': '', 'steps': 0,
                     table.source_only_metric: accuracy})
  files.write_text(os.path.join(root, 'table.csv'), buffer.getvalue())
  text = markdown(table, records, accuracy, config.num_train_steps,
                  f'Source {config.data.source.name} -> target '
                  f'{config.data.target.name}.')
  files.write_text(os.path.join(root, 'table.md'), text)
  print(text)
  print(f'wrote {root}/table.md and table.csv')


if __name__ == '__main__':
  sys.exit(app.run(main))
