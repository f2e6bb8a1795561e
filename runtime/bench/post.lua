-- wrk script: POST the body in $BENCH_BODY with the OIP headers, print a JSON summary.
local f = assert(io.open(os.getenv("BENCH_BODY"), "rb"))
wrk.method = "POST"
wrk.body = f:read("*all")
f:close()
local ctype = os.getenv("BENCH_CTYPE")
if ctype and ctype ~= "" then wrk.headers["Content-Type"] = ctype end
local hl = os.getenv("BENCH_HEADER_LEN")
if hl and hl ~= "" then wrk.headers["Inference-Header-Content-Length"] = hl end

function done(summary, latency, requests)
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"duration_us":%d,"non2xx":%d,"connect_errors":%d,'
    .. '"read_errors":%d,"write_errors":%d,"timeouts":%d,"p50_us":%d,"p90_us":%d,'
    .. '"p99_us":%d,"max_us":%d,"mean_us":%.1f}\n',
    summary.requests, summary.duration, summary.errors.status, summary.errors.connect,
    summary.errors.read, summary.errors.write, summary.errors.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.max, latency.mean))
end
