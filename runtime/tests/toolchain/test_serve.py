"""End to end: scikit-learn file -> convert, quantize, verify, publish, fetch -> served by HTTP."""

from __future__ import annotations

import numpy as np
import pytest

# A failing import is a collection error, never a skip: this is the only test that serves
# a converted model.
from server.conftest import start_server


@pytest.mark.integration
def test_fetched_int8_version_is_served_over_http(cli, int8_repo, tmp_path, digits):
    store = tmp_path / "store"
    for version in (1, 2):
        assert cli("publish", int8_repo / "lr" / str(version), "--to", f"file://{store}")[0] == 0
    repo = tmp_path / "served"
    for version in (1, 2):
        code, report = cli("fetch", f"file://{store}/lr/{version}", "--to", repo)
        assert code == 0, report
    assert cli("verify", repo / "lr")[0] == 0
    server = start_server(tmp_path, repo)
    try:
        status, meta = server.json("GET", "/v2/models/lr")
        assert status == 200 and "2" in meta["versions"]
        rows = digits.x_test[:16]
        request = {
            "inputs": [
                {
                    "name": "input",
                    "datatype": "FP32",
                    "shape": list(rows.shape),
                    "data": rows.ravel().tolist(),
                }
            ]
        }
        status, reply = server.json("POST", "/v2/models/lr/infer", request)
        assert status == 200, reply
        assert reply["model_version"] == "2"
        labels = next(o for o in reply["outputs"] if o["name"] == "label")["data"]
        assert np.mean(np.array(labels) == digits.y_test[:16]) >= 0.8
    finally:
        assert server.stop() == 0, server.log.read_text()[-3000:]
