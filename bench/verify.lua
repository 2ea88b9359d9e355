-- wrk script: POSTs {"imp_uid":"imp_bN","merchant_uid":"order_N"} for a random
-- N in 1..orders to /payments/complete, counts answers by status class and
-- prints one "BENCHJSON {...}" line at the end for bench.py.
--
--   wrk ... -s verify.lua URL -- ORDERS [TOTAL NTHREADS [PAYMENTS [API]]]
--
-- With API "v2" it POSTs PortOne V2's {"paymentId":"order_N"} to
-- /v2/payments/complete instead (the stand-in answers a V2 paymentId
-- order_N with a PAID payment of 10000 KRW, the amount of order_N).
--
-- With PAYMENTS > 0 the payment is imp_bK for a random K in 1..PAYMENTS and
-- its order is order_((K-1) mod ORDERS + 1), as the stand-in answers after
-- POST /__config?orders=ORDERS: many payments share the orders, so that
-- nearly every verification is a first one even with few orders.
--
-- With TOTAL > 0 the run is counted: the threads send exactly TOTAL
-- verifications between them, then stop (any request a stopping thread
-- still has to send is a GET of /static.json, not a verification). wrk's
-- main thread still sleeps for -d: bench.py sends it SIGINT once the
-- stand-in has seen all TOTAL look-ups.

local threads = {}
local next_id = 1

function setup(thread)
   thread:set("id", next_id)
   next_id = next_id + 1
   table.insert(threads, thread)
end

local headers = { ["Content-Type"] = "application/json" }
local static_req

function init(args)
   orders = tonumber(args[1]) or 100000
   local total = tonumber(args[2]) or 0
   local nthreads = tonumber(args[3]) or 1
   payments = tonumber(args[4]) or 0
   v2 = (args[5] == "v2")
   quota = 0
   if total > 0 then
      quota = math.floor(total / nthreads)
      if id <= total % nthreads then quota = quota + 1 end
   end
   sent, s2, s3, s4, s5 = 0, 0, 0, 0, 0
   -- wrk 4 calls request() once in thread 1 before the run, only to check
   -- the request; that call must not count against the quota
   probe = (id == 1)
   math.randomseed(os.time() * 1000 + id * 7919 + math.floor(os.clock() * 1e6))
   static_req = wrk.format("GET", "/static.json")
end

function request()
   if probe then
      probe = false
      if v2 then
         return wrk.format("POST", "/v2/payments/complete", headers, '{"paymentId":"order_1"}')
      end
      return wrk.format("POST", "/payments/complete", headers, '{"imp_uid":"imp_b1","merchant_uid":"order_1"}')
   end
   if quota > 0 and sent >= quota then
      wrk.thread:stop()
      return static_req
   end
   sent = sent + 1
   local n = math.random(orders)
   local k = n
   if payments > 0 then
      k = math.random(payments)
      n = (k - 1) % orders + 1
   end
   if v2 then
      return wrk.format("POST", "/v2/payments/complete", headers, '{"paymentId":"order_' .. n .. '"}')
   end
   local body = '{"imp_uid":"imp_b' .. k .. '","merchant_uid":"order_' .. n .. '"}'
   return wrk.format("POST", "/payments/complete", headers, body)
end

function response(status, hdrs, body)
   if status >= 500 then s5 = s5 + 1
   elseif status >= 400 then s4 = s4 + 1
   elseif status >= 300 then s3 = s3 + 1
   else s2 = s2 + 1 end
end

function done(summary, latency, requests)
   local t = { sent = 0, s2 = 0, s3 = 0, s4 = 0, s5 = 0 }
   for _, th in ipairs(threads) do
      for k, _ in pairs(t) do t[k] = t[k] + (th:get(k) or 0) end
   end
   local e = summary.errors
   io.write(string.format(
      'BENCHJSON {"requests":%d,"duration_us":%d,"connect":%d,"read":%d,"write":%d,' ..
      '"status":%d,"timeout":%d,"p50_us":%d,"p99_us":%d,"mean_us":%.1f,"max_us":%d,' ..
      '"sent":%d,"s2":%d,"s3":%d,"s4":%d,"s5":%d}\n',
      summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
      latency:percentile(50), latency:percentile(99), latency.mean, latency.max,
      t.sent, t.s2, t.s3, t.s4, t.s5))
end
