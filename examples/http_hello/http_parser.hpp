// An HTTP/1.x request-head parser (RFC 9112 section 3 and 5) as a pure function over a
// byte buffer: no I/O, no allocation, no state between calls. Call it again with the
// longer buffer when it asks for more. It is meant to be fuzzed: any input gives one
// of the four outcomes below, never a crash.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace http {

/// The most header fields one request may carry.
inline constexpr std::size_t kMaxHeaders = 64;
/// The largest request head (request line + fields + the blank line) accepted.
inline constexpr std::size_t kMaxHeadSize = 8 * 1024;

struct Header {
  std::string_view name;   ///< as sent (compare case-insensitively)
  std::string_view value;  ///< without the surrounding whitespace
};

/// A parsed request head. The string_views point into the buffer given to
/// parse_request(), so they live as long as those bytes stay put.
struct Request {
  std::string_view method;
  std::string_view target;
  int version_minor = 1;  ///< HTTP/1.0 or HTTP/1.1
  std::array<Header, kMaxHeaders> headers{};
  std::size_t header_count = 0;

  // What the parser derived from the fields, because every server needs them:
  std::optional<std::uint64_t> content_length;  ///< Content-Length, if sent
  bool transfer_encoding = false;               ///< a Transfer-Encoding field was sent
  bool connection_close = false;                ///< Connection: close
  bool connection_keep_alive = false;           ///< Connection: keep-alive

  /// Whether the connection stays open after the response (RFC 9112 section 9.3):
  /// HTTP/1.1 unless "close"; HTTP/1.0 only with "keep-alive".
  [[nodiscard]] bool keep_alive() const noexcept {
    if (connection_close) return false;
    return version_minor >= 1 || connection_keep_alive;
  }
  /// The first field named `name` (case-insensitive), if any.
  [[nodiscard]] std::optional<std::string_view> header(std::string_view name) const noexcept;
};

enum class ParseStatus : std::uint8_t {
  need_more,    ///< the head is not complete yet: read more and call again
  complete,     ///< `out` holds the request; `consumed` bytes of the buffer were its head
  bad_request,  ///< malformed: answer 400 and close
  too_large,    ///< the head exceeds kMaxHeadSize or has over kMaxHeaders fields: 431
  bad_version,  ///< a well-formed version other than HTTP/1.x: 505
};

struct ParseResult {
  ParseStatus status = ParseStatus::need_more;
  /// With `complete`: the head's length (including any empty lines before it). The
  /// body, if Content-Length announces one, starts there.
  std::size_t consumed = 0;
};

/// Parses the request head at the start of `buffer`. Line ends are CRLF (a bare LF is
/// accepted too, RFC 9112 section 2.2); a lone CR, obsolete line folding, whitespace
/// before a field's colon, control characters, duplicate Content-Length values that
/// disagree, or Content-Length together with Transfer-Encoding are bad requests.
/// Errors in lines already complete are reported without waiting for the rest.
[[nodiscard]] ParseResult parse_request(std::string_view buffer, Request& out) noexcept;

}  // namespace http
