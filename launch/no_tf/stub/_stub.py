"""Stand-ins for TF/TFDS on a machine without them: xdomain's data modules
import them, launch/no_tf/loop.py replaces every function that would call
them, and the benchmarks never call them. Any attribute is this class."""
class _Meta(type):
  def __getattr__(cls, name):
    if name.startswith('__'):
      raise AttributeError(name)
    return cls
  def __call__(cls, *args, **kwargs):
    return cls
class Stub(metaclass=_Meta):
  pass
def module_getattr(name):
  if name.startswith('__'):
    raise AttributeError(name)
  return Stub
