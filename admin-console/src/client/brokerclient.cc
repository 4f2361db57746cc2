// SPDX-License-Identifier: GPL-3.0-or-later
#include "client/brokerclient.h"

#include <QJsonDocument>
#include <QNetworkReply>
#include <QSslCertificate>
#include <QUrlQuery>
#include <algorithm>

namespace moat::console {
namespace {

constexpr int kPageSize = 1000;  // the broker's largest page
constexpr int kAuditRows = 1000;
constexpr int kMaxBackoffMs = 30'000;

QString Encode(const QString& segment) {
  return QString::fromLatin1(QUrl::toPercentEncoding(segment));
}

}  // namespace

BrokerClient::BrokerClient(TrustedCa* trust, QObject* parent)
    : QObject(parent), trust_(trust), events_(QString(), QWebSocketProtocol::VersionLatest) {
  // Our broker speaks HTTP/1.1; skip the HTTP/2 attempt.
  network_.setAutoDeleteReplies(false);
  reconnect_timer_.setSingleShot(true);
  connect(&reconnect_timer_, &QTimer::timeout, this, [this] {
    SetState(State::kConnecting, tr("Reconnecting to %1…").arg(server_.authority()));
    // From step 1 every time: a broker that comes back with another CA must be refused loudly
    // (CheckCa), not retried forever on a TLS error.
    FetchCa();
  });
  // The broker pings us; a broker that stops answering (stopped, cut off) would leave the
  // stream silently open. No frame, pong included, for kSilenceMs: the stream is dropped.
  events_watchdog_.setInterval(kPingEveryMs);
  connect(&events_watchdog_, &QTimer::timeout, this, [this] {
    if (silence_.elapsed() > kSilenceMs) {
      events_.abort();  // disconnected → OnEventsClosed → reconnect
      return;
    }
    events_.ping();
  });
  connect(&events_, &QWebSocket::pong, this, [this] { silence_.restart(); });
  connect(&events_, &QWebSocket::connected, this, [this] {
    silence_.restart();
    events_watchdog_.start();
  });
  connect(&events_, &QWebSocket::disconnected, this, [this] { events_watchdog_.stop(); });
  connect(&events_, &QWebSocket::connected, this, [this] { LoadSnapshot(); });
  connect(&events_, &QWebSocket::disconnected, this, &BrokerClient::OnEventsClosed);
  connect(&events_, &QWebSocket::textMessageReceived, this, [this](const QString& message) {
    silence_.restart();
    emit eventReceived(message.toUtf8());
  });
}

BrokerClient::~BrokerClient() {
  closing_ = true;
  events_.abort();
}

void BrokerClient::SetState(State state, const QString& text) {
  state_ = state;
  status_text_ = text;
  emit stateChanged(state, text);
}

void BrokerClient::Connect(const QUrl& server, const QString& user, const QString& password) {
  Disconnect();
  ++generation_;
  server_ = server;
  server_.setPath(QString());
  user_ = user;
  password_ = password;
  attempt_ = 0;
  pinned_ = false;
  if (server_.scheme() != QLatin1String("https") || server_.host().isEmpty()) {
    // The password must never go out unencrypted, and the broker speaks only HTTPS.
    Refuse(tr("'%1' is not an https:// address of a broker (such as https://broker:8443)")
               .arg(server.toString()));
    return;
  }
  SetState(State::kConnecting, tr("Connecting to %1…").arg(server_.authority()));
  FetchCa();
}

void BrokerClient::Disconnect() {
  ++generation_;
  reconnect_timer_.stop();
  closing_ = true;
  events_.abort();
  closing_ = false;
  if (!token_.isEmpty()) Call("POST", QStringLiteral("/api/v1/logout"), QJsonValue(), nullptr);
  token_.clear();
  if (state_ != State::kDisconnected && state_ != State::kRefused) {
    SetState(State::kDisconnected, tr("Disconnected"));
  }
}

// Step 1. The CA is fetched over TLS that is not verified yet: that is what trust on first use
// means. Nothing secret goes over this connection, and every later request, the password
// first, is verified against the CA pinned here.
void BrokerClient::FetchCa() {
  QNetworkRequest request(server_.resolved(QUrl(QStringLiteral("/api/v1/ca"))));
  QSslConfiguration unverified = QSslConfiguration::defaultConfiguration();
  unverified.setPeerVerifyMode(QSslSocket::VerifyNone);
  request.setSslConfiguration(unverified);
  request.setAttribute(QNetworkRequest::Http2AllowedAttribute, false);
  request.setTransferTimeout(kRequestTimeoutMs);
  // A manager of its own, dropped with its connection: Qt reuses an open connection whatever
  // its TLS settings, and the password must never follow over this unverified one.
  auto* fetcher = new QNetworkAccessManager(this);
  QNetworkReply* reply = fetcher->get(request);
  quint64 generation = generation_;
  connect(reply, &QNetworkReply::finished, this, [this, reply, fetcher, generation] {
    reply->deleteLater();
    fetcher->deleteLater();
    if (generation != generation_) return;
    if (reply->error() != QNetworkReply::NoError) {
      ScheduleReconnect(tr("cannot reach %1: %2").arg(server_.authority(), reply->errorString()));
      return;
    }
    CheckCa(reply->readAll());
  });
}

// Step 2. Known fingerprint: go on. New: ask. Changed: refuse, loudly, and do not retry.
void BrokerClient::CheckCa(const QByteArray& pem) {
  QList<QSslCertificate> certificates = QSslCertificate::fromData(pem, QSsl::Pem);
  if (certificates.isEmpty()) {
    Refuse(tr("%1 did not answer GET /api/v1/ca with a PEM certificate; is it a Moat broker?")
               .arg(server_.authority()));
    return;
  }
  fingerprint_ = TrustedCa::Fingerprint(certificates.first());
  QString remembered;
  switch (trust_->Check(server_, fingerprint_, &remembered)) {
    case TrustedCa::Verdict::kKnown:
      break;
    case TrustedCa::Verdict::kNew:
      if (!prompt_ || !prompt_(server_, fingerprint_)) {
        Refuse(tr("The CA of %1 (SHA-256 %2) was not trusted.")
                   .arg(server_.authority(), fingerprint_));
        return;
      }
      trust_->Remember(server_, fingerprint_);
      break;
    case TrustedCa::Verdict::kChanged:
      Refuse(tr("REFUSED: the CA certificate of %1 has CHANGED.\n"
                "Remembered SHA-256: %2\nPresented SHA-256:  %3\n"
                "Someone may be impersonating the broker. If its CA was replaced on purpose, "
                "check the new fingerprint against the one moat-broker prints at start, then "
                "forget the old one (Connection ▸ Forget Server Certificate) and connect again.")
                 .arg(server_.authority(), remembered, fingerprint_));
      return;
  }
  tls_ = QSslConfiguration::defaultConfiguration();
  tls_.setCaCertificates(certificates);
  tls_.setPeerVerifyMode(QSslSocket::VerifyPeer);
  events_.setSslConfiguration(tls_);
  pinned_ = true;
  Login();
}

// Step 3.
void BrokerClient::Login() {
  quint64 generation = generation_;
  Call("POST", QStringLiteral("/api/v1/login"),
       QJsonObject{{QStringLiteral("user"), user_}, {QStringLiteral("password"), password_}},
       [this, generation](const Reply& reply) {
         if (generation != generation_) return;
         if (reply.status == 401 || reply.status == 403) {
           Refuse(tr("Login refused: %1").arg(reply.error));
           return;
         }
         if (!reply.ok()) {
           ScheduleReconnect(tr("login failed: %1").arg(reply.error));
           return;
         }
         QJsonObject body = reply.body.toObject();
         token_ = body.value(QLatin1String("token")).toString();
         QString role =
             body.value(QLatin1String("user")).toObject().value(QLatin1String("role")).toString();
         if (role == QLatin1String("user")) {
           // The event stream, and so every live view, is for admins, operators and auditors.
           Call("POST", QStringLiteral("/api/v1/logout"), QJsonValue(), nullptr);
           Refuse(tr("%1 is a 'user': moat-console is for admins, operators and auditors. "
                     "Users reach their desktops through a VNC viewer or the web page.")
                      .arg(user_));
           return;
         }
         if (role != role_) {
           role_ = role;
           emit roleChanged(role_);
         }
         OpenEvents();
       });
}

// Step 4. The stream opens before the snapshot is read, so nothing falls between the two; the
// models ignore stream updates older than the snapshot's rows.
void BrokerClient::OpenEvents() {
  QUrl url = server_;
  url.setScheme(server_.scheme() == QLatin1String("http") ? QStringLiteral("ws")
                                                          : QStringLiteral("wss"));
  url.setPath(QStringLiteral("/api/v1/events"));
  QNetworkRequest request(url);
  request.setRawHeader("Authorization", "Bearer " + token_.toUtf8());
  request.setSslConfiguration(tls_);
  events_.open(request);
}

// Step 5.
void BrokerClient::LoadSnapshot() {
  attempt_ = 0;
  emit sessionsRequested();
  LoadSessionsPage(0, {});
  Call("GET", QStringLiteral("/api/v1/hosts"), QJsonValue(), [this](const Reply& reply) {
    if (reply.ok()) emit hostsLoaded(reply.body.toObject().value(QLatin1String("hosts")).toArray());
  });
  Call("GET", QStringLiteral("/api/v1/audit?limit=%1").arg(kAuditRows), QJsonValue(),
       [this](const Reply& reply) {
         if (reply.ok()) {
           emit auditLoaded(reply.body.toObject().value(QLatin1String("events")).toArray());
         }
       });
}

void BrokerClient::LoadSessionsPage(int offset, QJsonArray collected) {
  quint64 generation = generation_;
  Call("GET",
       QStringLiteral("/api/v1/sessions?live=1&limit=%1&offset=%2").arg(kPageSize).arg(offset),
       QJsonValue(), [this, offset, collected, generation](const Reply& reply) mutable {
         if (generation != generation_) return;
         if (!reply.ok()) {
           ScheduleReconnect(tr("listing sessions failed: %1").arg(reply.error));
           return;
         }
         const QJsonArray page = reply.body.toObject().value(QLatin1String("sessions")).toArray();
         for (const auto& session : page) collected.append(session);
         if (page.size() == kPageSize) {
           LoadSessionsPage(offset + kPageSize, std::move(collected));
           return;
         }
         emit sessionsLoaded(collected);
         if (state_ != State::kConnected) {
           SetState(State::kConnected,
                    tr("Connected to %1 as %2 (%3)").arg(server_.authority(), user_, role_));
         }
       });
}

void BrokerClient::Refresh() {
  if (state_ == State::kConnected) LoadSnapshot();
}

void BrokerClient::OnEventsClosed() {
  if (closing_ || state_ == State::kRefused || state_ == State::kDisconnected) return;
  // A broker that goes away cleanly closes the stream without a socket error to speak of.
  QString why = events_.error() == QAbstractSocket::UnknownSocketError
                    ? tr("the broker closed the event stream (code %1)").arg(events_.closeCode())
                    : tr("event stream lost: %1").arg(events_.errorString());
  ScheduleReconnect(why);
}

void BrokerClient::ScheduleReconnect(const QString& why) {
  if (reconnect_timer_.isActive()) return;
  int delay_ms = std::min(kMaxBackoffMs, 1000 << std::min(attempt_, 5));
  ++attempt_;
  token_.clear();
  SetState(
      State::kReconnecting,
      tr("%1 — reconnecting in %2 s (attempt %3)").arg(why).arg(delay_ms / 1000).arg(attempt_));
  reconnect_timer_.start(delay_ms);
}

void BrokerClient::Refuse(const QString& why) {
  reconnect_timer_.stop();
  token_.clear();
  closing_ = true;
  events_.abort();
  closing_ = false;
  SetState(State::kRefused, why);
}

QNetworkRequest BrokerClient::Request(const QString& path) const {
  QNetworkRequest request(server_.resolved(QUrl(path)));
  request.setSslConfiguration(tls_);
  request.setAttribute(QNetworkRequest::Http2AllowedAttribute, false);
  request.setHeader(QNetworkRequest::ContentTypeHeader, QStringLiteral("application/json"));
  if (!token_.isEmpty()) request.setRawHeader("Authorization", "Bearer " + token_.toUtf8());
  // Every action ends with its result or an error, never waits on a broker gone silent.
  request.setTransferTimeout(kRequestTimeoutMs);
  return request;
}

void BrokerClient::Call(const QByteArray& method, const QString& path, const QJsonValue& body,
                        Done done) {
  QByteArray data;
  if (body.isObject()) data = QJsonDocument(body.toObject()).toJson(QJsonDocument::Compact);
  if (body.isArray()) data = QJsonDocument(body.toArray()).toJson(QJsonDocument::Compact);
  QNetworkReply* reply = network_.sendCustomRequest(Request(path), method, data);
  connect(reply, &QNetworkReply::finished, this,
          [this, reply, done = std::move(done), generation = generation_, token = token_] {
            Finish(reply, done, generation, token);
          });
}

void BrokerClient::Finish(QNetworkReply* reply, const Done& done, quint64 generation,
                          const QString& token) {
  reply->deleteLater();
  Reply result;
  result.status = reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt();
  QByteArray raw = reply->readAll();
  QJsonDocument document = QJsonDocument::fromJson(raw);
  if (document.isObject()) result.body = document.object();
  if (document.isArray()) result.body = document.array();
  if (!result.ok()) {
    QString message = result.body.toObject().value(QLatin1String("message")).toString();
    result.error = message.isEmpty() ? reply->errorString() : message;
  }
  if (done) done(result);
  // The token expired (auth.token_ttl_s) or was revoked while connected: log in again.
  // Only for this connection's own token: a late 401 of a request sent before a reconnect
  // must not tear the new connection down.
  if (result.status == 401 && state_ == State::kConnected && generation == generation_ &&
      !token.isEmpty() && token == token_) {
    closing_ = true;
    events_.abort();
    closing_ = false;
    ScheduleReconnect(tr("the broker no longer accepts this login (%1)").arg(result.error));
  }
}

void BrokerClient::SetLimits(const QString& session, const QJsonObject& limits, Done done) {
  Call("POST", QStringLiteral("/api/v1/sessions/%1/limits").arg(Encode(session)),
       QJsonObject{{QStringLiteral("limits"), limits}}, std::move(done));
}
void BrokerClient::Limits(const QString& session, Done done) {
  Call("GET", QStringLiteral("/api/v1/sessions/%1/limits").arg(Encode(session)), QJsonValue(),
       std::move(done));
}
void BrokerClient::Suspend(const QString& session, Done done) {
  Call("POST", QStringLiteral("/api/v1/sessions/%1/suspend").arg(Encode(session)), QJsonValue(),
       std::move(done));
}
void BrokerClient::Resume(const QString& session, Done done) {
  Call("POST", QStringLiteral("/api/v1/sessions/%1/resume").arg(Encode(session)), QJsonValue(),
       std::move(done));
}
void BrokerClient::DisconnectSession(const QString& session, Done done) {
  Call("POST", QStringLiteral("/api/v1/sessions/%1/disconnect").arg(Encode(session)), QJsonValue(),
       std::move(done));
}
void BrokerClient::End(const QString& session, Done done) {
  Call("POST", QStringLiteral("/api/v1/sessions/%1/end").arg(Encode(session)),
       QJsonObject{{QStringLiteral("reason"), QStringLiteral("ended from moat-console")}},
       std::move(done));
}
void BrokerClient::LogOff(const QString& session, Done done) {
  Call("POST", QStringLiteral("/api/v1/sessions/%1/end").arg(Encode(session)),
       QJsonObject{{QStringLiteral("reason"), QStringLiteral("logged off from moat-console")}},
       std::move(done));
}
void BrokerClient::SendMessage(const QString& session, const QString& text, Done done) {
  Call("POST", QStringLiteral("/api/v1/sessions/%1/message").arg(Encode(session)),
       QJsonObject{{QStringLiteral("text"), text}}, std::move(done));
}
void BrokerClient::LaunchApp(const QString& session, const QStringList& argv, Done done) {
  Call("POST", QStringLiteral("/api/v1/sessions/%1/apps").arg(Encode(session)),
       QJsonObject{{QStringLiteral("argv"), QJsonArray::fromStringList(argv)}}, std::move(done));
}
void BrokerClient::Processes(const QString& session, Done done) {
  Call("GET", QStringLiteral("/api/v1/sessions/%1/processes").arg(Encode(session)), QJsonValue(),
       std::move(done));
}
void BrokerClient::KillProcess(const QString& session, qint64 pid, int signal, Done done) {
  Call("POST",
       QStringLiteral("/api/v1/sessions/%1/processes/%2/kill").arg(Encode(session)).arg(pid),
       QJsonObject{{QStringLiteral("signal"), signal}}, std::move(done));
}
void BrokerClient::SetDrained(const QString& host, bool drained, Done done) {
  Call("POST",
       QStringLiteral("/api/v1/hosts/%1/%2")
           .arg(Encode(host), drained ? QStringLiteral("drain") : QStringLiteral("undrain")),
       QJsonValue(), std::move(done));
}

}  // namespace moat::console
