#include "webrtc/certificate.hpp"

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/x509.h>

namespace switchboard::webrtc {
namespace {

constexpr long kSecondsPerDay = 24L * 60 * 60;
constexpr long kValidityDays = 30;

struct BnFree {
  void operator()(BIGNUM* b) const { BN_free(b); }
};

Error openssl_error(std::string what) {
  char detail[256] = {};
  if (unsigned long code = ERR_get_error(); code != 0) {
    ERR_error_string_n(code, detail, sizeof detail);
    what += ": ";
    what += detail;
  }
  ERR_clear_error();
  return Error{ErrorCode::Internal, std::move(what)};
}

// A positive 63-bit random serial: unique enough that two processes' certificates never
// collide in a peer's cache, and positive as RFC 5280 requires.
bool set_random_serial(X509* cert) {
  std::uint8_t serial[8];
  if (RAND_bytes(serial, sizeof serial) != 1) return false;
  serial[0] &= 0x7f;
  serial[0] |= 0x01;  // never zero
  std::unique_ptr<BIGNUM, BnFree> bn(BN_bin2bn(serial, sizeof serial, nullptr));
  return bn && BN_to_ASN1_INTEGER(bn.get(), X509_get_serialNumber(cert)) != nullptr;
}

bool set_name(X509* cert) {
  X509_NAME* name = X509_get_subject_name(cert);
  static constexpr unsigned char kCommonName[] = "switchboard";
  if (X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, kCommonName, -1, -1, 0) != 1) {
    return false;
  }
  return X509_set_issuer_name(cert, name) == 1;  // self-signed: issuer is subject
}

}  // namespace

void Certificate::X509Free::operator()(X509* x) const {
  X509_free(x);
}
void Certificate::KeyFree::operator()(EVP_PKEY* k) const {
  EVP_PKEY_free(k);
}

Certificate::Certificate(std::unique_ptr<X509, X509Free> x509,
                         std::unique_ptr<EVP_PKEY, KeyFree> key, Fingerprint fingerprint)
    : x509_(std::move(x509)), key_(std::move(key)), fingerprint_(fingerprint) {}

Result<std::shared_ptr<const Certificate>> Certificate::generate() {
  ERR_clear_error();
  std::unique_ptr<EVP_PKEY, KeyFree> key(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
  if (!key) return openssl_error("could not generate an ECDSA P-256 key");

  std::unique_ptr<X509, X509Free> cert(X509_new());
  if (!cert) return openssl_error("could not allocate a certificate");
  if (X509_set_version(cert.get(), X509_VERSION_3) != 1 || !set_random_serial(cert.get()) ||
      !set_name(cert.get()) ||
      X509_gmtime_adj(X509_getm_notBefore(cert.get()), -kSecondsPerDay) == nullptr ||
      X509_gmtime_adj(X509_getm_notAfter(cert.get()), (kValidityDays - 1) * kSecondsPerDay) ==
          nullptr ||
      X509_set_pubkey(cert.get(), key.get()) != 1) {
    return openssl_error("could not fill in the certificate");
  }
  if (X509_sign(cert.get(), key.get(), EVP_sha256()) <= 0) {
    return openssl_error("could not self-sign the certificate");
  }

  const Fingerprint fingerprint = fingerprint_of(cert.get());
  if (fingerprint == Fingerprint{}) return openssl_error("could not hash the certificate");
  return std::shared_ptr<const Certificate>(
      new Certificate(std::move(cert), std::move(key), fingerprint));
}

std::string Certificate::fingerprint_string() const {
  return to_fingerprint_string(fingerprint_);
}

Fingerprint fingerprint_of(X509* cert) {
  Fingerprint out{};
  unsigned int length = 0;
  if (cert == nullptr || X509_digest(cert, EVP_sha256(), out.data(), &length) != 1 ||
      length != out.size()) {
    return Fingerprint{};
  }
  return out;
}

std::string to_fingerprint_string(const Fingerprint& fingerprint) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(fingerprint.size() * 3 - 1);
  for (std::uint8_t byte : fingerprint) {
    if (!out.empty()) out += ':';
    out += kHex[byte >> 4];
    out += kHex[byte & 0x0f];
  }
  return out;
}

}  // namespace switchboard::webrtc
