r"""One comparison of every method on one pair of domains: the same data,
evaluators and budget for each, several seeds, the papers' numbers beside.

  python -m xdomain.tools.compare --pair=synth_mnist --size=cpu --seeds=0,1 \
      --manual_dir=../shared/data/mnist
  python -m xdomain.tools.compare --pair=synth_mnist --size=cpu --methods=dtn \
      --ablations --manual_dir=../shared/data/mnist      # DTN's own table

For each method with a config `configs/<method>_<pair>.py` (or those of
--methods), its full-method row (with --ablations every row its module
declares in `TABLE`: ablations, experiments) is trained per seed at the
config's --size variant in <workdir>/<pair>_<size>/<method>/<row>/seed<k>, through
`xdomain.chain.run`, so missing prerequisites (f, evaluators) are trained
first. A finished run is reused and an unfinished one resumed, either only
if its config.json matches; otherwise a ConfigError names the differences
and nothing is touched. Rows without training: "source only" (each method's
pretrained f classifier, model.f_checkpoint, on the target test split) and
"oracle" (each target evaluator on the target test split). Writes
<out>.md (per row: mean ± std over seeds of every metric, steps, wall
minutes, the paper's number and its source), <out>.csv (one line per run:
method, row, seed, steps, wall seconds, each metric, the overrides against
the method's config) and <out>.png (main metric per row with the seeds'
spread; accuracy against wall time at each run's evaluations).
--set key=value (repeatable) changes every run's config, e.g.
--set=num_train_steps=500; such runs need their own --workdir.
"""

import ast
import csv
import dataclasses
import io
import json
import os
import statistics
import sys

from absl import app
from absl import flags

from xdomain import errors
from xdomain import files
from xdomain import platform_defaults

_PAIR = flags.DEFINE_string('pair', None, 'Domain pair: the <pair> of '
                            'configs/<method>_<pair>.py, e.g. synth_mnist.')
_SIZE = flags.DEFINE_string('size', 'cpu', "The configs' variant: cpu, tiny "
                            "or '' (the paper size).")
_METHODS = flags.DEFINE_list('methods', [], 'Only these methods (default: '
                             'every method with a config for the pair).')
_ABLATIONS = flags.DEFINE_bool('ablations', False, "Every row the methods' "
                               'modules declare, not only the full method.')
_ROWS = flags.DEFINE_list('rows', [], 'Only these rows, by name or slug.')
_SEEDS = flags.DEFINE_list('seeds', ['0', '1'], 'Seeds per row.')
_WORKDIR = flags.DEFINE_string('workdir', 'runs/compare', 'Root of the runs.')
_OUT = flags.DEFINE_string('out', 'docs/results', 'Output path prefix: '
                           '<out>.md, <out>.csv, <out>.png.')
_CONFIGS = flags.DEFINE_string('configs', 'configs', 'The config directory.')
_MANUAL_DIR = flags.DEFINE_string('manual_dir', '', 'data.manual_dir of '
                                  'every run (e.g. ../shared/data/mnist).')
_SET = flags.DEFINE_multi_string('set', [], 'key=value applied to every '
                                 "run's config (dotted keys).")
flags.mark_flags_as_required(['pair'])
SOURCE_ONLY, ORACLE = 'source only', 'oracle'
# Column order of the metrics, as far as a method has them.
METRICS = ('translated_accuracy', 'knn_accuracy', 'adaptation_accuracy',
           'reverse_accuracy', 'embedding_accuracy', 'translated_accuracy_3')


def _slug(name: str) -> str:
  """'without L_TV' -> 'without_tv': lower case, words joined by '_', the
  'L' of loss names dropped."""
  keep = ''.join(c if c.isalnum() else '_' for c in name.lower())
  return '_'.join(part for part in keep.split('_') if part not in ('', 'l'))


def _set(config, key: str, value) -> None:
  """config.<key> = value for a dotted key that the config has."""
  target = config
  *parents, leaf = key.split('.')
  for p in parents:
    target = target[p] if p in target else None
    if target is None:
      break
  if target is None or leaf not in target:
    raise errors.ConfigError(f'unknown config key {key!r}')
  target[leaf] = value


def run_workdir(root, pair, size, method, row_name, seed) -> str:
  """<root>/<pair>_<size>/<method>/<row>/seed<k>: runs of another pair
  or size never share a workdir."""
  return os.path.join(root, f'{pair}_{size or "paper"}', method,
                      _slug(row_name), f'seed{seed}')


def check_same_config(workdir, config) -> None:
  """A run is reused or resumed only if it was started with this config:
  otherwise the table would mix settings without saying so."""
  from xdomain import config_lib  # pylint: disable=g-import-not-at-top
  differences = config_lib.differences_from_saved(workdir, config)
  if differences:
    raise errors.ConfigError(
        f'{workdir} holds a run of another config '
        f'({config_lib.summarize_differences(differences)}). Nothing was '
        f'changed: pass another --workdir, or remove that run to retrain it.')


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
    # As chain.run will before training (config.json records the result).
    from xdomain import chain  # pylint: disable=g-import-not-at-top
    for pre in config.get('prerequisites', {}).values():
      chain.inherit_data_dirs(config, pre.config)
  return config


def run_row(method, row, config, workdir, overrides):
  """Trains (or reuses, or resumes) one row of one method for one seed, its
  config already checked against the workdir's; returns its CSV record."""
  from xdomain import chain  # pylint: disable=g-import-not-at-top
  results = _finished_results(workdir, config.num_train_steps)
  if results is None:
    chain.run(config, workdir)
    results = _finished_results(workdir, config.num_train_steps)
  return {'method': method, 'row': row.name, 'seed': config.seed,
          'steps': results['step'],
          'wall_seconds': results.get('wall_seconds', ''),
          **{m: results[m] for m in METRICS if m in results},
          'overrides': ' '.join(f'{k}={v!r}' for k, v in overrides.items()),
          'workdir': workdir}


def _finished_results(workdir, num_train_steps):
  """results.json of a run finished at `num_train_steps`, else None."""
  path = os.path.join(workdir, 'results.json')
  if not os.path.exists(path):
    return None
  with open(path) as f:
    results = json.load(f)
  return results if results.get('step') == num_train_steps else None


def classifier_on_target(checkpoint, config):
  """An exported classifier's accuracy on the target test split (the source
  only row with f, the oracle row with the target evaluator)."""
  # pylint: disable=g-import-not-at-top
  from xdomain import checkpoints
  from xdomain import evaluation
  from xdomain import steps
  from xdomain.data import datasets
  # pylint: enable=g-import-not-at-top
  datasets.prepare_all(config.data)
  model, variables, _ = checkpoints.load_classifier(checkpoint)
  counter = evaluation.make_counter(model.apply)
  target = config.data.target
  return evaluation.classifier_accuracy(
      counter, steps.replicate(variables), config.data, target.name,
      target.test_split, config.eval.per_device_batch_size,
      **evaluation.split_options(config))


def for_pair(table, pair):
  """The table as shown for `pair`: without the papers' numbers where they
  are for other pairs (e.g. DTN's SVHN -> MNIST numbers beside MNIST ->
  synth_digits)."""
  if not table.paper_pairs or pair in table.paper_pairs:
    return table
  return dataclasses.replace(
      table, rows=tuple(dataclasses.replace(r, paper=None)
                        for r in table.rows),
      source_only_paper=None,
      paper_source=(f'none for {pair} ({table.paper_source} are for '
                    f'{", ".join(table.paper_pairs)})'))


def fixed_rows(configs, tables):
  """The rows without training, one per distinct classifier: source only
  (each method's f) and oracle (each target evaluator), each naming every
  method that shares it."""
  users = {}  # (row, checkpoint) -> the methods (and a config) that use it
  for method, config in configs.items():
    for row, key in ((SOURCE_ONLY, 'f_checkpoint'),
                     (ORACLE, 'evaluator_checkpoint')):
      section = config.model if key == 'f_checkpoint' else config.eval
      checkpoint = section.get(key, '')
      if checkpoint:
        users.setdefault((row, checkpoint), []).append((method, config))
  records = []
  for (row, checkpoint), shared_by in users.items():
    method, config = shared_by[0]
    accuracy = classifier_on_target(checkpoint, config)
    what = "f's classifier" if row == SOURCE_ONLY else 'the evaluator'
    names = ', '.join(m for m, _ in shared_by)
    # The paper's source-only number, of the first method whose table has one.
    paper = None
    if row == SOURCE_ONLY:
      paper = next((tables[m].source_only_paper for m, _ in shared_by
                    if tables[m].source_only_paper is not None), None)
    records.append({'method': method, 'row': f'{row} ({what} of {names})',
                    'seed': '', 'steps': 0, 'wall_seconds': 0,
                    'target_accuracy': accuracy, 'paper': paper,
                    'overrides': f'{checkpoint} on {config.data.target.name}'
                                 f':{config.data.target.test_split}',
                    'workdir': ''})
  return records


def _summary(values):
  values = [v for v in values if v != '' and v is not None]
  if not values:
    return '—'
  mean = 100 * statistics.mean(values)
  if len(values) == 1:
    return f'{mean:.2f} %'
  return f'{mean:.2f} ± {100 * statistics.stdev(values):.2f} %'


def orderings(table, records) -> str:
  """Which of the paper's pairwise orderings (row A above row B) hold for
  the mean main metric here (rows without a paper number are left out)."""
  metric = table.main_metric
  ours, papers = {}, {}
  for row in table.rows:
    values = [r[metric] for r in records if r['row'] == row.name
              and r.get(metric, '') != '']
    if values and row.paper is not None:
      ours[row.name], papers[row.name] = statistics.mean(values), row.paper
  ranked = sorted(papers, key=papers.get, reverse=True)
  held, broken = [], []
  for i, above in enumerate(ranked):
    for below in ranked[i + 1:]:
      (held if ours[above] > ours[below] else broken).append(
          f'{above} > {below}')
  if not held and not broken:
    return ''
  return (f'Orderings of the paper that hold here ({len(held)} of '
          f'{len(held) + len(broken)}): {"; ".join(held) or "none"}. '
          f'Do not hold: {"; ".join(broken) or "none"}.')


def markdown(tables, records, pair, size) -> str:
  """The comparison table: one line per method row, then the fixed rows."""
  shown = [m for m in METRICS if any(m in r for r in records)]
  fixed = [r for r in records if r['steps'] == 0]
  if fixed:  # the rows without training: a classifier on target test
    shown.append('target_accuracy')
  head = ['method', 'row'] + shown + ['steps', 'wall min', 'paper']
  lines = ['| ' + ' | '.join(head) + ' |', '|' + '---|' * len(head)]
  notes = []
  for method, table in tables.items():
    for row in table.rows:
      rows = [r for r in records if r['method'] == method
              and r['row'] == row.name]
      if not rows:
        continue
      cells = [_summary([r.get(m, '') for r in rows]) for m in shown]
      walls = [r['wall_seconds'] for r in rows if r['wall_seconds'] != '']
      wall = f'{statistics.mean(walls) / 60:.1f}' if walls else '—'
      paper = ('—' if row.paper is None else
               f'{row.paper:.2f} % ({table.main_metric})')
      seeds = ','.join(str(r['seed']) for r in rows)
      lines.append(f'| {method} | {row.name} (seeds {seeds}) | '
                   f'{" | ".join(cells)} | {rows[0]["steps"]} | {wall} | '
                   f'{paper} |')
    ordering = orderings(table, [r for r in records if r['method'] == method])
    notes.append(f'- {method}: papers — {table.paper_source or "none"}.'
                 + (f' {ordering}' if ordering else ''))
  for r in fixed:
    cells = [_summary([r.get(m, '')]) for m in shown]
    paper = '—' if r['paper'] is None else f'{r["paper"]:.2f} %'
    lines.append(f'| — | {r["row"]} | {" | ".join(cells)} | 0 | 0 | '
                 f'{paper} |')
  return '\n'.join(
      [f'# Results: {pair}, size {size or "paper"}', '',
       'Generated by `python -m xdomain.tools.compare` (its command line is '
       'below); mean ± std over seeds. translated = the target evaluator on '
       'G(source test) against the source labels; knn = target test labelled '
       'by nearest translated source training images; adaptation = the '
       "method's classifier on target test; reverse = the source evaluator on "
       'F(target test); target_accuracy = the classifier of a row without '
       'training on target test (source only: f; oracle: the target '
       'evaluator).', '']
      + lines + [''] + notes) + '\n'


def plot(records, path) -> None:
  """Main metric per row with the seeds' spread, and accuracy against wall
  time at every evaluation of every run."""
  import matplotlib  # pylint: disable=g-import-not-at-top
  matplotlib.use('Agg')
  import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top
  from xdomain import curves  # pylint: disable=g-import-not-at-top
  runs = [r for r in records if r['steps']]
  label_of = lambda r: f"{r['method']}: {r['row']}"
  labels = list(dict.fromkeys(label_of(r) for r in runs))
  fig, (bars, timeline) = plt.subplots(1, 2, figsize=(13, 4.5))
  for i, label in enumerate(labels):
    values = [100 * r['translated_accuracy'] for r in runs
              if label_of(r) == label and 'translated_accuracy' in r]
    if values:
      bars.bar(i, statistics.mean(values), color='C0', alpha=0.6)
      bars.plot([i] * len(values), values, 'k.', markersize=8)
  for r in records:
    if not r['steps']:
      bars.axhline(100 * r['target_accuracy'], linestyle=':', linewidth=1,
                   color='C3' if r['row'].startswith(ORACLE) else 'C2')
  bars.set_xticks(range(len(labels)), labels, rotation=30, ha='right',
                  fontsize=8)
  bars.set_ylabel('translated accuracy (%), dots = seeds')
  bars.set_title('dotted: source only (green), oracle (red)', fontsize=9)
  for r in runs:
    history = curves.read(r['workdir'])
    accuracy = dict(history.get('eval/translated_accuracy', []))
    wall = dict(history.get('wall_seconds', []))
    points = sorted((wall[s] / 60, 100 * a) for s, a in accuracy.items()
                    if s in wall)
    if points:
      first_seed = r['seed'] == runs[0]['seed']
      timeline.plot(*zip(*points), marker='o',
                    color=f'C{labels.index(label_of(r)) % 10}',
                    label=label_of(r) if first_seed else None)
  timeline.set_xlabel('wall minutes of training (since its last start)')
  timeline.set_ylabel('translated accuracy (%)')
  timeline.legend(fontsize=7)
  fig.tight_layout()
  buffer = io.BytesIO()
  fig.savefig(buffer, format='png', dpi=90)
  plt.close(fig)
  files.write_bytes(path, buffer.getvalue())


def _global_overrides():
  """--set key=value pairs (values as Python literals where they parse)
  and --manual_dir."""
  out = {}
  if _MANUAL_DIR.value:
    out['data.manual_dir'] = _MANUAL_DIR.value
  for item in _SET.value:
    if '=' not in item:
      raise errors.ConfigError(f'--set takes key=value, got {item!r}')
    key, text = item.split('=', 1)
    try:
      out[key] = ast.literal_eval(text)
    except (ValueError, SyntaxError):
      out[key] = text
  return out


def load_config(path: str, variant: str):
  """A config file's get_config(variant) with --manual_dir and --set."""
  from xdomain import config_lib  # pylint: disable=g-import-not-at-top
  config = config_lib.load_config_file(path, variant)
  for key, value in _global_overrides().items():
    _set(config, key, value)
  return config


def method_configs(pair, size, only):
  """method -> its config for the pair, for every method with one."""
  from xdomain import methods  # pylint: disable=g-import-not-at-top
  unknown = sorted(set(only) - set(methods.TABLES))
  if unknown:
    raise errors.ConfigError(f'--methods names unknown methods {unknown}; '
                             f'known: {sorted(methods.TABLES)}')
  configs = {}
  for method in only or methods.TABLES:  # in the order asked for
    path = os.path.join(_CONFIGS.value, f'{method}_{pair}.py')
    if os.path.exists(path):
      configs[method] = load_config(path, size)
  if not configs:
    raise errors.ConfigError(
        f'no config {_CONFIGS.value}/<method>_{pair}.py for '
        f'{", ".join(only) or "any method"}')
  return configs


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f'Unexpected arguments: {argv[1:]}')
  # In main, not at import, as in xdomain.main: importing the tool must
  # not change the XLA flags of the importing process's subprocesses.
  platform_defaults.apply()
  from xdomain import methods  # pylint: disable=g-import-not-at-top
  configs = method_configs(_PAIR.value, _SIZE.value, _METHODS.value)
  tables = {m: for_pair(methods.TABLES[m], _PAIR.value) for m in configs}
  root = files.absolute(_WORKDIR.value)
  files.makedirs(root)
  plan = []
  for method, table in tables.items():
    rows = table.rows if _ABLATIONS.value else table.rows[:1]
    plan += [(method, row) for row in rows if not _ROWS.value
             or row.name in _ROWS.value or _slug(row.name) in _ROWS.value]
  runs = []  # every run's config, checked against its workdir before any trains
  for method, row in plan:
    overrides = {**_global_overrides(),
                 **resolved_overrides(configs[method], row)}
    for seed in _SEEDS.value:
      config = row_config(configs[method], row, int(seed))
      workdir = run_workdir(root, _PAIR.value, _SIZE.value, method, row.name,
                            seed)
      check_same_config(workdir, config)
      runs.append((method, row, config, workdir, overrides))
  records = []
  for method, row, config, workdir, overrides in runs:
    print(f'== {method}: {row.name}, seed {config.seed}', flush=True)
    records.append(run_row(method, row, config, workdir, overrides))
  records += fixed_rows(configs, tables)
  out = _OUT.value
  files.makedirs(os.path.dirname(os.path.abspath(out)))
  buffer = io.StringIO()
  columns = (('method', 'row', 'seed', 'steps', 'wall_seconds') + METRICS +
             ('target_accuracy', 'overrides'))
  writer = csv.DictWriter(buffer, fieldnames=columns, extrasaction='ignore')
  writer.writeheader()
  writer.writerows(records)
  files.write_text(f'{out}.csv', buffer.getvalue())
  command = ' '.join(['python -m xdomain.tools.compare'] + sys.argv[1:])
  text = markdown(tables, records, _PAIR.value, _SIZE.value) + (
      f'\nCommand: `{command}`\n')
  files.write_text(f'{out}.md', text)
  plot(records, f'{out}.png')
  print(text)
  print(f'wrote {out}.md, {out}.csv and {out}.png')


if __name__ == '__main__':
  sys.exit(app.run(main))
