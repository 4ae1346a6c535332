"""xdomain.tools.compare end to end on :tiny configs: 2 methods x 2 seeds,
the rows without training, reuse on rerun, a changed config refused."""

import csv
import json
import os
import subprocess
import sys

from test_configs import REPO


def _compare(tmp_path, data_dir, *args):
  # From tmp_path: the configs' relative prerequisite workdirs land there.
  return subprocess.run(
      [sys.executable, '-m', 'xdomain.tools.compare', '--pair=synth_mnist',
       '--size=tiny', f'--configs={REPO}/configs', '--workdir=compare',
       '--out=out/results', f'--set=data.data_dir={data_dir}', *args],
      cwd=tmp_path, capture_output=True, text=True, check=False,
      env=dict(os.environ, JAX_PLATFORMS='cpu', PYTHONPATH=REPO),
      timeout=1500)


def test_compare_trains_two_methods_two_seeds_reuses_and_refuses(
    data_dir, tmp_path):
  runs = tmp_path / 'compare' / 'synth_mnist_tiny'  # <pair>_<size>
  result = _compare(tmp_path, data_dir, '--methods=dtn,cyclegan',
                    '--seeds=0,1')
  assert result.returncode == 0, result.stderr[-3000:]
  with open(tmp_path / 'out' / 'results.csv') as f:
    rows = list(csv.DictReader(f))
  assert [(r['method'], r['row'], r['seed']) for r in rows] == [
      ('dtn', 'DTN', '0'), ('dtn', 'DTN', '1'),
      ('cyclegan', 'CycleGAN', '0'), ('cyclegan', 'CycleGAN', '1'),
      ("dtn", "source only (f's classifier of dtn)", ''),
      ('dtn', 'oracle (the evaluator of dtn, cyclegan)', '')]  # one, shared
  for r in rows[:4]:
    assert r['steps'] == '3'
    assert 0 <= float(r['translated_accuracy']) <= 1
  assert rows[2]['reverse_accuracy'] and not rows[0]['reverse_accuracy']
  assert all(0 <= float(r['target_accuracy']) <= 1 for r in rows[4:])
  text = (tmp_path / 'out' / 'results.md').read_text()
  assert '| dtn | DTN (seeds 0,1) |' in text and '90.66 %' in text
  assert '| cyclegan | CycleGAN (seeds 0,1) |' in text
  source_only = next(line for line in text.splitlines()
                     if "source only (f's classifier of dtn)" in line)
  assert source_only.endswith('| 0 | 0 | 76.08 % |')  # DTN's paper number
  assert source_only.count('%') == 2  # its accuracy and the paper's
  with open(tmp_path / 'out' / 'results.png', 'rb') as f:
    assert f.read(4) == b'\x89PNG'
  prints = [json.loads((runs / 'dtn' / 'dtn' / f'seed{k}' /
                        'results.json').read_text())['params_fingerprint']
            for k in (0, 1)]
  assert prints[0] != prints[1]  # one run per seed

  # Again: every run reused, nothing retrained.
  results = runs / 'cyclegan' / 'cyclegan' / 'seed1'
  stamp = os.path.getmtime(results / 'results.json')
  again = _compare(tmp_path, data_dir, '--methods=dtn,cyclegan',
                   '--seeds=0,1')
  assert again.returncode == 0, again.stderr[-3000:]
  assert os.path.getmtime(results / 'results.json') == stamp
  assert 'Training' not in again.stdout

  # Another config into the same workdir: refused before anything trains.
  before = (runs / 'dtn' / 'dtn' / 'seed0' /
            'results.json').read_text()
  refused = _compare(tmp_path, data_dir, '--methods=dtn', '--seeds=0',
                     '--set=loss.beta=0.5')
  assert refused.returncode != 0
  assert 'loss.beta: 45.0 there, 0.5 now' in refused.stderr
  assert 'another --workdir' in refused.stderr
  assert (runs / 'dtn' / 'dtn' / 'seed0' /
          'results.json').read_text() == before
  unknown = _compare(tmp_path, data_dir, '--methods=dtn', '--set=los.beta=1')
  assert unknown.returncode != 0 and "unknown config key 'los.beta'" in (
      unknown.stderr)


def test_orderings_against_the_papers():
  # In a subprocess: the tool defines absl flags at import.
  code = (
      'from xdomain.tools import compare as t\n'
      'from xdomain.methods import sigan\n'
      "r = [{'row': 'SIGAN', 'adaptation_accuracy': a} for a in (0.8, 0.82)]"
      '\n'
      "r.append({'row': 'without L_GAN', 'adaptation_accuracy': 0.3})\n"
      "r.append({'row': 'without L_TV', 'adaptation_accuracy': 0.7})\n"
      'print(t.orderings(sigan.TABLE, r))\n')
  text = subprocess.run([sys.executable, '-c', code], cwd=REPO, check=True,
                        capture_output=True, text=True).stdout
  # Paper: without L_TV 83.63 > SIGAN 83.41 > without L_GAN 32.60.
  assert ('hold here (2 of 3): without L_TV > without L_GAN; '
          'SIGAN > without L_GAN.') in text
  assert 'Do not hold: without L_TV > SIGAN.' in text


def test_papers_numbers_only_beside_the_pairs_they_are_for():
  code = (
      'from xdomain.tools import compare as t\n'
      'from xdomain.methods import dtn\n'
      "same = t.for_pair(dtn.TABLE, 'synth_mnist')\n"
      "other = t.for_pair(dtn.TABLE, 'mnist_synth')\n"
      'print(same is dtn.TABLE, same.rows[0].paper, '
      'other.rows[0].paper, other.source_only_paper)\n'
      "print(other.paper_source)\n")
  text = subprocess.run([sys.executable, '-c', code], cwd=REPO, check=True,
                        capture_output=True, text=True).stdout.splitlines()
  assert text[0] == 'True 90.66 None None'
  assert text[1].startswith('none for mnist_synth (DTN (Taigman')
