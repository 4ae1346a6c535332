r"""synth_digits generation rate: images/s on one core and across all cores.

  python benchmarks/synth_digits_rate.py --num_images=8000 --out=benchmarks/results/synth_digits_rate.json

Measures the renderer (`xdomain.data.synth_render`) in this process (one
core), then the same chunked work spread over one worker process per core,
as the TFDS builder does. Prints images/s and writes JSON.
"""

import concurrent.futures
import json
import multiprocessing
import os
import platform
import sys
import time

from absl import app
from absl import flags

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from xdomain.data import synth_digits  # pylint: disable=g-import-not-at-top,wrong-import-position
from xdomain.data import synth_render  # pylint: disable=g-import-not-at-top,wrong-import-position

_NUM = flags.DEFINE_integer('num_images', 8000, 'Images per measurement.')
_OUT = flags.DEFINE_string('out', 'benchmarks/results/synth_digits_rate.json',
                           'JSON output path.')


def main(argv):
  del argv
  n = _NUM.value
  synth_render.glyph_table()  # font loading is start-up, not generation
  synth_render.render_range(0, 'train', 0, 50)  # warm-up
  start = time.perf_counter()
  synth_render.render_range(0, 'train', 0, n)
  single = n / (time.perf_counter() - start)

  workers = synth_digits.num_workers()
  jobs = [(0, 'train', s, min(s + 512, n)) for s in range(0, n, 512)]
  context = multiprocessing.get_context('spawn')
  with concurrent.futures.ProcessPoolExecutor(workers, context) as pool:
    list(pool.map(synth_digits._render_chunk, jobs[:workers]))  # pylint: disable=protected-access
    start = time.perf_counter()
    list(pool.map(synth_digits._render_chunk, jobs))  # pylint: disable=protected-access
    parallel = n / (time.perf_counter() - start)

  result = {
      'benchmark': 'synth_digits_rate', 'num_images': n,
      'single_core_images_per_second': round(single, 1),
      'workers': workers,
      'parallel_images_per_second': round(parallel, 1),
      'parallel_images_per_second_per_core': round(parallel / workers, 1),
      'cpu_count': os.cpu_count(), 'machine': platform.machine(),
      'python': platform.python_version(),
  }
  print(f'synth_digits: {single:.0f} images/s on one core; {parallel:.0f} '
        f'images/s with {workers} workers ({parallel / workers:.0f}/core)')
  os.makedirs(os.path.dirname(os.path.abspath(_OUT.value)), exist_ok=True)
  with open(_OUT.value, 'w') as f:
    json.dump(result, f, indent=2)
  print(f'Wrote {_OUT.value}')


if __name__ == '__main__':
  app.run(main)
