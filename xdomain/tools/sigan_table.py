r"""Runs SIGAN Table 1's ablation rows and writes them as Markdown and CSV.

  python -m xdomain.tools.sigan_table --config=configs/sigan_synth_mnist.py \
      --workdir=runs/sigan_table --seeds=0,1 \
      --config.num_train_steps=2000 --config.data.manual_dir=../shared/data/mnist

Every row is the same config (and length) with one override set, trained
once per seed in <workdir>/<row>/seed_<k> (a finished run is reused, an
unfinished one resumed; either only if its config.json matches, else a
ConfigError names the differences). "Source only" scores the pretrained F o E
(config.model.f_checkpoint) on the target test split without training.
Writes <workdir>/table.csv (one line per run: row, seed, steps, the loss
weights, batch, both accuracies) and <workdir>/table.md (per row: mean and
spread over seeds of both protocols, beside the paper's number).
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
    'config', 'configs/sigan_synth_mnist.py', 'A SIGAN config file.',
    lock_config=True)
_WORKDIR = flags.DEFINE_string('workdir', 'runs/sigan_table',
                               'Root of the runs and the tables.')
_SEEDS = flags.DEFINE_list('seeds', ['0', '1'], 'Seeds per row.')
_ROWS = flags.DEFINE_list('rows', [], 'Only these rows (default: all).')

# (row name, overrides, SIGAN Table 1's SVHN -> MNIST accuracy in %).
ROWS = (
    ('SIGAN', {}, 83.41),
    ('without L_TV', {'loss.gamma': 0.0}, 83.63),
    ('without L_Attention', {'loss.alpha': 0.0}, 78.56),
    ('without L_LabelConst', {'loss.label_weight': 0.0}, 51.77),
    ('without L_GAN', {'loss.gan_weight': 0.0}, 32.60),
    ('without L_Attention and L_LabelConst',
     {'loss.alpha': 0.0, 'loss.label_weight': 0.0}, 10.39),
)
SOURCE_ONLY = ('source only', 60.21)
COLUMNS = ('row', 'seed', 'steps', 'gan_weight', 'alpha', 'beta', 'gamma',
           'label_weight', 'cls_every', 'attention_normalize', 'batch',
           'learning_rate', 'encoder_adv_lr_scale', 'adaptation_accuracy',
           'translated_accuracy')


def _slug(name: str) -> str:
  return name.lower().replace(' ', '_').replace('l_', '')


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


def run_row(base_config, name, overrides, seed, root):
  """Trains (or reuses) one row for one seed; returns its CSV record."""
  from xdomain import train  # pylint: disable=g-import-not-at-top
  from xdomain.data import datasets  # pylint: disable=g-import-not-at-top
  config = base_config.copy_and_resolve_references()
  with config.unlocked():
    for key, value in overrides.items():
      _set(config, key, value)
    config.seed = seed
  workdir = os.path.join(root, _slug(name), f'seed_{seed}')
  check_same_config(workdir, config)
  results_path = os.path.join(workdir, 'results.json')
  results = None
  if os.path.exists(results_path):
    with open(results_path) as f:
      results = json.load(f)
  if not results or results.get('step') != config.num_train_steps:
    datasets.prepare_all(config.data)
    train.train_and_evaluate(config, workdir)
    with open(results_path) as f:
      results = json.load(f)
  return {'row': name, 'seed': seed, 'steps': results['step'],
          'gan_weight': config.loss.gan_weight, 'alpha': config.loss.alpha,
          'beta': config.loss.beta, 'gamma': config.loss.gamma,
          'label_weight': config.loss.label_weight,
          'cls_every': config.loss.cls_every,
          'attention_normalize': config.loss.attention_normalize,
          'batch': config.per_device_batch_size,
          'learning_rate': config.optim.adv.learning_rate,
          'encoder_adv_lr_scale': config.optim.adv.lr_scale.encoder,
          'adaptation_accuracy': results['adaptation_accuracy'],
          'translated_accuracy': results['translated_accuracy']}


def source_only(config):
  """The pretrained F o E on the target test split (no adaptation)."""
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
  if not values:
    return '—'
  mean = 100 * statistics.mean(values)
  if len(values) == 1:
    return f'{mean:.2f} %'
  return (f'{mean:.2f} % (±{100 * statistics.stdev(values):.2f}, '
          f'{len(values)} seeds)')


def orderings(records, source_only_accuracy) -> str:
  """Which of Table 1's pairwise orderings (row A above row B) hold for
  the mean adaptation accuracies here."""
  ours = {name: statistics.mean(r['adaptation_accuracy'] for r in records
                                if r['row'] == name)
          for name, _, _ in ROWS if any(r['row'] == name for r in records)}
  ours[SOURCE_ONLY[0]] = source_only_accuracy
  papers = {name: reported for name, _, reported in ROWS if name in ours}
  papers[SOURCE_ONLY[0]] = SOURCE_ONLY[1]
  ranked = sorted(papers, key=papers.get, reverse=True)
  held, broken = [], []
  for i, above in enumerate(ranked):
    for below in ranked[i + 1:]:
      (held if ours[above] > ours[below] else broken).append(
          f'{above} > {below}')
  return (f'Orderings of the paper that hold here ({len(held)} of '
          f'{len(held) + len(broken)}): {"; ".join(held) or "none"}.\n\n'
          f'Orderings that do not hold: {"; ".join(broken) or "none"}.\n')


def markdown(records, source_only_accuracy, steps, paper) -> str:
  lines = [
      f'| row | adaptation accuracy (F∘E on target test) | translated '
      f'accuracy (evaluator on G(E(source test))) | SIGAN Table 1 |',
      '|---|---|---|---|']
  for name, _, reported in ROWS:
    rows = [r for r in records if r['row'] == name]
    if not rows:
      continue
    lines.append(
        f"| {name} | {_summary([r['adaptation_accuracy'] for r in rows])} | "
        f"{_summary([r['translated_accuracy'] for r in rows])} | "
        f'{reported:.2f} % |')
  lines.append(f'| {SOURCE_ONLY[0]} | {100 * source_only_accuracy:.2f} % | — '
               f'| {SOURCE_ONLY[1]:.2f} % |')
  return '\n'.join(lines) + (
      f'\n\n{steps} steps per run. {paper}\n\n' +
      orderings(records, source_only_accuracy))


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f'Unexpected arguments: {argv[1:]}')
  # In main, not at import, as in xdomain.main: importing the tool must
  # not change the XLA flags of the importing process's subprocesses.
  platform_defaults.apply()
  config = _CONFIG.value
  root = files.absolute(_WORKDIR.value)
  files.makedirs(root)
  rows = [r for r in ROWS if not _ROWS.value or r[0] in _ROWS.value
          or _slug(r[0]) in _ROWS.value]
  records = []
  for name, overrides, _ in rows:
    for seed in _SEEDS.value:
      print(f'== {name}, seed {seed}', flush=True)
      records.append(run_row(config, name, overrides, int(seed), root))
  accuracy = source_only(config)
  buffer = io.StringIO()
  writer = csv.DictWriter(buffer, fieldnames=COLUMNS)
  writer.writeheader()
  writer.writerows(records)
  writer.writerow({'row': SOURCE_ONLY[0], 'seed': '', 'steps': 0,
                   'adaptation_accuracy': accuracy})
  files.write_text(os.path.join(root, 'table.csv'), buffer.getvalue())
  table = markdown(records, accuracy, config.num_train_steps,
                   f'Source {config.data.source.name} -> target '
                   f'{config.data.target.name}; the paper is SVHN -> MNIST.')
  files.write_text(os.path.join(root, 'table.md'), table)
  print(table)
  print(f'wrote {root}/table.md and table.csv')


if __name__ == '__main__':
  sys.exit(app.run(main))
