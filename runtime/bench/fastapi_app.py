"""Peer: FastAPI + uvicorn with one onnxruntime run per request (no batching).

Run: uvicorn fastapi_app:app --workers N; the model path comes from $BENCH_MODEL.
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


@app.get("/v2/health/ready")
async def ready() -> dict:
    return {"ready": True}


@app.post("/v2/models/digits/infer")
async def infer(request: Request) -> Response:
    doc = orjson.loads(await request.body())
    spec = doc["inputs"][0]
    x = np.asarray(spec["data"], dtype=np.float32).reshape(spec["shape"])
    label, probs = _session.run(None, {spec["name"]: x})
    out = {
        "model_name": "digits",
        "model_version": "1",
        "id": doc.get("id", ""),
        "outputs": [
            {
                "name": "label",
                "datatype": "INT64",
                "shape": list(label.shape),
                "data": label.ravel().tolist(),
            },
            {
                "name": "probabilities",
                "datatype": "FP32",
                "shape": list(probs.shape),
                "data": probs.ravel().tolist(),
            },
        ],
    }
    return Response(orjson.dumps(out), media_type="application/json")
