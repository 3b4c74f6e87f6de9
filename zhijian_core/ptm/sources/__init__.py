"""PTM sources: one module per source, each registering its loader in :mod:`.registry`.

A source turns a parsed :class:`~zhijian_core.ptm.spec.PTMSpec` into a
:class:`~zhijian_core.ptm.loaded.LoadedPTM`. Importing this package imports no torch.
"""
