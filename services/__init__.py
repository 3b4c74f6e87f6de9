"""ZhiJian's serving side: the application that hosts ONNX bundles (docs/serving.md).

It imports no torch; of the reuse core, only torch-free modules: the bundle reader, the
preprocessing module, the names grammar and the registry's Python API.
"""
