"""Open Inference Protocol (KServe v2) wire types and codecs; no web framework here."""

from .codec import decode_request, encode_response
from .datatypes import DATATYPES, datatype_of, dtype_of
from .types import InferenceRequest, InferenceResponse, RequestedOutput, Tensor

__all__ = [
    "DATATYPES",
    "InferenceRequest",
    "InferenceResponse",
    "RequestedOutput",
    "Tensor",
    "datatype_of",
    "decode_request",
    "dtype_of",
    "encode_response",
]
