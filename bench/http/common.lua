-- Shared by the wrk scripts of scripts/bench: the bearer token from the
-- environment (never from the command line, where ps would show it) and
-- reading a list file the driver wrote after seeding.
local common = {}

function common.token()
  local token = os.getenv("CUSTVAULT_TOKEN")
  if token == nil or token == "" then
    error("set CUSTVAULT_TOKEN to the bootstrap token")
  end
  return token
end

function common.json_headers()
  return {
    ["Authorization"] = "Bearer " .. common.token(),
    ["Content-Type"] = "application/json",
  }
end

-- Every non-empty line of the file named by environment variable `name`.
function common.read_lines(name)
  local path = os.getenv(name)
  if path == nil or path == "" then error("set " .. name .. " to a list file") end
  local file = assert(io.open(path, "r"))
  local lines = {}
  for line in file:lines() do
    if line ~= "" then lines[#lines + 1] = line end
  end
  file:close()
  if #lines == 0 then error(path .. " is empty") end
  return lines
end

-- Threads get distinct random streams: wrk calls setup() once per thread
-- in the main state, before init() in the thread's own state.
local next_thread = 1
function common.setup(thread)
  thread:set("thread_number", next_thread)
  next_thread = next_thread + 1
end

function common.seed_random()
  local n = thread_number or 0
  math.randomseed(os.time() * 1000 + n * 7919)
end

return common
