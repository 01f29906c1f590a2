-- wrk: GET /api/v1/customers/{id} (masked view) for random ids taken from
-- the file named by CUSTVAULT_BENCH_IDS (one id a line; scripts/bench
-- writes it after seeding), so every request hits an existing customer.
package.path = (debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "?.lua;" .. package.path
local common = require("common")

setup = common.setup

local ids, headers
function init(args)
  common.seed_random()
  ids = common.read_lines("CUSTVAULT_BENCH_IDS")
  headers = {["Authorization"] = "Bearer " .. common.token()}
end

function request()
  return wrk.format("GET", "/api/v1/customers/" .. ids[math.random(#ids)], headers)
end
