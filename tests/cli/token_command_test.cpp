// `switchboard token` as a user runs it: the printed token verifies with the same secret
// the server would use.
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include <gtest/gtest.h>

#include "credentials.hpp"
#include "run_cli.hpp"
#include "signaling/token.hpp"

namespace switchboard::cli {
namespace {

CliRun run(const std::string& args, const std::string& env = "") {
  return run_cli("token " + args, env);
}

TEST(TokenCommand, DevTokenVerifiesWithTheDevelopmentSecret) {
  const auto now = unix_now();
  const auto r = run("--user alice --call c1 --name Alice --dev");
  ASSERT_EQ(r.status, 0);
  const auto claims = signaling::verify_token(r.out, signaling::kDevelopmentSecret, now, "c1");
  ASSERT_TRUE(claims) << claims.error().message;
  EXPECT_EQ(claims->sub, "alice");
  EXPECT_EQ(claims->call, "c1");
  EXPECT_EQ(claims->name, "Alice");
  EXPECT_NEAR(static_cast<double>(claims->exp - now), 3600.0, 5.0);
}

TEST(TokenCommand, TokenIsForItsCallOnly) {
  const auto r = run("--user alice --call c1 --dev");
  ASSERT_EQ(r.status, 0);
  EXPECT_FALSE(signaling::verify_token(r.out, signaling::kDevelopmentSecret, unix_now(), "c2"));
}

TEST(TokenCommand, TtlSetsTheExpiry) {
  const auto now = unix_now();
  const auto r = run("--user bob --call c1 --dev --ttl 30m");
  ASSERT_EQ(r.status, 0);
  const auto claims = signaling::verify_token(r.out, signaling::kDevelopmentSecret, now, "c1");
  ASSERT_TRUE(claims);
  EXPECT_NEAR(static_cast<double>(claims->exp - now), 1800.0, 5.0);
  // Expired once the lifetime is over.
  EXPECT_FALSE(signaling::verify_token(r.out, signaling::kDevelopmentSecret, now + 1900, "c1"));
}

TEST(TokenCommand, SecretFileSignsTheToken) {
  const auto path =
      std::filesystem::temp_directory_path() / ("switchboard-secret-" + std::to_string(::getpid()));
  { std::ofstream(path) << "file-secret\n"; }
  const auto r = run("--user carol --call '*' --secret-file " + path.string());
  std::filesystem::remove(path);
  ASSERT_EQ(r.status, 0);
  // A token for any call, signed with the file's content minus its newline.
  EXPECT_TRUE(signaling::verify_token(r.out, "file-secret", unix_now(), "whatever"));
  EXPECT_FALSE(signaling::verify_token(r.out, signaling::kDevelopmentSecret, unix_now(), "x"));
}

TEST(TokenCommand, EnvironmentSecretSignsTheToken) {
  const auto r = run("--user dave --call c9", "SWITCHBOARD_SECRET=env-secret");
  ASSERT_EQ(r.status, 0);
  EXPECT_TRUE(signaling::verify_token(r.out, "env-secret", unix_now(), "c9"));
}

TEST(TokenCommand, NoSecretFails) {
  const auto r = run("--user dave --call c9", "env -u SWITCHBOARD_SECRET");
  EXPECT_NE(r.status, 0);
  EXPECT_TRUE(r.out.empty());
}

TEST(TokenCommand, BadTtlFails) {
  EXPECT_NE(run("--user a --call c --dev --ttl 1y").status, 0);
  EXPECT_NE(run("--user a --call c --dev --ttl 0s").status, 0);
  EXPECT_NE(run("--user a --call c --dev --ttl h").status, 0);
}

TEST(TokenCommand, MissingUserFails) {
  EXPECT_NE(run("--call c --dev").status, 0);
}

TEST(ParseTtl, AcceptsHoursMinutesSecondsAndPlainSeconds) {
  EXPECT_EQ(*parse_ttl("1h"), std::chrono::seconds{3600});
  EXPECT_EQ(*parse_ttl("30m"), std::chrono::seconds{1800});
  EXPECT_EQ(*parse_ttl("3600s"), std::chrono::seconds{3600});
  EXPECT_EQ(*parse_ttl("90"), std::chrono::seconds{90});
  EXPECT_FALSE(parse_ttl(""));
  EXPECT_FALSE(parse_ttl("-5s"));
  EXPECT_FALSE(parse_ttl("1.5h"));
  EXPECT_FALSE(parse_ttl("99999999h"));
}

TEST(JoinToken, DevMintsAnHourTokenForTheUserAndCall) {
  const auto token = join_token("", true, "alice", "c1", "Alice");
  ASSERT_TRUE(token);
  const auto claims =
      signaling::verify_token(*token, signaling::kDevelopmentSecret, unix_now(), "c1");
  ASSERT_TRUE(claims);
  EXPECT_EQ(claims->sub, "alice");
}

TEST(JoinToken, GivenTokenWinsAndNoneIsAnError) {
  EXPECT_EQ(*join_token("abc", true, "alice", "c1", ""), "abc");
  const auto none = join_token("", false, "alice", "c1", "");
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().code, ErrorCode::InvalidArgument);
}

}  // namespace
}  // namespace switchboard::cli
