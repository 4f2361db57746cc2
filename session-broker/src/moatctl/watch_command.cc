// moatctl watch: follows /api/v1/events (WSS, bearer token in the upgrade's Authorization
// header) and prints one line per event until Ctrl-C (SIGINT) or SIGTERM, or until the broker
// ends the stream (exit 6: the stream is gone, which a script watching it must notice).
#include <signal.h>

#include <atomic>
#include <cstdio>
#include <mutex>
#include <set>

#include "moat/common/net/client.h"
#include "moatctl/args.h"
#include "moatctl/commands.h"
#include "moatctl/event_line.h"
#include "moatctl/exit_code.h"
#include "moatctl/output.h"

namespace moat::ctl {
namespace {

constexpr char kHelp[] =
    "usage: moatctl watch [--types session.state,usage,audit,host]\n"
    "\n"
    "Follows the broker's event stream (admin, operator, auditor) and prints one line per\n"
    "event, or each event's JSON on a line of its own with --json, until Ctrl-C. --types keeps\n"
    "the listed types only (default: all; usage comes once a second per host).\n"
    "Exit codes: 0 after Ctrl-C or SIGTERM, 3 token rejected, 4 role not allowed, 6 cannot\n"
    "connect or the broker ended the stream.\n";

constexpr const char* kTypes[] = {"session.state", "usage", "audit", "host"};

Result<std::set<std::string>> ParseTypes(const std::optional<std::string>& text) {
  std::set<std::string> types;
  if (!text) return std::set<std::string>(std::begin(kTypes), std::end(kTypes));
  size_t start = 0;
  while (start <= text->size()) {
    size_t comma = text->find(',', start);
    std::string type =
        text->substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    bool known = false;
    for (const char* candidate : kTypes) known = known || type == candidate;
    if (!known) {
      return UsageError("unknown event type '" + type + "' (session.state, usage, audit, host)");
    }
    types.insert(type);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return types;
}

// "wss://host:port[/base]/api/v1/events" from the broker's https URL.
Result<std::string> EventsUrl(const std::string& broker) {
  auto url = net::ParseUrl(broker);
  if (!url) return UsageError(url.error().message());
  std::string base = url->path;
  while (!base.empty() && base.back() == '/') base.pop_back();
  return "wss://" + url->HostPort() + base + "/api/v1/events";
}

// The upgrade's refusal, "… refused: 401 Unauthorized: {json}", as an exit code and the
// broker's own message.
Error ConnectError(const Error& error) {
  const std::string& text = error.message();
  auto at = text.find(" refused: ");
  if (at == std::string::npos) {
    return ExitError(Exit::kUnreachable, error.Wrap("watch the event stream").message());
  }
  int status = std::atoi(text.c_str() + at + 10);
  std::string message = text;
  if (auto brace = text.find('{', at); brace != std::string::npos) {
    auto body = Json::parse(text.substr(brace), nullptr, /*allow_exceptions=*/false);
    if (body.is_object() && body.contains("message") && body["message"].is_string()) {
      message = body["message"].get<std::string>();
    }
  }
  Exit exit = ExitForHttpStatus(status);
  return ExitError(exit == Exit::kOk ? Exit::kUnreachable : exit, message);
}

void PrintEvent(const std::string& text, const std::set<std::string>& types, bool json) {
  auto event = Json::parse(text, nullptr, /*allow_exceptions=*/false);
  std::string type;
  if (event.is_object() && event.contains("type") && event["type"].is_string()) {
    type = event["type"].get<std::string>();
  }
  if (!types.empty() && types.count(type) == 0) return;
  std::string line;
  if (json) {
    line = text;
  } else {
    try {
      line = EventLine(event);
    } catch (const Json::exception&) {
      line = text;  // an event shaped unlike docs/api.md: show it as it came
    }
  }
  std::fprintf(stdout, "%s\n", line.c_str());
  std::fflush(stdout);
}

}  // namespace

Status RunWatch(Context& ctx, const Arguments& arguments) {
  MOAT_TRY(Args args, Args::Parse("watch", arguments, {{"types", true}}));
  if (args.help()) return PrintHelp(kHelp);
  MOAT_TRY_VOID(args.ExpectPositional(0, 0, "[--types T,...]"));
  MOAT_TRY(std::set<std::string> types, ParseTypes(args.Value("types")));
  const Settings& settings = ctx.settings();
  if (settings.broker.empty()) {
    return UsageError("no broker: give --broker https://HOST:8443, set MOAT_BROKER, or log in");
  }
  if (settings.token.empty()) {
    return Fail(Exit::kAuth, "not logged in: run 'moatctl login USER', or set MOAT_TOKEN");
  }
  MOAT_TRY(std::string url, EventsUrl(settings.broker));
  MOAT_TRY(tls::SslCtxPtr tls, MakeTlsContext(settings, settings.broker));

  // Signals are taken synchronously by this thread; blocked before the I/O thread starts so it
  // inherits the mask and never runs a handler.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  std::mutex mutex;
  std::optional<Error> closed;  // set by on_close
  std::atomic<bool> ended{false};
  bool json = ctx.json();
  net::WssOptions options{
      .url = url,
      .ctx = std::move(tls),
      .headers = {{"Authorization", "Bearer " + settings.token}},
      .timeout = std::chrono::seconds(15),
      .idle_timeout = std::chrono::seconds(30),
      .on_message = [&types, json](std::string text) { PrintEvent(text, types, json); },
      .on_close =
          [&](const Error& error) {
            std::lock_guard lock(mutex);
            closed = error;
            ended = true;
          },
      .max_message_bytes = 4 << 20,
      .max_queued_bytes = 1 << 20};
  auto client = net::WssClient::Connect(std::move(options));
  if (!client) return tl::unexpected<Error>(ConnectError(client.error()));
  std::fprintf(stderr, "moatctl: watching %s (Ctrl-C to stop)\n", url.c_str());

  timespec tick{0, 200'000'000};
  while (!ended) {
    int signal = sigtimedwait(&stop_signals, nullptr, &tick);
    if (signal > 0) {
      (*client)->Close();
      return {};
    }
  }
  std::lock_guard lock(mutex);
  std::string why = closed ? closed->message() : "closed";
  return Fail(Exit::kUnreachable, "the event stream ended: " + why);
}

}  // namespace moat::ctl
