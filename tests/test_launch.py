"""launch/*.sh: syntax, and the commands they print (--dry-run) and run.

The Cloud TPU script runs against a fake `gcloud` on PATH that records its
arguments: what `--dry-run` prints must be exactly what a real launch
executes, and the remote training command must parse into the expected
`python -m xdomain.main` call.
"""

import glob
import os
import shlex
import subprocess

import pytest

from conftest import REPO

LAUNCH = os.path.join(REPO, 'launch')
_TPU_ARGS = ['--tpu=xd-pod', '--zone=us-central2-b', '--data-dir=gs://b/tfds',
             '--workdir=gs://b/runs/dtn', '--config=configs/dtn_synth_mnist.py',
             '--', '--config.per_device_batch_size=64',
             "--config.schedule=('disc','gen')"]


def _run(script, *args, env=None):
  return subprocess.run(['bash', os.path.join(LAUNCH, script), *args],
                        capture_output=True, text=True, check=False,
                        env=env or dict(os.environ), cwd=REPO)


@pytest.mark.parametrize('script', sorted(
    os.path.basename(p) for p in glob.glob(os.path.join(LAUNCH, '*.sh'))))
def test_bash_syntax(script):
  result = subprocess.run(['bash', '-n', os.path.join(LAUNCH, script)],
                          capture_output=True, text=True, check=False)
  assert result.returncode == 0, result.stderr


def test_local_dry_run_prints_the_command():
  result = _run('local.sh', '--dry-run', '--cpu', 'configs/dtn_quickstart.py',
                'runs/q', "--config.schedule=('disc','gen','gen')")
  assert result.returncode == 0, result.stderr
  assert shlex.split(result.stdout) == [
      'env', 'JAX_PLATFORMS=cpu', 'python', '-m', 'xdomain.main',
      '--config=configs/dtn_quickstart.py', '--workdir=runs/q',
      "--config.schedule=('disc','gen','gen')"]


def test_gpu_dry_run_selects_gpus():
  result = _run('gpu.sh', '--dry-run', '--gpus=0,1', 'configs/x.py', 'runs/x')
  assert result.returncode == 0, result.stderr
  assert shlex.split(result.stdout) == [
      'env', 'JAX_PLATFORMS=cuda', 'CUDA_VISIBLE_DEVICES=0,1', 'python', '-m',
      'xdomain.main', '--config=configs/x.py', '--workdir=runs/x']


@pytest.mark.parametrize('script, args, message', [
    ('local.sh', ['configs/x.py'], 'usage'),
    ('gpu.sh', ['--gpu=1', 'c', 'w'], 'unknown option'),
    ('tpu_pod.sh', ['--tpu=x', '--zone=z'], '--data-dir'),
    ('tpu_pod.sh', _TPU_ARGS[:2] + ['--data-dir=/local/tfds'] + _TPU_ARGS[3:],
     'gs://'),
])
def test_bad_arguments_are_named(script, args, message):
  result = _run(script, '--dry-run', *args)
  assert result.returncode == 2
  assert message in result.stderr


def test_tpu_pod_dry_run_equals_what_a_launch_runs(tmp_path):
  # A fake gcloud: records each call; `describe` fails (no such TPU yet).
  log = tmp_path / 'calls'
  fake = tmp_path / 'bin' / 'gcloud'
  fake.parent.mkdir()
  fake.write_text('#!/usr/bin/env python3\nimport shlex, sys\n'
                  f'open({str(log)!r}, "a").write(shlex.join(sys.argv[1:]) '
                  '+ "\\n")\nsys.exit(1 if "describe" in sys.argv else 0)\n')
  fake.chmod(0o755)
  env = dict(os.environ, PATH=f'{fake.parent}:{os.environ["PATH"]}')

  dry = _run('tpu_pod.sh', '--dry-run', *_TPU_ARGS, env=env)
  assert dry.returncode == 0, dry.stderr
  assert not log.exists()  # a dry run calls nothing
  printed = [shlex.split(line) for line in dry.stdout.splitlines()
             if not line.startswith('#')]
  real = _run('tpu_pod.sh', *_TPU_ARGS, env=env)
  assert real.returncode == 0, real.stderr
  called = [['gcloud'] + shlex.split(line)
            for line in log.read_text().splitlines()]

  gcloud_printed = [c for c in printed if c[0] == 'gcloud']
  describe, create, scp, install, train = gcloud_printed
  assert describe[3:6] == ['tpu-vm', 'describe', 'xd-pod']
  assert create[3:6] == ['tpu-vm', 'create', 'xd-pod']
  assert '--accelerator-type=v4-32' in create
  for command in (scp, install, train):
    assert '--worker=all' in command and '--zone=us-central2-b' in command
  # Same commands as the real launch, the tarball's random name aside.
  def normalised(commands):
    return [[a if 'xdomain-' not in a else 'TARBALL' for a in c]
            for c in commands]
  assert normalised(called) == normalised(gcloud_printed)
  archive = [c for c in printed if c[0] == 'git']
  assert archive and archive[0][3:5] == ['archive', '--format=tar.gz']

  remote = shlex.split(train[-1].split('=', 1)[1])
  assert remote == ['cd', 'xdomain', '&&', 'env', 'TFDS_DATA_DIR=gs://b/tfds',
                    'python3', '-m', 'xdomain.main',
                    '--config=configs/dtn_synth_mnist.py',
                    '--workdir=gs://b/runs/dtn',
                    '--config.per_device_batch_size=64',
                    "--config.schedule=('disc','gen')"]
  assert "pip install -q -e './xdomain[tpu]'" in install[-1]
