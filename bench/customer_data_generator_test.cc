// The benchmark's generated customers must be valid, or the import
// benchmark would measure refusals instead of imports (R-CAT-4 validators).
#include "bench/customer_data_generator.h"

#include <gtest/gtest.h>

#include "catalog/catalog.h"

namespace custvault::bench {
namespace {

TEST(CustomerDataGeneratorTest, CheckCharactersMatchPublishedExamples) {
  // GB 11643-1999's own example and a Luhn example card.
  EXPECT_EQ(CustomerDataGenerator::ResidentIdCheckCharacter("11010519491231002"), 'X');
  EXPECT_EQ(CustomerDataGenerator::ResidentIdCheckCharacter("44052418800101001"), '4');
  EXPECT_EQ(CustomerDataGenerator::LuhnCheckDigit("7992739871"), '3');
}

TEST(CustomerDataGeneratorTest, EveryGeneratedCustomerPassesTheCatalogValidators) {
  Result<catalog::Catalog> catalog =
      catalog::Catalog::Load(catalog::Catalog::DefaultToml(), "", {}, {}, "default");
  ASSERT_TRUE(catalog.ok()) << catalog.status().ToString();
  CustomerDataGenerator generator(42);
  for (int i = 0; i < 5000; ++i) {
    const std::map<std::string, std::string> customer = generator.NextCustomer();
    ASSERT_EQ(customer.size(), 6u);
    Result<std::map<std::string, std::string>> validated =
        catalog->ValidateRecord(customer, /*is_create=*/true, /*max_birth_year=*/2026);
    ASSERT_TRUE(validated.ok()) << "customer " << i << ": " << validated.status().ToString()
                                << " " << (validated.status().details().empty()
                                               ? std::string()
                                               : validated.status().details()[0].field + "/" +
                                                     validated.status().details()[0].reason);
  }
}

TEST(CustomerDataGeneratorTest, SameSeedGivesTheSameCustomers) {
  CustomerDataGenerator a(7), b(7), c(8);
  const auto first = a.NextCustomer();
  EXPECT_EQ(first, b.NextCustomer());
  EXPECT_NE(first, c.NextCustomer());
}

}  // namespace
}  // namespace custvault::bench
