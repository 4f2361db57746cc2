// SPDX-License-Identifier: GPL-3.0-or-later
// The console's only code with sockets: HTTPS requests (QNetworkAccessManager) and the
// /api/v1/events WebSocket, both over TLS verified against the broker's CA, pinned by trust on
// first use (TrustedCa). Everything is asynchronous; the UI never waits on the network.
//
// Connecting is a pipeline of named steps:
//   FetchCa → CheckCa → Login → OpenEvents → LoadSnapshot → connected
// A dropped stream or an unreachable broker is retried with backoff (1 s doubling to 30 s);
// a refused password or a changed CA fingerprint is not.
#pragma once

#include <QElapsedTimer>
#include <QJsonArray>
#include <QJsonObject>
#include <QJsonValue>
#include <QNetworkAccessManager>
#include <QObject>
#include <QSslConfiguration>
#include <QTimer>
#include <QUrl>
#include <QWebSocket>
#include <functional>

#include "client/trustedca.h"

namespace moat::console {

class BrokerClient : public QObject {
  Q_OBJECT
 public:
  enum class State { kDisconnected, kConnecting, kConnected, kReconnecting, kRefused };
  Q_ENUM(State)

  struct Reply {
    int status = 0;  // 0: no answer (network or TLS failure)
    QJsonValue body;
    QString error;  // the broker's message, or the transport's
    bool ok() const { return status >= 200 && status < 300; }
  };
  using Done = std::function<void(const Reply&)>;
  // Asked when a broker's CA is seen for the first time; true trusts it from now on.
  using TrustPrompt = std::function<bool(const QUrl& server, const QString& fingerprint)>;

  explicit BrokerClient(TrustedCa* trust, QObject* parent = nullptr);
  ~BrokerClient() override;

  void SetTrustPrompt(TrustPrompt prompt) { prompt_ = std::move(prompt); }
  void Connect(const QUrl& server, const QString& user, const QString& password);
  void Disconnect();

  State state() const { return state_; }
  QString status_text() const { return status_text_; }
  QString role() const { return role_; }
  QString user() const { return user_; }
  QUrl server() const { return server_; }
  QString ca_fingerprint() const { return fingerprint_; }
  // admin and operator may act on sessions; auditors and users only look.
  bool CanOperate() const {
    return role_ == QLatin1String("admin") || role_ == QLatin1String("operator");
  }
  bool IsAdmin() const { return role_ == QLatin1String("admin"); }

  // Any API call; `path` starts at /api/v1/.
  void Call(const QByteArray& method, const QString& path, const QJsonValue& body, Done done);

  // The console's actions, named after the API.
  void SetLimits(const QString& session, const QJsonObject& limits, Done done);
  void Suspend(const QString& session, Done done);
  void Resume(const QString& session, Done done);
  void DisconnectSession(const QString& session, Done done);
  void End(const QString& session, Done done);
  // End as the user's log-off: the same end, recorded with its own reason.
  void LogOff(const QString& session, Done done);
  void SendMessage(const QString& session, const QString& text, Done done);
  void LaunchApp(const QString& session, const QStringList& argv, Done done);
  void Processes(const QString& session, Done done);
  void KillProcess(const QString& session, qint64 pid, int signal, Done done);
  void Limits(const QString& session, Done done);
  void SetDrained(const QString& host, bool drained, Done done);
  // Reloads sessions, hosts and audit (F5); the stream keeps them current otherwise.
  void Refresh();

 signals:
  void stateChanged(moat::console::BrokerClient::State state, const QString& text);
  void roleChanged(const QString& role);
  void sessionsRequested();  // the listing is being read (LiveUpdates::BeginSessionsSnapshot)
  void sessionsLoaded(const QJsonArray& sessions);
  void hostsLoaded(const QJsonArray& hosts);
  void auditLoaded(const QJsonArray& events);
  void eventReceived(const QByteArray& message);

 private:
  void FetchCa();
  void CheckCa(const QByteArray& pem);
  void Login();
  void OpenEvents();
  void LoadSnapshot();
  void LoadSessionsPage(int offset, QJsonArray collected);
  void OnEventsClosed();
  void ScheduleReconnect(const QString& why);
  void SetState(State state, const QString& text);
  void Refuse(const QString& why);
  QNetworkRequest Request(const QString& path) const;
  // `generation` and `token`: those the request was sent with.
  void Finish(QNetworkReply* reply, const Done& done, quint64 generation, const QString& token);

  TrustedCa* trust_;
  TrustPrompt prompt_;
  QNetworkAccessManager network_;
  QWebSocket events_;
  QTimer reconnect_timer_;
  QTimer events_watchdog_;
  QElapsedTimer silence_;  // since the stream's last frame
  static constexpr int kPingEveryMs = 10000;
  static constexpr int kSilenceMs = 30000;
  static constexpr int kRequestTimeoutMs = 30000;
  QSslConfiguration tls_;
  QUrl server_;
  QString user_, password_, token_, role_, fingerprint_, status_text_;
  State state_ = State::kDisconnected;
  int attempt_ = 0;
  quint64 generation_ = 0;  // bumps on Connect/Disconnect so late replies of old runs are dropped
  bool closing_ = false;
  bool pinned_ = false;
};

}  // namespace moat::console
