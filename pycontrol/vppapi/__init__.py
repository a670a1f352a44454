"""The plugin API contract: a parser for VPP's ``.api`` language and generators for
``.api.json`` (vpp_papi), Python message codecs, cffi cdefs and packed C headers."""

from pycontrol.vppapi.loader import load, load_text
from pycontrol.vppapi.model import ApiError, ApiModule

__all__ = ["ApiError", "ApiModule", "load", "load_text"]
