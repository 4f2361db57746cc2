// MOAT_TRY's coroutine twin: the same early exit with co_return, which coroutines need.
#pragma once

#include "moat/common/error.h"

#define MOAT_CO_TRY_VOID(expr) MOAT_CO_TRY_VOID_IMPL(expr, MOAT_CONCAT(moat_co_try_, __LINE__))
#define MOAT_CO_TRY_VOID_IMPL(expr, tmp)       \
  if (auto tmp = (expr); !tmp) {               \
    co_return ::moat::Fail(std::move(tmp).error()); \
  }
