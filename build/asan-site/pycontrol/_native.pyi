# The cffi extension is generated at build time (pycontrol/_build/gen_native.py); cffi
# objects are dynamically typed. Typed wrappers live next to each component.
from typing import Any

ffi: Any
lib: Any
