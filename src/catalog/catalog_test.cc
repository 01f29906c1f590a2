// Loading the catalog (R-CAT-1, R-CAT-2, R-CRY-1a) and validating whole
// records (R-CAT-3, R-CAT-4).
#include "catalog/catalog.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

namespace custvault::catalog {
namespace {

Result<Catalog> LoadWith(std::string_view extra, CatalogConfig config = {},
                         std::string_view profile = "default", LimitsConfig limits = {}) {
  return Catalog::Load(Catalog::DefaultToml(), extra, config, limits, profile);
}

Catalog LoadOrDie(std::string_view industry = "finance", std::string_view extra = "") {
  CatalogConfig config;
  config.industry = std::string(industry);
  Result<Catalog> catalog = LoadWith(extra, config);
  EXPECT_TRUE(catalog.ok()) << catalog.status().ToString();
  return std::move(catalog).value();
}

std::vector<FieldError> ErrorsOf(const Result<std::map<std::string, std::string>>& result) {
  EXPECT_FALSE(result.ok());
  if (result.ok()) return {};
  EXPECT_EQ(result.status().code(), ErrorCode::kValidationFailed);
  return result.status().details();
}

TEST(CatalogTest, DefaultTomlIsTheCompiledInDataFile) {
  std::ifstream in(std::string(CUSTVAULT_TEST_DATA_DIR) + "/../../data/catalog.toml");
  ASSERT_TRUE(in.good()) << "data/catalog.toml not found beside tests/data";
  std::stringstream text;
  text << in.rdbuf();
  EXPECT_EQ(Catalog::DefaultToml(), text.str());
}

TEST(CatalogTest, DefaultCatalogHasTheSeedTableFields) {  // R-CAT-2
  const Catalog catalog = LoadOrDie();
  struct Expected {
    const char* key;
    FieldClass field_class;
    Protection protection;
    const char* mask;
    bool searchable;
  };
  const Expected expected[] = {
      {"name", FieldClass::kBasic, Protection::kAes256Gcm, "name", true},
      {"id_number", FieldClass::kBasic, Protection::kSm4Gcm, "id_number", true},
      {"phone", FieldClass::kBasic, Protection::kAes256Gcm, "phone", true},
      {"address", FieldClass::kBasic, Protection::kAes256Gcm, "address", false},
      {"email", FieldClass::kBasic, Protection::kAes256Gcm, "email", true},
      {"org_credit_code", FieldClass::kBasic, Protection::kAes256Gcm, "none", true},
      {"bank_account", FieldClass::kSensitive, Protection::kSm4Gcm, "bank_account", true},
      {"credit_rating", FieldClass::kSensitive, Protection::kSm4Gcm, "hidden", false},
      {"health_record", FieldClass::kSensitive, Protection::kSm4Gcm, "never", false},
      {"biometric", FieldClass::kSensitive, Protection::kSm4Gcm, "never", false},
      {"consumption_frequency", FieldClass::kBusiness, Protection::kPlain, "none", false},
      {"purchase_preference", FieldClass::kBusiness, Protection::kAes256Gcm, "none", false},
      {"cooperation_history", FieldClass::kBusiness, Protection::kAes256Gcm, "none", false},
      {"complaint_records", FieldClass::kBusiness, Protection::kAes256Gcm, "none", false},
  };
  EXPECT_EQ(catalog.fields().size(), std::size(expected));
  for (const Expected& e : expected) {
    const FieldDef* field = catalog.Find(e.key);
    ASSERT_NE(field, nullptr) << e.key;
    EXPECT_EQ(field->field_class, e.field_class) << e.key;
    EXPECT_EQ(field->protection, e.protection) << e.key;
    EXPECT_EQ(field->mask, e.mask) << e.key;
    EXPECT_EQ(field->searchable, e.searchable) << e.key;
    EXPECT_FALSE(field->label_zh.empty()) << e.key;
    EXPECT_FALSE(field->label_en.empty()) << e.key;
    EXPECT_EQ(field->required, std::string(e.key) == "name") << e.key;
  }
  EXPECT_EQ(catalog.Find("health_record")->industries, std::vector<std::string>{"medical"});
  EXPECT_EQ(catalog.Find("biometric")->type, ValueType::kBinary);
  EXPECT_EQ(catalog.Find("consumption_frequency")->type, ValueType::kInteger);
  EXPECT_EQ(catalog.Find("credit_rating")->allowed_values,
            (std::vector<std::string>{"AAA", "AA", "A", "BBB", "BB", "B", "CCC", "CC", "C", "D"}));
  EXPECT_TRUE(catalog.Find("bank_account")->pipl_sensitive);
  EXPECT_TRUE(catalog.Find("health_record")->pipl_sensitive);
  EXPECT_TRUE(catalog.Find("biometric")->pipl_sensitive);
  EXPECT_EQ(catalog.Find("customer_id"), nullptr);
}

TEST(CatalogTest, GmProfileEncryptsEveryAesFieldWithSm4) {  // R-CRY-1a
  const Result<Catalog> catalog = LoadWith("", {}, "gm");
  ASSERT_TRUE(catalog.ok()) << catalog.status().ToString();
  for (const FieldDef& field : catalog->fields()) {
    EXPECT_NE(field.protection, Protection::kAes256Gcm) << field.key;
  }
  EXPECT_EQ(catalog->Find("name")->protection, Protection::kSm4Gcm);
  EXPECT_EQ(catalog->Find("consumption_frequency")->protection, Protection::kPlain);
}

TEST(CatalogTest, DeploymentAddsFieldsByConfig) {  // R-CAT-1
  const std::string extra = R"(
[[field]]
key = "wechat_id"
label_zh = "微信号"
label_en = "WeChat ID"
class = "basic"
rule = "text"
type = "text"
protection = "aes-256-gcm"
mask = "hidden"
searchable = true
max_bytes = 64

[[field]]
key = "loyalty_points"
label_zh = "积分"
label_en = "Loyalty points"
class = "business"
rule = "integer"
type = "integer"
protection = "plain"
mask = "none"
min_integer = 0
)";
  const Catalog catalog = LoadOrDie("ecommerce", extra);
  ASSERT_NE(catalog.Find("wechat_id"), nullptr);
  EXPECT_EQ(catalog.Find("wechat_id")->label_zh, "微信号");
  EXPECT_TRUE(catalog.Find("wechat_id")->searchable);
  auto result = catalog.ValidateRecord(
      {{"name", "张三"}, {"wechat_id", " zhangsan_88 "}, {"loyalty_points", "0300"}}, true);
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  EXPECT_EQ(result->at("wechat_id"), "zhangsan_88");
  EXPECT_EQ(result->at("loyalty_points"), "300");
  EXPECT_EQ(catalog.MaskValue(*catalog.Find("wechat_id"), "zhangsan_88"), "***");
}

// One bad entry per case: the error must name the entry and the key.
struct BadCatalogCase {
  const char* what;
  const char* entry;
  const char* expect_in_message;
};

std::string Entry(const std::string& overrides, const std::string& drop = "") {
  std::map<std::string, std::string> keys = {
      {"key", "\"wechat_id\""},  {"label_zh", "\"微信号\""}, {"label_en", "\"WeChat ID\""},
      {"class", "\"basic\""},    {"rule", "\"text\""},       {"type", "\"text\""},
      {"protection", "\"sm4\""}, {"mask", "\"hidden\""}};
  std::stringstream in(overrides);
  std::string line;
  while (std::getline(in, line)) {
    const size_t eq = line.find(" = ");
    if (eq != std::string::npos) keys[line.substr(0, eq)] = line.substr(eq + 3);
  }
  std::string out = "[[field]]\n";
  for (const auto& [k, v] : keys) {
    if (k != drop) out += k + " = " + v + "\n";
  }
  return out;
}

TEST(CatalogTest, BadExtraFieldsAreRefusedNamingEntryAndKey) {  // R-CAT-1
  const std::pair<std::string, std::vector<std::string>> cases[] = {
      {Entry("key = \"phone\""), {"extra fields file entry 1", "\"phone\"", "'key'", "duplicate"}},
      {Entry("colour = \"red\""), {"\"wechat_id\"", "'colour'", "unknown"}},
      {Entry("class = \"secret\""), {"\"wechat_id\"", "'class'"}},
      {Entry("protection = \"aes\""), {"\"wechat_id\"", "'protection'"}},
      {Entry("protection = \"plain\""), {"\"wechat_id\"", "'protection'", "business"}},
      {Entry("rule = \"zodiac\""), {"\"wechat_id\"", "'rule'"}},
      {Entry("mask = \"blur\""), {"\"wechat_id\"", "'mask'"}},
      {Entry("type = \"integer\""), {"\"wechat_id\"", "'type'"}},
      {Entry("searchable = \"yes\""), {"\"wechat_id\"", "'searchable'"}},
      {Entry("industries = [\"retail\"]"), {"\"wechat_id\"", "'industries'"}},
      {Entry("max_bytes = -1"), {"\"wechat_id\"", "'max_bytes'"}},
      {Entry("rule = \"credit_rating\""), {"\"wechat_id\"", "'allowed_values'"}},
      {Entry("allowed_values = [\"A\"]"), {"\"wechat_id\"", "'allowed_values'"}},
      {Entry("min_integer = 3"), {"\"wechat_id\"", "'min_integer'"}},
      {Entry("key = \"WeChat\""), {"extra fields file entry 1", "'key'"}},
      {Entry("", "label_en"), {"\"wechat_id\"", "'label_en'", "missing"}},
      {Entry("label_zh = \"\""), {"\"wechat_id\"", "'label_zh'"}},
      {Entry("") + Entry("key = \"wechat_id\""), {"extra fields file entry 2", "duplicate"}},
      {"[[field]\nkey = 1", {"extra fields file", "not valid TOML"}},
      {"[catalog]\nx = 1\n", {"extra fields file", "'catalog'"}},
      {"field = 3\n", {"extra fields file", "'field'"}},
  };
  for (const auto& [toml, needles] : cases) {
    const Result<Catalog> catalog = LoadWith(toml);
    ASSERT_FALSE(catalog.ok()) << toml;
    EXPECT_EQ(catalog.status().code(), ErrorCode::kInvalidArgument);
    for (const std::string& needle : needles) {
      EXPECT_NE(catalog.status().message().find(needle), std::string::npos)
          << "message \"" << catalog.status().message() << "\" lacks \"" << needle << "\"\n"
          << toml;
    }
  }
}

TEST(CatalogTest, BadDefaultCatalogIsRefusedToo) {
  const Result<Catalog> empty = Catalog::Load("", "", {}, {}, "default");
  EXPECT_FALSE(empty.ok());
  const Result<Catalog> bad = Catalog::Load(Entry("mask = \"blur\""), "", {}, {}, "default");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("default catalog entry 1 (\"wechat_id\"): key 'mask'"),
            std::string::npos)
      << bad.status().message();
}

TEST(CatalogTest, BadSettingsAreRefusedNamingTheSetting) {
  CatalogConfig config;
  config.industry = "retail";
  EXPECT_NE(LoadWith("", config).status().message().find("catalog.industry"), std::string::npos);
  config = {};
  config.id_number_mask = "last4";
  EXPECT_NE(LoadWith("", config).status().message().find("catalog.id_number_mask"),
            std::string::npos);
  EXPECT_NE(LoadWith("", {}, "fips").status().message().find("crypto.profile"), std::string::npos);
}

TEST(CatalogTest, IdNumberMaskSettingReachesMaskValue) {  // R-CAT-2a
  CatalogConfig config;
  config.id_number_mask = "first6_last4";
  const Result<Catalog> safer = LoadWith("", config);
  ASSERT_TRUE(safer.ok());
  EXPECT_EQ(safer->MaskValue(*safer->Find("id_number"), "11010519491231002X"),
            "110105********002X");
  const Catalog seed = LoadOrDie();
  EXPECT_EQ(seed.id_number_mask(), "first6_last6");
  EXPECT_EQ(seed.MaskValue(*seed.Find("id_number"), "11010519491231002X"), "110105******31002X");
}

TEST(ValidateRecordTest, ValidRecordComesBackNormalised) {
  const Catalog catalog = LoadOrDie();
  auto result = catalog.ValidateRecord({{"name", " 张三 "},
                                        {"id_number", "11010519491231002x"},
                                        {"phone", "+86 138 1234 5678"},
                                        {"email", "Zhang@Example.com"},
                                        {"bank_account", "4111 1111 1111 1111"},
                                        {"credit_rating", "bbb"},
                                        {"biometric", "AAECAw=="},
                                        {"consumption_frequency", "012"},
                                        {"org_credit_code", "91350100m000100y43"}},
                                       true);
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  const std::map<std::string, std::string> expected = {{"name", "张三"},
                                                       {"id_number", "11010519491231002X"},
                                                       {"phone", "13812345678"},
                                                       {"email", "zhang@example.com"},
                                                       {"bank_account", "4111111111111111"},
                                                       {"credit_rating", "BBB"},
                                                       {"biometric", "AAECAw=="},
                                                       {"consumption_frequency", "12"},
                                                       {"org_credit_code", "91350100M000100Y43"}};
  EXPECT_EQ(*result, expected);
}

TEST(ValidateRecordTest, EveryFailingFieldIsReportedAtOnce) {  // R-CAT-4
  const Catalog catalog = LoadOrDie();
  const std::string secret_id = "110105194912310021";
  const auto result = catalog.ValidateRecord({{"name", "张3"},
                                              {"id_number", secret_id},
                                              {"phone", "12345"},
                                              {"bank_account", "4111111111111112"},
                                              {"credit_rating", "E"},
                                              {"consumption_frequency", "many"},
                                              {"biometric", "not base64!"},
                                              {"address", std::string("路\x01")},
                                              {"shoe_size", "42"}},
                                             true);
  const std::vector<FieldError> errors = ErrorsOf(result);
  const std::vector<FieldError> expected = {{"address", "format"},
                                            {"bank_account", "luhn"},
                                            {"biometric", "not_base64"},
                                            {"consumption_frequency", "not_integer"},
                                            {"credit_rating", "not_in_scale"},
                                            {"id_number", "checksum"},
                                            {"name", "format"},
                                            {"phone", "length"},
                                            {"shoe_size", "unknown_field"}};
  EXPECT_EQ(errors, expected);
  EXPECT_EQ(result.status().message().find(secret_id), std::string::npos);
  EXPECT_EQ(result.status().ToString().find("张3"), std::string::npos);
}

TEST(ValidateRecordTest, RequiredFieldsOnlyOnCreate) {  // R-CAT-4
  const Catalog catalog = LoadOrDie();
  EXPECT_EQ(ErrorsOf(catalog.ValidateRecord({{"phone", "13812345678"}}, true)),
            (std::vector<FieldError>{{"name", "required"}}));
  EXPECT_TRUE(catalog.ValidateRecord({{"phone", "13812345678"}}, false).ok());
  EXPECT_EQ(ErrorsOf(catalog.ValidateRecord({{"name", "  "}}, false)),
            (std::vector<FieldError>{{"name", "empty"}}));
}

TEST(ValidateRecordTest, EcommerceRefusesHealthRecordMedicalAcceptsIt) {  // R-CAT-3
  const Catalog shop = LoadOrDie("ecommerce");
  EXPECT_FALSE(shop.Collects(*shop.Find("health_record")));
  EXPECT_EQ(ErrorsOf(shop.ValidateRecord({{"name", "张三"}, {"health_record", "高血压"}}, true)),
            (std::vector<FieldError>{{"health_record", "not_collected_in_industry"}}));
  const Catalog hospital = LoadOrDie("medical");
  const auto ok = hospital.ValidateRecord({{"name", "张三"}, {"health_record", "高血压"}}, true);
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_EQ(ok->at("health_record"), "高血压");
}

TEST(ValidateRecordTest, SizeLimitsApplyPerFieldAndGlobally) {
  const Catalog catalog = LoadOrDie();
  EXPECT_EQ(ErrorsOf(catalog.ValidateRecord({{"address", std::string(601, 'a')}}, false)),
            (std::vector<FieldError>{{"address", "too_long"}}));
  EXPECT_TRUE(catalog.ValidateRecord({{"address", std::string(600, 'a')}}, false).ok());
  // A smaller global limit wins over the field's own.
  LimitsConfig limits;
  limits.field_bytes_max = 100;
  limits.binary_field_bytes_max = 3;
  const Result<Catalog> tight = LoadWith("", {}, "default", limits);
  ASSERT_TRUE(tight.ok());
  EXPECT_EQ(ErrorsOf(tight->ValidateRecord(
                {{"address", std::string(101, 'a')}, {"biometric", "AAECAw=="}},  // 4 bytes decoded
                false)),
            (std::vector<FieldError>{{"address", "too_long"}, {"biometric", "too_long"}}));
  EXPECT_TRUE(tight->ValidateRecord({{"biometric", "AAEC"}}, false).ok());
}

TEST(ValidateRecordTest, EncodingEmptyAndRangeReasons) {
  const Catalog catalog = LoadOrDie();
  EXPECT_EQ(ErrorsOf(catalog.ValidateRecord({{"complaint_records", "\xE5\xBC"},
                                             {"purchase_preference", " \xE3\x80\x80 "},
                                             {"consumption_frequency", "-1"},
                                             {"biometric", ""}},
                                            false)),
            (std::vector<FieldError>{{"biometric", "empty"},
                                     {"complaint_records", "encoding"},
                                     {"consumption_frequency", "out_of_range"},
                                     {"purchase_preference", "empty"}}));
  EXPECT_EQ(ErrorsOf(catalog.ValidateRecord({{"consumption_frequency", "1000001"}}, false)),
            (std::vector<FieldError>{{"consumption_frequency", "out_of_range"}}));
  EXPECT_EQ(
      ErrorsOf(catalog.ValidateRecord({{"consumption_frequency", "9999999999999999999"}}, false)),
      (std::vector<FieldError>{{"consumption_frequency", "not_integer"}}));
}

TEST(ValidateRecordTest, BirthYearBoundComesFromTheCaller) {
  const Catalog catalog = LoadOrDie();
  const std::string born_2030 = "11010520300101001X";
  ASSERT_EQ(CheckResidentId(born_2030, 2100), std::nullopt) << "test id must be otherwise valid";
  EXPECT_TRUE(catalog.ValidateRecord({{"id_number", born_2030}}, false).ok());
  EXPECT_EQ(ErrorsOf(catalog.ValidateRecord({{"id_number", born_2030}}, false, 2026)),
            (std::vector<FieldError>{{"id_number", "birth_date"}}));
}

TEST(ValidateRecordTest, UnknownKeysAreEchoedOnlyInASafeSpelling) {
  const Catalog catalog = LoadOrDie();
  const auto errors = ErrorsOf(catalog.ValidateRecord({{"姓名<script>", "x"}}, false));
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].reason, "unknown_field");
  EXPECT_EQ(errors[0].field.find_first_not_of("abcdefghijklmnopqrstuvwxyz?"), std::string::npos)
      << errors[0].field;
}

}  // namespace
}  // namespace custvault::catalog
