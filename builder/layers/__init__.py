"""Built-in layer types; importing this package registers them."""
from . import conv, core, merge, norm, pool, scaling  # noqa: F401
