#pragma once

// A private certificate authority and a server certificate it signs, made at run time
// with OpenSSL for the TLS tests: no key is ever committed. The PEM files live in a fresh
// temporary directory that goes with the object.

#include <atomic>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <unistd.h>

namespace switchboard::testing {

class TestPki {
 public:
  // A CA, and a server certificate for `names` ("DNS:localhost", "IP:127.0.0.1", ...).
  explicit TestPki(const std::vector<std::string>& names = {"DNS:localhost"}) {
    static std::atomic<int> counter{0};
    dir_ = std::filesystem::temp_directory_path() /
           ("switchboard-tls-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
    std::filesystem::create_directories(dir_);
    const Key ca_key = new_key();
    const Cert ca = new_cert(ca_key.get(), "Switchboard Test CA", 1);
    add_ext(ca.get(), ca.get(), NID_basic_constraints, "critical,CA:TRUE");
    add_ext(ca.get(), ca.get(), NID_key_usage, "critical,keyCertSign,cRLSign");
    add_ext(ca.get(), ca.get(), NID_subject_key_identifier, "hash");
    sign(ca.get(), ca_key.get());

    const Key leaf_key = new_key();
    const Cert leaf = new_cert(leaf_key.get(), "switchboard test server", 2);
    X509_set_issuer_name(leaf.get(), X509_get_subject_name(ca.get()));
    std::string san;
    for (const auto& n : names) san += (san.empty() ? "" : ",") + n;
    add_ext(ca.get(), leaf.get(), NID_basic_constraints, "critical,CA:FALSE");
    add_ext(ca.get(), leaf.get(), NID_key_usage, "critical,digitalSignature");
    add_ext(ca.get(), leaf.get(), NID_ext_key_usage, "serverAuth");
    add_ext(ca.get(), leaf.get(), NID_subject_alt_name, san);
    add_ext(ca.get(), leaf.get(), NID_authority_key_identifier, "keyid");
    sign(leaf.get(), ca_key.get());

    write_cert(ca_cert(), ca.get());
    write_cert(server_cert(), leaf.get());
    write_key(server_key(), leaf_key.get());
    // The same CA's key, for tests that need a key that is not the certificate's.
    write_key(other_key(), ca_key.get());
  }
  ~TestPki() {
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }
  TestPki(const TestPki&) = delete;
  TestPki& operator=(const TestPki&) = delete;

  std::string ca_cert() const { return (dir_ / "ca.pem").string(); }
  std::string server_cert() const { return (dir_ / "server.pem").string(); }
  std::string server_key() const { return (dir_ / "server-key.pem").string(); }
  std::string other_key() const { return (dir_ / "other-key.pem").string(); }
  const std::filesystem::path& dir() const { return dir_; }

 private:
  struct FreeKey {
    void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
  };
  struct FreeCert {
    void operator()(X509* c) const { X509_free(c); }
  };
  using Key = std::unique_ptr<EVP_PKEY, FreeKey>;
  using Cert = std::unique_ptr<X509, FreeCert>;

  static void check(bool ok, const char* what) {
    if (!ok) throw std::runtime_error(std::string("test PKI: ") + what + " failed");
  }
  static Key new_key() {
    Key key(EVP_EC_gen("P-256"));
    check(key != nullptr, "EVP_EC_gen");
    return key;
  }
  static Cert new_cert(EVP_PKEY* key, const std::string& cn, long serial) {
    Cert cert(X509_new());
    check(cert != nullptr, "X509_new");
    X509_set_version(cert.get(), 2);
    ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), serial);
    X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
    X509_gmtime_adj(X509_getm_notAfter(cert.get()), 24 * 3600);
    X509_set_pubkey(cert.get(), key);
    X509_NAME* name = X509_get_subject_name(cert.get());
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                               reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
    X509_set_issuer_name(cert.get(), name);  // self-issued until told otherwise
    return cert;
  }
  static void add_ext(X509* issuer, X509* cert, int nid, const std::string& value) {
    X509V3_CTX ctx;
    X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
    X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
    check(ext != nullptr, "X509V3_EXT_conf_nid");
    X509_add_ext(cert, ext, -1);
    X509_EXTENSION_free(ext);
  }
  static void sign(X509* cert, EVP_PKEY* key) {
    check(X509_sign(cert, key, EVP_sha256()) > 0, "X509_sign");
  }
  static void write_cert(const std::string& path, X509* cert) {
    BIO* bio = BIO_new_file(path.c_str(), "w");
    check(bio != nullptr && PEM_write_bio_X509(bio, cert) == 1, "writing a certificate");
    BIO_free(bio);
  }
  static void write_key(const std::string& path, EVP_PKEY* key) {
    BIO* bio = BIO_new_file(path.c_str(), "w");
    check(bio != nullptr &&
              PEM_write_bio_PrivateKey(bio, key, nullptr, nullptr, 0, nullptr, nullptr) == 1,
          "writing a key");
    BIO_free(bio);
  }

  std::filesystem::path dir_;
};

}  // namespace switchboard::testing
