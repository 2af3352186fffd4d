// The HTTP routes around the Web SDK: the bundle at /sdk/, the demo app at /, the dev
// token in --dev mode; and the pure helpers they rest on (static_files, http_target,
// dev_token).
#include <chrono>
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "server/dev_token.hpp"
#include "server/http_target.hpp"
#include "server/static_files.hpp"
#include "server_harness.hpp"

namespace switchboard::server {
namespace {

using testing::ServerThread;
namespace fs = std::filesystem;
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using nlohmann::json;

struct Reply {
  unsigned status = 0;
  std::string body;
  std::string content_type;
  std::string cache_control;
  std::string etag;
  std::string content_length;
};

Reply request(std::uint16_t port, const std::string& target, http::verb verb = http::verb::get,
              const std::string& if_none_match = {}) {
  asio::io_context io;
  beast::tcp_stream stream(io);
  stream.expires_after(std::chrono::seconds(10));
  stream.connect(asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
  http::request<http::empty_body> req{verb, target, 11};
  req.set(http::field::host, "127.0.0.1");
  if (!if_none_match.empty()) req.set(http::field::if_none_match, if_none_match);
  http::write(stream, req);
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.skip(verb == http::verb::head);
  parser.body_limit(std::uint64_t{64} * 1024 * 1024);
  http::read(stream, buffer, parser);
  const auto& response = parser.get();
  return {response.result_int(),
          response.body(),
          std::string(response[http::field::content_type]),
          std::string(response[http::field::cache_control]),
          std::string(response[http::field::etag]),
          std::string(response[http::field::content_length])};
}

void write_file(const fs::path& path, const std::string& text) {
  fs::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary) << text;
}

// <tmp>/sb-web-<pid>/{outside.txt, root/{switchboard.js, demo/{index.html, app.js, ...}}}
class WebRoot : public ::testing::Test {
 protected:
  void SetUp() override {
    base_ = fs::temp_directory_path() /
            ("sb-web-" + std::to_string(::getpid()) + "-" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(base_);
    root_ = base_ / "root";
    write_file(base_ / "outside.txt", "SECRET outside the web root");
    write_file(root_ / "switchboard.js", "export class CallClient {}\n");
    write_file(root_ / "demo" / "index.html", "<!doctype html><title>demo</title>");
    write_file(root_ / "demo" / "app.js", "import './x.js';\n");
    write_file(root_ / "demo" / "style.css", "body { margin: 0 }\n");
    write_file(root_ / "demo" / ".hidden", "hidden");
    write_file(root_ / "demo" / "sub dir" / "file.txt", "spaced");
    fs::create_symlink(base_ / "outside.txt", root_ / "demo" / "link.txt");
    fs::create_directories(root_ / "demo" / "folder.js");
  }
  void TearDown() override { fs::remove_all(base_); }

  ServerConfig config(bool dev = true) const {
    ServerConfig c;
    c.port = 0;
    c.dev = dev;
    if (!dev) c.secret = "a-production-secret";
    c.web_root = root_.string();
    EXPECT_TRUE(validate(c));
    return c;
  }

  fs::path base_;
  fs::path root_;
};

TEST_F(WebRoot, SdkBundleIsServedAsJavaScriptWithNoCache) {
  ServerThread server(config());
  auto reply = request(server.port(), "/sdk/switchboard.js");
  EXPECT_EQ(reply.status, 200u);
  EXPECT_EQ(reply.body, "export class CallClient {}\n");
  EXPECT_EQ(reply.content_type, "text/javascript; charset=utf-8");
  EXPECT_EQ(reply.cache_control, "no-cache");
  EXPECT_FALSE(reply.etag.empty());
}

TEST_F(WebRoot, RootIsTheDemoIndexAndItsAssetsFollow) {
  ServerThread server(config());
  auto index = request(server.port(), "/");
  EXPECT_EQ(index.status, 200u);
  EXPECT_EQ(index.body, "<!doctype html><title>demo</title>");
  EXPECT_EQ(index.content_type, "text/html; charset=utf-8");
  auto app = request(server.port(), "/app.js?v=2");
  EXPECT_EQ(app.status, 200u);
  EXPECT_EQ(app.body, "import './x.js';\n");
  EXPECT_EQ(app.content_type, "text/javascript; charset=utf-8");
  auto css = request(server.port(), "/style.css");
  EXPECT_EQ(css.status, 200u);
  EXPECT_EQ(css.content_type, "text/css; charset=utf-8");
  auto spaced = request(server.port(), "/sub%20dir/file.txt");
  EXPECT_EQ(spaced.status, 200u);
  EXPECT_EQ(spaced.body, "spaced");
}

TEST_F(WebRoot, MatchingEtagAnswers304AndHeadHasNoBody) {
  ServerThread server(config());
  auto first = request(server.port(), "/app.js");
  ASSERT_EQ(first.status, 200u);
  auto again = request(server.port(), "/app.js", http::verb::get, first.etag);
  EXPECT_EQ(again.status, 304u);
  EXPECT_TRUE(again.body.empty());
  auto stale = request(server.port(), "/app.js", http::verb::get, "\"0-0\"");
  EXPECT_EQ(stale.status, 200u);
  auto head = request(server.port(), "/app.js", http::verb::head);
  EXPECT_EQ(head.status, 200u);
  EXPECT_TRUE(head.body.empty());
  EXPECT_EQ(head.content_length, std::to_string(first.body.size()));
}

TEST_F(WebRoot, MissingFilesAreNotFound) {
  ServerThread server(config());
  EXPECT_EQ(request(server.port(), "/nope.js").status, 404u);
  EXPECT_EQ(request(server.port(), "/sdk/nope.js").status, 404u);
  // A directory is not a file, whatever its name.
  EXPECT_EQ(request(server.port(), "/folder.js").status, 404u);
  // The demo's files are not the SDK's, and /sdk/ has no subdirectories.
  EXPECT_EQ(request(server.port(), "/sdk/app.js").status, 404u);
  EXPECT_EQ(request(server.port(), "/sdk/demo/app.js").status, 404u);
  EXPECT_EQ(request(server.port(), "/v1/anything").status, 404u);
  EXPECT_EQ(request(server.port(), "/app.js", http::verb::post).status, 405u);
}

TEST_F(WebRoot, TraversalAndHiddenFilesAreRefused) {
  ServerThread server(config());
  for (const char* target :
       {"/../outside.txt", "/%2e%2e/outside.txt", "/%2E%2E%2Foutside.txt", "/..%2foutside.txt",
        "/sdk/../outside.txt", "/sdk/%2e%2e%2foutside.txt", "/sdk/..%5coutside.txt",
        "/demo/../../outside.txt", "/./app.js", "//etc/passwd", "/sdk//etc/passwd",
        "/%2fetc/passwd", "/.hidden", "/%2ehidden", "/link.txt", "/app.js%00.html", "/app.js/",
        "/%zz", "/sdk/"}) {
    auto reply = request(server.port(), target);
    EXPECT_EQ(reply.status, 404u) << target;
    EXPECT_EQ(reply.body.find("SECRET"), std::string::npos) << target;
  }
  EXPECT_EQ(request(server.port(), "/healthz").status, 200u);
}

TEST_F(WebRoot, MissingWebRootAnswers404SayingHowToBuildIt) {
  auto c = config();
  c.web_root = (base_ / "not-built").string();
  ServerThread server(c);
  for (const char* target : {"/", "/sdk/switchboard.js", "/app.js"}) {
    auto reply = request(server.port(), target);
    EXPECT_EQ(reply.status, 404u) << target;
    EXPECT_NE(reply.body.find("does not exist"), std::string::npos) << reply.body;
    EXPECT_NE(reply.body.find("--web-root"), std::string::npos) << reply.body;
  }
  c.web_root.clear();
  ServerThread none(c);
  EXPECT_EQ(request(none.port(), "/sdk/switchboard.js").status, 404u);
  EXPECT_EQ(request(server.port(), "/healthz").status, 200u);
}

TEST_F(WebRoot, DevTokenIsMintedWithTheDevelopmentSecret) {
  ServerThread server(config());
  auto reply = request(server.port(), "/v1/dev-token?user=alice&call=room%201&name=Alice+B");
  ASSERT_EQ(reply.status, 200u) << reply.body;
  EXPECT_EQ(reply.content_type, "application/json");
  EXPECT_EQ(reply.cache_control, "no-store");
  const auto body = json::parse(reply.body);
  const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
  auto claims = signaling::verify_token(body.at("token").get<std::string>(),
                                        signaling::kDevelopmentSecret, now, "room 1");
  ASSERT_TRUE(claims) << claims.error().message;
  EXPECT_EQ(claims->sub, "alice");
  EXPECT_EQ(claims->call, "room 1");
  EXPECT_EQ(claims->name, "Alice B");
  EXPECT_NEAR(static_cast<double>(claims->exp - now), 3600.0, 5.0);
}

TEST_F(WebRoot, DevTokenRefusesBadInputsWithTheReason) {
  ServerThread server(config());
  const std::string long_user(129, 'u');
  for (const auto& [query, why] : std::vector<std::pair<std::string, std::string>>{
           {"call=c1", "'user'"},
           {"user=alice", "'call'"},
           {"user=&call=c1", "'user'"},
           {"user=" + long_user + "&call=c1", "'user'"},
           {"user=alice&call=c1&name=" + std::string(257, 'n'), "'name'"},
           {"user=al%0Aice&call=c1", "control"},
           {"user=%FF&call=c1", "UTF-8"},
           {"user=alice&call=c1&admin=1", "unknown parameter 'admin'"},
           {"user=alice&user=eve&call=c1", "twice"},
           {"user=al%4&call=c1", "hex"},
       }) {
    auto reply = request(server.port(), "/v1/dev-token?" + query);
    EXPECT_EQ(reply.status, 400u) << query;
    EXPECT_NE(reply.body.find("INVALID_ARGUMENT"), std::string::npos) << reply.body;
    EXPECT_NE(reply.body.find(why), std::string::npos) << query << ": " << reply.body;
  }
}

TEST_F(WebRoot, DevTokenIsNotFoundWithoutDev) {
  ServerThread server(config(/*dev=*/false));
  auto reply = request(server.port(), "/v1/dev-token?user=alice&call=c1");
  EXPECT_EQ(reply.status, 404u);
  EXPECT_EQ(reply.body.find("eyJ"), std::string::npos);
  EXPECT_NE(reply.body.find("--dev"), std::string::npos);
  // The rest of the web routes do not depend on --dev.
  EXPECT_EQ(request(server.port(), "/sdk/switchboard.js").status, 200u);
}

TEST(WebFilePath, MapsSdkDemoAndRefusesWhatCannotBeAFile) {
  EXPECT_EQ(web_file_path("/"), "demo/index.html");
  EXPECT_EQ(web_file_path("/app.js"), "demo/app.js");
  EXPECT_EQ(web_file_path("/img/logo.svg"), "demo/img/logo.svg");
  EXPECT_EQ(web_file_path("/sdk/switchboard.js"), "switchboard.js");
  EXPECT_EQ(web_file_path("/a%20b.txt"), "demo/a b.txt");
  EXPECT_EQ(web_file_path("/sdk/types/index.d.ts"), std::nullopt);
  EXPECT_EQ(web_file_path("/../x"), std::nullopt);
  EXPECT_EQ(web_file_path("/%2e%2e/x"), std::nullopt);
  EXPECT_EQ(web_file_path("/a%2Fb"), std::nullopt);
  EXPECT_EQ(web_file_path("/a%5Cb"), std::nullopt);
  EXPECT_EQ(web_file_path("/a//b"), std::nullopt);
  EXPECT_EQ(web_file_path("/a/"), std::nullopt);
  EXPECT_EQ(web_file_path("/.env"), std::nullopt);
  EXPECT_EQ(web_file_path("/c:x"), std::nullopt);
  EXPECT_EQ(web_file_path("/v1/signal"), std::nullopt);
  EXPECT_EQ(web_file_path("relative"), std::nullopt);
  EXPECT_EQ(web_file_path(""), std::nullopt);
}

TEST(ContentType, ByExtension) {
  EXPECT_EQ(content_type_for("switchboard.js"), "text/javascript; charset=utf-8");
  EXPECT_EQ(content_type_for("index.html"), "text/html; charset=utf-8");
  EXPECT_EQ(content_type_for("style.css"), "text/css; charset=utf-8");
  EXPECT_EQ(content_type_for("switchboard.js.map"), "application/json");
  EXPECT_EQ(content_type_for("blob.bin"), "application/octet-stream");
  EXPECT_EQ(content_type_for("Makefile"), "application/octet-stream");
}

TEST(RequestTarget, SplitsPathAndQuery) {
  auto t = split_target("/v1/dev-token?user=a&call=b#frag");
  EXPECT_EQ(t.path, "/v1/dev-token");
  EXPECT_EQ(t.query, "user=a&call=b");
  EXPECT_EQ(split_target("/x").query, "");
  EXPECT_EQ(split_target("/x#y?z").path, "/x");
}

TEST(RequestTarget, PercentDecodingAndQueries) {
  EXPECT_EQ(percent_decode("a%20b+c", false), "a b+c");
  EXPECT_EQ(percent_decode("a%20b+c", true), "a b c");
  EXPECT_EQ(percent_decode("%e2%82%AC", false), "\xe2\x82\xac");
  EXPECT_EQ(percent_decode("%", false), std::nullopt);
  EXPECT_EQ(percent_decode("%4", false), std::nullopt);
  EXPECT_EQ(percent_decode("%4g", false), std::nullopt);
  auto q = parse_query("a=1&&b=x%26y&c");
  ASSERT_TRUE(q);
  ASSERT_EQ(q->size(), 3u);
  EXPECT_EQ((*q)[1].name, "b");
  EXPECT_EQ((*q)[1].value, "x&y");
  EXPECT_EQ((*q)[2].value, "");
  EXPECT_FALSE(parse_query("a=%"));
}

TEST(Utf8, RefusesOverlongSurrogatesAndTruncation) {
  EXPECT_TRUE(is_valid_utf8("plain \xc3\xa9 \xf0\x9f\x98\x80"));
  EXPECT_FALSE(is_valid_utf8("\xc0\xaf"));          // overlong '/'
  EXPECT_FALSE(is_valid_utf8("\xed\xa0\x80"));      // a surrogate
  EXPECT_FALSE(is_valid_utf8("\xf4\x90\x80\x80"));  // past U+10FFFF
  EXPECT_FALSE(is_valid_utf8("\xe2\x82"));          // truncated
  EXPECT_FALSE(is_valid_utf8("\xff"));
}

TEST(DevToken, ClaimsComeFromTheQuery) {
  auto token = dev_token_for_query("user=bob&call=*", "secret", 1'800'000'000);
  ASSERT_TRUE(token) << token.error().message;
  auto claims = signaling::verify_token(*token, "secret", 1'800'000'000, "any-call");
  ASSERT_TRUE(claims) << claims.error().message;
  EXPECT_EQ(claims->sub, "bob");
  EXPECT_EQ(claims->call, "*");
  EXPECT_EQ(claims->name, "");
  EXPECT_EQ(claims->iat, 1'800'000'000);
  EXPECT_EQ(claims->exp, 1'800'000'000 + kDevTokenLifetime.count());
}

TEST(WebRootConfig, DefaultsToTheBuildsWebDistAndIsOverridden) {
  ConfigOverrides o;
  o.dev = true;
  auto c = resolve_config(o, std::nullopt);
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->web_root, default_web_root());
  EXPECT_FALSE(c->web_root.empty());  // SWITCHBOARD_WEB_ROOT, web/dist unless configured

  ServerConfig from_file;
  ASSERT_TRUE(apply_config_text("web_root = \"/srv/web\"\n", ConfigFormat::Toml, from_file));
  EXPECT_EQ(from_file.web_root, "/srv/web");
  auto wrong = apply_config_text("{\"web_root\": 1}", ConfigFormat::Json, from_file);
  ASSERT_FALSE(wrong);
  EXPECT_NE(wrong.error().message.find("web_root"), std::string::npos);

  o.web_root = "/elsewhere";
  auto flagged = resolve_config(o, std::nullopt);
  ASSERT_TRUE(flagged);
  EXPECT_EQ(flagged->web_root, "/elsewhere");
}

}  // namespace
}  // namespace switchboard::server
