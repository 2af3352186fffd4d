// The file-transfer convention's codec and name sanitising (src/client/file_messages.hpp,
// docs/protocol.md "File transfer"), with the vectors the Web SDK's
// web/test/unit/files.test.ts uses, so both sides read each other's bytes.

#include "client/file_messages.hpp"

#include <string>
#include <vector>

#include <gtest/gtest.h>

#include <switchboard/file_transfer.hpp>

namespace switchboard::client::files {
namespace {

const std::string kId = "00112233445566778899aabbccddeeff";

std::vector<std::uint8_t> bytes_of(std::uint8_t kind, std::string_view json) {
  std::vector<std::uint8_t> out{kind};
  out.insert(out.end(), json.begin(), json.end());
  return out;
}

std::string reason(const std::vector<std::uint8_t>& bytes) {
  auto r = decode(bytes);
  EXPECT_FALSE(r.ok());
  if (r.ok()) return {};
  EXPECT_EQ(r.error().code, ErrorCode::InvalidArgument);
  return r.error().message;
}

TEST(FileMessages, ChunkIsKindIdBigEndianOffsetThenData) {
  const std::vector<std::uint8_t> data{7, 8, 9};
  const auto bytes = encode(Chunk{kId, (std::uint64_t{1} << 40) + 5, data});
  const std::vector<std::uint8_t> expected{
      3,    0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc,
      0xdd, 0xee, 0xff, 0,    0,    1,    0,    0,    0,    0,    5,    7,    8,    9};
  EXPECT_EQ(bytes, expected);
  auto decoded = decode(bytes);
  ASSERT_TRUE(decoded.ok()) << decoded.error().message;
  const auto& chunk = std::get<Chunk>(*decoded);
  EXPECT_EQ(chunk.id, kId);
  EXPECT_EQ(chunk.offset, (std::uint64_t{1} << 40) + 5);
  EXPECT_EQ(std::vector<std::uint8_t>(chunk.data.begin(), chunk.data.end()), data);
}

TEST(FileMessages, JsonMessagesAreWrittenAsTheWebSdkWritesThem) {
  const auto as_text = [](const std::vector<std::uint8_t>& b) {
    return std::to_string(b[0]) + " " + std::string(b.begin() + 1, b.end());
  };
  EXPECT_EQ(
      as_text(encode(Offer{kId, "report.pdf", 1234567, std::string(64, 'a'), "application/pdf"})),
      "1 {\"id\":\"" + kId + "\",\"name\":\"report.pdf\",\"size\":1234567,\"sha256\":\"" +
          std::string(64, 'a') + "\",\"mime\":\"application/pdf\"}");
  EXPECT_EQ(as_text(encode(Offer{kId, "a", 0, std::string(64, 'b'), ""})),
            "1 {\"id\":\"" + kId + "\",\"name\":\"a\",\"size\":0,\"sha256\":\"" +
                std::string(64, 'b') + "\"}");
  EXPECT_EQ(as_text(encode(Accept{kId, 65536})), "2 {\"id\":\"" + kId + "\",\"offset\":65536}");
  EXPECT_EQ(as_text(encode(Done{kId})), "4 {\"id\":\"" + kId + "\"}");
  EXPECT_EQ(as_text(encode(Progress{kId, 1048576})),
            "5 {\"id\":\"" + kId + "\",\"offset\":1048576}");
  EXPECT_EQ(as_text(encode(Cancel{kId, "HASH_MISMATCH", "bad"})),
            "6 {\"id\":\"" + kId + "\",\"code\":\"HASH_MISMATCH\",\"message\":\"bad\"}");
}

TEST(FileMessages, EveryKindRoundTrips) {
  const std::vector<Message> messages = {
      Offer{kId, "report.pdf", 1234567, std::string(64, 'a'), "application/pdf"},
      Accept{kId, 65536},
      Done{kId},
      Progress{kId, 1048576},
      Cancel{kId, "DECLINED", "no thanks"},
  };
  for (const auto& m : messages) {
    auto decoded = decode(encode(m));
    ASSERT_TRUE(decoded.ok()) << decoded.error().message;
    EXPECT_EQ(decoded->index(), m.index());
    std::visit(
        [&](const auto& want) {
          using T = std::decay_t<decltype(want)>;
          if constexpr (!std::is_same_v<T, Chunk>) EXPECT_EQ(std::get<T>(*decoded), want);
        },
        m);
  }
}

TEST(FileMessages, ReadsWhatJavaScriptMayWrite) {
  // Key order, spaces, an integral float, an unknown CANCEL code (read as CANCELLED).
  auto accept = decode(bytes_of(2, "{ \"offset\": 1e3, \"id\": \"" + kId + "\" }"));
  ASSERT_TRUE(accept.ok()) << accept.error().message;
  EXPECT_EQ(std::get<Accept>(*accept).offset, 1000u);
  auto cancel = decode(bytes_of(6, "{\"id\":\"" + kId + "\",\"code\":\"WHATEVER\"}"));
  ASSERT_TRUE(cancel.ok());
  EXPECT_EQ(std::get<Cancel>(*cancel).code, "CANCELLED");
  EXPECT_EQ(std::get<Cancel>(*cancel).message, "");
  auto offer = decode(bytes_of(1, "{\"id\":\"" + kId +
                                      "\",\"name\":\"x\",\"size\":9007199254740991,\"sha256\":\"" +
                                      std::string(64, '0') + "\",\"mime\":\"\"}"));
  ASSERT_TRUE(offer.ok());
  EXPECT_EQ(std::get<Offer>(*offer).size, kMaxOffset);
  EXPECT_EQ(std::get<Offer>(*offer).mime, "");
}

TEST(FileMessages, MalformedMessagesAreRefusedWithTheReason) {
  EXPECT_NE(reason({}).find("empty"), std::string::npos);
  EXPECT_NE(reason(bytes_of(9, "{\"id\":\"" + kId + "\"}")).find("unknown kind 0x09"),
            std::string::npos);
  EXPECT_NE(reason(bytes_of(2, "{\"id\":\"ABC\",\"offset\":0}")).find("\"id\""), std::string::npos);
  EXPECT_NE(
      reason(bytes_of(2, "{\"id\":\"" + std::string(32, 'A') + "\",\"offset\":0}")).find("\"id\""),
      std::string::npos);
  EXPECT_NE(reason(bytes_of(2, "{\"id\":\"" + kId + "\",\"offset\":-1}")).find("offset"),
            std::string::npos);
  EXPECT_NE(
      reason(bytes_of(2, "{\"id\":\"" + kId + "\",\"offset\":9007199254740992}")).find("offset"),
      std::string::npos);
  EXPECT_NE(reason(bytes_of(2, "{\"id\":\"" + kId + "\",\"offset\":1.5}")).find("offset"),
            std::string::npos);
  EXPECT_NE(
      reason(bytes_of(1, "{\"id\":\"" + kId + "\",\"name\":\"x\",\"size\":1,\"sha256\":\"zz\"}"))
          .find("sha256"),
      std::string::npos);
  EXPECT_NE(reason(bytes_of(1, "{\"id\":\"" + kId + "\",\"size\":1,\"sha256\":\"" +
                                   std::string(64, '0') + "\"}"))
                .find("name"),
            std::string::npos);
  EXPECT_NE(reason(bytes_of(1, "{\"id\":\"" + kId + "\",\"name\":\"" + std::string(5000, 'x') +
                                   "\",\"size\":1,\"sha256\":\"" + std::string(64, '0') + "\"}"))
                .find("4 KiB"),
            std::string::npos);
  EXPECT_NE(reason({3, 1, 2}).find("header"), std::string::npos);
  auto far = encode(Chunk{kId, 0, std::vector<std::uint8_t>(1)});
  far[17] = 0xff;
  EXPECT_NE(reason(far).find("2^53"), std::string::npos);
  auto big = encode(Chunk{kId, 0, std::vector<std::uint8_t>(kMaxChunkSize + 1)});
  EXPECT_NE(reason(big).find("64 KiB"), std::string::npos);
  EXPECT_NE(reason({2, 0xff, 0xfe}).find("UTF-8 JSON"), std::string::npos);
  EXPECT_NE(reason(bytes_of(2, "[1,2]")).find("object"), std::string::npos);
  // Invalid UTF-8 inside a JSON string.
  EXPECT_NE(
      reason(bytes_of(1, "{\"id\":\"" + kId + "\",\"name\":\"\xff\",\"size\":1,\"sha256\":\"" +
                             std::string(64, '0') + "\"}"))
          .find("UTF-8 JSON"),
      std::string::npos);
}

TEST(FileMessages, NewTransferIdsAre32LowercaseHexDigitsAndDiffer) {
  const auto a = new_transfer_id();
  const auto b = new_transfer_id();
  EXPECT_TRUE(is_transfer_id(a)) << a;
  EXPECT_TRUE(is_transfer_id(b)) << b;
  EXPECT_NE(a, b);
}

TEST(FileMessages, DerivedTransferIdsHashTheSenderAndTheFilesMetadata) {
  const FileVersion file{.path = "/home/a/report.pdf",
                         .inode = 42,
                         .size = 1234567,
                         .mtime_ns = 1700000000123456789};
  // SHA-256 of "switchboard-file-id-v1\nalice\n/home/a/report.pdf\n42\n1234567\n
  // 1700000000123456789\nreport.pdf" (docs/protocol.md), first 16 bytes, computed apart.
  EXPECT_EQ(derive_transfer_id("alice", file, "report.pdf"), "cf54dbe813f7010225f4819d7760b0b0");
  // Stable for the same inputs; any change of sender, file or name is another id.
  const auto id = derive_transfer_id("alice", file, "report.pdf");
  EXPECT_EQ(derive_transfer_id("alice", file, "report.pdf"), id);
  EXPECT_NE(derive_transfer_id("bob", file, "report.pdf"), id);
  EXPECT_NE(derive_transfer_id("alice", file, "other.pdf"), id);
  auto changed = file;
  changed.path = "/home/b/report.pdf";
  EXPECT_NE(derive_transfer_id("alice", changed, "report.pdf"), id);
  changed = file;
  changed.inode = 43;
  EXPECT_NE(derive_transfer_id("alice", changed, "report.pdf"), id);
  changed = file;
  changed.size = 1234568;
  EXPECT_NE(derive_transfer_id("alice", changed, "report.pdf"), id);
  changed = file;
  changed.mtime_ns = 1700000000123456790;
  EXPECT_NE(derive_transfer_id("alice", changed, "report.pdf"), id);
  EXPECT_TRUE(is_transfer_id(id)) << id;
}

TEST(SanitizeFileName, KeepsOnlyASafeLastPathComponent) {
  EXPECT_EQ(sanitizeFileName("report.pdf"), "report.pdf");
  EXPECT_EQ(sanitizeFileName("../../etc/passwd"), "passwd");
  EXPECT_EQ(sanitizeFileName("C:\\Users\\me\\notes.txt"), "notes.txt");
  EXPECT_EQ(sanitizeFileName("a/b\\c.txt"), "c.txt");
  EXPECT_EQ(sanitizeFileName("..bashrc"), "bashrc");
  EXPECT_EQ(sanitizeFileName(".hidden"), "hidden");
  EXPECT_EQ(sanitizeFileName(std::string("a\0b\nc\x7f.txt", 10)), "abc.txt");
  EXPECT_EQ(sanitizeFileName("\x1b[31mred.txt"), "[31mred.txt");
  // U+0085 (NEL) and U+009B (CSI) are C1 controls; U+00E9 is not.
  EXPECT_EQ(sanitizeFileName("a\xc2\x85"
                             "b\xc2\x9b"
                             "c\xc3\xa9.txt"),
            "abc\xc3\xa9.txt");
  EXPECT_EQ(sanitizeFileName("r\xc3\xa9sum\xc3\xa9 2024.pdf"), "r\xc3\xa9sum\xc3\xa9 2024.pdf");
}

TEST(SanitizeFileName, RefusesWhatIsEmptyAfterwards) {
  EXPECT_EQ(sanitizeFileName(""), std::nullopt);
  EXPECT_EQ(sanitizeFileName("dir/"), std::nullopt);
  EXPECT_EQ(sanitizeFileName("..."), std::nullopt);
  EXPECT_EQ(sanitizeFileName("../.."), std::nullopt);
  EXPECT_EQ(sanitizeFileName("\n\t\x01"), std::nullopt);
  EXPECT_EQ(sanitizeFileName("x/."), std::nullopt);
}

TEST(SanitizeFileName, CutsLongNamesAtAUtf8Boundary) {
  std::string name(199, 'a');
  name += "\xc3\xa9\xc3\xa9";  // é crosses byte 200
  const auto clean = sanitizeFileName(name);
  ASSERT_TRUE(clean);
  EXPECT_EQ(clean->size(), 199u);
  EXPECT_EQ(sanitizeFileName(std::string(300, 'b'))->size(), 200u);
  // Not UTF-8: a run of continuation bytes across byte 200 (found by fuzz.file_messages,
  // which then got an empty name) is cut at 200, never walked back to nothing.
  const auto garbled = sanitizeFileName("{" + std::string(234, '\xa3'));
  ASSERT_TRUE(garbled);
  EXPECT_EQ(garbled->size(), 200u);
  // A four-byte sequence straddling byte 200 is left out whole.
  const auto emoji = sanitizeFileName(std::string(198, 'a') + "\xf0\x9f\x98\x80" + "tail");
  ASSERT_TRUE(emoji);
  EXPECT_EQ(*emoji, std::string(198, 'a'));
}

}  // namespace
}  // namespace switchboard::client::files
