// gtest glue for Result<T>: declare a value or fail the test with the errno.
#pragma once

#include <gtest/gtest.h>

#include "base/result.h"

// Evaluates `expr` (a Result<T>), fails the current test when it holds an error, and
// otherwise declares `var` as a reference to the value. Use only in void functions.
#define KTLS_ASSERT_OK_AND_ASSIGN(var, expr)                                     \
  auto var##_result = (expr);                                                    \
  ASSERT_TRUE(var##_result.ok()) << #expr << ": errno " << var##_result.error(); \
  auto& var = var##_result.value()
