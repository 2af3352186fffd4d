#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>

#include <openssl/types.h>

#include "switchboard/result.hpp"

namespace switchboard::webrtc {

using Fingerprint = std::array<std::uint8_t, 32>;

// This endpoint's DTLS identity: a self-signed ECDSA P-256 certificate and its key. WebRTC
// trusts it through the SHA-256 fingerprint carried in SDP (a=fingerprint), never through a
// CA, so one certificate per process serves every connection. Immutable and thread-safe.
class Certificate {
 public:
  // Random 64-bit serial, CN=switchboard, valid from one day ago (tolerates peers whose
  // clocks run behind) for 30 days.
  static Result<std::shared_ptr<const Certificate>> generate();

  // SHA-256 of the DER encoding, computed once at generation.
  Fingerprint fingerprint() const { return fingerprint_; }
  // "AB:CD:...": 32 uppercase hex pairs joined by ':', the form SDP a=fingerprint carries.
  std::string fingerprint_string() const;

  // Borrowed; valid while this Certificate lives. For DtlsTransport.
  X509* x509() const { return x509_.get(); }
  EVP_PKEY* key() const { return key_.get(); }

 private:
  struct X509Free {
    void operator()(X509* x) const;
  };
  struct KeyFree {
    void operator()(EVP_PKEY* k) const;
  };

  Certificate(std::unique_ptr<X509, X509Free> x509, std::unique_ptr<EVP_PKEY, KeyFree> key,
              Fingerprint fingerprint);

  std::unique_ptr<X509, X509Free> x509_;
  std::unique_ptr<EVP_PKEY, KeyFree> key_;
  Fingerprint fingerprint_;
};

// SHA-256 of a certificate's DER encoding; all zeros if `cert` is null or hashing fails.
Fingerprint fingerprint_of(X509* cert);

// "AB:CD:..." for any fingerprint (see Certificate::fingerprint_string).
std::string to_fingerprint_string(const Fingerprint& fingerprint);

}  // namespace switchboard::webrtc
