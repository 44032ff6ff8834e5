"""JSON Schemas of gacert (packaged as `gacert.schemas`; read with importlib.resources)."""
