// R-AUD-1 (operations, masked details only), R-AUD-2 (canonical encoding
// and chain hash, cross-checked against Python's hashlib SM3).
#include "audit/entry.h"

#include <gtest/gtest.h>

#include "common/encoding.h"

namespace custvault::audit {
namespace {

store::AuditEntryRow SampleRow() {
  store::AuditEntryRow row;
  row.seq = 7;
  row.time_us = 1'796'000'000'000'000;
  row.actor_id = "alice";
  row.actor_role = "info_manager";
  row.source_ip = "192.0.2.1";
  row.operation = "customer.view";
  row.customer_id = "C20261129000001";
  row.result = "ok";
  row.details = R"({"count":1})";
  return row;
}

std::string Hex(std::string_view bytes) {
  static const char kDigits[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    out.push_back(kDigits[c >> 4]);
    out.push_back(kDigits[c & 15]);
  }
  return out;
}

// The values below were computed independently with Python (struct +
// hashlib.new("sm3")) from docs/formats/audit-chain.md.
TEST(AuditEntryTest, RAud2CanonicalEncodingMatchesTheFormatDocument) {
  std::string canonical;
  AppendCanonical(ViewOf(SampleRow()), &canonical);
  EXPECT_EQ(Hex(canonical),
            "010000000800000000000000070000000800066173d604400000000005616c6963650000000c696e666f"
            "5f6d616e61676572000000093139322e302e322e310000000d637573746f6d65722e766965770000000f"
            "433230323631313239303030303031000000026f6b0000000b7b22636f756e74223a317d");
}

TEST(AuditEntryTest, RAud2ChainHashIsSm3OfPrevHashAndCanonicalEntry) {
  ChainHasher hasher;
  const crypto::Digest32 hash = hasher.Hash(GenesisHash(), ViewOf(SampleRow()));
  EXPECT_EQ(Hex(crypto::DigestView(hash)),
            "605d79f8aacb7ca97aaaeccbf92a65fef49e703c637039b3bc3c058dad5a6dbb");
  // Reusing the hasher gives the same answer (no state leaks between calls).
  EXPECT_EQ(hasher.Hash(GenesisHash(), ViewOf(SampleRow())), hash);
}

TEST(AuditEntryTest, LengthPrefixesKeepFieldBoundariesApart) {
  ChainHasher hasher;
  store::AuditEntryRow a = SampleRow();
  store::AuditEntryRow b = SampleRow();
  a.actor_id = "ab";
  a.actor_role = "c";
  b.actor_id = "a";
  b.actor_role = "bc";
  EXPECT_NE(hasher.Hash(GenesisHash(), ViewOf(a)), hasher.Hash(GenesisHash(), ViewOf(b)));
}

TEST(AuditEntryTest, RAud1EveryOperationOfTheRequirementIsKnown) {
  for (std::string_view operation :
       {"customer.view",   "customer.search",      "customer.list",   "customer.create",
        "customer.update", "customer.delete",      "customer.reveal", "customer.export",
        "customer.import", "auth.login",           "auth.logout",     "auth.login_failed",
        "auth.lockout",    "auth.password_change", "account.create",  "account.disable",
        "account.review",  "role.grant_request",   "approval.decide", "backup.run",
        "backup.restore",  "key.rotate",           "config.change",   "access.denied",
        "audit.export",    "audit.verify",         "alert.ack"}) {
    EXPECT_TRUE(IsKnownOperation(operation)) << operation;
  }
  EXPECT_FALSE(IsKnownOperation("customer.steal"));
  EXPECT_TRUE(IsKnownResult("denied"));
  EXPECT_FALSE(IsKnownResult("maybe"));
}

TEST(AuditEntryTest, PrepareRowRefusesUnknownOrOversizedEvents) {
  AuditEvent event;
  event.actor_id = "alice";
  event.operation = "customer.view";
  event.result = "ok";
  EXPECT_TRUE(PrepareRow(event).ok());
  event.details["changed"] = boost::json::object{{"mobile", "138****5678"}};
  auto row = PrepareRow(event);
  ASSERT_TRUE(row.ok());
  EXPECT_EQ(row->details, R"({"changed":{"mobile":"138****5678"}})");

  AuditEvent bad = event;
  bad.operation = "customer.steal";
  EXPECT_EQ(PrepareRow(bad).status().code(), ErrorCode::kInvalidArgument);
  bad = event;
  bad.result = "";
  EXPECT_EQ(PrepareRow(bad).status().code(), ErrorCode::kInvalidArgument);
  bad = event;
  bad.actor_id = "";
  EXPECT_EQ(PrepareRow(bad).status().code(), ErrorCode::kInvalidArgument);
  bad = event;
  bad.actor_id = std::string(store::kAuditActorIdBytesMax + 1, 'a');
  EXPECT_EQ(PrepareRow(bad).status().code(), ErrorCode::kTooLarge);
  bad = event;
  bad.details["blob"] = std::string(store::kAuditDetailsBytesMax, 'x');
  EXPECT_EQ(PrepareRow(bad).status().code(), ErrorCode::kTooLarge);
}

}  // namespace
}  // namespace custvault::audit
