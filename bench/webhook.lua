-- Signed Evolution `messages.upsert` bodies for wrk. Each connection-thread numbers its own
-- messages: "<prefix>-<thread>-<n>". With DUPLICATES=1 the ids cycle through numbers 2 to 1001 of
-- each thread (all stored by the unique phase), so every request is a duplicate delivery. Number 1
-- is left out: wrk calls request() once on its first thread to check the script, and never sends
-- that request.

local counter = 0
local thread_id = 0
local statuses = {}
local threads = {}

function setup(thread)
  thread:set("thread_id", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  thread_id = tonumber(wrk.thread:get("thread_id"))
end

local prefix = os.getenv("BENCH_PREFIX") or "BENCH"
local instance = os.getenv("BENCH_INSTANCE") or "bench-01"
local token = os.getenv("BENCH_TOKEN") or ""
local duplicates = os.getenv("BENCH_DUPLICATES") == "1"

local template = '{"event":"messages.upsert","instance":"%s","data":{"key":{"remoteJid":"55119%08d@s.whatsapp.net",'
  .. '"remoteJidAlt":"55119%08d@s.whatsapp.net","fromMe":false,"id":"%s","participant":"","addressingMode":"lid"},'
  .. '"pushName":"Cliente","status":"DELIVERY_ACK","message":{"conversation":"Olá, quero saber o preço"},'
  .. '"messageType":"conversation","messageTimestamp":%d,"source":"android"},"date_time":"2026-07-26T18:13:30.262Z",'
  .. '"sender":"5511999990000@s.whatsapp.net","apikey":null}'

request = function()
  counter = counter + 1
  local n = counter
  if duplicates then n = ((counter - 1) % 1000) + 2 end
  local id = string.format("%s-%d-%d", prefix, thread_id, n)
  local phone = thread_id * 1000000 + n
  local body = string.format(template, instance, phone, phone, id, os.time())
  return wrk.format("POST", "/webhooks/evolution/", {["Content-Type"] = "application/json", ["X-Webhook-Token"] = token}, body)
end

response = function(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
  wrk.thread:set("statuses", statuses)
end

done = function(summary, latency, requests)
  local totals = {}
  for _, thread in ipairs(threads) do
    local counts = thread:get("statuses") or {}
    for status, count in pairs(counts) do totals[status] = (totals[status] or 0) + count end
  end
  for status, count in pairs(totals) do io.write(string.format("STATUS %d %d\n", status, count)) end
  io.write(string.format("LATENCY_P50_US %d\nLATENCY_P99_US %d\n", latency:percentile(50), latency:percentile(99)))
  io.write(string.format("REQUESTS %d\nDURATION_US %d\n", summary.requests, summary.duration))
end
