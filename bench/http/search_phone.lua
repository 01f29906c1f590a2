-- wrk: POST /api/v1/customers/search {"phone": ...} with phones known to
-- exist, from the file named by CUSTVAULT_BENCH_PHONES (scripts/bench writes
-- it after seeding). Exact search through the blind index, then decrypt
-- and mask the matches (usually one).
package.path = (debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "?.lua;" .. package.path
local common = require("common")

setup = common.setup

local phones, headers
function init(args)
  common.seed_random()
  phones = common.read_lines("CUSTVAULT_BENCH_PHONES")
  headers = common.json_headers()
end

function request()
  return wrk.format("POST", "/api/v1/customers/search", headers,
                    '{"phone":"' .. phones[math.random(#phones)] .. '"}')
end
