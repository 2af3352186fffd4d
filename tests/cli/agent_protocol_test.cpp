// The agent's stdin lines and event fields (../shared/agent-protocol.md).
#include "agent_protocol.hpp"

#include <gtest/gtest.h>

namespace switchboard::cli {
namespace {

AgentCommand parse_ok(std::string_view line) {
  auto parsed = parse_agent_line(line);
  EXPECT_TRUE(parsed.command) << line << ": " << parsed.command.error().message;
  return parsed.command ? *parsed.command : AgentCommand{};
}

ErrorCode parse_error(std::string_view line) {
  auto parsed = parse_agent_line(line);
  EXPECT_FALSE(parsed.command) << line;
  return parsed.command ? ErrorCode::Internal : parsed.command.error().code;
}

TEST(AgentLine, CreateSenderWithEveryField) {
  const auto c =
      parse_ok(R"({"op":"create_sender","req":"r1","channelId":10000,"reliability":"lossy",)"
               R"("priority":"high","bitrateKbps":64,"participants":["bob","carol"]})");
  EXPECT_EQ(c.op, AgentOp::CreateSender);
  EXPECT_EQ(c.sender.channelId, 10000u);
  EXPECT_EQ(c.sender.reliability, Reliability::Lossy);
  EXPECT_EQ(c.sender.priority, Priority::High);
  EXPECT_EQ(c.sender.bitrateInKbps, 64u);
  EXPECT_EQ(c.sender.participants, (std::vector<Identity>{"bob", "carol"}));
}

TEST(AgentLine, CreateSenderDefaultsToAllocatedDurableNormalForEveryone) {
  const auto c = parse_ok(R"({"op":"create_sender"})");
  EXPECT_EQ(c.sender.channelId, 0u);
  EXPECT_EQ(c.sender.reliability, Reliability::Durable);
  EXPECT_EQ(c.sender.priority, Priority::Normal);
  EXPECT_TRUE(c.sender.participants.empty());
}

TEST(AgentLine, ReliabilityAndPriorityNamesAreCaseInsensitive) {
  const auto c = parse_ok(R"({"op":"create_sender","reliability":"Lossy","priority":"HIGH"})");
  EXPECT_EQ(c.sender.reliability, Reliability::Lossy);
  EXPECT_EQ(c.sender.priority, Priority::High);
}

TEST(AgentLine, ReqIsEchoedEvenWhenTheCommandFails) {
  const auto parsed = parse_agent_line(R"({"op":"fly","req":"r9"})");
  ASSERT_FALSE(parsed.command);
  ASSERT_TRUE(parsed.req);
  const auto event = error_event(parsed.req, parsed.command.error());
  EXPECT_EQ(
      to_line(event),
      R"({"event":"error","req":"r9","code":"INVALID_ARGUMENT","message":"unknown op \"fly\""})"
      "\n");
}

TEST(AgentLine, SendTextCarriesItsUtf8Bytes) {
  const auto c = parse_ok(R"({"op":"send","channelId":7,"text":"héllo"})");
  EXPECT_EQ(c.op, AgentOp::Send);
  EXPECT_EQ(c.channel_id, 7);
  EXPECT_EQ(as_string(c.payload), "héllo");
}

TEST(AgentLine, SendBase64IsDecoded) {
  const auto c = parse_ok(R"({"op":"send","channelId":7,"base64":"AP8Q"})");
  EXPECT_EQ(c.payload, (Bytes{0x00, 0xFF, 0x10}));
}

TEST(AgentLine, EmptyTextIsLeftToTheSdk) {
  // The SDK answers MESSAGE_EMPTY; the parser must not hide that code.
  const auto c = parse_ok(R"({"op":"send","channelId":7,"text":""})");
  EXPECT_TRUE(c.payload.empty());
}

TEST(AgentLine, MalformedLinesAreInvalidArgument) {
  EXPECT_EQ(parse_error("not json"), ErrorCode::InvalidArgument);
  EXPECT_EQ(parse_error(R"({"op":"send")"), ErrorCode::InvalidArgument);
  EXPECT_EQ(parse_error(R"(["op","leave"])"), ErrorCode::InvalidArgument);
  EXPECT_EQ(parse_error(R"({"req":"r"})"), ErrorCode::InvalidArgument);
  EXPECT_EQ(parse_error(R"({"op":42})"), ErrorCode::InvalidArgument);
  EXPECT_EQ(parse_error(R"({"op":"dance"})"), ErrorCode::InvalidArgument);
}

TEST(AgentLine, MissingOrMistypedFieldsAreInvalidArgument) {
  EXPECT_EQ(parse_error(R"({"op":"send","text":"x"})"), ErrorCode::InvalidArgument);
  EXPECT_EQ(parse_error(R"({"op":"send","channelId":"7","text":"x"})"), ErrorCode::InvalidArgument);
  EXPECT_EQ(parse_error(R"({"op":"send","channelId":7})"), ErrorCode::InvalidArgument);
  EXPECT_EQ(parse_error(R"({"op":"send","channelId":7,"text":"a","base64":"YQ=="})"),
            ErrorCode::InvalidArgument);
  EXPECT_EQ(parse_error(R"({"op":"send","channelId":7,"text":5})"), ErrorCode::InvalidArgument);
  EXPECT_EQ(parse_error(R"({"op":"send","channelId":7,"base64":"not base64!"})"),
            ErrorCode::InvalidArgument);
  EXPECT_EQ(parse_error(R"({"op":"close"})"), ErrorCode::InvalidArgument);
  EXPECT_EQ(parse_error(R"({"op":"set_participants","channelId":7})"), ErrorCode::InvalidArgument);
  EXPECT_EQ(parse_error(R"({"op":"set_participants","channelId":7,"participants":"bob"})"),
            ErrorCode::InvalidArgument);
  EXPECT_EQ(parse_error(R"({"op":"set_participants","channelId":7,"participants":[1]})"),
            ErrorCode::InvalidArgument);
  EXPECT_EQ(parse_error(R"({"op":"create_sender","reliability":"sometimes"})"),
            ErrorCode::InvalidArgument);
  EXPECT_EQ(parse_error(R"({"op":"create_sender","priority":3})"), ErrorCode::InvalidArgument);
  EXPECT_EQ(parse_error(R"({"op":"create_sender","bitrateKbps":-1})"), ErrorCode::InvalidArgument);
}

TEST(AgentLine, ChannelIdOutOfRangeIsInvalidChannelId) {
  EXPECT_EQ(parse_error(R"({"op":"create_sender","channelId":65536})"),
            ErrorCode::InvalidChannelId);
  EXPECT_EQ(parse_error(R"({"op":"create_sender","channelId":-1})"), ErrorCode::InvalidChannelId);
  EXPECT_EQ(parse_error(R"({"op":"send","channelId":0,"text":"x"})"), ErrorCode::InvalidChannelId);
}

TEST(AgentLine, SetParticipantsEmptyMeansEveryone) {
  const auto c = parse_ok(R"({"op":"set_participants","channelId":3,"participants":[]})");
  EXPECT_EQ(c.op, AgentOp::SetParticipants);
  EXPECT_EQ(c.channel_id, 3);
  EXPECT_TRUE(c.participants.empty());
}

TEST(AgentLine, ParticipantsCloseAndLeave) {
  EXPECT_EQ(parse_ok(R"({"op":"participants"})").op, AgentOp::Participants);
  EXPECT_EQ(parse_ok(R"({"op":"leave"})").op, AgentOp::Leave);
  const auto c = parse_ok(R"({"op":"close","channelId":10000})");
  EXPECT_EQ(c.op, AgentOp::Close);
  EXPECT_EQ(c.channel_id, 10000);
}

TEST(Base64, RoundTripsEveryLength) {
  Bytes data;
  for (int i = 0; i < 10; ++i) {
    const auto text = base64_encode(data);
    EXPECT_EQ(text.size() % 4, 0u);
    const auto back = base64_decode(text);
    ASSERT_TRUE(back) << text;
    EXPECT_EQ(*back, data);
    data.push_back(static_cast<std::uint8_t>(0xF7 * i));
  }
}

TEST(Base64, KnownVectors) {
  EXPECT_EQ(base64_encode(as_bytes("hello")), "aGVsbG8=");
  EXPECT_EQ(base64_encode(as_bytes("foob")), "Zm9vYg==");
  EXPECT_EQ(base64_encode(as_bytes("foobar")), "Zm9vYmFy");
}

TEST(Base64, RejectsWhatIsNotPaddedStandardBase64) {
  EXPECT_FALSE(base64_decode("aGVsbG8"));    // missing padding
  EXPECT_FALSE(base64_decode("aGV=sbG8"));   // padding in the middle
  EXPECT_FALSE(base64_decode("a-_b"));       // base64url alphabet
  EXPECT_FALSE(base64_decode("aGVs bG8="));  // whitespace
  EXPECT_FALSE(base64_decode("a==="));
}

TEST(Utf8, AcceptsWellFormedAndRejectsTheRest) {
  EXPECT_TRUE(is_valid_utf8(as_bytes("plain ascii")));
  EXPECT_TRUE(is_valid_utf8(as_bytes("héllo wörld €𝄞")));
  EXPECT_FALSE(is_valid_utf8(Bytes{0xFF}));
  EXPECT_FALSE(is_valid_utf8(Bytes{0xC3}));                    // truncated
  EXPECT_FALSE(is_valid_utf8(Bytes{0xC0, 0xAF}));              // overlong '/'
  EXPECT_FALSE(is_valid_utf8(Bytes{0xED, 0xA0, 0x80}));        // surrogate
  EXPECT_FALSE(is_valid_utf8(Bytes{0xF4, 0x90, 0x80, 0x80}));  // past U+10FFFF
}

TEST(MessageEvent, TextOnlyForUtf8Payloads) {
  const auto text = message_event(10000, "alice", 1, as_bytes("hello"));
  EXPECT_EQ(to_line(text),
            R"({"event":"message","channelId":10000,"from":"alice","sequenceNumber":1,"size":5,)"
            R"("base64":"aGVsbG8=","text":"hello"})"
            "\n");
  const auto binary = message_event(10000, "alice", 2, Bytes{0xFF, 0x00});
  EXPECT_FALSE(binary.contains("text"));
  EXPECT_EQ(binary["base64"], "/wA=");
  EXPECT_EQ(binary["size"], 2);
}

}  // namespace
}  // namespace switchboard::cli
