"""ZhiJian's serving side: the Ray Serve application that hosts ONNX bundles.

It imports no torch and, of the reuse core, only the torch-free preprocessing module.
"""
