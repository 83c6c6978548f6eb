/// @file
/// `redis::reply`: what Redis answered to one command, owned (hiredis frees its own reply once
/// the callback returns).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace datamesh::redis {

/// One RESP2 value: a string (bulk or status), an error, an integer, nil, or an array.
struct reply {
  enum class kind : std::uint8_t { string, status, error, integer, nil, array };
  kind type = kind::nil;
  std::string str;              // string, status, error
  long long integer = 0;        // integer
  std::vector<reply> elements;  // array

  bool is_error() const noexcept { return type == kind::error; }
  bool is_nil() const noexcept { return type == kind::nil; }
};

/// "string", "status", ...
const char* to_string(reply::kind k) noexcept;

}  // namespace datamesh::redis
