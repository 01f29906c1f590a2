-- wrk: POST /api/v1/customers with a fresh VALID customer per request:
-- resident ID with a real region, a real birth date and the GB 11643 check
-- character; mobile 1[3-9] + 9 digits; 19-digit card with a Luhn digit;
-- Chinese name; address in a real district; e-mail. All synthetic.
--   CUSTVAULT_TOKEN=... wrk -s bench/http/create.lua http://127.0.0.1:PORT
package.path = (debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "?.lua;" .. package.path
local common = require("common")

local regions = {
  {"110105", "北京市朝阳区"}, {"110108", "北京市海淀区"}, {"310115", "上海市浦东新区"},
  {"440305", "广东省深圳市南山区"}, {"330106", "浙江省杭州市西湖区"},
  {"510107", "四川省成都市武侯区"}, {"420106", "湖北省武汉市武昌区"},
  {"320102", "江苏省南京市玄武区"}, {"610113", "陕西省西安市雁塔区"}, {"500103", "重庆市渝中区"},
}
local roads = {"建国路", "人民路", "解放路", "中山路", "建设路", "和平路", "新华路", "世纪大道"}
local surnames = {"王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周", "徐", "孙",
                  "马", "朱", "胡", "郭", "何", "高", "林", "罗", "欧阳", "司马"}
local given = {"伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳",
               "杰", "涛", "明", "超", "华", "建", "国", "文", "辉", "宇", "欣", "涵"}
local card_prefixes = {"622202", "621700", "622848", "621483", "622588", "621226"}
local mail_domains = {"qq.com", "163.com", "126.com", "sina.com", "example.cn"}

local function pick(list) return list[math.random(#list)] end

local function digits(count)
  local out = {}
  for i = 1, count do out[i] = tostring(math.random(0, 9)) end
  return table.concat(out)
end

-- ISO 7064 MOD 11-2 over the first 17 digits (GB 11643-1999).
local id_weights = {7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}
local id_check_chars = "10X98765432"
local function id_check_character(first17)
  local sum = 0
  for i = 1, 17 do sum = sum + tonumber(first17:sub(i, i)) * id_weights[i] end
  local k = sum % 11 + 1
  return id_check_chars:sub(k, k)
end

local function luhn_check_digit(partial)
  local sum, double_it = 0, true
  for i = #partial, 1, -1 do
    local d = tonumber(partial:sub(i, i))
    if double_it then
      d = d * 2
      if d > 9 then d = d - 9 end
    end
    sum = sum + d
    double_it = not double_it
  end
  return tostring((10 - sum % 10) % 10)
end

local days_in_month = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31}
local function resident_id(region_code)
  local year = math.random(1950, 2005)
  local month = math.random(1, 12)
  local last = days_in_month[month]
  if month == 2 and ((year % 4 == 0 and year % 100 ~= 0) or year % 400 == 0) then last = 29 end
  local first17 = string.format("%s%04d%02d%02d%s", region_code, year, month,
                                math.random(1, last), digits(3))
  return first17 .. id_check_character(first17)
end

local function customer_json()
  local region = pick(regions)
  local name = pick(surnames) .. pick(given)
  if math.random(2) == 2 then name = name .. pick(given) end
  local card = pick(card_prefixes) .. digits(12)
  card = card .. luhn_check_digit(card)
  local letters = {}
  for i = 1, math.random(4, 9) do letters[i] = string.char(96 + math.random(26)) end
  return string.format(
    '{"name":"%s","id_number":"%s","phone":"1%d%s","address":"%s%s%d号",' ..
    '"bank_account":"%s","email":"%s%s@%s"}',
    name, resident_id(region[1]), math.random(3, 9), digits(9), region[2], pick(roads),
    math.random(1, 999), card, table.concat(letters), digits(math.random(0, 3)), pick(mail_domains))
end

setup = common.setup

local headers
function init(args)
  common.seed_random()
  headers = common.json_headers()
end

function request()
  return wrk.format("POST", "/api/v1/customers", headers, customer_json())
end
