"""Open Inference Protocol v2 (KServe v2 / Triton) JSON documents as strict pydantic models.

The request models are what the OpenAPI document declares for ``infer``; unknown keys are refused
(400), as are negative dimensions. Tensor ``data`` stays untyped here: it is checked against the
declared datatype and shape when the tensor is decoded (:mod:`services.protocol.codec`).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, NonNegativeInt


class _Document(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RequestInput(_Document):
    """One input tensor of an inference request."""

    name: str
    """Tensor name: ``text`` or ``image`` (raw input), or an ONNX input name."""
    shape: list[NonNegativeInt] = Field(max_length=8)
    """Dimensions; a raw input has shape ``[n]`` for ``n`` items."""
    datatype: str
    """OIP datatype (``BYTES``, ``FP32``, ``INT64`` ...)."""
    parameters: dict[str, Any] | None = None
    """Per-tensor parameters; ``binary_data_size`` says the data follows the JSON header."""
    data: Any = None
    """Row-major tensor contents (flat or nested lists); absent when sent as binary data. BYTES
    elements are strings: UTF-8 text, or base64 for an ``image`` input."""


class RequestOutput(_Document):
    """An output the client asks for."""

    name: str
    """Output tensor name."""
    parameters: dict[str, Any] | None = None
    """``binary_data`` (bool) asks for the output in the binary extension."""


class InferRequest(_Document):
    """The JSON body (or binary-extension header) of ``POST .../infer``."""

    id: str | None = Field(default=None, max_length=256)
    """Request id, echoed in the response."""
    parameters: dict[str, Any] | None = None
    """``timeout`` (microseconds, capped by the server's deadline), ``binary_data_output`` (bool)."""
    inputs: list[RequestInput] = Field(min_length=1, max_length=16)
    """The input tensors: one complete input set of the model."""
    outputs: list[RequestOutput] | None = Field(default=None, max_length=16)
    """Outputs to return (all when absent)."""


class ResponseOutput(BaseModel):
    """One output tensor of an inference response."""

    name: str
    datatype: str
    shape: list[int]
    parameters: dict[str, Any] | None = None
    data: list[Any] | None = None


class InferResponse(BaseModel):
    """The JSON body (or binary-extension header) of an inference response."""

    model_name: str
    model_version: str
    """The version that answered."""
    id: str | None = None
    parameters: dict[str, Any] | None = None
    outputs: list[ResponseOutput]


class MetadataTensor(BaseModel):
    """A tensor in model metadata."""

    name: str
    datatype: str
    shape: list[int]
    """Dimensions; ``-1`` is variable."""


class ModelMetadata(BaseModel):
    """``GET /v2/models/{m}[/versions/{v}]``."""

    name: str
    versions: list[str]
    platform: str
    inputs: list[MetadataTensor]
    """Exactly one complete input set (the raw input where the bundle has one)."""
    outputs: list[MetadataTensor]
    parameters: dict[str, Any] = Field(default_factory=dict)
    """Also accepted: the ONNX tensor inputs; the task, labels and answering version."""


class ServerMetadata(BaseModel):
    """``GET /v2``."""

    name: str
    version: str
    extensions: list[str]
