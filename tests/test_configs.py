"""Every config file loads and validates; tiny variants train end to end."""

import glob
import os

import pytest
import tensorflow_datasets as tfds

from xdomain import config_lib
from xdomain import errors
from xdomain import train
from conftest import REPO

CONFIGS = sorted(glob.glob(os.path.join(REPO, 'configs', '*.py')))


load = config_lib.load_config_file  # a config file's get_config(variant)


def test_there_are_configs():
  names = {os.path.basename(p) for p in CONFIGS}
  assert {'pretrain_f_synth.py', 'pretrain_f_svhn.py', 'classifier_mnist.py',
          'classifier_uci.py'} <= names


@pytest.mark.parametrize('path', CONFIGS, ids=os.path.basename)
@pytest.mark.parametrize('variant', ['', 'tiny'])
def test_config_validates(path, variant):
  config = load(path, variant)
  config_lib.validate(config)
  # The docstring carries the exact run command.
  with open(path) as f:
    assert 'python -m xdomain.main --config=configs/' in f.read()


def test_unknown_variant_is_rejected():
  with pytest.raises(ValueError, match='Unknown variant'):
    load(os.path.join(REPO, 'configs', 'pretrain_f_synth.py'), 'huge')


def test_invalid_values_are_named():
  config = load(os.path.join(REPO, 'configs', 'pretrain_f_synth.py'), 'tiny')
  config.model.variant = 'avgpool'
  with pytest.raises(errors.ConfigError, match='model.variant'):
    config_lib.validate(config)


def test_uci_evaluator_tiny_run(data_dir, tmp_path):
  config = load(os.path.join(REPO, 'configs', 'classifier_uci.py'), 'tiny')
  config.data.data_dir = data_dir
  metrics = train.train_and_evaluate(config, str(tmp_path))
  assert 0.0 <= metrics['test_accuracy'] <= 1.0
  assert os.path.isdir(os.path.join(tmp_path, 'classifier'))


def test_svhn_f_tiny_run_on_mock_data(tmp_path):
  config = load(os.path.join(REPO, 'configs', 'pretrain_f_svhn.py'), 'tiny')
  config.data.data_dir = str(tmp_path / 'tfds')
  manual = tmp_path / 'manual'
  manual.mkdir()
  for name in ('train_32x32.mat', 'test_32x32.mat', 'extra_32x32.mat'):
    (manual / name).touch()  # present; mock_data supplies the content
  config.data.manual_dir = str(manual)
  with tfds.testing.mock_data(num_examples=16):
    metrics = train.train_and_evaluate(config, str(tmp_path / 'run'))
  assert 0.0 <= metrics['test_accuracy'] <= 1.0


DTN_CONFIGS = ('dtn_synth_mnist.py', 'dtn_mnist_synth.py', 'dtn_digits.py')


@pytest.mark.parametrize('name', DTN_CONFIGS)
def test_dtn_cpu_variant_is_the_recipe_at_half_width(name):
  full = load(os.path.join(REPO, 'configs', name))
  cpu = load(os.path.join(REPO, 'configs', name), 'cpu')
  config_lib.validate(cpu)
  assert tuple(full.model.g.widths) == (512, 256, 128)
  assert tuple(cpu.model.g.widths) == (256, 128, 64)
  # One recipe for both sizes: the same losses, D, schedule and averaging.
  for key in ('loss', 'schedule', 'optim'):
    assert full[key] == cpu[key], key
  assert full.model.d.ternary == cpu.model.d.ternary
  assert full.model.g.ema_decay == cpu.model.g.ema_decay > 0
  # Its prerequisites are trained on the spot, and f is the recipe's f.
  f = cpu.prerequisites.f
  assert cpu.model.f_checkpoint == f'{f.workdir}/classifier'
  assert cpu.eval.evaluator_checkpoint == (
      f'{cpu.prerequisites.evaluator.workdir}/classifier')
  for pre in cpu.prerequisites.values():
    config_lib.validate(pre.config)


def test_prerequisites_read_their_data_where_the_run_does():
  from xdomain import chain  # pylint: disable=g-import-not-at-top
  config = load(os.path.join(REPO, 'configs', 'dtn_synth_mnist.py'), 'cpu')
  config.data.manual_dir = '/data/mnist'
  pre = config.prerequisites.evaluator.config
  chain.inherit_data_dirs(config, pre)
  assert pre.data.manual_dir == '/data/mnist'
  pre.data.manual_dir = '/elsewhere'  # set on its own: kept
  chain.inherit_data_dirs(config, pre)
  assert pre.data.manual_dir == '/elsewhere'


def test_every_method_at_cpu_size_shares_one_target_evaluator():
  """The comparison's equal terms: at `:cpu`, every synth_mnist method is
  scored by the same MNIST evaluator (one workdir, one config); SIGAN's E
  and F and XGAN's teacher are one f, DTN's f trained the same way plus the
  recipe's augmentation (dtn.DTN_F_AUGMENT)."""
  configs = {m: load(os.path.join(REPO, 'configs', f'{m}_synth_mnist.py'),
                     'cpu') for m in ('dtn', 'sigan', 'cyclegan', 'xgan')}
  evaluators = {m: c.prerequisites.evaluator for m, c in configs.items()}
  assert len({e.workdir for e in evaluators.values()}) == 1
  assert evaluators['dtn'].config == evaluators['sigan'].config == (
      evaluators['cyclegan'].config) == evaluators['xgan'].config
  assert configs['xgan'].prerequisites.f == configs['sigan'].prerequisites.f
  dtn_f = configs['dtn'].prerequisites.f.config.to_dict()
  shared_f = configs['sigan'].prerequisites.f.config.to_dict()
  assert (dtn_f['data']['augment_translate'],
          dtn_f['data']['augment_grey_invert']) == (2, True)
  for key in ('augment_translate', 'augment_grey_invert'):
    del dtn_f['data'][key], shared_f['data'][key]
  assert dtn_f == shared_f
  assert (configs['dtn'].prerequisites.f.workdir !=
          configs['sigan'].prerequisites.f.workdir)  # never one export for two
  assert configs['xgan'].prerequisites.reverse_evaluator == (
      configs['cyclegan'].prerequisites.reverse_evaluator)
  assert tuple(configs['sigan'].model.g.widths) == (256, 128, 64)


def test_config_differences_name_changed_keys_and_skip_new_switches_off():
  saved = {'a': 1, 'data': {'augment_translate': 2, 'name': 'mnist'}}
  current = {'a': 1, 'data': {'augment_translate': 0, 'name': 'mnist',
                              'augment_low_resolution': 0,  # new, off
                              'new_on': 8}}  # new, on: a different run
  assert config_lib.config_differences(saved, current) == [
      'data.augment_translate: 2 there, 0 now',
      "data.new_on: '<absent>' there, 8 now"]
  assert config_lib.config_differences(current, saved) == [
      'data.augment_low_resolution: 0 there, \'<absent>\' now',
      'data.augment_translate: 0 there, 2 now',
      "data.new_on: 8 there, '<absent>' now"]
