"""Built-in layer types; importing this package registers them."""
from . import conv, core, merge, norm, pool  # noqa: F401
