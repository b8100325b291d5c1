-- bench/throughput.py's report from wrk: latency percentiles (microseconds) and the
-- responses that were not 2xx/3xx, one "KEY value" per line after wrk's own summary.
done = function(summary, latency, requests)
  for _, p in ipairs({50, 95, 99}) do
    io.write(string.format("P%d %d\n", p, latency:percentile(p)))
  end
  io.write(string.format("BAD %d\n", summary.errors.status))
end
