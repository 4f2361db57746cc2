#include "auth/pam_auth.h"

#include <security/pam_appl.h>
#include <string.h>

#include <cstdlib>
#include <utility>

namespace moat::broker::auth {
namespace {

class PamErrorCategory : public std::error_category {
 public:
  const char* name() const noexcept override { return "pam"; }
  std::string message(int code) const override {
    // Linux-PAM's pam_strerror ignores the handle; null is fine.
    const char* text = ::pam_strerror(nullptr, code);
    return text != nullptr ? text : "PAM error " + std::to_string(code);
  }
};

// What the conversation answers with. Both are NUL-terminated copies owned by PamAuthenticate.
struct Credentials {
  const char* user;
  const char* password;
};

// Wipes the answers (one is the password) before freeing them; PAM frees them the same way on
// success (pam_unix overwrites the token before free).
void FreeReplies(pam_response* replies, int count) {
  for (int i = 0; i < count; ++i) {
    if (replies[i].resp == nullptr) continue;
    ::explicit_bzero(replies[i].resp, ::strlen(replies[i].resp));
    std::free(replies[i].resp);
  }
  std::free(replies);
}

// Answers a hidden prompt with the password and a visible one with the user name (a "login:"
// prompt); error and info texts get an empty reply, since there is no one to show them to. Any
// other style (Linux-PAM's binary prompts) fails the conversation: the broker cannot answer a
// question it does not understand, and guessing could hand the password to the wrong prompt.
int Converse(int num_msg, const pam_message** msg, pam_response** resp, void* appdata) {
  if (num_msg <= 0 || num_msg > PAM_MAX_NUM_MSG || msg == nullptr || resp == nullptr ||
      appdata == nullptr) {
    return PAM_CONV_ERR;
  }
  const auto* credentials = static_cast<const Credentials*>(appdata);
  auto* replies = static_cast<pam_response*>(std::calloc(num_msg, sizeof(pam_response)));
  if (replies == nullptr) return PAM_BUF_ERR;
  for (int i = 0; i < num_msg; ++i) {
    const char* answer = nullptr;
    switch (msg[i]->msg_style) {  // Linux-PAM: msg is an array of pointers
      case PAM_PROMPT_ECHO_OFF:
        answer = credentials->password;
        break;
      case PAM_PROMPT_ECHO_ON:
        answer = credentials->user;
        break;
      case PAM_ERROR_MSG:
      case PAM_TEXT_INFO:
        continue;
      default:
        FreeReplies(replies, num_msg);
        return PAM_CONV_ERR;
    }
    replies[i].resp = ::strdup(answer);
    if (replies[i].resp == nullptr) {
      FreeReplies(replies, num_msg);
      return PAM_BUF_ERR;
    }
  }
  *resp = replies;
  return PAM_SUCCESS;
}

// pam_unix sleeps about two seconds after a failure unless the application takes the delay over.
// The broker does: LoginThrottle backs off repeated failures per user and per address, and a
// sleep here would hold a broker thread for nothing.
void NoFailDelay(int /*status*/, unsigned /*usec*/, void* /*appdata*/) {}

// Owns the PAM transaction; pam_end gets the last status so modules clean up accordingly.
class PamTransaction {
 public:
  PamTransaction() = default;
  PamTransaction(const PamTransaction&) = delete;
  PamTransaction& operator=(const PamTransaction&) = delete;
  ~PamTransaction() {
    if (handle_ != nullptr) ::pam_end(handle_, status_);
  }

  pam_handle_t** out() { return &handle_; }
  pam_handle_t* get() const { return handle_; }
  int Record(int status) { return status_ = status; }

 private:
  pam_handle_t* handle_ = nullptr;
  int status_ = PAM_SUCCESS;
};

// The password as a C string for the conversation, wiped when the check is over.
class SecretCopy {
 public:
  explicit SecretCopy(std::string_view secret) : text_(secret) {}
  SecretCopy(const SecretCopy&) = delete;
  SecretCopy& operator=(const SecretCopy&) = delete;
  ~SecretCopy() { ::explicit_bzero(text_.data(), text_.size()); }
  const char* c_str() const { return text_.c_str(); }

 private:
  std::string text_;
};

// Answers PAM gives for a refused user or password, as opposed to a stack that cannot answer.
bool IsRefusal(int status) {
  switch (status) {
    case PAM_AUTH_ERR:  // wrong password, or a locked password hash ('!' in shadow)
    case PAM_USER_UNKNOWN:
    case PAM_MAXTRIES:
    case PAM_PERM_DENIED:       // pam_access, pam_nologin and friends
    case PAM_ACCT_EXPIRED:      // chage -E, usermod -e
    case PAM_NEW_AUTHTOK_REQD:  // password expired: the broker offers no way to change it
    case PAM_AUTHTOK_EXPIRED:
      return true;
    default:
      return false;
  }
}

Error PamError(std::string_view call, std::string_view service, std::string_view user, int status) {
  std::string message(call);
  message += " for user '";
  message += user;
  message += "' (PAM service '";
  message += service;
  message += "'): ";
  message += PamCategory().message(status);
  return Error(std::error_code(status, PamCategory()), std::move(message));
}

bool HasNul(std::string_view text) { return text.find('\0') != std::string_view::npos; }

}  // namespace

const std::error_category& PamCategory() {
  static const PamErrorCategory category;
  return category;
}

Result<bool> PamAuthenticate(std::string_view service, std::string_view user,
                             std::string_view password) {
  if (service.empty() || HasNul(service)) {
    return Fail(InvalidArgument("PAM service name '" + std::string(service) + "' is not valid"));
  }
  // No C string carries these; an empty password is refused before PAM so that no stack (pam_unix
  // with nullok, say) can let a password-less account in through the broker.
  if (user.empty() || password.empty() || HasNul(user) || HasNul(password)) return false;

  const std::string service_name(service);
  const std::string user_name(user);
  const SecretCopy secret(password);
  Credentials credentials{user_name.c_str(), secret.c_str()};
  const pam_conv conversation{&Converse, &credentials};

  PamTransaction pam;
  if (int status = ::pam_start(service_name.c_str(), user_name.c_str(), &conversation, pam.out());
      status != PAM_SUCCESS) {
    return Fail(PamError("pam_start", service, user, pam.Record(status)));
  }
  if (int status = pam.Record(
          ::pam_set_item(pam.get(), PAM_FAIL_DELAY, reinterpret_cast<const void*>(&NoFailDelay)));
      status != PAM_SUCCESS) {
    return Fail(PamError("pam_set_item PAM_FAIL_DELAY", service, user, status));
  }

  // PAM_DISALLOW_NULL_AUTHTOK overrides nullok in the stack; PAM_SILENT keeps modules quiet.
  int status = pam.Record(::pam_authenticate(pam.get(), PAM_SILENT | PAM_DISALLOW_NULL_AUTHTOK));
  if (status == PAM_SUCCESS) {
    status = pam.Record(::pam_acct_mgmt(pam.get(), PAM_SILENT | PAM_DISALLOW_NULL_AUTHTOK));
    if (status == PAM_SUCCESS) return true;
    if (IsRefusal(status)) return false;
    return Fail(PamError("pam_acct_mgmt", service, user, status));
  }
  if (IsRefusal(status)) return false;
  return Fail(PamError("pam_authenticate", service, user, status));
}

PamCheck MakePamCheck(std::string service) {
  return [service = std::move(service)](std::string_view user,
                                        std::string_view password) -> Result<bool> {
    return PamAuthenticate(service, user, password);
  };
}

}  // namespace moat::broker::auth
