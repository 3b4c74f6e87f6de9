"""Load one ``model.onnx`` with the ``onnxruntime-gpu`` package and run it once; print JSON.

Run by :mod:`zhijian_core.export.gpu_package` with the Python of a side environment that holds
``onnxruntime-gpu`` (and numpy) only, so this file imports nothing else: not zhijian_core, not
pydantic. It asks for the CUDA execution provider first; on a machine without a GPU the package
falls back to the CPU, and the report says which provider really ran.

    python ort_gpu_probe.py MODEL.onnx
"""

import json
import sys
from importlib import metadata

_DTYPES = {"tensor(int64)": "int64", "tensor(int32)": "int32", "tensor(float)": "float32",
           "tensor(float16)": "float16"}


def _feeds(session, np):
    feeds = {}
    for graph_input in session.get_inputs():
        shape = [d if isinstance(d, int) and d > 0 else (2 if i == 0 else 8)
                 for i, d in enumerate(graph_input.shape)]
        dtype = _DTYPES.get(graph_input.type)
        if dtype is None:
            raise ValueError(f"input {graph_input.name} has an unsupported type {graph_input.type}")
        feeds[graph_input.name] = (np.ones(shape, dtype) if "int" in dtype
                                   else np.zeros(shape, dtype))
    return feeds


def main(path):
    report = {"model": path, "ok": False}
    try:
        import numpy as np
        import onnxruntime as ort

        report["package"] = "onnxruntime-gpu " + metadata.version("onnxruntime-gpu")
        try:
            metadata.version("onnxruntime")
            report["error"] = "the CPU package onnxruntime is installed beside onnxruntime-gpu"
            return report
        except metadata.PackageNotFoundError:
            pass
        options = ort.SessionOptions()
        options.log_severity_level = 3
        session = ort.InferenceSession(path, options, providers=["CUDAExecutionProvider",
                                                                 "CPUExecutionProvider"])
        report["providers"] = session.get_providers()
        outputs = session.run(None, _feeds(session, np))
        report["outputs"] = [list(o.shape) for o in outputs]
        report["ok"] = True
    except Exception as exc:  # the report carries any failure back to the caller
        report["error"] = f"{type(exc).__name__}: {exc}"
    return report


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1])))
