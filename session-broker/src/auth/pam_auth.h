// Password checks against the host's PAM stack (users whose source is 'pam'): pam_start on a
// service (packaging/pam/moat installs /etc/pam.d/moat), a conversation that answers the password
// prompt, pam_authenticate, then pam_acct_mgmt so expired and locked accounts are refused.
//
// Blocking: a PAM module may sleep or reach the network (LDAP, SSSD). Call it off the I/O thread.
// The password is never logged and never appears in an error message.
#pragma once

#include <string>
#include <string_view>
#include <system_error>

#include "auth/login.h"
#include "moat/common/error.h"

namespace moat::broker::auth {

// The error category of PAM return codes (PAM_AUTHINFO_UNAVAIL, PAM_SYSTEM_ERR, ...); message()
// is pam_strerror's text.
const std::error_category& PamCategory();

// True when PAM accepts the password and the account, false when it refuses them (wrong
// password, unknown user, locked, expired or must-change-password account, empty password). An
// error only when PAM itself cannot answer: pam_start fails, a module cannot reach its data
// (PAM_AUTHINFO_UNAVAIL), or the stack asks something other than a user name or password.
Result<bool> PamAuthenticate(std::string_view service, std::string_view user,
                             std::string_view password);

// The PamCheck hook of Login, asking the PAM service `service`.
PamCheck MakePamCheck(std::string service = "moat");

}  // namespace moat::broker::auth
