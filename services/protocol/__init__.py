"""Open Inference Protocol v2 (KServe v2 / Triton): documents, datatypes, the JSON and binary
codecs, and the binding of request tensors to a model's signature. Transport-free and torch-free."""

from services.protocol.codec import (HEADER_LENGTH, DecodedRequest, Tensor, decode_infer_request,
                                     encode_infer_response)
from services.protocol.datatypes import BYTES, DATATYPES, decode_bytes_elements, encode_bytes_elements
from services.protocol.models import (InferRequest, InferResponse, MetadataTensor, ModelMetadata,
                                      RequestInput, RequestOutput, ResponseOutput, ServerMetadata)
from services.protocol.signature import ModelInput, Signature, TensorInfo

__all__ = ["BYTES", "DATATYPES", "HEADER_LENGTH", "DecodedRequest", "InferRequest", "InferResponse",
           "MetadataTensor", "ModelInput", "ModelMetadata", "RequestInput", "RequestOutput",
           "ResponseOutput", "ServerMetadata", "Signature", "Tensor", "TensorInfo",
           "decode_bytes_elements", "decode_infer_request", "encode_bytes_elements",
           "encode_infer_response"]
