// libFuzzer target: http_hello's request parser on arbitrary bytes. Besides "no crash,
// no sanitizer report", it checks the parser's promises:
//  - a complete head is complete only once all of it is there: every shorter prefix
//    asks for more, and a longer buffer gives the same head length;
//  - every view in the result points into the buffer;
//  - an error is final: more bytes never turn it into a request.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "http_parser.hpp"

namespace {

void check(bool ok) {
  if (!ok) std::abort();  // libFuzzer saves the input that broke a promise
}

bool inside(std::string_view part, std::string_view whole) {
  return part.empty() ||
         (part.data() >= whole.data() && part.data() + part.size() <= whole.data() + whole.size());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view buffer(reinterpret_cast<const char*>(data), size);
  http::Request request;
  const http::ParseResult r = http::parse_request(buffer, request);

  if (r.status == http::ParseStatus::complete) {
    check(r.consumed > 0 && r.consumed <= size);
    check(request.header_count <= http::kMaxHeaders);
    check(inside(request.method, buffer) && inside(request.target, buffer));
    for (std::size_t i = 0; i < request.header_count; ++i)
      check(inside(request.headers[i].name, buffer) && inside(request.headers[i].value, buffer));
    // Prefixes: the same head needs all its bytes (sampled: the quadratic walk is
    // only affordable for short heads).
    const std::size_t step = r.consumed > 512 ? r.consumed / 64 : 1;
    for (std::size_t n = 0; n < r.consumed; n += step) {
      http::Request partial;
      check(http::parse_request(buffer.substr(0, n), partial).status ==
            http::ParseStatus::need_more);
    }
    http::Request exact;
    const http::ParseResult again = http::parse_request(buffer.substr(0, r.consumed), exact);
    check(again.status == http::ParseStatus::complete && again.consumed == r.consumed);
  } else if (r.status != http::ParseStatus::need_more) {
    // An error stays an error however the request goes on.
    std::string longer(buffer);
    longer += "\r\nHost: x\r\n\r\n";
    http::Request more;
    check(http::parse_request(longer, more).status != http::ParseStatus::complete);
  }
  return 0;
}
