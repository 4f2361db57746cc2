// SPDX-License-Identifier: GPL-3.0-or-later
// Trust on first use of a broker's CA, like SSH's known_hosts: the SHA-256 fingerprint of the
// CA certificate is shown once, remembered per server in QSettings, and a different one later
// is refused. The broker prints the same fingerprint at start (colon hex, upper case).
#pragma once

#include <QSettings>
#include <QSslCertificate>
#include <QString>
#include <QUrl>
#include <memory>

namespace moat::console {

class TrustedCa {
 public:
  enum class Verdict { kKnown, kNew, kChanged };

  // `settings` may be null: the application's QSettings are used then.
  explicit TrustedCa(QSettings* settings = nullptr);

  static QString Fingerprint(const QSslCertificate& certificate);  // "AB:CD:…", SHA-256 of DER
  static QString ServerKey(const QUrl& server);                    // "host:port"

  Verdict Check(const QUrl& server, const QString& fingerprint, QString* remembered) const;
  void Remember(const QUrl& server, const QString& fingerprint);
  void Forget(const QUrl& server);

 private:
  QString Key(const QUrl& server) const;
  std::unique_ptr<QSettings> owned_;
  QSettings* settings_;
};

}  // namespace moat::console
