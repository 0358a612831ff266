-- wrk request mix for record-load.sh: mostly GETs of three static files
-- (100 B, 2 KB, 20 KB), a query string that varies, a few POSTs with a
-- small body, 204s and 404s.  Hosts vary between two names.  No HEAD: wrk
-- would wait for the body its Content-Length announces and stall the
-- connection.
local paths = { "/s/small.json", "/s/page.html", "/s/style.css" }
local hosts = { "shop.bench.test", "cdn.bench.test" }
local n = 0

function setup(thread)
   thread:set("seed", math.random(1, 1000000))
end

function init(args)
   math.randomseed(seed)
end

function request()
   n = n + 1
   local r = math.random(100)
   local h = { ["Host"] = hosts[(n % 2) + 1] }
   if wrk.headers["Connection"] then h["Connection"] = wrk.headers["Connection"] end
   if r <= 4 then
      h["Content-Type"] = "application/json"
      return wrk.format("POST", "/api/orders?n=" .. n, h, '{"item":' .. r .. ',"qty":2}')
   elseif r <= 7 then
      return wrk.format("GET", "/empty", h)
   elseif r <= 9 then
      return wrk.format("GET", "/missing/" .. n, h)
   else
      return wrk.format("GET", paths[math.random(#paths)] .. "?v=" .. (n % 50), h)
   end
end
