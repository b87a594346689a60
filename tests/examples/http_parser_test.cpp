// The request-head parser of examples/http_hello: a pure function, so every case is a
// buffer in, an outcome out.
#include "http_parser.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <string>
#include <string_view>

namespace http {
namespace {

const std::string kSimple = "GET /index.html?q=1 HTTP/1.1\r\nHost: example.com\r\n\r\n";

ParseResult parse(std::string_view text, Request& req) {
  return parse_request(text, req);
}

ParseStatus status_of(std::string_view text) {
  Request req;
  return parse_request(text, req).status;
}

TEST(HttpParserTest, ParsesTheRequestLineAndHeaders) {
  Request req;
  const std::string text =
      "POST /submit HTTP/1.1\r\nHost: example.com\r\nUser-Agent:  curl/8  \r\n"
      "Accept:*/*\r\nContent-Length: 0\r\n\r\n";
  ParseResult r = parse(text, req);
  ASSERT_EQ(r.status, ParseStatus::complete);
  EXPECT_EQ(r.consumed, text.size());
  EXPECT_EQ(req.method, "POST");
  EXPECT_EQ(req.target, "/submit");
  EXPECT_EQ(req.version_minor, 1);
  ASSERT_EQ(req.header_count, 4U);
  EXPECT_EQ(req.headers[0].name, "Host");
  EXPECT_EQ(req.headers[0].value, "example.com");
  EXPECT_EQ(req.headers[1].value, "curl/8") << "surrounding whitespace is not the value";
  EXPECT_EQ(req.headers[2].value, "*/*");
  EXPECT_EQ(req.content_length, 0U);
}

TEST(HttpParserTest, LooksUpHeadersWithoutRegardToCase) {
  Request req;
  ASSERT_EQ(parse(kSimple, req).status, ParseStatus::complete);
  EXPECT_EQ(req.header("HOST"), "example.com");
  EXPECT_EQ(req.header("host"), "example.com");
  EXPECT_EQ(req.header("Accept"), std::nullopt);
}

TEST(HttpParserTest, AsksForMoreUntilTheLastByteOfTheHeadArrives) {
  Request req;
  for (std::size_t n = 0; n < kSimple.size(); ++n) {
    EXPECT_EQ(parse(std::string_view(kSimple).substr(0, n), req).status, ParseStatus::need_more)
        << "prefix of " << n << " bytes";
  }
  ParseResult r = parse(kSimple, req);
  EXPECT_EQ(r.status, ParseStatus::complete);
  EXPECT_EQ(r.consumed, kSimple.size());
}

TEST(HttpParserTest, StopsAtTheEndOfTheFirstOfPipelinedRequests) {
  Request req;
  const std::string two = kSimple + "GET /second HTTP/1.1\r\nHost: b\r\n\r\n";
  ParseResult r = parse(two, req);
  ASSERT_EQ(r.status, ParseStatus::complete);
  EXPECT_EQ(r.consumed, kSimple.size());
  EXPECT_EQ(req.target, "/index.html?q=1");
  r = parse(std::string_view(two).substr(r.consumed), req);
  ASSERT_EQ(r.status, ParseStatus::complete);
  EXPECT_EQ(req.target, "/second");
  EXPECT_EQ(req.header_count, 1U) << "nothing left over from the first request";
}

TEST(HttpParserTest, LeavesTheBodyToTheCaller) {
  Request req;
  const std::string text = "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello";
  ParseResult r = parse(text, req);
  ASSERT_EQ(r.status, ParseStatus::complete);
  EXPECT_EQ(r.consumed, text.size() - 5);
  EXPECT_EQ(req.content_length, 5U);
}

TEST(HttpParserTest, SkipsEmptyLinesBeforeTheRequestLine) {
  Request req;
  const std::string text = "\r\n\r\n" + kSimple;  // the views in `req` point into it
  ParseResult r = parse(text, req);
  ASSERT_EQ(r.status, ParseStatus::complete);
  EXPECT_EQ(r.consumed, kSimple.size() + 4);
  EXPECT_EQ(req.method, "GET");
}

TEST(HttpParserTest, AcceptsBareLineFeedsAsLineEnds) {
  EXPECT_EQ(status_of("GET / HTTP/1.1\nHost: a\n\n"), ParseStatus::complete);
  EXPECT_EQ(status_of("GET / HTTP/1.1\r\nHost: a\n\r\n"), ParseStatus::complete);
}

TEST(HttpParserTest, DecidesKeepAliveByVersionAndConnectionHeader) {
  struct Case {
    std::string text;
    bool keep_alive;
  };
  const Case cases[] = {
      {"GET / HTTP/1.1\r\nHost: a\r\n\r\n", true},
      {"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", false},
      {"GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade, CLOSE\r\n\r\n", false},
      {"GET / HTTP/1.0\r\n\r\n", false},
      {"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", true},
      {"GET / HTTP/1.0\r\nConnection: foo\r\nConnection: Keep-Alive\r\n\r\n", true},
      {"GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n", false},
  };
  for (const Case& c : cases) {
    Request req;
    ASSERT_EQ(parse(c.text, req).status, ParseStatus::complete) << c.text;
    EXPECT_EQ(req.keep_alive(), c.keep_alive) << c.text;
  }
}

TEST(HttpParserTest, HttpOneZeroNeedsNoHostButOneOneDoes) {
  EXPECT_EQ(status_of("GET / HTTP/1.0\r\n\r\n"), ParseStatus::complete);
  EXPECT_EQ(status_of("GET / HTTP/1.1\r\n\r\n"), ParseStatus::bad_request);
  EXPECT_EQ(status_of("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"), ParseStatus::bad_request);
}

TEST(HttpParserTest, RefusesMalformedRequestLines) {
  for (const char* line : {
           "GET /\r\n\r\n",                    // no version
           "GET\r\n\r\n",                      // method only
           "GET  / HTTP/1.1\r\n\r\n",          // two spaces
           "GET / HTTP/1.1 \r\n\r\n",          // trailing space
           "G(T / HTTP/1.1\r\n\r\n",           // not a token
           "GET /a\x7f HTTP/1.1\r\n\r\n",      // DEL in the target
           "GET / http/1.1\r\n\r\n",           // the version is case-sensitive
           "GET / HTTP/1.10\r\n\r\n",          // one digit each
           "GET / HTTP/1\r\n\r\n",             //
           "GET / HTTP/x.1\r\n\r\n",           //
           "\x16\x03\x01 / HTTP/1.1\r\n\r\n",  // binary
       }) {
    EXPECT_EQ(status_of(line), ParseStatus::bad_request) << line;
  }
}

TEST(HttpParserTest, RefusesMalformedHeaderLines) {
  for (const char* head : {
           "GET / HTTP/1.1\r\nHost: a\r\nno colon\r\n\r\n",
           "GET / HTTP/1.1\r\nHost : a\r\n\r\n",                 // space before the colon
           "GET / HTTP/1.1\r\nHost: a\r\n: empty\r\n\r\n",       // empty name
           "GET / HTTP/1.1\r\nHost: a\r\nX-A: b\r\n c\r\n\r\n",  // obsolete line folding
           "GET / HTTP/1.1\r\nHost: a\r\nX-A: b\x01\r\n\r\n",    // control character
           "GET / HTTP/1.1\r\nHost: a\rX: b\r\n\r\n",            // a lone CR
       }) {
    EXPECT_EQ(status_of(head), ParseStatus::bad_request) << head;
  }
  const char nul[] = "GET / HTTP/1.1\r\nHost: a\0b\r\n\r\n";
  EXPECT_EQ(status_of(std::string_view(nul, sizeof nul - 1)), ParseStatus::bad_request);
}

TEST(HttpParserTest, AcceptsObsTextInValues) {
  EXPECT_EQ(status_of("GET / HTTP/1.1\r\nHost: a\r\nX-Name: caf\xc3\xa9\r\n\r\n"),
            ParseStatus::complete);
}

TEST(HttpParserTest, ReportsAnErrorAsSoonAsTheBadLineIsComplete) {
  EXPECT_EQ(status_of("NOT A REQUEST LINE AT ALL\r\n"), ParseStatus::bad_request);
  EXPECT_EQ(status_of("GET / HTTP/1.1\r\n folded"), ParseStatus::need_more);
  EXPECT_EQ(status_of("GET / HTTP/1.1\r\n folded\r\n"), ParseStatus::bad_request);
}

TEST(HttpParserTest, ChecksContentLength) {
  Request req;
  ASSERT_EQ(
      parse("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 42\r\nContent-Length: 42\r\n\r\n", req)
          .status,
      ParseStatus::complete);
  EXPECT_EQ(req.content_length, 42U);
  for (const char* head : {
           "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
           "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n",
           "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1 2\r\n\r\n",
           "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 0x10\r\n\r\n",
           "GET / HTTP/1.1\r\nHost: a\r\nContent-Length:\r\n\r\n",
           "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999999\r\n\r\n",
           // Both framings: the classic request-smuggling shape.
           "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n",
       }) {
    EXPECT_EQ(status_of(head), ParseStatus::bad_request) << head;
  }
}

TEST(HttpParserTest, FlagsTransferEncodingForTheServerToRefuse) {
  Request req;
  ASSERT_EQ(parse("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n", req).status,
            ParseStatus::complete);
  EXPECT_TRUE(req.transfer_encoding);
}

TEST(HttpParserTest, VersionsOtherThanOneDotXAreUnsupported) {
  EXPECT_EQ(status_of("GET / HTTP/2.0\r\nHost: a\r\n\r\n"), ParseStatus::bad_version);
  EXPECT_EQ(status_of("GET / HTTP/0.9\r\n\r\n"), ParseStatus::bad_version);
  EXPECT_EQ(status_of("GET / HTTP/1.0\r\n\r\n"), ParseStatus::complete);
}

TEST(HttpParserTest, AHeadOfExactlyTheLimitIsAcceptedAndOneByteMoreIsNot) {
  const std::string start = "GET / HTTP/1.1\r\nHost: a\r\nX-Pad: ";
  const std::string end = "\r\n\r\n";
  const std::string fits = start + std::string(kMaxHeadSize - start.size() - end.size(), 'p') + end;
  ASSERT_EQ(fits.size(), kMaxHeadSize);
  EXPECT_EQ(status_of(fits), ParseStatus::complete);
  const std::string over =
      start + std::string(kMaxHeadSize - start.size() - end.size() + 1, 'p') + end;
  EXPECT_EQ(status_of(over), ParseStatus::too_large);
}

TEST(HttpParserTest, AnUnfinishedHeadAtTheLimitIsTooLargeWithoutWaitingForItsEnd) {
  const std::string start = "GET / HTTP/1.1\r\nHost: a\r\nX-Pad: ";
  EXPECT_EQ(status_of(start + std::string(kMaxHeadSize - start.size() - 1, 'p')),
            ParseStatus::need_more);
  EXPECT_EQ(status_of(start + std::string(kMaxHeadSize - start.size(), 'p')),
            ParseStatus::too_large);
  EXPECT_EQ(status_of(std::string(kMaxHeadSize, '\n')), ParseStatus::too_large)
      << "empty lines count too";
}

TEST(HttpParserTest, TooManyFieldsAreTooLarge) {
  std::string head = "GET / HTTP/1.1\r\nHost: a\r\n";
  for (std::size_t i = 1; i < kMaxHeaders; ++i)
    head += "X-" + std::to_string(i) + ": v\r\n";
  EXPECT_EQ(status_of(head + "\r\n"), ParseStatus::complete);
  EXPECT_EQ(status_of(head + "X-Last: v\r\n\r\n"), ParseStatus::too_large);
}

TEST(HttpParserTest, NeverReadsPastTheBufferItIsGiven) {
  // Every prefix of every case above, as its own exact-size allocation, so ASan sees
  // an overread.
  const std::string inputs[] = {kSimple, "GET / HTTP/1.1\r\nHost: a\rX: b\r\n\r\n",
                                "\r\n\r\nGET / HTTP/1.0\n\n", "POST / HTTP/1.1\r\nContent-Length:"};
  for (const std::string& input : inputs) {
    for (std::size_t n = 0; n <= input.size(); ++n) {
      std::unique_ptr<char[]> exact(new char[n]);
      std::copy_n(input.data(), n, exact.get());
      Request req;
      (void)parse_request(std::string_view(exact.get(), n), req);
    }
  }
}

}  // namespace
}  // namespace http
