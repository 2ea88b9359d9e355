-- wrk script for plain GETs (the URL and -H headers given to wrk): counts
-- answers by status class and prints one "BENCHJSON {...}" line at the end.

local threads = {}

function setup(thread)
   table.insert(threads, thread)
end

function init(args)
   s2, s3, s4, s5 = 0, 0, 0, 0
end

function response(status, hdrs, body)
   if status >= 500 then s5 = s5 + 1
   elseif status >= 400 then s4 = s4 + 1
   elseif status >= 300 then s3 = s3 + 1
   else s2 = s2 + 1 end
end

function done(summary, latency, requests)
   local t = { s2 = 0, s3 = 0, s4 = 0, s5 = 0 }
   for _, th in ipairs(threads) do
      for k, _ in pairs(t) do t[k] = t[k] + (th:get(k) or 0) end
   end
   local e = summary.errors
   io.write(string.format(
      'BENCHJSON {"requests":%d,"duration_us":%d,"connect":%d,"read":%d,"write":%d,' ..
      '"status":%d,"timeout":%d,"p50_us":%d,"p99_us":%d,"mean_us":%.1f,"max_us":%d,' ..
      '"sent":0,"s2":%d,"s3":%d,"s4":%d,"s5":%d}\n',
      summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
      latency:percentile(50), latency:percentile(99), latency.mean, latency.max,
      t.s2, t.s3, t.s4, t.s5))
end
