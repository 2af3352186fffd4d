// End-to-end encryption without a network: the sealed layout and its fixed vectors
// (docs/protocol.md, "End-to-end encryption"), what the associated data binds, nonces,
// rotation, key files, and the endpoint's hook (a message that fails to open is reported,
// never readable).

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include <switchboard/e2ee.hpp>

#include "client/e2ee_cipher.hpp"
#include "core/local_call.hpp"

namespace switchboard {
namespace {

using client::E2eeCipher;
using client::E2eeNonce;
using client::SealBinding;

std::string hex(ByteView data) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (std::uint8_t b : data) {
    out += kDigits[b >> 4];
    out += kDigits[b & 15];
  }
  return out;
}

std::string text(ByteView data) {
  return std::string(as_string(data));
}

E2eeKey counting_key(std::uint32_t id) {
  E2eeKey key{id, {}};
  for (std::size_t i = 0; i < key.key.size(); ++i) key.key[i] = static_cast<std::uint8_t>(i);
  return key;
}

E2eeKey filled_key(std::uint32_t id, std::uint8_t fill) {
  E2eeKey key{id, {}};
  key.key.fill(fill);
  return key;
}

E2eeKeys keys_of(std::vector<E2eeKey> keys) {
  auto result = E2eeKeys::fromKeys(std::move(keys));
  EXPECT_TRUE(result.ok());
  return *result;
}

// The vector of docs/protocol.md: key id 1 = bytes 00..1f, nonce 00..07 | 0000002a,
// call "call-1", channel 10000, sequence 7, sender "alice", plaintext "hello". Python's
// `cryptography` and Node's crypto compute the same bytes.
constexpr char kVectorAad[] =
    "737769746368626f6172642d653265652d76310100000001000663616c6c2d312710000000070005616c696365";
constexpr char kVectorSealed[] =
    "010000000100010203040506070000002ad051bfd8188943e01acdf3903f29ced94a6ec415dd";
const SealBinding kVectorBinding{"call-1", 10000, 7, "alice"};
const E2eeNonce kVectorNonce{0, 1, 2, 3, 4, 5, 6, 7, 0, 0, 0, 42};

ByteView nonce_of(const Bytes& sealed) {
  return ByteView(sealed).subspan(5, 12);
}

// ---- The format ----

TEST(E2eeFormat, AssociatedDataIsTheDocumentedBytes) {
  auto aad = client::e2ee_associated_data(1, kVectorBinding);
  ASSERT_TRUE(aad.ok());
  EXPECT_EQ(hex(*aad), kVectorAad);
}

TEST(E2eeFormat, SealingTheDocumentedInputsGivesTheDocumentedBytes) {
  auto sealed = client::e2ee_seal(counting_key(1), kVectorNonce, kVectorBinding, as_bytes("hello"));
  ASSERT_TRUE(sealed.ok()) << sealed.error().message;
  EXPECT_EQ(hex(*sealed), kVectorSealed);
  EXPECT_EQ(sealed->size(), 5 + kE2eeOverhead);
  auto opened = client::e2ee_open(keys_of({counting_key(1)}), kVectorBinding, *sealed);
  ASSERT_TRUE(opened.ok()) << opened.error().message;
  EXPECT_EQ(text(*opened), "hello");
}

TEST(E2eeFormat, AMessageSealedByOneParticipantOpensAtAnotherWithTheSameKeys) {
  E2eeCipher alice(keys_of({filled_key(3, 0xab)}), "c1", "alice");
  E2eeCipher bob(keys_of({filled_key(3, 0xab)}), "c1", "bob");
  const std::string message = "the eagle lands at noon";
  auto sealed = alice.seal(10000, 1, as_bytes(message));
  ASSERT_TRUE(sealed.ok());
  EXPECT_EQ(sealed->size(), message.size() + kE2eeOverhead);
  EXPECT_EQ((*sealed)[0], 0x01);
  EXPECT_EQ(load_u32(sealed->data() + 1), 3u);
  EXPECT_EQ(std::search(sealed->begin(), sealed->end(), message.begin(), message.end()),
            sealed->end());
  auto opened = bob.open("alice", 10000, 1, *sealed);
  ASSERT_TRUE(opened.ok()) << opened.error().message;
  EXPECT_EQ(text(*opened), message);
}

TEST(E2eeFormat, AnotherChannelSequenceSenderOrCallDoesNotOpen) {
  E2eeCipher alice(keys_of({filled_key(1, 7)}), "c1", "alice");
  E2eeCipher bob(keys_of({filled_key(1, 7)}), "c1", "bob");
  E2eeCipher bob_elsewhere(keys_of({filled_key(1, 7)}), "c2", "bob");
  auto sealed = alice.seal(10000, 5, as_bytes("pay 100"));
  ASSERT_TRUE(sealed.ok());
  ASSERT_TRUE(bob.open("alice", 10000, 5, *sealed).ok());
  for (auto result :
       {bob.open("alice", 10001, 5, *sealed), bob.open("alice", 10000, 6, *sealed),
        bob.open("mallory", 10000, 5, *sealed), bob_elsewhere.open("alice", 10000, 5, *sealed)}) {
    ASSERT_FALSE(result.ok());
    EXPECT_EQ(result.error().code, ErrorCode::DecryptionFailed);
    EXPECT_NE(result.error().message.find("authentication tag does not match"), std::string::npos)
        << result.error().message;
  }
}

TEST(E2eeFormat, EveryAlteredByteIsRefused) {
  E2eeCipher alice(keys_of({filled_key(1, 9)}), "c1", "alice");
  const E2eeKeys keys = keys_of({filled_key(1, 9)});
  auto sealed = alice.seal(42, 1, as_bytes("do not touch"));
  ASSERT_TRUE(sealed.ok());
  for (std::size_t i = 0; i < sealed->size(); ++i) {
    Bytes altered = *sealed;
    altered[i] ^= 0x01;
    auto opened = client::e2ee_open(keys, {"c1", 42, 1, "alice"}, altered);
    ASSERT_FALSE(opened.ok()) << "byte " << i;
    EXPECT_EQ(opened.error().code, ErrorCode::DecryptionFailed);
  }
}

TEST(E2eeFormat, UnknownKeyIdTruncatedAndPlainMessagesAreRefusedSayingWhy) {
  E2eeCipher alice(keys_of({filled_key(9, 1)}), "c1", "alice");
  E2eeCipher bob(keys_of({filled_key(1, 1), filled_key(2, 1)}), "c1", "bob");
  auto sealed = alice.seal(1, 1, as_bytes("x"));
  ASSERT_TRUE(sealed.ok());

  auto unknown = bob.open("alice", 1, 1, *sealed);
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.error().code, ErrorCode::DecryptionFailed);
  EXPECT_EQ(unknown.error().message,
            "message 1 on channel 1 from alice could not be opened: it was sealed with key id 9, "
            "which this participant does not hold (it holds 1, 2)");

  Bytes truncated(sealed->begin(), sealed->end() - 1);
  auto short_one = bob.open("alice", 1, 1, truncated);
  ASSERT_FALSE(short_one.ok());
  EXPECT_NE(short_one.error().message.find("truncated"), std::string::npos);

  auto plain = bob.open("alice", 1, 1, as_bytes("hello there, this is not sealed at all"));
  ASSERT_FALSE(plain.ok());
  EXPECT_EQ(plain.error().code, ErrorCode::DecryptionFailed);
  EXPECT_NE(plain.error().message.find("not a sealed message"), std::string::npos);
}

// ---- Nonces ----

TEST(E2eeNonces, ManySealsNeverRepeatANonceAndCountUpBehindOnePrefix) {
  E2eeCipher alice(keys_of({filled_key(1, 1)}), "c1", "alice");
  std::set<std::string> nonces;
  std::string prefix;
  constexpr std::uint32_t kCount = 100000;
  for (std::uint32_t i = 0; i < kCount; ++i) {
    auto sealed = alice.seal(1, i + 1, as_bytes("m"));
    ASSERT_TRUE(sealed.ok());
    const ByteView nonce = nonce_of(*sealed);
    if (i == 0) prefix = hex(nonce.first(8));
    ASSERT_EQ(hex(nonce.first(8)), prefix);
    ASSERT_EQ(load_u32(nonce.data() + 8), i);
    nonces.insert(hex(nonce));
  }
  EXPECT_EQ(nonces.size(), kCount);
}

TEST(E2eeNonces, EachSealingContextDrawsItsOwnPrefix) {
  const E2eeKeys keys = keys_of({filled_key(1, 1)});
  std::set<std::string> prefixes;
  for (int i = 0; i < 50; ++i) {
    E2eeCipher cipher(keys, "c1", "alice");
    auto sealed = cipher.seal(1, 1, as_bytes("m"));
    ASSERT_TRUE(sealed.ok());
    prefixes.insert(hex(nonce_of(*sealed).first(8)));
  }
  EXPECT_EQ(prefixes.size(), 50u);
}

TEST(E2eeNonces, AUsedUpCounterDrawsAFreshPrefixAndStartsAgainAtZero) {
  E2eeCipher alice(keys_of({filled_key(1, 1)}), "c1", "alice", 0xfffffffe);
  std::vector<Bytes> sealed;
  for (int i = 0; i < 3; ++i) sealed.push_back(*alice.seal(1, 1, as_bytes("m")));
  EXPECT_EQ(load_u32(nonce_of(sealed[0]).data() + 8), 0xfffffffeu);
  EXPECT_EQ(load_u32(nonce_of(sealed[1]).data() + 8), 0xffffffffu);
  EXPECT_EQ(load_u32(nonce_of(sealed[2]).data() + 8), 0u);
  EXPECT_EQ(hex(nonce_of(sealed[0]).first(8)), hex(nonce_of(sealed[1]).first(8)));
  EXPECT_NE(hex(nonce_of(sealed[1]).first(8)), hex(nonce_of(sealed[2]).first(8)));
}

// ---- Rotation ----

TEST(E2eeRotation, NewMessagesUseTheNewKeyAndOldOnesStillOpenWhileTheOldKeyIsListed) {
  const E2eeKey old_key = filled_key(1, 0x11);
  const E2eeKey new_key = filled_key(2, 0x22);
  E2eeCipher alice(keys_of({old_key}), "c1", "alice");
  auto before = alice.seal(5, 1, as_bytes("before"));
  ASSERT_TRUE(before.ok());
  EXPECT_EQ(load_u32(before->data() + 1), 1u);

  alice.set_keys(keys_of({old_key, new_key}));
  auto after = alice.seal(5, 2, as_bytes("after"));
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(load_u32(after->data() + 1), 2u);
  EXPECT_EQ(load_u32(nonce_of(*after).data() + 8), 0u) << "a new sealing key starts a new context";

  E2eeCipher both(keys_of({old_key, new_key}), "c1", "bob");
  EXPECT_EQ(text(*both.open("alice", 5, 1, *before)), "before");
  EXPECT_EQ(text(*both.open("alice", 5, 2, *after)), "after");

  E2eeCipher only_old(keys_of({old_key}), "c1", "bob");
  EXPECT_TRUE(only_old.open("alice", 5, 1, *before).ok());
  EXPECT_EQ(only_old.open("alice", 5, 2, *after).error().code, ErrorCode::DecryptionFailed);

  E2eeCipher only_new(keys_of({new_key}), "c1", "bob");
  EXPECT_EQ(only_new.open("alice", 5, 1, *before).error().code, ErrorCode::DecryptionFailed);
  EXPECT_TRUE(only_new.open("alice", 5, 2, *after).ok());
}

// ---- Key files ----

TEST(E2eeKeyFile, CommentsBlankLinesSpacesAndCrlfAreAllowedAndTheHighestIdSeals) {
  auto keys = E2eeKeys::parse(
      "# the team's keys\r\n"
      "\r\n"
      "  7:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=  \r\n"
      "\t3:////////////////////////////////////////AAA=\n"
      "   # old\n",
      "c1");
  ASSERT_TRUE(keys.ok()) << keys.error().message;
  ASSERT_EQ(keys->keys().size(), 2u);
  EXPECT_EQ(keys->keys()[0].id, 3u);
  EXPECT_EQ(keys->keys()[1], counting_key(7));
  EXPECT_EQ(keys->sealingKey().id, 7u);
  EXPECT_EQ(keys->keys()[0].key[0], 0xff);
  EXPECT_EQ(keys->keys()[0].key[31], 0x00);
  EXPECT_EQ(keys->find(3), &keys->keys()[0]);
  EXPECT_EQ(keys->find(4), nullptr);
  EXPECT_EQ(keys->callId(), "") << "no key depends on the call";
}

TEST(E2eeKeyFile, APassphraseIsStretchedWithPbkdf2ForTheCall) {
  // PBKDF2-HMAC-SHA256("correct horse battery staple", "switchboard-e2ee-v1|call-1",
  // 600000, 32), as Python's hashlib and Node's crypto compute it.
  auto keys = E2eeKeys::parse("1:passphrase:correct horse battery staple\n", "call-1");
  ASSERT_TRUE(keys.ok()) << keys.error().message;
  EXPECT_EQ(hex(keys->sealingKey().key),
            "4fc0829cfa02cc3c473551857b8dd9abcc4f076b56181dc4caee0689c6e74ad5");
  EXPECT_EQ(keys->callId(), "call-1");
  EXPECT_NE(E2eeKeys::deriveKey(1, "correct horse battery staple", "call-2").key,
            keys->sealingKey().key);
}

TEST(E2eeKeyFile, MalformedLinesAreRefusedNamingTheLine) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\njunk\n", "line 2: expected KEYID:"},
      {"x:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=", "line 1: the key id must be"},
      {"-1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=", "line 1: the key id must be"},
      {"4294967296:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=", "line 1: the key id must be"},
      {":AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=", "line 1: the key id must be"},
      {"# c\n1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8\n", "line 2: the key is not padded"},
      {"1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh-=", "line 1: the key is not padded"},
      {"1:AAECAwQFBgcICQoLDA0ODw==", "line 1: the key is 16 bytes; it must be 32"},
      {"1:passphrase:", "line 1: the passphrase is empty"},
      {"1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n\n1:passphrase:again",
       "line 3: key id 1 is already on line 1"},
      {"# only a comment\n\n", "no key"},
      {"", "no key"},
  };
  for (const auto& [file, expected] : cases) {
    auto keys = E2eeKeys::parse(file, "c1");
    ASSERT_FALSE(keys.ok()) << file;
    EXPECT_EQ(keys.error().code, ErrorCode::InvalidArgument);
    EXPECT_EQ(keys.error().message.rfind(expected, 0), 0u)
        << "file: " << file << "\nmessage: " << keys.error().message;
  }
  EXPECT_TRUE(E2eeKeys::parse("4294967295:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=", "c1"));
}

TEST(E2eeKeyFile, FromFileReadsTheFileAndNamesItInErrors) {
  const auto dir =
      std::filesystem::temp_directory_path() /
      ("e2ee-test-" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()) + "-" +
       std::to_string(std::chrono::steady_clock::now().time_since_epoch().count()));
  std::filesystem::create_directories(dir);
  const auto good = dir / "good.keys";
  const auto bad = dir / "bad.keys";
  std::ofstream(good) << "2:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n";
  std::ofstream(bad) << "# keys\n2:not-base64\n";

  auto keys = E2eeKeys::fromFile(good, "c1");
  ASSERT_TRUE(keys.ok()) << keys.error().message;
  EXPECT_EQ(keys->sealingKey(), counting_key(2));

  auto refused = E2eeKeys::fromFile(bad, "c1");
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().message.rfind(bad.string() + " line 2: the key is not padded", 0), 0u)
      << refused.error().message;

  auto missing = E2eeKeys::fromFile(dir / "missing.keys", "c1");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, ErrorCode::InvalidArgument);
  EXPECT_NE(missing.error().message.find("missing.keys"), std::string::npos);
  std::filesystem::remove_all(dir);
}

TEST(E2eeKeyFile, FromKeysNeedsAtLeastOneKeyAndDistinctIds) {
  EXPECT_EQ(E2eeKeys::fromKeys({}).error().code, ErrorCode::InvalidArgument);
  auto twice = E2eeKeys::fromKeys({filled_key(4, 1), filled_key(4, 2)});
  ASSERT_FALSE(twice.ok());
  EXPECT_EQ(twice.error().message, "key id 4 is given twice");
  auto sorted = E2eeKeys::fromKeys({filled_key(9, 1), filled_key(2, 2)});
  ASSERT_TRUE(sorted.ok());
  EXPECT_EQ(sorted->sealingKey().id, 9u);
}

// ---- The endpoint's hook ----

struct Listener {
  std::vector<std::string> log;
  core::DataChannelEndpoint::Events events() {
    return {
        [this](const auto& r) { log.push_back("created " + r->sender_identity()); },
        [this](const auto& r) {
          while (auto m = r->read()) log.push_back("message " + text(m->data));
        },
        [this](const auto& r) { log.push_back("closed " + r->sender_identity()); },
        [this](const auto& r, std::uint32_t sequence, const Error& e) {
          log.push_back("rejected " + r->sender_identity() + " " + std::to_string(sequence) + " " +
                        std::string(to_string(e.code)));
        },
    };
  }
};

TEST(E2eeEndpoint, SealedMessagesOpenForKeyHoldersAndAreReportedNeverDeliveredToOthers) {
  const auto now = core::Clock::now();
  core::LocalCall call;
  auto& alice = call.join("alice", now);
  auto& bob = call.join("bob", now);
  auto& carol = call.join("carol", now);
  auto& dave = call.join("dave", now);  // no E2EE: sees the sealed bytes
  const E2eeKeys shared = keys_of({filled_key(1, 0x5a)});
  alice.set_payload_cipher(std::make_shared<E2eeCipher>(shared, "c1", "alice"));
  bob.set_payload_cipher(std::make_shared<E2eeCipher>(shared, "c1", "bob"));
  carol.set_payload_cipher(
      std::make_shared<E2eeCipher>(keys_of({filled_key(1, 0x77)}), "c1", "carol"));
  Listener bob_sees;
  Listener carol_sees;
  bob.set_events(bob_sees.events());
  carol.set_events(carol_sees.events());
  std::vector<Bytes> dave_got;
  dave.set_events({{},
                   [&](const auto& r) {
                     while (auto m = r->read()) dave_got.push_back(m->data);
                   },
                   {},
                   {}});

  auto sender = alice.create_sender({.channelId = 10000}, now);
  ASSERT_TRUE(sender.ok());
  EXPECT_EQ(alice.max_message_size(**sender), kDefaultMaxMessageSize - kE2eeOverhead);
  ASSERT_EQ(*alice.send(**sender, as_bytes("first secret")), 1u);
  ASSERT_EQ(*alice.send(**sender, as_bytes("second secret")), 2u);
  call.pump(now);

  EXPECT_EQ(bob_sees.log, (std::vector<std::string>{"created alice", "message first secret",
                                                    "message second secret"}));
  EXPECT_EQ(carol_sees.log,
            (std::vector<std::string>{"created alice", "rejected alice 1 DECRYPTION_FAILED",
                                      "rejected alice 2 DECRYPTION_FAILED"}));
  EXPECT_EQ(carol.stats().messages_rejected, 2u);
  EXPECT_EQ(carol.stats().messages_delivered, 0u);
  ASSERT_EQ(dave_got.size(), 2u);
  EXPECT_EQ(dave_got[0].size(), std::string("first secret").size() + kE2eeOverhead);
  EXPECT_EQ(dave_got[0][0], 0x01);
}

TEST(E2eeEndpoint, TheLimitLeavesRoomForTheOverheadAndRefusalsComeInTheUsualOrder) {
  const auto now = core::Clock::now();
  core::LocalCall call;
  auto& alice = call.join("alice", now);
  call.join("bob", now);
  alice.set_payload_cipher(
      std::make_shared<E2eeCipher>(keys_of({filled_key(1, 1)}), "c1", "alice"));
  auto sender = alice.create_sender({.channelId = 7}, now);
  ASSERT_TRUE(sender.ok());
  const std::size_t limit = kDefaultMaxMessageSize - kE2eeOverhead;
  EXPECT_TRUE(alice.send(**sender, Bytes(limit, 1)).ok());
  auto too_large = alice.send(**sender, Bytes(limit + 1, 1));
  ASSERT_FALSE(too_large.ok());
  EXPECT_EQ(too_large.error().code, ErrorCode::MessageTooLarge);
  EXPECT_NE(too_large.error().message.find("end-to-end encryption"), std::string::npos);
  EXPECT_EQ(alice.send(**sender, Bytes{}).error().code, ErrorCode::MessageEmpty);
  alice.close(**sender);
  EXPECT_EQ(alice.send(**sender, Bytes(limit + 1, 1)).error().code, ErrorCode::SenderClosed);
}

}  // namespace
}  // namespace switchboard
