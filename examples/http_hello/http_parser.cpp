#include "http_parser.hpp"

#include <charconv>

namespace http {
namespace {

// RFC 9110 section 5.6.2: tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" /
// "." / "^" / "_" / "`" / "|" / "~" / DIGIT / ALPHA.
constexpr bool is_tchar(unsigned char c) noexcept {
  if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(static_cast<char>(c)) != std::string_view::npos;
}

bool is_token(std::string_view s) noexcept {
  if (s.empty()) return false;
  for (char c : s)
    if (!is_tchar(static_cast<unsigned char>(c))) return false;
  return true;
}

// RFC 9112 section 3.2: the request target has no whitespace or control characters.
bool is_target(std::string_view s) noexcept {
  if (s.empty()) return false;
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7F) return false;
  }
  return true;
}

// RFC 9110 section 5.5: field-value = VCHAR / SP / HTAB / obs-text; no other control
// characters (NUL, a lone CR, DEL).
bool is_field_value(std::string_view s) noexcept {
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (u == '\t') continue;
    if (u < 0x20 || u == 0x7F) return false;
  }
  return true;
}

constexpr char lower(char c) noexcept {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

bool iequals(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (lower(a[i]) != lower(b[i])) return false;
  return true;
}

std::string_view trim(std::string_view s) noexcept {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
    s.remove_suffix(1);
  return s;
}

bool parse_request_line(std::string_view line, Request& out, ParseStatus& error) noexcept {
  error = ParseStatus::bad_request;
  const std::size_t sp1 = line.find(' ');
  if (sp1 == std::string_view::npos) return false;
  const std::size_t sp2 = line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos) return false;
  out.method = line.substr(0, sp1);
  out.target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  const std::string_view version = line.substr(sp2 + 1);
  if (!is_token(out.method) || !is_target(out.target)) return false;
  // HTTP-version = "HTTP/" DIGIT "." DIGIT (case-sensitive).
  if (version.size() != 8 || !version.starts_with("HTTP/") || version[6] != '.') return false;
  const char major = version[5];
  const char minor = version[7];
  if (major < '0' || major > '9' || minor < '0' || minor > '9') return false;
  if (major != '1') {
    error = ParseStatus::bad_version;
    return false;
  }
  out.version_minor = minor - '0';
  return true;
}

// Content-Length = 1*DIGIT (RFC 9110 section 8.6). A list of equal values is allowed
// there but rare; we refuse any list, like most servers.
bool parse_content_length(std::string_view value, std::optional<std::uint64_t>& out) noexcept {
  if (value.empty()) return false;
  for (char c : value)
    if (c < '0' || c > '9') return false;
  std::uint64_t n = 0;
  auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
  if (ec != std::errc{} || end != value.data() + value.size()) return false;  // overflow
  if (out && *out != n) return false;  // disagreeing duplicates: request smuggling
  out = n;
  return true;
}

void parse_connection(std::string_view value, Request& out) noexcept {
  while (!value.empty()) {
    const std::size_t comma = value.find(',');
    const std::string_view option = trim(value.substr(0, comma));
    if (iequals(option, "close")) out.connection_close = true;
    if (iequals(option, "keep-alive")) out.connection_keep_alive = true;
    if (comma == std::string_view::npos) break;
    value.remove_prefix(comma + 1);
  }
}

/// One header field line; false (with `error` set) if it is not acceptable.
bool parse_field(std::string_view line, Request& out, int& hosts, ParseStatus& error) noexcept {
  error = ParseStatus::bad_request;
  // RFC 9112 section 5.2: obs-fold (a line starting with whitespace) is rejected.
  if (line.front() == ' ' || line.front() == '\t') return false;
  const std::size_t colon = line.find(':');
  if (colon == std::string_view::npos) return false;
  // No whitespace between name and colon (section 5.1): is_token refuses it.
  const std::string_view name = line.substr(0, colon);
  const std::string_view value = trim(line.substr(colon + 1));
  if (!is_token(name) || !is_field_value(value)) return false;
  if (out.header_count == kMaxHeaders) {
    error = ParseStatus::too_large;
    return false;
  }
  out.headers[out.header_count++] = Header{name, value};
  if (iequals(name, "content-length")) {
    if (!parse_content_length(value, out.content_length)) return false;
  } else if (iequals(name, "transfer-encoding")) {
    out.transfer_encoding = true;
  } else if (iequals(name, "connection")) {
    parse_connection(value, out);
  } else if (iequals(name, "host")) {
    ++hosts;
  }
  return true;
}

}  // namespace

std::optional<std::string_view> Request::header(std::string_view name) const noexcept {
  for (std::size_t i = 0; i < header_count; ++i)
    if (iequals(headers[i].name, name)) return headers[i].value;
  return std::nullopt;
}

ParseResult parse_request(std::string_view buffer, Request& out) noexcept {
  out.method = out.target = {};
  out.version_minor = 1;
  out.header_count = 0;
  out.content_length.reset();
  out.transfer_encoding = out.connection_close = out.connection_keep_alive = false;

  auto fail = [](ParseStatus s) { return ParseResult{s, 0}; };
  bool request_line_seen = false;
  int hosts = 0;
  std::size_t pos = 0;
  for (;;) {
    const std::size_t newline = buffer.find('\n', pos);
    if (newline == std::string_view::npos || newline >= kMaxHeadSize) {
      // The head cannot end within the limit any more: refuse it rather than buffer on.
      return fail(buffer.size() >= kMaxHeadSize ? ParseStatus::too_large : ParseStatus::need_more);
    }
    std::string_view line = buffer.substr(pos, newline - pos);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.find('\r') != std::string_view::npos) return fail(ParseStatus::bad_request);
    pos = newline + 1;
    ParseStatus error = ParseStatus::bad_request;
    if (!request_line_seen) {
      // RFC 9112 section 2.2: empty lines before the request line are ignored.
      if (line.empty()) continue;
      if (!parse_request_line(line, out, error)) return fail(error);
      request_line_seen = true;
      continue;
    }
    if (line.empty()) break;  // the blank line that ends the head
    if (!parse_field(line, out, hosts, error)) return fail(error);
  }
  // Both framings at once is how requests are smuggled past proxies (section 6.3).
  if (out.content_length && out.transfer_encoding) return fail(ParseStatus::bad_request);
  // Section 3.2: HTTP/1.1 needs exactly one Host; a second one is always an error.
  if (hosts > 1 || (hosts == 0 && out.version_minor >= 1)) return fail(ParseStatus::bad_request);
  return ParseResult{ParseStatus::complete, pos};
}

}  // namespace http
