// Runs a rollback action on scope exit unless dismissed: for one-off undo steps.
#pragma once

#include <utility>

namespace moat {

template <typename F>
class ScopeGuard {
 public:
  explicit ScopeGuard(F action) : action_(std::move(action)) {}
  ScopeGuard(const ScopeGuard&) = delete;
  ScopeGuard& operator=(const ScopeGuard&) = delete;
  ~ScopeGuard() {
    if (armed_) action_();
  }
  void Dismiss() { armed_ = false; }

 private:
  F action_;
  bool armed_ = true;
};

}  // namespace moat
