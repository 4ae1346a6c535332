"""Each method's default config and its sizes (variants), one module per
method; `xdomain.config_lib` keeps what every method shares. Imports no JAX:
config files load fast."""
