// moat-common-net's HttpsClient and WssClient against the broker's real HttpServer: real TLS
// with a certificate from Moat's CA, real sockets and threads, no mocks. Lives here rather than
// in common/ because common must not depend on the broker.
#include "moat/common/net/client.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "http/server.h"
#include "moat/common/testing/temp_dir.h"
#include "moat/common/tls/ca.h"
#include "moat/common/tls/context.h"
#include "moat/common/unique_fd.h"

namespace moat::net {
namespace {

using broker::http::EventHub;
using broker::http::HttpRequest;
using broker::http::HttpResponse;
using broker::http::HttpServer;
using broker::http::HttpServerOptions;
using broker::http::JsonResponse;
using broker::http::Router;
using Clock = std::chrono::steady_clock;

constexpr const char* kToken = "secret-token";
constexpr size_t kBigBody = 2 << 20;

::testing::AssertionResult Contains(const std::string& text, const std::string& part) {
  if (text.find(part) != std::string::npos) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "'" << text << "' lacks '" << part << "'";
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

// What a WssClient's callbacks saw, read from the test thread.
struct Inbox {
  std::mutex mutex;
  std::vector<std::string> messages;
  std::vector<std::string> closes;  // the messages of on_close's errors

  void Attach(WssOptions& options) {
    options.on_message = [this](std::string message) {
      std::lock_guard lock(mutex);
      messages.push_back(std::move(message));
    };
    options.on_close = [this](const Error& error) {
      std::lock_guard lock(mutex);
      closes.push_back(error.message());
    };
  }
  size_t message_count() {
    std::lock_guard lock(mutex);
    return messages.size();
  }
  size_t close_count() {
    std::lock_guard lock(mutex);
    return closes.size();
  }
  std::string first_close() {
    std::lock_guard lock(mutex);
    return closes.empty() ? "" : closes.front();
  }
};

// A TCP listener that never accepts: the kernel completes the TCP handshake, then nothing.
class SilentListener {
 public:
  SilentListener() : fd_(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) {
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof(address);
    if (::bind(fd_.get(), reinterpret_cast<sockaddr*>(&address), length) != 0 ||
        ::listen(fd_.get(), 4) != 0 ||
        ::getsockname(fd_.get(), reinterpret_cast<sockaddr*>(&address), &length) != 0) {
      ADD_FAILURE() << "silent listener: " << strerror(errno);
    }
    port_ = ntohs(address.sin_port);
  }
  uint16_t port() const { return port_; }

 private:
  UniqueFd fd_;
  uint16_t port_ = 0;
};

class ClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto ca = tls::CertificateAuthority::LoadOrCreate(temp_.path() / "ca");
    ASSERT_TRUE(ca) << ca.error().message();
    ca_pem_ = ca->certificate_pem();
    auto issued = ca->IssueServerCertificate({"127.0.0.1", "localhost"}, 1);
    ASSERT_TRUE(issued) << issued.error().message();
    server_key_ = *issued;

    ASSERT_TRUE(router_.Add("GET", "/api/v1/ping", [](const HttpRequest& request) {
      return JsonResponse(200, nlohmann::json{{"peer_port", request.peer_port}}.dump());
    }));
    ASSERT_TRUE(router_.Add("POST", "/api/v1/inspect", [](const HttpRequest& request) {
      auto header = [&](std::string_view name) {
        return std::string(request.headers.Get(name).value_or("(none)"));
      };
      nlohmann::json body = {{"method", request.method},
                             {"target", request.target},
                             {"body", request.body},
                             {"peer_port", request.peer_port},
                             {"host", header("host")},
                             {"user_agent", header("user-agent")},
                             {"content_type", header("content-type")},
                             {"content_length", header("content-length")},
                             {"x_extra", header("x-extra")}};
      return JsonResponse(201, body.dump());
    }));
    ASSERT_TRUE(router_.Add("GET", "/api/v1/big", [](const HttpRequest&) {
      HttpResponse response;
      response.headers.Set("Content-Type", "application/octet-stream");
      response.body.assign(kBigBody, 'x');
      response.body.back() = 'y';
      return response;
    }));
    ASSERT_TRUE(router_.Add("GET", "/api/v1/slow", [](const HttpRequest&) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1500));
      return JsonResponse(200, "{}");
    }));
    StartServer();
  }

  void StartServer(uint16_t port = 0,
                   std::chrono::milliseconds request_timeout = std::chrono::seconds(30)) {
    auto server_ctx =
        tls::MakeServerContext({server_key_.cert_pem, server_key_.key_pem, {}, false});
    ASSERT_TRUE(server_ctx) << server_ctx.error().message();
    HttpServerOptions options;
    options.ssl_ctx = std::move(*server_ctx);
    options.port = port;
    options.request_timeout = request_timeout;
    options.authorize_events = [](const HttpRequest& request) -> std::optional<HttpResponse> {
      auto header = request.headers.Get("authorization");
      if ((header && *header == std::string("Bearer ") + kToken) ||
          request.QueryParam("token") == kToken) {
        return std::nullopt;
      }
      return broker::http::JsonError(401, "unauthorized", "no token");
    };
    server_.reset();
    auto server = HttpServer::Start(std::move(options), router_, hub_);
    ASSERT_TRUE(server) << server.error().message();
    server_ = std::move(*server);
    port_ = server_->port();
  }

  tls::SslCtxPtr ClientContext(std::string hostname = "127.0.0.1") {
    return ClientContextFor(ca_pem_, std::move(hostname));
  }
  static tls::SslCtxPtr ClientContextFor(const std::string& ca_pem, std::string hostname) {
    auto ctx = tls::MakeClientContext({ca_pem, {}, {}, std::move(hostname)});
    EXPECT_TRUE(ctx) << ctx.error().message();
    return ctx ? std::move(*ctx) : nullptr;
  }

  std::string HostPort() const { return "127.0.0.1:" + std::to_string(port_); }
  std::string HttpsUrl() const { return "https://" + HostPort(); }
  std::string EventsUrl() const { return "wss://" + HostPort() + "/api/v1/events"; }

  std::unique_ptr<HttpsClient> Connect() {
    auto client = HttpsClient::Connect(HttpsUrl(), ClientContext());
    EXPECT_TRUE(client) << client.error().message();
    return client ? std::move(*client) : nullptr;
  }

  WssOptions EventOptions(Inbox& inbox) {
    WssOptions options;
    options.url = EventsUrl();
    options.ctx = ClientContext();
    options.headers = {{"Authorization", std::string("Bearer ") + kToken}};
    inbox.Attach(options);
    return options;
  }

  static nlohmann::json Json(const ClientResponse& response) {
    return nlohmann::json::parse(response.body, nullptr, /*allow_exceptions=*/false);
  }

  testing::TempDir temp_;
  std::string ca_pem_;
  tls::KeyAndCertificate server_key_;
  Router router_;
  EventHub hub_;
  std::unique_ptr<HttpServer> server_;
  uint16_t port_ = 0;
};

TEST_F(ClientTest, GetAndPostShareOneKeepAliveConnection) {
  auto client = Connect();
  ASSERT_TRUE(client);

  auto get = client->Send({"GET", "/api/v1/ping", {}, {}});
  ASSERT_TRUE(get) << get.error().message();
  EXPECT_EQ(get->status, 200);
  EXPECT_EQ(get->Header("content-type"), "application/json");

  auto post = client->Send({"POST", "/api/v1/inspect", {{"X-Extra", "yes"}}, R"({"a":1})"});
  ASSERT_TRUE(post) << post.error().message();
  EXPECT_EQ(post->status, 201);
  auto seen = Json(*post);
  EXPECT_EQ(seen["method"], "POST");
  EXPECT_EQ(seen["body"], R"({"a":1})");
  EXPECT_EQ(seen["host"], HostPort());
  EXPECT_TRUE(Contains(seen["user_agent"].get<std::string>(), "moat"));
  EXPECT_EQ(seen["content_type"], "application/json");
  EXPECT_EQ(seen["content_length"], "7");
  EXPECT_EQ(seen["x_extra"], "yes");

  // The server saw both requests come from the same client port: one TCP connection.
  EXPECT_EQ(Json(*get)["peer_port"], seen["peer_port"]);
  EXPECT_EQ(client->connections_opened(), 1u);
}

TEST_F(ClientTest, CallerHeadersWinAndEmptyPostSendsZeroLength) {
  auto client = Connect();
  ASSERT_TRUE(client);
  auto plain = client->Send({"POST", "/api/v1/inspect", {{"content-type", "text/plain"}}, "hello"});
  ASSERT_TRUE(plain) << plain.error().message();
  EXPECT_EQ(Json(*plain)["content_type"], "text/plain");

  auto empty = client->Send({"POST", "/api/v1/inspect", {}, {}});
  ASSERT_TRUE(empty) << empty.error().message();
  EXPECT_EQ(Json(*empty)["content_length"], "0");
  EXPECT_EQ(Json(*empty)["content_type"], "(none)");
}

TEST_F(ClientTest, BasePathPrefixesEveryTarget) {
  auto client = HttpsClient::Connect(HttpsUrl() + "/api/v1/", ClientContext());
  ASSERT_TRUE(client) << client.error().message();
  auto response = (*client)->Send({"POST", "/inspect?q=1", {}, "{}"});
  ASSERT_TRUE(response) << response.error().message();
  EXPECT_EQ(Json(*response)["target"], "/api/v1/inspect?q=1");
}

TEST_F(ClientTest, ReconnectsWhenTheServerClosedTheIdleConnection) {
  StartServer(0, std::chrono::milliseconds(200));  // idle keep-alive connections end after this
  auto client = Connect();
  ASSERT_TRUE(client);
  auto first = client->Send({"POST", "/api/v1/inspect", {}, "{}"});
  ASSERT_TRUE(first) << first.error().message();

  std::this_thread::sleep_for(std::chrono::milliseconds(600));
  // A POST: it is not retried blindly, so this shows the closed connection was noticed first.
  auto second = client->Send({"POST", "/api/v1/inspect", {}, "{}"});
  ASSERT_TRUE(second) << second.error().message();
  EXPECT_EQ(second->status, 201);
  EXPECT_NE(Json(*first)["peer_port"], Json(*second)["peer_port"]);
  EXPECT_EQ(client->connections_opened(), 2u);
}

TEST_F(ClientTest, ReconnectsAfterTheServerRestarted) {
  auto client = Connect();
  ASSERT_TRUE(client);
  ASSERT_TRUE(client->Send({"GET", "/api/v1/ping", {}, {}}));
  uint16_t port = port_;
  server_->Stop();
  StartServer(port);
  ASSERT_EQ(port_, port);
  auto again = client->Send({"GET", "/api/v1/ping", {}, {}});
  ASSERT_TRUE(again) << again.error().message();
  EXPECT_EQ(again->status, 200);
}

TEST_F(ClientTest, ConnectionRefusedNamesTheStepAndPeer) {
  server_->Stop();
  auto client = HttpsClient::Connect(HttpsUrl(), ClientContext());
  ASSERT_FALSE(client);
  EXPECT_EQ(client.error().message(), "connect " + HostPort() + ": Connection refused");
  EXPECT_EQ(client.error().code(), std::errc::connection_refused);
}

TEST_F(ClientTest, SendAfterTheServerWentAwayFails) {
  auto client = Connect();
  ASSERT_TRUE(client);
  server_->Stop();
  auto response = client->Send({"GET", "/api/v1/ping", {}, {}});
  ASSERT_FALSE(response);
  EXPECT_TRUE(Contains(response.error().message(), "connect " + HostPort()));
}

TEST_F(ClientTest, ServerFromAnotherCaFailsTheHandshake) {
  auto other_ca = tls::CertificateAuthority::LoadOrCreate(temp_.path() / "other-ca", "Other");
  ASSERT_TRUE(other_ca) << other_ca.error().message();
  auto client =
      HttpsClient::Connect(HttpsUrl(), ClientContextFor(other_ca->certificate_pem(), "127.0.0.1"));
  ASSERT_FALSE(client);
  EXPECT_TRUE(Contains(client.error().message(), "TLS handshake with " + HostPort() + ": "));
  EXPECT_TRUE(Contains(client.error().message(), "certificate verify failed"));
}

TEST_F(ClientTest, WrongExpectedHostFailsTheHandshake) {
  auto client = HttpsClient::Connect(HttpsUrl(), ClientContext("broker.example.com"));
  ASSERT_FALSE(client);
  EXPECT_TRUE(Contains(client.error().message(), "TLS handshake with " + HostPort()));
  EXPECT_TRUE(Contains(client.error().message(), "hostname mismatch"));
}

TEST_F(ClientTest, DnsNameIsResolvedAndVerified) {
  auto client = HttpsClient::Connect("https://localhost:" + std::to_string(port_),
                                     ClientContext("localhost"));
  ASSERT_TRUE(client) << client.error().message();
  auto response = (*client)->Send({"POST", "/api/v1/inspect", {}, "{}"});
  ASSERT_TRUE(response) << response.error().message();
  EXPECT_EQ(Json(*response)["host"], "localhost:" + std::to_string(port_));
}

TEST_F(ClientTest, ReadsALargeBodyAndEnforcesTheLimit) {
  auto client = Connect();
  ASSERT_TRUE(client);
  auto big = client->Send({"GET", "/api/v1/big", {}, {}});
  ASSERT_TRUE(big) << big.error().message();
  ASSERT_EQ(big->body.size(), kBigBody);
  EXPECT_EQ(big->body.front(), 'x');
  EXPECT_EQ(big->body.back(), 'y');

  client->set_max_response_bytes(kBigBody - 1);
  auto too_big = client->Send({"GET", "/api/v1/big", {}, {}});
  ASSERT_FALSE(too_big);
  EXPECT_TRUE(Contains(too_big.error().message(), "body exceeds " + std::to_string(kBigBody - 1)));
  // The connection is dropped, not left half-read: the next request works.
  client->set_max_response_bytes(HttpsClient::kDefaultMaxResponseBytes);
  auto after = client->Send({"GET", "/api/v1/ping", {}, {}});
  ASSERT_TRUE(after) << after.error().message();
  EXPECT_EQ(after->status, 200);
}

TEST_F(ClientTest, TimeoutsNameTheStep) {
  SilentListener silent;
  auto start = Clock::now();
  auto client = HttpsClient::Connect("https://127.0.0.1:" + std::to_string(silent.port()),
                                     ClientContext(), std::chrono::milliseconds(300));
  ASSERT_FALSE(client);
  EXPECT_LT(Clock::now() - start, std::chrono::seconds(3));
  EXPECT_EQ(
      client.error().message(),
      "TLS handshake with 127.0.0.1:" + std::to_string(silent.port()) + ": timed out after 300 ms");

  auto slow = HttpsClient::Connect(HttpsUrl(), ClientContext(), std::chrono::milliseconds(300));
  ASSERT_TRUE(slow) << slow.error().message();
  auto response = (*slow)->Send({"GET", "/api/v1/slow", {}, {}});
  ASSERT_FALSE(response);
  EXPECT_EQ(response.error().message(),
            "read response from " + HostPort() + ": timed out after 300 ms");
}

TEST_F(ClientTest, BadInputIsRefusedBeforeAnythingIsSent) {
  EXPECT_FALSE(HttpsClient::Connect(EventsUrl(), ClientContext()));
  EXPECT_FALSE(HttpsClient::Connect(HttpsUrl() + "/?q=1", ClientContext()));
  EXPECT_FALSE(HttpsClient::Connect(HttpsUrl(), nullptr));
  auto client = Connect();
  ASSERT_TRUE(client);
  EXPECT_FALSE(client->Send({"GET", "no-slash", {}, {}}));
  EXPECT_FALSE(client->Send({"GET", "/a b", {}, {}}));
  EXPECT_FALSE(client->Send({"GE T", "/", {}, {}}));
  auto injected = client->Send({"GET", "/", {{"X-A", "1\r\nX-Injected: 2"}}, {}});
  ASSERT_FALSE(injected);
  EXPECT_TRUE(Contains(injected.error().message(), "'X-A' is malformed"));
  EXPECT_TRUE(client->Send({"GET", "/api/v1/ping", {}, {}}));
}

TEST_F(ClientTest, EventStreamDeliversPublishedMessagesInOrder) {
  Inbox by_header;
  auto client = WssClient::Connect(EventOptions(by_header));
  ASSERT_TRUE(client) << client.error().message();
  EXPECT_TRUE((*client)->open());

  Inbox by_query;
  WssOptions options = EventOptions(by_query);
  options.url += std::string("?token=") + kToken;
  options.headers.clear();
  auto second = WssClient::Connect(std::move(options));
  ASSERT_TRUE(second) << second.error().message();
  // Subscribed before the upgrade completed, so nothing published from now on is missed.
  ASSERT_EQ(hub_.subscriber_count(), 2u);

  constexpr int kMessages = 200;
  for (int i = 0; i < kMessages; ++i) hub_.Publish(nlohmann::json{{"seq", i}}.dump());
  for (Inbox* inbox : {&by_header, &by_query}) {
    ASSERT_TRUE(WaitFor([&] { return inbox->message_count() == kMessages; }))
        << inbox->message_count();
    std::lock_guard lock(inbox->mutex);
    for (int i = 0; i < kMessages; ++i) {
      EXPECT_EQ(nlohmann::json::parse(inbox->messages[i])["seq"], i);
    }
  }
  // The server reads and discards what clients send; sending must still work.
  for (int i = 0; i < 50; ++i)
    EXPECT_TRUE((*client)->Send("{\"hello\":" + std::to_string(i) + "}"));
  EXPECT_EQ(by_header.close_count(), 0u);
}

TEST_F(ClientTest, RefusedUpgradeReportsStatusAndBody) {
  Inbox inbox;
  WssOptions options = EventOptions(inbox);
  options.headers.clear();
  options.url += "?token=not-the-token";
  auto client = WssClient::Connect(std::move(options));
  ASSERT_FALSE(client);
  const std::string& message = client.error().message();
  EXPECT_TRUE(Contains(message, "WebSocket upgrade at " + HostPort() + "/api/v1/events refused"));
  EXPECT_TRUE(Contains(message, "401"));
  EXPECT_TRUE(Contains(message, "unauthorized"));    // from the JSON body
  EXPECT_FALSE(Contains(message, "not-the-token"));  // queries may hold secrets
  EXPECT_EQ(inbox.close_count(), 0u);
  EXPECT_EQ(hub_.subscriber_count(), 0u);
}

TEST_F(ClientTest, WssFromAnotherCaFailsTheHandshake) {
  auto other_ca = tls::CertificateAuthority::LoadOrCreate(temp_.path() / "other-ca", "Other");
  ASSERT_TRUE(other_ca);
  Inbox inbox;
  WssOptions options = EventOptions(inbox);
  options.ctx = ClientContextFor(other_ca->certificate_pem(), "127.0.0.1");
  auto client = WssClient::Connect(std::move(options));
  ASSERT_FALSE(client);
  EXPECT_TRUE(Contains(client.error().message(), "TLS handshake with " + HostPort()));
  EXPECT_TRUE(Contains(client.error().message(), "certificate verify failed"));
}

TEST_F(ClientTest, CloseReportsOnceAndLaterSendsFail) {
  Inbox inbox;
  auto client = WssClient::Connect(EventOptions(inbox));
  ASSERT_TRUE(client) << client.error().message();
  ASSERT_TRUE((*client)->Send("{}"));
  (*client)->Close();
  EXPECT_FALSE((*client)->open());
  ASSERT_EQ(inbox.close_count(), 1u);  // Close has joined the I/O thread: on_close has run
  EXPECT_EQ(inbox.first_close(), "WebSocket " + HostPort() + ": closed by this client");
  auto send = (*client)->Send("{}");
  ASSERT_FALSE(send);
  EXPECT_TRUE(Contains(send.error().message(), "the connection is closed"));
  (*client)->Close();  // idempotent
  client->reset();
  EXPECT_EQ(inbox.close_count(), 1u);
  EXPECT_TRUE(WaitFor([&] { return hub_.subscriber_count() == 0; }));
}

TEST_F(ClientTest, ServerStopEndsTheStreamWithItsReason) {
  Inbox inbox;
  auto client = WssClient::Connect(EventOptions(inbox));
  ASSERT_TRUE(client) << client.error().message();
  server_->Stop();
  ASSERT_TRUE(WaitFor([&] { return inbox.close_count() == 1; }));
  EXPECT_EQ(inbox.first_close(), "WebSocket " + HostPort() + ": closed by the server (1001)");
  EXPECT_FALSE((*client)->open());
  EXPECT_FALSE((*client)->Send("{}"));
  client->reset();
  EXPECT_EQ(inbox.close_count(), 1u);
}

TEST_F(ClientTest, OversizeMessageEndsTheStream) {
  Inbox inbox;
  WssOptions options = EventOptions(inbox);
  options.max_message_bytes = 1024;
  auto client = WssClient::Connect(std::move(options));
  ASSERT_TRUE(client) << client.error().message();
  hub_.Publish("\"small\"");
  hub_.Publish("\"" + std::string(2000, 'x') + "\"");
  ASSERT_TRUE(WaitFor([&] { return inbox.close_count() == 1; }));
  EXPECT_EQ(inbox.first_close(), "WebSocket " + HostPort() + ": a message exceeds 1024 bytes");
  EXPECT_EQ(inbox.message_count(), 1u);
}

TEST_F(ClientTest, ThrowingMessageHandlerEndsTheStream) {
  Inbox inbox;
  WssOptions options = EventOptions(inbox);
  options.on_message = [](std::string) { throw std::runtime_error("boom"); };
  auto client = WssClient::Connect(std::move(options));
  ASSERT_TRUE(client) << client.error().message();
  hub_.Publish("{}");
  ASSERT_TRUE(WaitFor([&] { return inbox.close_count() == 1; }));
  EXPECT_EQ(inbox.first_close(), "WebSocket " + HostPort() + ": message handler failed: boom");
  EXPECT_FALSE((*client)->open());
}

TEST_F(ClientTest, ClientMayBeDestroyedFromItsOwnOnClose) {
  std::mutex mutex;
  std::unique_ptr<WssClient> client;
  std::atomic<bool> destroyed{false};
  Inbox inbox;
  WssOptions options = EventOptions(inbox);
  options.on_close = [&](const Error&) {
    std::unique_ptr<WssClient> doomed;
    {
      std::lock_guard lock(mutex);
      doomed = std::move(client);
    }
    doomed.reset();  // on the client's own I/O thread
    destroyed = true;
  };
  auto connected = WssClient::Connect(std::move(options));
  ASSERT_TRUE(connected) << connected.error().message();
  {
    std::lock_guard lock(mutex);
    client = std::move(*connected);
  }
  server_->Stop();
  EXPECT_TRUE(WaitFor([&] { return destroyed.load(); }));
}

TEST_F(ClientTest, WssConnectTimesOutOnASilentServer) {
  SilentListener silent;
  Inbox inbox;
  WssOptions options = EventOptions(inbox);
  options.url = "wss://127.0.0.1:" + std::to_string(silent.port()) + "/api/v1/events";
  options.timeout = std::chrono::milliseconds(300);
  auto client = WssClient::Connect(std::move(options));
  ASSERT_FALSE(client);
  EXPECT_TRUE(Contains(client.error().message(), "timed out after 300 ms"));
}

}  // namespace
}  // namespace moat::net
