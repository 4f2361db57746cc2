// SPDX-License-Identifier: GPL-3.0-or-later
#include "client/trustedca.h"

#include <QCryptographicHash>

namespace moat::console {

TrustedCa::TrustedCa(QSettings* settings)
    : owned_(settings == nullptr ? std::make_unique<QSettings>() : nullptr),
      settings_(settings == nullptr ? owned_.get() : settings) {}

QString TrustedCa::Fingerprint(const QSslCertificate& certificate) {
  return QString::fromLatin1(certificate.digest(QCryptographicHash::Sha256).toHex(':').toUpper());
}

QString TrustedCa::ServerKey(const QUrl& server) {
  return server.host().toLower() + QLatin1Char(':') + QString::number(server.port(443));
}

QString TrustedCa::Key(const QUrl& server) const {
  // QSettings treats '/' and '\' specially; a host name or address has neither.
  return QStringLiteral("trusted_ca/") + ServerKey(server);
}

TrustedCa::Verdict TrustedCa::Check(const QUrl& server, const QString& fingerprint,
                                    QString* remembered) const {
  QString known = settings_->value(Key(server)).toString();
  if (remembered != nullptr) *remembered = known;
  if (known.isEmpty()) return Verdict::kNew;
  return known.compare(fingerprint, Qt::CaseInsensitive) == 0 ? Verdict::kKnown : Verdict::kChanged;
}

void TrustedCa::Remember(const QUrl& server, const QString& fingerprint) {
  settings_->setValue(Key(server), fingerprint);
  settings_->sync();
}

void TrustedCa::Forget(const QUrl& server) {
  settings_->remove(Key(server));
  settings_->sync();
}

}  // namespace moat::console
