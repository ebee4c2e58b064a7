-- The reference: a bare Django JSON view on the same server, through the same middleware.
done = function(summary, latency, requests)
  io.write(string.format("LATENCY_P50_US %d\nLATENCY_P99_US %d\n", latency:percentile(50), latency:percentile(99)))
  io.write(string.format("REQUESTS %d\nDURATION_US %d\n", summary.requests, summary.duration))
  io.write(string.format("STATUS 200 %d\n", summary.requests - summary.errors.status))
end
