"""Real clients: tritonclient[http] with JSON and binary tensors, compression; the kserve SDK."""

from __future__ import annotations

import numpy as np
import pytest
import tritonclient.http as httpclient
from tritonclient.utils import InferenceServerException


@pytest.fixture(scope="module")
def client(server):
    c = httpclient.InferenceServerClient(server.url, concurrency=4)
    yield c
    c.close()


def digits(n: int) -> np.ndarray:
    from openclaw_runtime.models.demo import load_digits_split

    return load_digits_split().x_test[:n]


def test_health_and_metadata_through_tritonclient(client):
    assert client.is_server_live() and client.is_server_ready()
    assert client.is_model_ready("digits")
    meta = client.get_model_metadata("digits")
    assert meta["inputs"][0]["shape"] == [-1, 64]
    assert client.get_model_config("digits")["max_batch_size"] == 32


@pytest.mark.parametrize("binary_in", [True, False])
@pytest.mark.parametrize("binary_out", [True, False])
def test_infer_json_and_binary(client, binary_in, binary_out):
    x = digits(8)
    inp = httpclient.InferInput("input", list(x.shape), "FP32")
    inp.set_data_from_numpy(x, binary_data=binary_in)
    outs = [
        httpclient.InferRequestedOutput("label", binary_data=binary_out),
        httpclient.InferRequestedOutput("probabilities", binary_data=binary_out),
    ]
    result = client.infer("digits", [inp], outputs=outs, request_id="r1")
    labels = result.as_numpy("label")
    probs = result.as_numpy("probabilities")
    assert labels.shape == (8,) and probs.shape == (8, 10)
    np.testing.assert_array_equal(labels, probs.argmax(axis=1))
    assert result.get_response()["id"] == "r1"


@pytest.mark.parametrize("binary_out", [True, False])
def test_classification_extension_through_tritonclient(client, binary_out):
    """class_count=3: per row the top 3 as "score:index:label", best first."""
    x = digits(4)
    inp = httpclient.InferInput("input", list(x.shape), "FP32")
    inp.set_data_from_numpy(x)
    plain = client.infer("digits", [inp]).as_numpy("probabilities")
    out = httpclient.InferRequestedOutput("probabilities", binary_data=binary_out, class_count=3)
    result = client.infer("digits", [inp], outputs=[out])
    assert result.get_output("probabilities")["datatype"] == "BYTES"
    top = result.as_numpy("probabilities")
    assert top.shape == (4, 3)
    for row, scores in zip(top, plain, strict=True):
        parts = [(item.decode() if isinstance(item, bytes) else item).split(":") for item in row]
        indices = [int(p[1]) for p in parts]
        assert indices == list(np.argsort(-scores, kind="stable")[:3])
        # The demo model's labels file names the digits "0".."9".
        assert [p[2] for p in parts] == [str(i) for i in indices]
        np.testing.assert_array_equal(
            np.array([float(p[0]) for p in parts], np.float32), scores[indices]
        )


def test_predictions_are_right_for_most_digits(client):
    from openclaw_runtime.models.demo import load_digits_split

    data = load_digits_split()
    x, y = data.x_test[:32], data.y_test[:32]
    inp = httpclient.InferInput("input", list(x.shape), "FP32")
    inp.set_data_from_numpy(x)
    labels = client.infer("digits", [inp]).as_numpy("label")
    assert (labels == y).mean() > 0.9


@pytest.mark.parametrize("algorithm", ["gzip", "deflate"])
def test_compressed_requests_and_responses(client, algorithm):
    x = digits(4)
    inp = httpclient.InferInput("input", list(x.shape), "FP32")
    inp.set_data_from_numpy(x)
    result = client.infer(
        "digits",
        [inp],
        request_compression_algorithm=algorithm,
        response_compression_algorithm=algorithm,
    )
    assert result.as_numpy("label").shape == (4,)


def test_wrong_datatype_is_a_client_error_with_a_message(client):
    x = digits(2).astype(np.float64)
    inp = httpclient.InferInput("input", list(x.shape), "FP64")
    inp.set_data_from_numpy(x)
    with pytest.raises(InferenceServerException, match=r"datatype FP64 given.*expects FP32"):
        client.infer("digits", [inp])


def test_concurrent_async_requests_are_batched(client, server):
    x = digits(1)
    inp = httpclient.InferInput("input", [1, 64], "FP32")
    inp.set_data_from_numpy(x)
    handles = [client.async_infer("digits", [inp]) for _ in range(64)]
    assert all(h.get_result().as_numpy("label").shape == (1,) for h in handles)


def test_statistics_and_repository_through_tritonclient(server):
    # Statistics are per worker process: one connection (one worker) serves both calls.
    client = httpclient.InferenceServerClient(server.url, concurrency=1)
    try:
        inp = httpclient.InferInput("input", [1, 64], "FP32")
        inp.set_data_from_numpy(digits(1))
        client.infer("digits", [inp])
        stats = client.get_inference_statistics("digits")
        index = client.get_model_repository_index()
    finally:
        client.close()
    assert stats["model_stats"][0]["inference_stats"]["success"]["count"] > 0
    assert any(e["name"] == "digits" and e["state"] == "READY" for e in index)


def test_kserve_sdk_rest_client(server):
    kserve = pytest.importorskip("kserve", reason="kserve SDK not installed")
    import asyncio

    from kserve import InferenceRESTClient, InferInput, InferRequest, RESTConfig

    async def run():
        client = InferenceRESTClient(RESTConfig(protocol="v2"))
        try:
            x = digits(3)
            inp = InferInput("input", list(x.shape), "FP32")
            inp.set_data_from_numpy(x, binary_data=False)
            req = InferRequest(model_name="digits", infer_inputs=[inp])
            base = f"http://{server.url}"
            assert await client.is_server_ready(base)
            res = await client.infer(base, req, model_name="digits")
            return res
        finally:
            await client.close()

    res = asyncio.run(run())
    assert res.outputs[0].as_numpy().shape == (3,)
    assert kserve is not None
