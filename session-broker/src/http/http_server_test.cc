// HttpServer over real TLS on 127.0.0.1: a certificate from Moat's CA, Beast clients that verify
// it, real sockets and threads.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <atomic>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "http/server.h"
#include "http/static_files.h"
#include "moat/common/testing/temp_dir.h"
#include "moat/common/tls/ca.h"
#include "moat/common/tls/context.h"

namespace moat::broker::http {
namespace {

namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace net = boost::asio;
namespace ssl = boost::asio::ssl;
namespace websocket = boost::beast::websocket;
using tcp = boost::asio::ip::tcp;
using Clock = std::chrono::steady_clock;

constexpr size_t kMaxBody = 1024;
constexpr size_t kEventQueueMessages = 256;
constexpr const char* kToken = "secret-token";
constexpr const char* kReaderlessToken = "user-token";

using TempDir = ::moat::testing::TempDir;

using Response = bhttp::response<bhttp::string_body>;

// A blocking HTTPS client on its own io_context; verifies the server against the test CA.
class TlsClient {
 public:
  TlsClient(ssl::context& tls, uint16_t port) : stream_(io_, tls) {
    beast::get_lowest_layer(stream_).connect(
        tcp::endpoint(net::ip::make_address("127.0.0.1"), port));
    stream_.handshake(ssl::stream_base::client);
  }

  Response Send(bhttp::verb method, std::string target, std::string body = {},
                bool keep_alive = true,
                const std::vector<std::pair<std::string, std::string>>& headers = {}) {
    bhttp::request<bhttp::string_body> request(method, target, 11);
    request.set(bhttp::field::host, "127.0.0.1");
    for (const auto& [name, value] : headers) request.set(name, value);
    request.keep_alive(keep_alive);
    request.body() = std::move(body);
    request.prepare_payload();
    bhttp::write(stream_, request);
    return Read();
  }

  void WriteRaw(std::string_view bytes) { net::write(stream_, net::buffer(bytes)); }

  Response Read() {
    Response response;
    bhttp::read(stream_, buffer_, response);
    return response;
  }

  // The error that ends a read: the server closed the connection.
  beast::error_code ReadError() {
    Response response;
    beast::error_code ec;
    bhttp::read(stream_, buffer_, response, ec);
    return ec;
  }

 private:
  net::io_context io_;
  beast::ssl_stream<beast::tcp_stream> stream_;
  beast::flat_buffer buffer_;
};

// A blocking WSS client of the event stream.
class EventClient {
 public:
  // A small receive buffer makes a client that does not read fill up quickly.
  EventClient(ssl::context& tls, uint16_t port, std::optional<int> receive_buffer = {})
      : ws_(io_, tls) {
    auto& socket = beast::get_lowest_layer(ws_).socket();
    socket.open(tcp::v4());
    if (receive_buffer) socket.set_option(net::socket_base::receive_buffer_size(*receive_buffer));
    socket.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port));
    ws_.next_layer().handshake(ssl::stream_base::client);
  }

  // The upgrade's HTTP response (101 on success) and its error.
  beast::error_code Upgrade(std::string target, std::optional<std::string> bearer,
                            websocket::response_type* response) {
    if (bearer) {
      ws_.set_option(
          websocket::stream_base::decorator([token = *bearer](websocket::request_type& request) {
            request.set(bhttp::field::authorization, "Bearer " + token);
          }));
    }
    beast::error_code ec;
    ws_.handshake(*response, "127.0.0.1", target, ec);
    return ec;
  }

  beast::error_code Read(std::string* message) {
    beast::flat_buffer buffer;
    beast::error_code ec;
    ws_.read(buffer, ec);
    if (!ec) *message = beast::buffers_to_string(buffer.data());
    return ec;
  }

  const websocket::close_reason& reason() const { return ws_.reason(); }

 private:
  net::io_context io_;
  websocket::stream<beast::ssl_stream<beast::tcp_stream>> ws_;
};

nlohmann::json ParseJson(const Response& response) {
  EXPECT_EQ(response[bhttp::field::content_type], "application/json");
  return nlohmann::json::parse(response.body(), nullptr, /*allow_exceptions=*/false);
}

bool WaitFor(const std::function<bool()>& condition,
             std::chrono::milliseconds limit = std::chrono::seconds(10)) {
  auto deadline = Clock::now() + limit;
  while (!condition()) {
    if (Clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

class HttpServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto ca = tls::CertificateAuthority::LoadOrCreate(temp_.path() / "ca");
    ASSERT_TRUE(ca) << ca.error().message();
    auto issued = ca->IssueServerCertificate({"127.0.0.1"}, 1);
    ASSERT_TRUE(issued) << issued.error().message();
    server_key_ = *issued;
    auto client_ctx = tls::MakeClientContext({ca->certificate_pem(), {}, {}, "127.0.0.1"});
    ASSERT_TRUE(client_ctx) << client_ctx.error().message();
    client_tls_.emplace(client_ctx->release());

    ASSERT_TRUE(router_.Add("GET", "/api/v1/ping", [](const HttpRequest& request) {
      nlohmann::json body = {{"pong", true}, {"peer", request.peer_address}};
      return JsonResponse(200, body.dump());
    }));
    ASSERT_TRUE(
        router_.Add("GET", "/api/v1/sessions/{id}/apps/{app}", [](const HttpRequest& request) {
          nlohmann::json body = {{"id", request.PathParam("id")},
                                 {"app", request.PathParam("app")},
                                 {"verbose", request.QueryParam("verbose").value_or("")}};
          return JsonResponse(200, body.dump());
        }));
    ASSERT_TRUE(router_.Add("POST", "/api/v1/echo", [](const HttpRequest& request) {
      HttpResponse response;
      response.headers.Set("Content-Type", "text/plain");
      response.body = request.body;
      return response;
    }));
    ASSERT_TRUE(router_.Add("DELETE", "/api/v1/ping", [](const HttpRequest&) {
      return HttpResponse{204, {}, {}};
    }));
    std::filesystem::create_directories(temp_.path() / "www" / "core");
    std::ofstream(temp_.path() / "www" / "core" / "rfb.js") << std::string(300 << 10, 'x');
    static_files_ = std::make_unique<StaticFiles>(StaticFilesOptions{.root = temp_.path() / "www"});
    ASSERT_TRUE(router_.Add("GET", "/novnc/{*file}", [this](const HttpRequest& request) {
      return static_files_->Serve(request, request.PathParam("file"));
    }));
    StartServer();
  }

  void StartServer() {
    auto server_ctx =
        tls::MakeServerContext({server_key_.cert_pem, server_key_.key_pem, {}, false});
    ASSERT_TRUE(server_ctx) << server_ctx.error().message();
    HttpServerOptions options;
    options.ssl_ctx = std::move(*server_ctx);
    options.max_body_bytes = kMaxBody;
    options.event_queue_messages = kEventQueueMessages;
    // kToken may watch, kReaderlessToken is valid but of a role that may not.
    options.authorize_events = [](const HttpRequest& request) -> std::optional<HttpResponse> {
      auto header = request.headers.Get("authorization");
      if ((header && *header == std::string("Bearer ") + kToken) ||
          request.QueryParam("token") == kToken) {
        return std::nullopt;
      }
      if (header && *header == std::string("Bearer ") + kReaderlessToken) {
        return JsonError(403, "forbidden", "this role may not watch events");
      }
      return JsonError(401, "unauthorized", "the event stream needs a valid token");
    };
    auto server = HttpServer::Start(std::move(options), router_, hub_);
    ASSERT_TRUE(server) << server.error().message();
    server_ = std::move(*server);
  }

  TlsClient Client() { return TlsClient(*client_tls_, server_->port()); }

  TempDir temp_;
  tls::KeyAndCertificate server_key_;
  std::optional<ssl::context> client_tls_;
  std::unique_ptr<StaticFiles> static_files_;
  Router router_;
  EventHub hub_;
  std::unique_ptr<HttpServer> server_;
};

TEST_F(HttpServerTest, GetIsRoutedToItsHandler) {
  auto client = Client();
  Response response = client.Send(bhttp::verb::get, "/api/v1/ping");
  EXPECT_EQ(response.result_int(), 200);
  auto body = ParseJson(response);
  EXPECT_EQ(body["pong"], true);
  EXPECT_EQ(body["peer"], "127.0.0.1");
}

TEST_F(HttpServerTest, PathParametersAndQueryAreExtracted) {
  auto client = Client();
  Response response =
      client.Send(bhttp::verb::get, "/api/v1/sessions/s%2042/apps/xterm?verbose=yes%21");
  ASSERT_EQ(response.result_int(), 200);
  auto body = ParseJson(response);
  EXPECT_EQ(body["id"], "s 42");
  EXPECT_EQ(body["app"], "xterm");
  EXPECT_EQ(body["verbose"], "yes!");
}

TEST_F(HttpServerTest, StaticFilesAreServedWholeAndRevalidatedWith304) {
  auto client = Client();
  Response file = client.Send(bhttp::verb::get, "/novnc/core/rfb.js");
  ASSERT_EQ(file.result_int(), 200);
  EXPECT_EQ(file[bhttp::field::content_type], "text/javascript; charset=utf-8");
  EXPECT_EQ(file[bhttp::field::cache_control], "public, max-age=86400");
  EXPECT_EQ(file.body(), std::string(300 << 10, 'x'));
  std::string etag(file[bhttp::field::etag]);
  ASSERT_FALSE(etag.empty());
  // On the same keep-alive connection: a 304 has no body, and the next answer is intact.
  Response again =
      client.Send(bhttp::verb::get, "/novnc/core/rfb.js", {}, true, {{"If-None-Match", etag}});
  EXPECT_EQ(again.result_int(), 304);
  EXPECT_TRUE(again.body().empty());
  EXPECT_EQ(again[bhttp::field::etag], etag);
  Response traversal = client.Send(bhttp::verb::get, "/novnc/%2e%2e/ca/ca.key");
  EXPECT_EQ(traversal.result_int(), 404);
  EXPECT_EQ(ParseJson(traversal)["error"], "not_found");
  EXPECT_EQ(client.Send(bhttp::verb::get, "/api/v1/ping").result_int(), 200);
}

TEST_F(HttpServerTest, UnknownPathGetsJson404) {
  auto client = Client();
  Response response = client.Send(bhttp::verb::get, "/api/v1/nothing/here");
  EXPECT_EQ(response.result_int(), 404);
  auto body = ParseJson(response);
  EXPECT_EQ(body["error"], "not_found");
  EXPECT_TRUE(body["message"].is_string());
  EXPECT_EQ(body.size(), 2u);
}

TEST_F(HttpServerTest, WrongMethodGetsJson405WithAllow) {
  auto client = Client();
  Response response = client.Send(bhttp::verb::put, "/api/v1/ping");
  EXPECT_EQ(response.result_int(), 405);
  EXPECT_EQ(response[bhttp::field::allow], "GET, DELETE");
  EXPECT_EQ(ParseJson(response)["error"], "method_not_allowed");
}

TEST_F(HttpServerTest, KeepAliveServesManyRequestsOnOneConnection) {
  auto client = Client();
  for (int i = 0; i < 5; ++i) {
    Response response =
        client.Send(bhttp::verb::post, "/api/v1/echo", "hello " + std::to_string(i));
    ASSERT_EQ(response.result_int(), 200);
    EXPECT_EQ(response.body(), "hello " + std::to_string(i));
    EXPECT_TRUE(response.keep_alive());
  }
  EXPECT_EQ(client.Send(bhttp::verb::delete_, "/api/v1/ping").result_int(), 204);
}

TEST_F(HttpServerTest, OversizeBodyGetsJson413AndClose) {
  auto client = Client();
  // Headers only: the server answers as soon as it sees the length, without reading the body.
  client.WriteRaw("POST /api/v1/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n");
  Response response = client.Read();
  EXPECT_EQ(response.result_int(), 413);
  EXPECT_EQ(ParseJson(response)["error"], "payload_too_large");
  EXPECT_FALSE(response.keep_alive());

  // A body at the limit is fine.
  auto second = Client();
  EXPECT_EQ(
      second.Send(bhttp::verb::post, "/api/v1/echo", std::string(kMaxBody, 'x')).body().size(),
      kMaxBody);
}

TEST_F(HttpServerTest, MalformedRequestGetsJson400) {
  auto client = Client();
  client.WriteRaw("GET /api/v1/ping HTTP/1.1\r\nThis is not a header\r\n\r\n");
  Response response = client.Read();
  EXPECT_EQ(response.result_int(), 400);
  EXPECT_EQ(ParseJson(response)["error"], "bad_request");
  EXPECT_FALSE(response.keep_alive());

  auto other = Client();
  other.WriteRaw("GET http://example.com/ HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(other.Read().result_int(), 400);
}

TEST_F(HttpServerTest, ConcurrentClientsAllGetTheirOwnAnswers) {
  constexpr int kThreads = 6;
  constexpr int kRequests = 30;
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      auto client = Client();
      for (int i = 0; i < kRequests; ++i) {
        std::string id = std::to_string(t * 1000 + i);
        Response response = client.Send(bhttp::verb::get, "/api/v1/sessions/" + id + "/apps/a");
        auto body = nlohmann::json::parse(response.body(), nullptr, false);
        if (response.result_int() == 200 && body["id"] == id) ++ok;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(ok.load(), kThreads * kRequests);
}

TEST_F(HttpServerTest, StartFailsClearlyWhenThePortIsTaken) {
  auto server_ctx = tls::MakeServerContext({server_key_.cert_pem, server_key_.key_pem, {}, false});
  ASSERT_TRUE(server_ctx);
  HttpServerOptions options;
  options.ssl_ctx = std::move(*server_ctx);
  options.port = server_->port();
  auto second = HttpServer::Start(std::move(options), router_, hub_);
  ASSERT_FALSE(second);
  EXPECT_NE(second.error().message().find("bind '127.0.0.1:" + std::to_string(server_->port())),
            std::string::npos)
      << second.error().message();
  EXPECT_EQ(second.error().code(), std::errc::address_in_use);
  // The first server is unaffected.
  EXPECT_EQ(Client().Send(bhttp::verb::get, "/api/v1/ping").result_int(), 200);
}

TEST_F(HttpServerTest, EventsPathWithoutUpgradeGets426) {
  auto client = Client();
  Response response = client.Send(bhttp::verb::get, "/api/v1/events");
  EXPECT_EQ(response.result_int(), 426);
  EXPECT_EQ(ParseJson(response)["error"], "upgrade_required");
}

TEST_F(HttpServerTest, UnauthenticatedUpgradeIsRefusedWith401) {
  EventClient no_token(*client_tls_, server_->port());
  websocket::response_type response;
  EXPECT_TRUE(no_token.Upgrade("/api/v1/events", std::nullopt, &response));
  EXPECT_EQ(response.result_int(), 401);
  auto body = nlohmann::json::parse(response.body(), nullptr, false);
  EXPECT_EQ(body["error"], "unauthorized");

  EventClient wrong_token(*client_tls_, server_->port());
  EXPECT_TRUE(wrong_token.Upgrade("/api/v1/events", "wrong", &response));
  EXPECT_EQ(response.result_int(), 401);
  EXPECT_EQ(hub_.subscriber_count(), 0u);
}

TEST_F(HttpServerTest, AnUpgradeOfTheWrongRoleGetsTheRefusalItWasGiven) {
  EventClient user(*client_tls_, server_->port());
  websocket::response_type response;
  EXPECT_TRUE(user.Upgrade("/api/v1/events", kReaderlessToken, &response));
  EXPECT_EQ(response.result_int(), 403);
  auto body = nlohmann::json::parse(response.body(), nullptr, false);
  EXPECT_EQ(body["error"], "forbidden");
  EXPECT_EQ(hub_.subscriber_count(), 0u);
}

TEST_F(HttpServerTest, AuthenticatedClientsReceiveEventsInOrder) {
  EventClient by_header(*client_tls_, server_->port());
  websocket::response_type response;
  ASSERT_FALSE(by_header.Upgrade("/api/v1/events", kToken, &response));
  EXPECT_EQ(response.result_int(), 101);
  EventClient by_query(*client_tls_, server_->port());
  ASSERT_FALSE(
      by_query.Upgrade(std::string("/api/v1/events?token=") + kToken, std::nullopt, &response));
  ASSERT_EQ(hub_.subscriber_count(), 2u);

  for (int i = 0; i < 100; ++i) hub_.Publish(nlohmann::json{{"seq", i}}.dump());
  for (EventClient* client : {&by_header, &by_query}) {
    for (int i = 0; i < 100; ++i) {
      std::string message;
      ASSERT_FALSE(client->Read(&message));
      EXPECT_EQ(nlohmann::json::parse(message)["seq"], i);
    }
  }
}

TEST_F(HttpServerTest, ClientThatNeverReadsIsDroppedAndNeverBlocksPublish) {
  websocket::response_type response;
  EventClient stalled(*client_tls_, server_->port(), /*receive_buffer=*/4096);
  ASSERT_FALSE(stalled.Upgrade("/api/v1/events", kToken, &response));
  EventClient reader(*client_tls_, server_->port());
  ASSERT_FALSE(reader.Upgrade("/api/v1/events", kToken, &response));
  ASSERT_EQ(hub_.subscriber_count(), 2u);

  constexpr int kMessages = 10000;
  constexpr int kBatch = 100;  // below the queue bound, so the reading client keeps up
  std::atomic<int> received{0};
  std::atomic<bool> in_order{true};
  std::thread reader_thread([&] {
    for (int i = 0; i < kMessages; ++i) {
      std::string message;
      if (reader.Read(&message)) return;
      if (nlohmann::json::parse(message)["seq"] != i) in_order = false;
      ++received;
    }
  });

  // 2 KiB messages: 20 MB in all, more than the kernel buffers and the queue of the stalled
  // client can hold.
  const std::string pad(2000, 'x');
  std::vector<std::string> messages;
  for (int i = 0; i < kMessages; ++i) {
    messages.push_back(nlohmann::json{{"seq", i}, {"pad", pad}}.dump());
  }
  Clock::duration publishing{};
  for (int i = 0; i < kMessages; i += kBatch) {
    auto start = Clock::now();
    for (int j = i; j < i + kBatch; ++j) hub_.Publish(std::move(messages[j]));
    publishing += Clock::now() - start;
    ASSERT_TRUE(WaitFor([&] { return received.load() >= i + kBatch; }))
        << "the reading client fell behind at " << received.load();
  }
  reader_thread.join();
  EXPECT_EQ(received.load(), kMessages);
  EXPECT_TRUE(in_order.load());
  // A sanity bound, not a speed target: Publish only queues.
  EXPECT_LT(publishing, std::chrono::seconds(1));

  EXPECT_TRUE(WaitFor([&] { return hub_.subscriber_count() == 1; }));
  // The stalled client finds its stream cut short after what the kernel had buffered.
  beast::error_code ec;
  int read = 0;
  for (std::string message; !(ec = stalled.Read(&message)); ++read) {
  }
  EXPECT_LT(read, kMessages);
}

TEST_F(HttpServerTest, StopClosesEveryConnectionAndJoins) {
  websocket::response_type response;
  EventClient events(*client_tls_, server_->port());
  ASSERT_FALSE(events.Upgrade("/api/v1/events", kToken, &response));
  auto idle = Client();
  ASSERT_EQ(idle.Send(bhttp::verb::get, "/api/v1/ping").result_int(), 200);
  uint16_t port = server_->port();

  // A live client reads all along, so it answers the server's close frame.
  beast::error_code events_error;
  std::thread events_reader([&] {
    std::string message;
    while (!(events_error = events.Read(&message))) {
    }
  });
  auto start = Clock::now();
  server_->Stop();
  EXPECT_LT(Clock::now() - start, std::chrono::seconds(2));
  events_reader.join();
  EXPECT_EQ(events_error, websocket::error::closed) << events_error.message();
  EXPECT_EQ(events.reason().code, websocket::close_code::going_away);
  EXPECT_TRUE(idle.ReadError());
  EXPECT_EQ(hub_.subscriber_count(), 0u);
  hub_.Publish("{}");  // harmless after Stop
  server_->Stop();     // idempotent

  // Nothing listens on the port any more (closed connections may linger in TIME_WAIT).
  net::io_context io;
  tcp::acceptor acceptor(io);
  beast::error_code ec;
  acceptor.open(tcp::v4(), ec);
  acceptor.set_option(net::socket_base::reuse_address(true), ec);
  acceptor.bind(tcp::endpoint(net::ip::make_address("127.0.0.1"), port), ec);
  EXPECT_FALSE(ec) << ec.message();
}

TEST(RouterTest, RejectsBadPatterns) {
  Router router;
  auto ok = [](const HttpRequest&) { return HttpResponse{}; };
  EXPECT_FALSE(router.Add("GET", "relative", ok));
  EXPECT_FALSE(router.Add("GET", "/a/{}", ok));
  EXPECT_FALSE(router.Add("GET", "/a/{x}/{x}", ok));
  EXPECT_TRUE(router.Add("GET", "/a/{x}", ok));
  EXPECT_FALSE(router.Add("GET", "/a/{x}", ok));
}

TEST(RouterTest, HandlerExceptionBecomesJson500) {
  Router router;
  ASSERT_TRUE(router.Add("GET", "/boom", [](const HttpRequest&) -> HttpResponse {
    throw std::runtime_error("secret internals");
  }));
  HttpRequest request{"GET", "/boom", {}, {}, {}, 0, {}};
  HttpResponse response = router.Dispatch(request);
  EXPECT_EQ(response.status, 500);
  EXPECT_EQ(response.body.find("secret"), std::string::npos);
}

// Dispatches GET `target` on `router`; the body of a 200 from RestEcho is the `file` parameter.
HttpResponse Get(const Router& router, std::string target) {
  HttpRequest request{"GET", std::move(target), {}, {}, {}, 0, {}};
  return router.Dispatch(request);
}

HttpResponse RestEcho(const HttpRequest& request) {
  return HttpResponse{200, {}, "[" + std::string(request.PathParam("file")) + "]"};
}

TEST(RouterTest, RestParameterMatchesTheRestOfThePath) {
  Router router;
  ASSERT_TRUE(router.Add("GET", "/novnc/{*file}", RestEcho));
  EXPECT_EQ(Get(router, "/novnc/core/rfb.js").body, "[core/rfb.js]");
  EXPECT_EQ(Get(router, "/novnc/vendor/pako/lib/zlib/inflate.js?v=1").body,
            "[vendor/pako/lib/zlib/inflate.js]");
  EXPECT_EQ(Get(router, "/novnc/app").body, "[app]");
  EXPECT_EQ(Get(router, "/novnc/").body, "[]");
  EXPECT_EQ(Get(router, "/novnc").body, "[]");
  // Each segment is decoded on its own; dot segments and empty ones reach the handler as sent.
  EXPECT_EQ(Get(router, "/novnc/a%20b/c.js").body, "[a b/c.js]");
  EXPECT_EQ(Get(router, "/novnc/../x").body, "[../x]");
  EXPECT_EQ(Get(router, "/novnc/%2e%2e/x").body, "[../x]");
  EXPECT_EQ(Get(router, "/novnc//etc/passwd").body, "[/etc/passwd]");
  EXPECT_EQ(Get(router, "/novncx/a").status, 404);
  EXPECT_EQ(Get(router, "/").status, 404);
}

TEST(RouterTest, RestParameterRefusesEncodedSlashes) {
  Router router;
  ASSERT_TRUE(router.Add("GET", "/novnc/{*file}", RestEcho));
  for (const char* target :
       {"/novnc/core%2Frfb.js", "/novnc/%2Fetc%2Fpasswd", "/novnc/a/..%2f..%2fb", "/novnc/%2F"}) {
    HttpResponse response = Get(router, target);
    EXPECT_EQ(response.status, 404) << target << ": " << response.body;
    EXPECT_EQ(response.headers.Get("content-type"), "application/json") << target;
  }
}

TEST(RouterTest, RestParameterKeepsOtherRoutesAndMethods) {
  Router router;
  ASSERT_TRUE(router.Add("GET", "/files/{*file}", RestEcho));
  ASSERT_TRUE(router.Add("GET", "/files/{id}/meta", [](const HttpRequest& request) {
    return HttpResponse{200, {}, "meta " + std::string(request.PathParam("id"))};
  }));
  ASSERT_TRUE(router.Add("GET", "/{group}/{*file}", [](const HttpRequest& request) {
    return HttpResponse{
        200,
        {},
        std::string(request.PathParam("group")) + ":" + std::string(request.PathParam("file"))};
  }));
  // The first route that matches wins, as for every pattern.
  EXPECT_EQ(Get(router, "/files/7/meta").body, "[7/meta]");
  EXPECT_EQ(Get(router, "/other/a/b").body, "other:a/b");
  HttpRequest post{"POST", "/files/a/b", {}, {}, {}, 0, {}};
  HttpResponse refused = router.Dispatch(post);
  EXPECT_EQ(refused.status, 405);
  EXPECT_EQ(refused.headers.Get("allow"), "GET");
}

TEST(RouterTest, RejectsBadRestPatterns) {
  Router router;
  EXPECT_FALSE(router.Add("GET", "/a/{*}", RestEcho));
  EXPECT_FALSE(router.Add("GET", "/a/{*rest}/b", RestEcho));
  EXPECT_FALSE(router.Add("GET", "/a/{*x}/{y}", RestEcho));
  EXPECT_FALSE(router.Add("GET", "/{x}/{*x}", RestEcho));
  EXPECT_TRUE(router.Add("GET", "/a/{*rest}", RestEcho));
  EXPECT_FALSE(router.Add("GET", "/a/{*rest}", RestEcho));
  EXPECT_TRUE(router.Add("GET", "/{*everything}", RestEcho));
}

TEST(JsonErrorTest, HasExactlyErrorAndMessage) {
  HttpResponse response = JsonError(409, "conflict", "session 's1' is \"ending\"");
  EXPECT_EQ(response.status, 409);
  EXPECT_EQ(response.headers.Get("content-type"), "application/json");
  EXPECT_EQ(response.body, R"({"error":"conflict","message":"session 's1' is \"ending\""})");
}

}  // namespace
}  // namespace moat::broker::http
