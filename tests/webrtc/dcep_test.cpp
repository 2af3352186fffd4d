#include "webrtc/dcep.hpp"

#include <string>

#include <gtest/gtest.h>

namespace switchboard::webrtc {
namespace {

Bytes open_bytes(std::uint8_t channel_type, std::uint16_t label_size, std::string_view label,
                 std::uint16_t protocol_size, std::string_view protocol) {
  Bytes out;
  put_u8(out, 0x03);
  put_u8(out, channel_type);
  put_u16(out, 256);
  put_u32(out, 7);
  put_u16(out, label_size);
  put_u16(out, protocol_size);
  put_bytes(out, as_bytes(label));
  put_bytes(out, as_bytes(protocol));
  return out;
}

std::string rejection(const Bytes& bytes) {
  auto r = parse_dcep(bytes);
  EXPECT_FALSE(r);
  if (r) return "";
  EXPECT_EQ(r.error().code, ErrorCode::InvalidArgument);
  return r.error().message;
}

TEST(Dcep, OpenLayoutMatchesRfc8832) {
  DataChannelOpen open;
  open.channel_type = DcepChannelType::PartialReliableRexmitUnordered;
  open.priority = 0x0102;
  open.reliability_parameter = 0x03040506;
  open.label = "chat";
  open.protocol = "v1";
  const Bytes expected = {0x03, 0x81, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x00,
                          0x04, 0x00, 0x02, 'c',  'h',  'a',  't',  'v',  '1'};
  EXPECT_EQ(encode_dcep(open), expected);
}

TEST(Dcep, AckIsOneByte) {
  EXPECT_EQ(encode_dcep(DataChannelAck{}), Bytes{0x02});
}

TEST(Dcep, ParsesOpenFromChromium) {
  // What Chromium sends for createDataChannel("sb", {ordered: true}): reliable, priority 256.
  const Bytes wire = {0x03, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00,
                      0x00, 0x00, 0x02, 0x00, 0x00, 's',  'b'};
  auto msg = parse_dcep(wire);
  ASSERT_TRUE(msg) << msg.error().message;
  const auto* open = std::get_if<DataChannelOpen>(&*msg);
  ASSERT_NE(open, nullptr);
  EXPECT_EQ(open->channel_type, DcepChannelType::Reliable);
  EXPECT_TRUE(open->ordered());
  EXPECT_EQ(open->priority, 256);
  EXPECT_EQ(open->label, "sb");
  EXPECT_EQ(open->protocol, "");
}

TEST(Dcep, ParsesAck) {
  auto msg = parse_dcep(Bytes{0x02});
  ASSERT_TRUE(msg);
  EXPECT_TRUE(std::holds_alternative<DataChannelAck>(*msg));
}

TEST(Dcep, OpenRoundTripsForEveryChannelType) {
  for (auto type :
       {DcepChannelType::Reliable, DcepChannelType::ReliableUnordered,
        DcepChannelType::PartialReliableRexmit, DcepChannelType::PartialReliableRexmitUnordered,
        DcepChannelType::PartialReliableTimed, DcepChannelType::PartialReliableTimedUnordered}) {
    DataChannelOpen open;
    open.channel_type = type;
    open.priority = dcep_priority::kHigh;
    open.reliability_parameter = (static_cast<std::uint8_t>(type) & 0x7f) == 0 ? 0 : 1500;
    open.label = "lossy/\xc3\xa9t\xc3\xa9";  // UTF-8 "été"
    open.protocol = "switchboard";
    auto msg = parse_dcep(encode_dcep(open));
    ASSERT_TRUE(msg) << msg.error().message;
    ASSERT_TRUE(std::holds_alternative<DataChannelOpen>(*msg));
    EXPECT_EQ(std::get<DataChannelOpen>(*msg), open);
  }
}

TEST(Dcep, OrderedFollowsTheUnorderedBit) {
  DataChannelOpen open;
  open.channel_type = DcepChannelType::PartialReliableTimed;
  EXPECT_TRUE(open.ordered());
  open.channel_type = DcepChannelType::PartialReliableTimedUnordered;
  EXPECT_FALSE(open.ordered());
  open.channel_type = DcepChannelType::ReliableUnordered;
  EXPECT_FALSE(open.ordered());
}

TEST(Dcep, IgnoresReliabilityParameterOfReliableChannels) {
  // RFC 8832 §5.1: MUST be ignored by the receiver for reliable channels.
  auto msg = parse_dcep(open_bytes(0x80, 1, "x", 0, ""));
  ASSERT_TRUE(msg) << msg.error().message;
  EXPECT_EQ(std::get<DataChannelOpen>(*msg).reliability_parameter, 0u);
  auto partial = parse_dcep(open_bytes(0x01, 1, "x", 0, ""));
  ASSERT_TRUE(partial);
  EXPECT_EQ(std::get<DataChannelOpen>(*partial).reliability_parameter, 7u);
}

TEST(Dcep, RejectsEmptyMessage) {
  EXPECT_NE(rejection(Bytes{}).find("empty"), std::string::npos);
}

TEST(Dcep, RejectsUnknownMessageType) {
  EXPECT_NE(rejection(Bytes{0x01}).find("unknown message type 1"), std::string::npos);
  rejection(Bytes{0x04});
  rejection(Bytes{0x00});
}

TEST(Dcep, RejectsUnknownChannelType) {
  EXPECT_NE(rejection(open_bytes(0x03, 0, "", 0, "")).find("unknown channel type 3"),
            std::string::npos);
  rejection(open_bytes(0x83, 0, "", 0, ""));
  rejection(open_bytes(0x40, 0, "", 0, ""));
}

TEST(Dcep, RejectsTruncatedOpenHeader) {
  const Bytes full = open_bytes(0x00, 0, "", 0, "");
  for (std::size_t size = 1; size < kDcepOpenHeaderSize; ++size) {
    EXPECT_NE(rejection(Bytes(full.begin(), full.begin() + static_cast<std::ptrdiff_t>(size)))
                  .find("12-byte header"),
              std::string::npos)
        << size;
  }
}

TEST(Dcep, RejectsLabelOrProtocolBeyondBuffer) {
  EXPECT_NE(rejection(open_bytes(0x00, 5, "abcd", 0, "")).find("run past"), std::string::npos);
  rejection(open_bytes(0x00, 2, "ab", 3, "pr"));
  rejection(open_bytes(0x00, 0xffff, "ab", 0xffff, ""));
}

TEST(Dcep, RejectsTrailingBytes) {
  EXPECT_NE(rejection(open_bytes(0x00, 2, "abc", 0, "")).find("1 trailing"), std::string::npos);
  EXPECT_NE(rejection(Bytes{0x02, 0x00}).find("trailing"), std::string::npos);
}

TEST(Dcep, RejectsInvalidUtf8) {
  rejection(open_bytes(0x00, 1, "\xff", 0, ""));
  rejection(open_bytes(0x00, 2, "\xc0\xaf", 0, ""));          // overlong '/'
  rejection(open_bytes(0x00, 3, "\xed\xa0\x80", 0, ""));      // surrogate
  rejection(open_bytes(0x00, 1, "\xe2", 0, ""));              // truncated sequence
  rejection(open_bytes(0x00, 0, "", 1, "\x80"));              // protocol too
  rejection(open_bytes(0x00, 4, "\xf4\x90\x80\x80", 0, ""));  // above U+10FFFF
  auto emoji = parse_dcep(open_bytes(0x00, 4, "\xf0\x9f\x98\x80", 0, ""));
  EXPECT_TRUE(emoji);
}

TEST(Dcep, PpidsMatchRfc8831) {
  EXPECT_EQ(ppid::kDcep, 50u);
  EXPECT_EQ(ppid::kString, 51u);
  EXPECT_EQ(ppid::kBinary, 53u);
  EXPECT_EQ(ppid::kStringEmpty, 56u);
  EXPECT_EQ(ppid::kBinaryEmpty, 57u);
}

}  // namespace
}  // namespace switchboard::webrtc
