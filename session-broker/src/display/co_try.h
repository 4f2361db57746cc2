// MOAT_TRY's coroutine twin: the same early exit with co_return, which coroutines need. The
// awaited result is a named local, never a temporary in a condition: GCC 12 mishandles
// non-trivial temporaries around co_await (destroyed twice; GCC PR 99576 and friends), so
// coroutine code here keeps every such value named.
#pragma once

#include "moat/common/error.h"

#define MOAT_CO_TRY_VOID(expr) MOAT_CO_TRY_VOID_IMPL(expr, MOAT_CONCAT(moat_co_try_, __LINE__))
#define MOAT_CO_TRY_VOID_IMPL(expr, tmp)            \
  auto tmp = (expr);                                \
  if (!tmp) {                                       \
    co_return ::moat::Fail(std::move(tmp).error()); \
  }
