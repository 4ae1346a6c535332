"""The training loop end to end on tiny configs: results, export, resume,
checkpoint faults, NaN guard, multi-device equivalence, CLI errors."""

import json
import os
import subprocess
import sys
import textwrap

import jax
import numpy as np
import pytest

from xdomain import checkpoints
from xdomain import train
from conftest import REPO, tiny_classifier_config


def _read(path):
  with open(path) as f:
    return json.load(f)


def _params_of_final_checkpoint(workdir):
  manager = checkpoints.TrainCheckpointer(workdir)
  step = manager.manager.latest_step()
  restored = manager.manager.restore(step)
  manager.close()
  return step, restored


def test_tiny_run_writes_config_results_and_export(data_dir, tmp_path):
  workdir = str(tmp_path / 'run')
  config = tiny_classifier_config(data_dir)
  metrics = train.train_and_evaluate(config, workdir)
  results = _read(os.path.join(workdir, 'results.json'))
  assert results['step'] == config.num_train_steps
  assert 0.0 <= results['test_accuracy'] <= 1.0
  assert results['test_accuracy'] == metrics['test_accuracy']
  assert _read(os.path.join(workdir, 'config.json'))['method'] == 'classifier'
  _, variables, metadata = checkpoints.load_classifier(
      os.path.join(workdir, 'classifier'))
  assert metadata['test_accuracy'] == results['test_accuracy']
  assert metadata['trained_on'] == 'synth_digits/tiny:train'
  assert metadata['model']['variant'] == 'maxpool'
  # The export holds exactly the final trained parameters.
  _, state = _params_of_final_checkpoint(workdir)
  for a, b in zip(jax.tree.leaves(state['params']['classifier']),
                  jax.tree.leaves(variables['params'])):
    np.testing.assert_array_equal(a, b)


def test_exported_classifier_gives_bit_identical_logits_in_new_process(
    data_dir, tmp_path):
  workdir = str(tmp_path / 'run')
  train.train_and_evaluate(tiny_classifier_config(data_dir), workdir)
  images = np.random.RandomState(0).uniform(-1, 1, (16, 32, 32, 3)).astype(
      np.float32)
  np.save(tmp_path / 'images.npy', images)
  model, variables, _ = checkpoints.load_classifier(
      os.path.join(workdir, 'classifier'))
  here = np.asarray(model.apply(variables, images))
  script = textwrap.dedent(f"""
      import numpy as np
      from xdomain import checkpoints
      model, variables, _ = checkpoints.load_classifier({workdir!r} + '/classifier')
      images = np.load({str(tmp_path / 'images.npy')!r})
      np.save({str(tmp_path / 'logits.npy')!r},
              np.asarray(model.apply(variables, images)))
  """)
  subprocess.run([sys.executable, '-c', script], check=True, cwd=REPO)
  there = np.load(tmp_path / 'logits.npy')
  assert here.tobytes() == there.tobytes()


def test_resume_continues_at_the_right_step_with_identical_result(
    data_dir, tmp_path):
  overrides = {'optim.clf.schedule': 'constant', 'checkpoint_every_steps': 3}
  straight = str(tmp_path / 'straight')
  train.train_and_evaluate(tiny_classifier_config(data_dir, **overrides),
                           straight)
  interrupted = str(tmp_path / 'interrupted')
  train.train_and_evaluate(
      tiny_classifier_config(data_dir, num_train_steps=3, **overrides),
      interrupted)
  assert _params_of_final_checkpoint(interrupted)[0] == 3
  train.train_and_evaluate(tiny_classifier_config(data_dir, **overrides),
                           interrupted)
  step_a, a = _params_of_final_checkpoint(straight)
  step_b, b = _params_of_final_checkpoint(interrupted)
  assert step_a == step_b == 6
  for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)):
    np.testing.assert_array_equal(x, y)


def test_corrupt_latest_checkpoint_falls_back_to_previous(tmp_path):
  checkpointer = checkpoints.TrainCheckpointer(str(tmp_path))
  checkpointer.save(1, {'w': np.ones(3, np.float32)})
  checkpointer.save(2, {'w': np.full(3, 2.0, np.float32)})
  for root, _, files in os.walk(os.path.join(checkpointer.directory, '2')):
    for name in files:
      with open(os.path.join(root, name), 'wb') as f:
        f.write(b'garbage')
  restored = checkpointer.restore_latest({'w': np.zeros(3, np.float32)})
  np.testing.assert_array_equal(restored['w'], np.ones(3, np.float32))
  checkpointer.close()


def test_missing_or_corrupt_classifier_export_is_named(tmp_path):
  with pytest.raises(checkpoints.CheckpointError, match='pretrain_f_synth'):
    checkpoints.load_classifier(str(tmp_path / 'nothing'))
  (tmp_path / 'broken').mkdir()
  (tmp_path / 'broken' / 'junk').write_text('x')
  with pytest.raises(checkpoints.CheckpointError, match='unreadable'):
    checkpoints.load_classifier(str(tmp_path / 'broken'))


def test_nan_loss_stops_with_step_named(data_dir, tmp_path):
  config = tiny_classifier_config(
      data_dir, **{'optim.clf.learning_rate': 1e30,
                   'optim.clf.schedule': 'constant', 'log_every_steps': 1,
                   'checkpoint_every_steps': 100})
  with pytest.raises(train.NonFiniteLossError, match=r'at step \d'):
    train.train_and_evaluate(config, str(tmp_path / 'run'))
  assert not os.listdir(tmp_path / 'run' / 'checkpoints')  # none after NaN


def test_checkpoint_is_never_written_after_an_unseen_nan(data_dir, tmp_path):
  config = tiny_classifier_config(
      data_dir, **{'optim.clf.learning_rate': 1e30,
                   'optim.clf.schedule': 'constant', 'log_every_steps': 100,
                   'checkpoint_every_steps': 2})
  with pytest.raises(train.NonFiniteLossError, match='at step 2'):
    train.train_and_evaluate(config, str(tmp_path / 'run'))
  assert not os.listdir(tmp_path / 'run' / 'checkpoints')


_MULTI_DEVICE = textwrap.dedent("""
    import json, sys
    import jax, numpy as np, flax
    from xdomain import config_lib, steps
    from xdomain.methods import classifier
    config = config_lib.base_config()
    config.method = 'classifier'
    config.model = config_lib.classifier_model('strided', batch_norm=True)
    config.optim.clf = config_lib.optimizer('sgd', 0.1, b1=0.0)
    n = jax.local_device_count()
    rng = np.random.RandomState(0)
    images = rng.uniform(-1, 1, (3, 16, 32, 32, 3)).astype(np.float32)
    labels = rng.randint(0, 10, (3, 16)).astype(np.int32)
    method = classifier.build(config, '/tmp/unused')
    batch0 = {'source': {'image': images[0, :16 // n], 'label': labels[0, :16 // n]}}
    state = steps.init_state(method, jax.random.key(0), batch0)
    step = steps.make_train_step(method, seed=0)
    state = flax.jax_utils.replicate(state)
    for i in range(3):
      batch = {'source': {'image': images[i].reshape(n, 16 // n, 32, 32, 3),
                          'label': labels[i].reshape(n, 16 // n)}}
      state, metrics = step(state, batch)
    state = flax.jax_utils.unreplicate(state)
    leaves = jax.tree.leaves({'p': state['params'], 's': state['batch_stats']})
    np.save(sys.argv[1], np.concatenate([np.ravel(x) for x in leaves]))
    print(n)
""")


def test_eight_fake_devices_match_one_device(tmp_path):
  outputs = {}
  for devices in (1, 8):
    env = dict(os.environ, XLA_FLAGS=(
        f'--xla_force_host_platform_device_count={devices}'),
               JAX_PLATFORMS='cpu')
    out = tmp_path / f'{devices}.npy'
    result = subprocess.run([sys.executable, '-c', _MULTI_DEVICE, str(out)],
                            check=True, cwd=REPO, env=env,
                            capture_output=True, text=True)
    assert result.stdout.strip().splitlines()[-1] == str(devices)
    outputs[devices] = np.load(out)
  np.testing.assert_allclose(outputs[8], outputs[1], rtol=2e-4, atol=2e-5)


def test_unknown_config_key_is_rejected_by_the_cli(tmp_path):
  result = subprocess.run(
      [sys.executable, '-m', 'xdomain.main',
       '--config=configs/pretrain_f_synth.py:tiny',
       f'--workdir={tmp_path}', '--config.model.no_such_key=1'],
      cwd=REPO, capture_output=True, text=True)
  assert result.returncode != 0
  assert 'no_such_key' in result.stderr
  assert not os.path.exists(os.path.join(tmp_path, 'checkpoints'))


def test_cli_missing_dataset_is_one_clear_message(tmp_path):
  result = subprocess.run(
      [sys.executable, '-m', 'xdomain.main',
       '--config=configs/classifier_mnist.py', f'--workdir={tmp_path}/run',
       f'--config.data.data_dir={tmp_path}/tfds',
       f'--config.data.manual_dir={tmp_path}/empty'],
      cwd=REPO, capture_output=True, text=True)
  assert result.returncode == 1
  last = result.stderr.strip().splitlines()[-1]
  assert last.startswith('error: DatasetUnavailableError')
  assert 'train-images-idx3-ubyte.gz' in last and 'data.manual_dir' in last
  assert 'Traceback' not in result.stderr


def test_best_checkpoint_kept_beside_latest_and_fingerprint(data_dir,
                                                           tmp_path):
  workdir = str(tmp_path / 'run')
  config = tiny_classifier_config(data_dir, eval_every_steps=2)
  train.train_and_evaluate(config, workdir)
  results = _read(os.path.join(workdir, 'results.json'))
  assert len(results['params_fingerprint']) == 64
  _, state = _params_of_final_checkpoint(workdir)
  assert results['params_fingerprint'] == checkpoints.params_fingerprint(
      state['params'])
  best = os.listdir(os.path.join(workdir, 'best'))
  assert len([b for b in best if b.isdigit()]) == 1
  # Same config, same seed: same parameters, bit for bit.
  again = str(tmp_path / 'again')
  train.train_and_evaluate(config, again)
  assert _read(os.path.join(again, 'results.json'))[
      'params_fingerprint'] == results['params_fingerprint']


def test_optional_cross_domain_eval_is_skipped_without_its_files(tmp_path,
                                                                 caplog):
  from xdomain.data import datasets  # pylint: disable=g-import-not-at-top
  data_dir = str(tmp_path / 'tfds')  # no MNIST here, none in manual_dir
  datasets.prepare('synth_digits/tiny', data_dir)
  config = tiny_classifier_config(
      data_dir, **{'eval.cross_domain': ('mnist:test',),
                   'data.manual_dir': '', 'data.download': 'never'})
  metrics = train.train_and_evaluate(config, str(tmp_path / 'run'))
  assert 'test_accuracy' in metrics
  assert 'mnist_test_accuracy' not in metrics
  assert 'train-images-idx3-ubyte.gz' in caplog.text
