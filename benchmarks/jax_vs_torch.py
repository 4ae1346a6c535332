r"""Side-by-side: xdomain's compiled DTN step (JAX) against its PyTorch twin.

  pip install -e .[bench]      # PyTorch: a benchmark-only extra
  python benchmarks/jax_vs_torch.py --batch=128 --rounds=3 \
      --out=benchmarks/results/jax_vs_torch_cpu.json

The JAX side is the training loop's own step (`benchmarks/step_bench.build`:
configs/dtn_synth_mnist.py networks, pmapped, D and g updates, G's forward
shared); the PyTorch side is `benchmarks/torch_dtn.py` (same layer shapes,
losses, Adam settings and batch). Each framework lives in its own worker
process, both pinned to the same CPUs with the same thread count; after each
worker's warm-up (compilation, first steps: excluded), the driver times them
alternately, A B A B ..., `--steps` steps per round, and reports the median
images/s of each, the ratio JAX / PyTorch, the JAX step's GFLOP/s from XLA's
cost analysis and the machine's measured float32 matmul ceiling. On a GPU
(`--device=gpu`, or found automatically) both run on the GPU.
"""

import json
import os
import platform
import statistics
import subprocess
import sys
import time

from absl import app
from absl import flags
from absl import logging

_HERE = os.path.dirname(os.path.abspath(__file__))
_ROOT = os.path.dirname(_HERE)

_BATCH = flags.DEFINE_integer('batch', 128, 'Global batch: source and '
                              'target images each.')
_ROUNDS = flags.DEFINE_integer('rounds', 3, 'Timed rounds per framework '
                               '(alternating; at least 3).')
_STEPS = flags.DEFINE_integer('steps', 3, 'Timed steps per round.')
_WARMUP = flags.DEFINE_integer('warmup', 2, 'Untimed steps per worker '
                               'before the first round.')
_THREADS = flags.DEFINE_integer('threads', 0, 'CPU threads for each '
                                'framework (0 = all CPUs of this process).')
_DEVICE = flags.DEFINE_enum('device', 'auto', ['auto', 'cpu', 'gpu'],
                            'Where both frameworks run.')
_OUT = flags.DEFINE_string('out', '', 'JSON output path (default: '
                           'benchmarks/results/jax_vs_torch_<device>.json).')
_WORKER = flags.DEFINE_enum('worker', '', ['', 'jax', 'torch'],
                            'Internal: run as a framework worker.')

_MARK = '@@'  # Prefix of the workers' protocol lines on stdout.


def _say(obj) -> None:
  print(_MARK + json.dumps(obj), flush=True)


def _serve(step_once, info) -> None:
  """Worker loop: reports `info`, then runs 'run N' requests from stdin."""
  _say(info)
  for line in sys.stdin:
    if line.strip() == 'quit':
      return
    count = int(line.split()[1])
    times = []
    for _ in range(count):
      start = time.perf_counter()
      step_once()
      times.append(time.perf_counter() - start)
    _say({'seconds': times})


def _matmul_gflops(matmul, size=2048, repeats=5) -> float:
  """Best-of-`repeats` float32 GFLOP/s of a size x size matmul."""
  best = float('inf')
  for _ in range(repeats + 1):
    start = time.perf_counter()
    matmul()
    best = min(best, time.perf_counter() - start)
  return 2 * size ** 3 / best / 1e9


def _jax_worker(threads: int, warmup: int, batch: int) -> None:
  del threads  # JAX's CPU client uses the CPUs this process is pinned to.
  sys.path.insert(0, _HERE)
  sys.path.insert(0, _ROOT)
  # pylint: disable=g-import-not-at-top
  from xdomain import platform_defaults
  platform_defaults.apply()
  import importlib.util
  import jax
  import jax.numpy as jnp
  import step_bench
  spec = importlib.util.spec_from_file_location(
      'dtn_config', os.path.join(_ROOT, 'configs', 'dtn_synth_mnist.py'))
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  config = module.get_config()
  # The step the PyTorch twin implements: the paper's ternary D, one D then
  # one g update, no parameter average (the recipe's EMA and schedule are
  # config switches; see configs/dtn_synth_mnist.py).
  config.model.d.ternary = True
  config.schedule = ('disc', 'gen')
  config.model.g.ema_decay = 0.0
  train_step, state, data = step_bench.build(config, batch)
  flops = step_bench.flops_per_step(train_step, state, data)
  holder = {'state': state}

  def step_once():
    holder['state'], metrics = train_step(holder['state'], data)
    jax.block_until_ready(metrics)

  for _ in range(warmup):
    step_once()
  a = jnp.ones((2048, 2048), jnp.float32)
  dot = jax.jit(jnp.dot)
  ceiling = _matmul_gflops(lambda: dot(a, a).block_until_ready())
  device = jax.devices()[0]
  _serve(step_once, {
      'framework': 'jax', 'version': jax.__version__,
      'device': f'{device.platform}:{device.device_kind}',
      'num_devices': jax.local_device_count(), 'flops_per_step': flops,
      'matmul_gflops': ceiling,
      'xla_flags': os.environ.get('XLA_FLAGS', '')})


def _torch_worker(threads: int, warmup: int, batch: int) -> None:
  sys.path.insert(0, _HERE)
  # pylint: disable=g-import-not-at-top
  import torch
  import torch_dtn
  torch.set_num_threads(threads)
  torch.set_num_interop_threads(1)
  device = 'cuda' if (_DEVICE.value != 'cpu' and
                      torch.cuda.is_available()) else 'cpu'
  sync = torch.cuda.synchronize if device == 'cuda' else (lambda: None)
  twin = torch_dtn.DTNStep(device=device)
  generator = torch.Generator().manual_seed(0)
  xs, xt = (torch.rand(batch, 3, 32, 32, generator=generator).mul(2).sub(1)
            .to(device) for _ in range(2))

  def step_once():
    twin.step(xs, xt)
    sync()

  for _ in range(warmup):
    step_once()
  a = torch.ones(2048, 2048, device=device)

  def matmul():
    torch.mm(a, a)
    sync()

  _serve(step_once, {
      'framework': 'torch', 'version': torch.__version__, 'device': device,
      'threads': torch.get_num_threads(),
      'matmul_gflops': _matmul_gflops(matmul)})


class _Worker:
  """One framework's worker process and its line protocol."""

  def __init__(self, framework: str, threads: int, env: dict):
    args = [sys.executable, os.path.abspath(__file__),
            f'--worker={framework}', f'--threads={threads}',
            f'--warmup={_WARMUP.value}', f'--batch={_BATCH.value}',
            f'--device={_DEVICE.value}']
    self.name = framework
    self.process = subprocess.Popen(args, stdin=subprocess.PIPE,
                                    stdout=subprocess.PIPE, text=True,
                                    env=env, cwd=_ROOT)
    self.info = self._read()

  def _read(self):
    for line in self.process.stdout:
      if line.startswith(_MARK):
        return json.loads(line[len(_MARK):])
    raise RuntimeError(f'the {self.name} worker exited with code '
                       f'{self.process.wait()} (its stderr is above)')

  def run(self, steps: int):
    self.process.stdin.write(f'run {steps}\n')
    self.process.stdin.flush()
    return self._read()['seconds']

  def close(self):
    self.process.stdin.write('quit\n')
    self.process.stdin.close()
    self.process.wait()


def _worker_env(threads: int, device: str) -> dict:
  env = dict(os.environ, OMP_NUM_THREADS=str(threads),
             MKL_NUM_THREADS=str(threads), TF_CPP_MIN_LOG_LEVEL='2')
  if device == 'cpu':
    env.update(JAX_PLATFORMS='cpu', CUDA_VISIBLE_DEVICES='')
  return env


def _device() -> str:
  if _DEVICE.value != 'auto':
    return _DEVICE.value
  try:
    subprocess.run(['nvidia-smi', '-L'], check=True, capture_output=True)
    return 'gpu'
  except (OSError, subprocess.CalledProcessError):
    return 'cpu'


def main(argv):
  del argv
  if _WORKER.value:
    logging.set_verbosity(logging.WARNING)  # no per-checkpoint-load chatter
    worker = _jax_worker if _WORKER.value == 'jax' else _torch_worker
    return worker(_THREADS.value, _WARMUP.value, _BATCH.value)
  if _ROUNDS.value < 3:
    raise app.UsageError('--rounds must be at least 3')
  cpus = sorted(os.sched_getaffinity(0))
  threads = _THREADS.value or len(cpus)
  device = _device()
  env = _worker_env(threads, device)
  # Both workers are started (and warmed up) one after the other, then
  # timed alternately; a worker waiting for its turn is blocked on stdin.
  workers = {name: _Worker(name, threads, env) for name in ('jax', 'torch')}
  seconds = {name: [] for name in workers}
  for round_index in range(_ROUNDS.value):
    for name, worker in workers.items():
      time.sleep(1.0)  # let the other framework's threads go idle
      times = worker.run(_STEPS.value)
      seconds[name].extend(times)
      print(f'round {round_index + 1}: {name:5s} '
            f'{statistics.median(times):.3f} s/step', flush=True)
  for worker in workers.values():
    worker.close()

  batch = _BATCH.value
  rate = {n: batch / statistics.median(s) for n, s in seconds.items()}
  jax_info, torch_info = workers['jax'].info, workers['torch'].info
  jax_gflops = jax_info['flops_per_step'] / 1e9 * rate['jax'] / batch
  result = {
      'benchmark': 'jax_vs_torch_dtn_step', 'device': device,
      'global_batch': batch, 'rounds': _ROUNDS.value,
      'steps_per_round': _STEPS.value, 'warmup_steps': _WARMUP.value,
      'threads': threads, 'cpus': len(cpus), 'machine': platform.machine(),
      'processor': platform.processor(),
      'images_per_second': {n: round(r, 1) for n, r in rate.items()},
      'median_seconds_per_step': {n: round(statistics.median(s), 4)
                                  for n, s in seconds.items()},
      'seconds_per_step': seconds,
      'ratio_jax_over_torch': round(rate['jax'] / rate['torch'], 3),
      'jax_gflop_per_step': round(jax_info['flops_per_step'] / 1e9, 2),
      'jax_achieved_gflops': round(jax_gflops, 1),
      'matmul_ceiling_gflops': {'jax': round(jax_info['matmul_gflops'], 1),
                                'torch': round(torch_info['matmul_gflops'],
                                               1)},
      'workers': {'jax': jax_info, 'torch': torch_info},
  }
  print()
  print(f'| framework | version | median s/step | images/s |')
  print(f'|---|---|---|---|')
  for name, info in (('jax', jax_info), ('torch', torch_info)):
    print(f"| {name} | {info['version']} | "
          f"{result['median_seconds_per_step'][name]:.3f} | "
          f'{rate[name]:.1f} |')
  print(f"\nJAX / PyTorch: {result['ratio_jax_over_torch']:.2f}x "
        f'(batch {batch}, {threads} threads, {device})')
  print(f"JAX step: {result['jax_gflop_per_step']:.1f} GFLOP (XLA cost "
        f'analysis), {jax_gflops:.1f} GFLOP/s achieved; float32 matmul '
        f"ceiling {result['matmul_ceiling_gflops']['jax']:.1f} GFLOP/s (JAX), "
        f"{result['matmul_ceiling_gflops']['torch']:.1f} GFLOP/s (PyTorch)")
  out = _OUT.value or os.path.join(_HERE, 'results',
                                   f'jax_vs_torch_{device}.json')
  os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
  with open(out, 'w') as f:
    json.dump(result, f, indent=2)
  print(f'wrote {out}')


if __name__ == '__main__':
  app.run(main)
