// The receiver's record of which offer a partial file belongs to (src/client/partial_file.hpp,
// docs/protocol.md "File transfer").

#include "client/partial_file.hpp"

#include <fstream>
#include <string>

#include <unistd.h>

#include <gtest/gtest.h>

namespace switchboard::client::files {
namespace {

namespace fs = std::filesystem;

const PartialOffer kOffer{.from = "alice",
                          .id = "00112233445566778899aabbccddeeff",
                          .size = 1234567,
                          .sha256 = std::string(64, 'a')};

TEST(PartialFile, MetaFileSitsBesideThePartialFile) {
  EXPECT_EQ(partial_meta_path("/in/.report.pdf.00112233445566778899aabbccddeeff.part"),
            fs::path("/in/.report.pdf.00112233445566778899aabbccddeeff.meta"));
}

TEST(PartialFile, EncodesOneLineOfJsonAndReadsItBack) {
  const auto text = encode_partial_offer(kOffer);
  EXPECT_EQ(text, "{\"from\":\"alice\",\"id\":\"00112233445566778899aabbccddeeff\",\"size\":1234567,"
                  "\"sha256\":\"" + std::string(64, 'a') + "\"}\n");
  EXPECT_EQ(decode_partial_offer(text), kOffer);
}

TEST(PartialFile, RefusesAnythingButAValidRecord) {
  EXPECT_EQ(decode_partial_offer(""), std::nullopt);
  EXPECT_EQ(decode_partial_offer("{\"from\":\"alice\""), std::nullopt);  // cut short
  EXPECT_EQ(decode_partial_offer("[]"), std::nullopt);
  auto bad = [](auto change) {
    auto offer = kOffer;
    change(offer);
    return decode_partial_offer(encode_partial_offer(offer));
  };
  EXPECT_EQ(bad([](PartialOffer& o) { o.from.clear(); }), std::nullopt);
  EXPECT_EQ(bad([](PartialOffer& o) { o.id = "xyz"; }), std::nullopt);
  EXPECT_EQ(bad([](PartialOffer& o) { o.sha256 = std::string(64, 'A'); }), std::nullopt);
  EXPECT_EQ(bad([](PartialOffer& o) { o.size = std::uint64_t{1} << 53; }), std::nullopt);
  EXPECT_EQ(decode_partial_offer("{\"from\":\"alice\",\"id\":\"00112233445566778899aabbccddeeff\","
                                 "\"size\":-1,\"sha256\":\"" + std::string(64, 'a') + "\"}"),
            std::nullopt);
}

TEST(PartialFile, WritesReplacesAndReadsTheFileButNotThroughASymlink) {
  const fs::path dir =
      fs::temp_directory_path() / ("switchboard-partial-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  const auto meta = dir / ".x.meta";
  EXPECT_EQ(read_partial_offer(meta), std::nullopt);  // missing
  std::string error;
  ASSERT_TRUE(write_partial_offer(meta, kOffer, error)) << error;
  EXPECT_EQ(read_partial_offer(meta), kOffer);
  auto other = kOffer;
  other.sha256 = std::string(64, 'b');
  ASSERT_TRUE(write_partial_offer(meta, other, error)) << error;
  EXPECT_EQ(read_partial_offer(meta), other);  // replaced, not appended
  { std::ofstream(meta) << std::string(5000, ' '); }
  EXPECT_EQ(read_partial_offer(meta), std::nullopt);  // over 4 KiB
  const auto target = dir / "target";
  ASSERT_TRUE(write_partial_offer(target, kOffer, error)) << error;
  const auto link = dir / ".link.meta";
  fs::create_symlink(target, link);
  EXPECT_EQ(read_partial_offer(link), std::nullopt);
  EXPECT_FALSE(write_partial_offer(link, other, error));
  EXPECT_NE(error.find(".link.meta"), std::string::npos) << error;
  EXPECT_EQ(read_partial_offer(target), kOffer);  // untouched
  fs::remove_all(dir);
}

}  // namespace
}  // namespace switchboard::client::files
