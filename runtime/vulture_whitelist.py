"""Names that vulture (scripts/lint.sh) cannot see used: callers outside this package.

Read by vulture only, never imported or run. Each line names who uses the name.
"""
# ruff: noqa: B018 - bare attribute reads are how a vulture whitelist marks a name used

from openclaw_runtime import cache, models
from openclaw_runtime.auth.keys import KeyRecord
from openclaw_runtime.toolchain.quantize import _Reader

# Module __getattr__ (PEP 562): Python calls it for the lazily imported names.
cache.__getattr__
models.__getattr__

# onnxruntime's quantizer calls its CalibrationDataReader's methods.
_Reader.get_next
_Reader.rewind

# Attributes written for libraries to read: numpy's array flags, onnx's ModelProto,
# onnxruntime's SessionOptions.
_ = None
_.writeable
_.doc_string
_.intra_op_num_threads
_.inter_op_num_threads
_.execution_mode
_.graph_optimization_level

# The validity rule of a key record (tests/auth check expiry and rotation grace with it).
KeyRecord.valid_at
