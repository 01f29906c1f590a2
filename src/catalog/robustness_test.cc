// Fuzz-style robustness (R-MASK-2, style habit 9): random byte strings and
// mutated valid values through every validator, normaliser and mask. None
// may crash (the ASan+UBSan build checks memory), masks of personal rules
// never give back their input, and their output is always valid UTF-8.
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "catalog/catalog.h"
#include "catalog/utf8.h"

namespace custvault::catalog {
namespace {

constexpr int kRandomCases = 20000;

// Valid values of every rule: the mutations start from these so they
// reach deep into the validators, not only their first length check.
const std::vector<std::string> kSeeds = {"11010519491231002X",
                                         "440524188001010014",
                                         "13812345678",
                                         "+86 138 1234 5678",
                                         "010-62345678",
                                         "0755-82345678-123",
                                         "4111111111111111",
                                         "91350100M000100Y43",
                                         "zhang.san@example.com",
                                         "张三",
                                         "欧阳娜娜",
                                         "阿卜杜拉·买买提",
                                         "Alice Smith",
                                         "北京市朝阳区建国路88号",
                                         "广西壮族自治区南宁市青秀区民族大道1号",
                                         "AAECAw==",
                                         "BBB",
                                         "0012",
                                         "11010519491231002\xEF\xBC\xB8"};

std::string RandomBytes(std::mt19937& rng) {
  std::uniform_int_distribution<int> length(0, 48);
  std::uniform_int_distribution<int> byte(0, 255);
  std::string out(length(rng), '\0');
  for (char& c : out) c = static_cast<char>(byte(rng));
  return out;
}

std::string Mutate(std::mt19937& rng, std::string s) {
  std::uniform_int_distribution<int> edits(1, 4);
  std::uniform_int_distribution<int> byte(0, 255);
  // Bytes that matter to the parsers: digits, X, separators, UTF-8 leads.
  const std::string interesting = "0123456789Xx-+ @.\xE5\xBC\xA0\xEF\xBC\xB8\xC2\xB7\x80";
  for (int n = edits(rng); n > 0; --n) {
    const int op = std::uniform_int_distribution<int>(0, 3)(rng);
    const size_t pos = s.empty() ? 0 : std::uniform_int_distribution<size_t>(0, s.size() - 1)(rng);
    const char c =
        std::uniform_int_distribution<int>(0, 1)(rng)
            ? interesting[std::uniform_int_distribution<size_t>(0, interesting.size() - 1)(rng)]
            : static_cast<char>(byte(rng));
    if (op == 0 && !s.empty()) {
      s[pos] = c;
    } else if (op == 1) {
      s.insert(s.begin() + static_cast<std::ptrdiff_t>(std::min(pos, s.size())), c);
    } else if (op == 2 && !s.empty()) {
      s.erase(pos, 1);
    } else if (!s.empty()) {
      s.resize(pos);  // truncation, often inside a multi-byte character
    }
  }
  return s;
}

TEST(RobustnessTest, RandomInputNeverCrashesAndPersonalMasksNeverEchoTheInput) {
  Result<Catalog> loaded = Catalog::Load(Catalog::DefaultToml(), "", {}, {}, "default");
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  const Catalog& catalog = *loaded;
  const std::vector<std::string> personal_masks = {"name",         "id_number", "phone", "address",
                                                   "bank_account", "email",     "hidden"};
  std::mt19937 rng(20261129);  // fixed seed: a failure repeats
  int valid_by_chance = 0;
  for (int i = 0; i < kRandomCases; ++i) {
    const std::string input = i % 2 == 0
                                  ? RandomBytes(rng)
                                  : Mutate(rng, kSeeds[static_cast<size_t>(i / 2) % kSeeds.size()]);
    SCOPED_TRACE("case " + std::to_string(i));
    // Validators: any answer is fine, as long as they answer.
    const std::optional<Reason> reasons[] = {
        CheckResidentId(input),  CheckMobile(input), CheckLandline(input), CheckPhone(input),
        CheckBankAccount(input), CheckUscc(input),   CheckEmail(input),    CheckPersonName(input)};
    for (const auto& reason : reasons) {
      if (!reason) {
        ++valid_by_chance;
      } else {
        EXPECT_FALSE(reason->empty());
      }
    }
    (void)LuhnValid(input);
    // Normalisers and the record check of every field.
    for (const FieldDef& field : catalog.fields()) {
      const std::string normalised = Normalise(field, input);
      EXPECT_LE(normalised.size(), input.size() + 2) << field.key;
      (void)catalog.CheckField(field, input);
    }
    (void)catalog.ValidateRecord({{"name", input}, {"phone", input}, {"id_number", input}}, true);
    // Masks: never the input back, always valid UTF-8.
    for (const std::string& rule : personal_masks) {
      const std::string masked = Mask(rule, input);
      EXPECT_NE(masked, input) << rule;
      EXPECT_TRUE(IsValidUtf8(masked)) << rule;
      EXPECT_FALSE(masked.empty()) << rule;
      const std::string masked4 = Mask(rule, input, "first6_last4");
      EXPECT_NE(masked4, input) << rule;
    }
    EXPECT_EQ(Mask("never", input), "");
    EXPECT_EQ(Mask("none", input), input);
  }
  // The mutations must reach valid values sometimes, or they test only
  // the first checks of each validator.
  EXPECT_GT(valid_by_chance, 100);
}

}  // namespace
}  // namespace custvault::catalog
