#include "bench/customer_data_generator.h"

#include <array>

namespace custvault::bench {
namespace {

struct Region {
  std::string_view code;    // GB/T 2260 county-level code
  std::string_view prefix;  // province, city and district as written in an address
};

// Real districts, so addresses and ID region codes agree.
constexpr std::array<Region, 15> kRegions = {{
    {"110105", "北京市朝阳区"},
    {"110108", "北京市海淀区"},
    {"310115", "上海市浦东新区"},
    {"310104", "上海市徐汇区"},
    {"440305", "广东省深圳市南山区"},
    {"440106", "广东省广州市天河区"},
    {"330106", "浙江省杭州市西湖区"},
    {"510107", "四川省成都市武侯区"},
    {"420106", "湖北省武汉市武昌区"},
    {"320102", "江苏省南京市玄武区"},
    {"610113", "陕西省西安市雁塔区"},
    {"500103", "重庆市渝中区"},
    {"120101", "天津市和平区"},
    {"370102", "山东省济南市历下区"},
    {"430104", "湖南省长沙市岳麓区"},
}};

constexpr std::array<std::string_view, 12> kRoads = {
    "建国路", "人民路", "解放路", "中山路", "建设路", "和平路",
    "新华路", "胜利路", "文化路", "长江路", "黄河路", "世纪大道"};

constexpr std::array<std::string_view, 40> kSurnames = {
    "王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周", "徐", "孙", "马", "朱",
    "胡", "郭", "何", "高", "林", "罗", "郑", "梁", "谢", "宋", "唐", "许", "韩", "冯",
    "邓", "曹", "彭", "曾", "肖", "田", "董", "袁", "潘", "欧阳", "司马", "诸葛"};

constexpr std::array<std::string_view, 40> kGivenNameCharacters = {
    "伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟",
    "涛", "明", "超", "秀", "霞", "平", "刚", "桂", "英", "华", "建", "国", "文", "辉",
    "玲", "鹏", "宇", "欣", "子", "涵", "浩", "然", "梓", "轩", "雨", "萱"};

// Issuer identification numbers of mainland debit cards (UnionPay 62...).
constexpr std::array<std::string_view, 6> kCardPrefixes = {"622202", "621700", "622848",
                                                           "621483", "622588", "621226"};

constexpr std::array<std::string_view, 6> kMailDomains = {"qq.com",   "163.com",    "126.com",
                                                          "sina.com", "example.cn", "foxmail.com"};

constexpr std::string_view kMailLetters = "abcdefghijklmnopqrstuvwxyz";

bool IsLeapYear(int year) { return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0; }

int DaysInMonth(int year, int month) {
  static constexpr std::array<int, 12> kDays = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return month == 2 && IsLeapYear(year) ? 29 : kDays[month - 1];
}

}  // namespace

int CustomerDataGenerator::Uniform(int low, int high) {
  return std::uniform_int_distribution<int>(low, high)(random_);
}

std::string CustomerDataGenerator::Digits(int count) {
  std::string out;
  out.reserve(count);
  for (int i = 0; i < count; ++i) out.push_back(static_cast<char>('0' + Uniform(0, 9)));
  return out;
}

char CustomerDataGenerator::ResidentIdCheckCharacter(std::string_view first17) {
  static constexpr std::array<int, 17> kWeights = {7, 9, 10, 5, 8, 4, 2, 1, 6,
                                                   3, 7, 9, 10, 5, 8, 4, 2};
  static constexpr std::string_view kCheckCharacters = "10X98765432";
  int sum = 0;
  for (size_t i = 0; i < 17; ++i) sum += (first17[i] - '0') * kWeights[i];
  return kCheckCharacters[sum % 11];
}

char CustomerDataGenerator::LuhnCheckDigit(std::string_view partial) {
  // Counting from the right of the finished number, the check digit is
  // position 1 (not doubled), so the last digit of `partial` is doubled.
  int sum = 0;
  bool double_it = true;
  for (size_t i = partial.size(); i-- > 0;) {
    int d = partial[i] - '0';
    if (double_it) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    double_it = !double_it;
  }
  return static_cast<char>('0' + (10 - sum % 10) % 10);
}

std::string CustomerDataGenerator::ChineseName() {
  std::string name(kSurnames[Uniform(0, kSurnames.size() - 1)]);
  const int given_characters = Uniform(1, 2);
  for (int i = 0; i < given_characters; ++i) {
    name += kGivenNameCharacters[Uniform(0, kGivenNameCharacters.size() - 1)];
  }
  return name;
}

std::string CustomerDataGenerator::ResidentId(std::string_view region_code) {
  const int year = Uniform(1950, 2005);
  const int month = Uniform(1, 12);
  const int day = Uniform(1, DaysInMonth(year, month));
  char birth[9];
  std::snprintf(birth, sizeof birth, "%04d%02d%02d", year, month, day);
  std::string id = std::string(region_code) + birth + Digits(3);
  id.push_back(ResidentIdCheckCharacter(id));
  return id;
}

std::string CustomerDataGenerator::Mobile() {
  std::string mobile = "1";
  mobile.push_back(static_cast<char>('0' + Uniform(3, 9)));
  return mobile + Digits(9);
}

std::string CustomerDataGenerator::BankCard() {
  std::string card = std::string(kCardPrefixes[Uniform(0, kCardPrefixes.size() - 1)]) + Digits(12);
  card.push_back(LuhnCheckDigit(card));
  return card;
}

std::string CustomerDataGenerator::Email() {
  std::string local;
  const int letters = Uniform(4, 9);
  for (int i = 0; i < letters; ++i) local.push_back(kMailLetters[Uniform(0, 25)]);
  local += Digits(Uniform(0, 4));
  return local + "@" + std::string(kMailDomains[Uniform(0, kMailDomains.size() - 1)]);
}

std::map<std::string, std::string> CustomerDataGenerator::NextCustomer() {
  const Region& region = kRegions[Uniform(0, kRegions.size() - 1)];
  std::map<std::string, std::string> customer;
  customer["name"] = ChineseName();
  customer["id_number"] = ResidentId(region.code);
  customer["phone"] = Mobile();
  customer["address"] = std::string(region.prefix) + std::string(kRoads[Uniform(0, kRoads.size() - 1)]) +
                        std::to_string(Uniform(1, 999)) + "号";
  customer["bank_account"] = BankCard();
  customer["email"] = Email();
  return customer;
}

}  // namespace custvault::bench
