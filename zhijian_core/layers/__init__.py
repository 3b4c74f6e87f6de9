"""Plain layers that parameter-efficient methods insert into a backbone.

Each is an ordinary ``nn.Module`` (no hooks, no library wrappers), so a finalized model that keeps
one exports to ONNX like any other layer. Where a layer goes is described by
:class:`zhijian_core.model.ArchitectureConfig`, and :mod:`zhijian_core.layers.insert` puts it there
both when a method builds its target and when a stored run is rebuilt.
"""
