"""Peer (issue 18): Triton Inference Server through PyTriton, serving the MLP.

Triton's own HTTP front end (KServe V2, the same JSON and binary bodies as the
runtime) and dynamic batcher (``max_batch_size`` 64, no queue delay, like the
runtime's configuration in ``mlp.py``), with one Python callable per instance
running onnxruntime (one intra-op thread each). Runs in its own virtualenv,
``.venv-bench-triton`` (``mlp.py`` makes it the first time): the wheel ships the
Triton server and pins its own numpy.

Usage: pytriton_mlp.py MODEL.onnx HTTP_PORT INSTANCES

Triton's Python backend stub is linked against ``libpython3.11.so``; ``mlp.py``
starts this script with ``LD_LIBRARY_PATH`` pointing at the directory of the
interpreter's own libpython (``sysconfig``'s LIBDIR): without it the stub loads
the system's libpython 3.11.2 against the interpreter's 3.11.7 standard
library and dies on ``_thread.RLock._recursion_count``.
"""

from __future__ import annotations

import socket
import sys

import numpy as np
import onnxruntime as ort
from pytriton.decorators import batch
from pytriton.model_config import DynamicBatcher, ModelConfig, Tensor
from pytriton.triton import Triton, TritonConfig

MAX_BATCH = 64


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _callable(model: str):
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    session = ort.InferenceSession(model, opts, providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]

    @batch
    def infer(input):  # the model's input is called "input"
        return dict(zip(names, session.run(None, {"input": input}), strict=True))

    return infer, session


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print("usage: pytriton_mlp.py MODEL.onnx HTTP_PORT INSTANCES", file=sys.stderr)
        return 2
    model, port, instances = argv[0], int(argv[1]), int(argv[2])
    made = [_callable(model) for _ in range(instances)]
    session = made[0][1]
    inputs = [Tensor(name="input", dtype=np.float32, shape=(session.get_inputs()[0].shape[1],))]
    outputs = [
        Tensor(name=o.name, dtype=np.float32, shape=(o.shape[1],)) for o in session.get_outputs()
    ]
    config = TritonConfig(
        http_address="127.0.0.1",
        http_port=port,
        grpc_address="127.0.0.1",
        grpc_port=_free_port(),
        metrics_port=_free_port(),
        allow_metrics=False,
    )
    with Triton(config=config) as triton:
        triton.bind(
            model_name="mlp",
            infer_func=[fn for fn, _ in made],
            inputs=inputs,
            outputs=outputs,
            config=ModelConfig(
                max_batch_size=MAX_BATCH,
                batcher=DynamicBatcher(max_queue_delay_microseconds=0),
            ),
            strict=False,
        )
        triton.serve()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
