"""Peer: FastAPI + uvicorn with one onnxruntime run per request (no batching).

Run: uvicorn fastapi_app:app --workers N; the model path comes from $BENCH_MODEL,
its name in the URL from $BENCH_MODEL_NAME (default ``digits``).
"""

from __future__ import annotations

import os

import numpy as np
import onnxruntime as ort
import orjson
from fastapi import FastAPI, Request, Response

app = FastAPI()
_opts = ort.SessionOptions()
_opts.intra_op_num_threads = 1
_opts.inter_op_num_threads = 1
_session = ort.InferenceSession(os.environ["BENCH_MODEL"], _opts)
_NAME = os.environ.get("BENCH_MODEL_NAME", "digits")
_OUTPUTS = [o.name for o in _session.get_outputs()]
_TYPES = {np.dtype(np.float32): "FP32", np.dtype(np.int64): "INT64"}


@app.get("/v2/health/ready")
async def ready() -> dict:
    return {"ready": True}


@app.post(f"/v2/models/{_NAME}/infer")
async def infer(request: Request) -> Response:
    doc = orjson.loads(await request.body())
    spec = doc["inputs"][0]
    x = np.asarray(spec["data"], dtype=np.float32).reshape(spec["shape"])
    results = _session.run(None, {spec["name"]: x})
    out = {
        "model_name": _NAME,
        "model_version": "1",
        "id": doc.get("id", ""),
        "outputs": [
            {
                "name": name,
                "datatype": _TYPES.get(value.dtype, str(value.dtype)),
                "shape": list(value.shape),
                "data": value.ravel().tolist(),
            }
            for name, value in zip(_OUTPUTS, results, strict=True)
        ],
    }
    return Response(orjson.dumps(out), media_type="application/json")
