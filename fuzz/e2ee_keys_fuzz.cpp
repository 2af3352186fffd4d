// E2EE key files (src/client/e2ee_keys.cpp): any text parses to keys or an INVALID_ARGUMENT
// error naming what is wrong, never a crash; parsed keys are sorted by id with no id twice,
// and the sealing key is the highest id.
//
// Inputs holding "passphrase:" are left out: that line costs one PBKDF2 run of 600,000
// iterations (a few hundred ms), which would leave the fuzzer doing little else. What the
// parser does with such a line is a substring and a call to deriveKey, pinned by the unit
// tests (tests/client/e2ee_test.cpp).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include <switchboard/e2ee.hpp>

using namespace switchboard;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  if (text.find("passphrase:") != std::string_view::npos) return -1;  // not added to the corpus
  auto keys = E2eeKeys::parse(text, "call-1");
  if (!keys) {
    if (keys.error().code != ErrorCode::InvalidArgument || keys.error().message.empty()) {
      std::abort();
    }
    return 0;
  }
  const auto& list = keys->keys();
  if (list.empty()) std::abort();
  for (std::size_t i = 1; i < list.size(); ++i) {
    if (list[i - 1].id >= list[i].id) std::abort();
  }
  if (keys->sealingKey().id != list.back().id) std::abort();
  for (const auto& key : list) {
    if (keys->find(key.id) == nullptr || *keys->find(key.id) != key) std::abort();
  }
  if (!keys->callId().empty()) std::abort();  // only passphrase keys depend on the call
  return 0;
}
